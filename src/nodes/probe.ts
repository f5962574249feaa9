/**
 * Reads the host key a node offers, without authenticating: used at enrollment, when there is no
 * pinned key yet and an administrator compares the fingerprint before signing.
 */
import ssh2 from 'ssh2';
import { fingerprintOf, keyTypeOfBlob, publicKeyLine } from './host-key.ts';
import { sshErrorReason, unreachable } from './ssh-errors.ts';
import type { HostKeyProbe } from './types.ts';

export function probeHostKey(address: string, port: number, timeoutMs = 10_000): Promise<HostKeyProbe> {
  const label = `${address}:${port}`;
  return new Promise<HostKeyProbe>((resolve, reject) => {
    const client = new ssh2.Client();
    let key: Buffer | undefined;
    let done = false;

    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.destroy();
      if (key) resolve({ fingerprint: fingerprintOf(key), publicKey: publicKeyLine(key), algorithm: keyTypeOfBlob(key) });
      else reject(err ?? unreachable(label, 'no host key offered'));
    };
    const timer = setTimeout(() => finish(unreachable(label, 'timed out')), timeoutMs);

    // Rejecting the key ends the handshake with an error before any authentication is tried;
    // that error is the expected way out once the key is in hand.
    client.on('error', (err: Error) => finish(key ? undefined : unreachable(label, sshErrorReason(err))));
    client.on('close', () => finish(unreachable(label, 'connection closed before a host key was offered')));
    try {
      client.connect({
        host: address,
        port,
        username: 'root', // never used: the connection ends during key exchange
        readyTimeout: timeoutMs,
        hostVerifier: (blob: Buffer): boolean => {
          key = Buffer.from(blob);
          return false;
        },
      });
    } catch (e) {
      finish(unreachable(label, sshErrorReason(e)));
    }
  });
}
