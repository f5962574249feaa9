import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { isOmsError } from '../rpc/errors.ts';
import { fingerprintsEqual, isFingerprint, keyTypeOfBlob, publicKeyBlob } from './host-key.ts';
import { fingerprintOf, generatePrivateKey, loadOrCreateGatewayKey } from './keys.ts';
import ssh2 from 'ssh2';

const sshKeygen = (...args: string[]): string => {
  const r = spawnSync('ssh-keygen', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
};

describe('nodes/keys', () => {
  it('every generated key reads back (ssh2 malforms about one ed25519 key in 256)', function () {
    this.timeout(30_000);
    // With the generator's flaw unhandled, 3000 keys hold a malformed one all but certainly.
    for (let i = 0; i < 3000; i++) expect(ssh2.utils.parseKey(generatePrivateKey())).not.to.be.instanceOf(Error);
    const good = generatePrivateKey();
    let calls = 0;
    expect(generatePrivateKey(() => (++calls < 3 ? 'not a key' : good))).to.equal(good);
    expect(calls).to.equal(3);
    expect(() => generatePrivateKey(() => 'not a key')).to.throw('could not generate a well-formed key');
  });

  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oms-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates an ed25519 pair with private modes, and returns the same pair afterwards', () => {
    const a = loadOrCreateGatewayKey(dir);
    expect(a.publicKey).to.match(/^ssh-ed25519 AAAA[A-Za-z0-9+/]+=* oms-gateway$/);
    expect(a.privateKey).to.contain('BEGIN OPENSSH PRIVATE KEY');
    expect(statSync(join(dir, 'ssh')).mode & 0o777).to.equal(0o700);
    expect(statSync(join(dir, 'ssh', 'id_ed25519')).mode & 0o777).to.equal(0o600);
    expect(readFileSync(join(dir, 'ssh', 'id_ed25519.pub'), 'utf8')).to.equal(`${a.publicKey}\n`);
    const b = loadOrCreateGatewayKey(dir);
    expect(b).to.deep.equal(a);
  });

  it('writes files that OpenSSH reads as one pair', () => {
    const { publicKey } = loadOrCreateGatewayKey(dir);
    const derived = sshKeygen('-y', '-f', join(dir, 'ssh', 'id_ed25519')).trim();
    expect(derived.split(' ').slice(0, 2)).to.deep.equal(publicKey.split(' ').slice(0, 2));
  });

  it('computes fingerprints exactly as ssh-keygen -lf', () => {
    const { publicKey } = loadOrCreateGatewayKey(dir);
    const want = sshKeygen('-l', '-f', join(dir, 'ssh', 'id_ed25519.pub')).split(' ')[1];
    expect(fingerprintOf(publicKey)).to.equal(want);
    expect(fingerprintOf(publicKeyBlob(publicKey))).to.equal(want);
    expect(isFingerprint(want)).to.equal(true);
    // Another key type too: ssh-keygen's RSA key through the same path.
    sshKeygen('-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'rsa'));
    const rsaLine = readFileSync(join(dir, 'rsa.pub'), 'utf8');
    expect(fingerprintOf(rsaLine)).to.equal(sshKeygen('-l', '-f', join(dir, 'rsa.pub')).split(' ')[1]);
    expect(keyTypeOfBlob(publicKeyBlob(rsaLine))).to.equal('ssh-rsa');
  });

  it('rewrites a missing or edited .pub from the private key, and tightens a loose key mode', () => {
    const a = loadOrCreateGatewayKey(dir);
    writeFileSync(join(dir, 'ssh', 'id_ed25519.pub'), 'ssh-ed25519 AAAAbogus x\n');
    chmodSync(join(dir, 'ssh', 'id_ed25519'), 0o644);
    expect(loadOrCreateGatewayKey(dir).publicKey).to.equal(a.publicKey);
    expect(readFileSync(join(dir, 'ssh', 'id_ed25519.pub'), 'utf8')).to.equal(`${a.publicKey}\n`);
    expect(statSync(join(dir, 'ssh', 'id_ed25519')).mode & 0o777).to.equal(0o600);
  });

  it('reports an unusable key file as SSHKeyCreateError without its content', () => {
    loadOrCreateGatewayKey(dir);
    writeFileSync(join(dir, 'ssh', 'id_ed25519'), 'SECRET-GARBAGE');
    let err: unknown;
    try {
      loadOrCreateGatewayKey(dir);
    } catch (e) {
      err = e;
    }
    expect(isOmsError(err) && err.omsName).to.equal('SSHKeyCreateError');
    expect(String((err as Error).message)).to.not.contain('SECRET');
  });

  it('refuses malformed public keys and mismatched type words', () => {
    const { publicKey } = loadOrCreateGatewayKey(dir);
    expect(() => fingerprintOf('ssh-ed25519')).to.throw();
    expect(() => fingerprintOf('ssh-rsa ' + publicKey.split(' ')[1])).to.throw(/does not match/);
    expect(() => fingerprintOf(Buffer.from([0, 0]))).to.throw();
  });

  it('compares fingerprints exactly', () => {
    expect(fingerprintsEqual('SHA256:abc', 'SHA256:abc')).to.equal(true);
    expect(fingerprintsEqual('SHA256:abc', 'SHA256:abd')).to.equal(false);
    expect(fingerprintsEqual('SHA256:abc', 'SHA256:abcd')).to.equal(false);
  });
});
