/**
 * SSH public key blobs and their fingerprints, in the exact form `ssh-keygen -lf` prints
 * (`SHA256:` + base64 of the SHA-256 of the key blob, padding stripped), so an administrator can
 * compare what OMS pins with what they see on the node.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

export const isFingerprint = (s: unknown): s is string => typeof s === 'string' && FINGERPRINT_PATTERN.test(s);

/** The key type named inside an SSH wire-format key blob (its first length-prefixed string). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) throw new Error('not an SSH public key blob');
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) throw new Error('not an SSH public key blob');
  const type = blob.subarray(4, 4 + len).toString('latin1');
  if (!/^[a-z0-9@.-]+$/.test(type)) throw new Error('not an SSH public key blob');
  return type;
}

/**
 * Key blob from a blob or an OpenSSH one-line public key (`ssh-ed25519 AAAA... comment`).
 * The type word of a line must match the type inside its blob, as ssh-keygen insists.
 */
export function publicKeyBlob(keyOrLine: Buffer | string): Buffer {
  if (Buffer.isBuffer(keyOrLine)) {
    keyTypeOfBlob(keyOrLine);
    return keyOrLine;
  }
  const fields = keyOrLine.trim().split(/\s+/);
  if (fields.length < 2 || !/^[A-Za-z0-9+/]+={0,2}$/.test(fields[1])) throw new Error('not an OpenSSH public key line');
  const blob = Buffer.from(fields[1], 'base64');
  if (keyTypeOfBlob(blob) !== fields[0]) throw new Error('public key line type does not match its key');
  return blob;
}

/** `SHA256:...` fingerprint of a key blob or an OpenSSH public key line. */
export function fingerprintOf(publicKeyBlobOrLine: Buffer | string): string {
  const digest = createHash('sha256').update(publicKeyBlob(publicKeyBlobOrLine)).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** OpenSSH one-line form (`type base64`) of a key blob, without comment. */
export const publicKeyLine = (blob: Buffer): string => `${keyTypeOfBlob(blob)} ${blob.toString('base64')}`;

/**
 * Compares two fingerprints without leaking where they differ. Both are public values, so this
 * is hygiene rather than a defence, but it costs nothing.
 */
export function fingerprintsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
