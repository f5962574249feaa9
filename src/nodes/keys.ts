/**
 * The gateway's own SSH identity: one ed25519 key pair under `<dataDir>/ssh/`, created on first
 * start and reused afterwards. Its public half is what `sign_requests` installs on nodes.
 *
 * Failures are reported as SSHKeyCreateError with the errno-style reason only; key material never
 * appears in an error or log.
 */
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2, { type ParsedKey } from 'ssh2';
import { oms } from '../rpc/errors.ts';
import { publicKeyLine } from './host-key.ts';

export { fingerprintOf } from './host-key.ts';

export interface GatewayKey {
  /** OpenSSH-format private key (PEM-like text). Secret: never log it. */
  readonly privateKey: string;
  /** `ssh-ed25519 AAAA... oms-gateway`, one line, as it goes into authorized_keys. */
  readonly publicKey: string;
}

const COMMENT = 'oms-gateway';

const reasonOf = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code ?? (e instanceof Error ? e.message.slice(0, 200) : 'unknown error');
};

/** Public line derived from the private key, so a lost or edited .pub cannot disagree with it. */
function publicLineOf(privateKey: string): string {
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error('the private key file cannot be parsed');
  // parseKey yields an array for files holding several keys; the gateway file holds one.
  const key = (Array.isArray(parsed) ? parsed[0] : parsed) as ParsedKey;
  if (!key.isPrivateKey()) throw new Error('the key file holds no private key');
  return `${publicKeyLine(key.getPublicSSH())} ${COMMENT}`;
}

/**
 * A new ed25519 private key in OpenSSH form. ssh2's generator writes the 32-byte public key as a
 * number, dropping a leading zero byte, so about one key in 256 comes out malformed and cannot be
 * read back (the gateway then failed its first start; upstream mscdex/ssh2 issue 1390, open).
 * Such a key is thrown away for a new one.
 */
export function generatePrivateKey(generate = () => ssh2.utils.generateKeyPairSync('ed25519', { comment: COMMENT }).private): string {
  for (let attempt = 0; attempt < 32; attempt++) {
    const key = generate();
    if (!(ssh2.utils.parseKey(key) instanceof Error)) return key;
  }
  throw new Error('could not generate a well-formed key');
}

/** Writes a file that appears complete or not at all, created with its final mode. */
function writeAtomically(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode, flag: 'w' });
  chmodSync(tmp, mode); // the umask may have narrowed the mode: set it exactly
  renameSync(tmp, path);
}

export function loadOrCreateGatewayKey(dataDir: string): GatewayKey {
  const dir = join(dataDir, 'ssh');
  const privPath = join(dir, 'id_ed25519');
  const pubPath = `${privPath}.pub`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // An existing directory keeps its mode under mkdir; OpenSSH practice is 0700 for key dirs.
    chmodSync(dir, 0o700);

    let created = false;
    if (!existsSync(privPath)) {
      // Written whole to a private temp file, then hard-linked into place: link() fails if the
      // key appeared meanwhile (two gateways on one data dir), and a crash never leaves a
      // half-written key behind under the real name.
      const tmp = `${privPath}.tmp-${process.pid}`;
      writeFileSync(tmp, generatePrivateKey(), { mode: 0o600, flag: 'wx' });
      try {
        linkSync(tmp, privPath);
        created = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        unlinkSync(tmp);
      }
    }
    const privateKey = readFileSync(privPath, 'utf8');
    // A key readable by others is a leaked key waiting to happen; tighten rather than refuse.
    if ((statSync(privPath).mode & 0o077) !== 0) chmodSync(privPath, 0o600);

    const publicKey = publicLineOf(privateKey);
    let onDisk: string | undefined;
    try {
      onDisk = readFileSync(pubPath, 'utf8').trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (created || onDisk !== publicKey) writeAtomically(pubPath, `${publicKey}\n`, 0o644);
    return { privateKey, publicKey };
  } catch (e) {
    throw oms('SSHKeyCreateError', { reason: reasonOf(e) });
  }
}
