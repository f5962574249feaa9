/**
 * Streams an image to a node over SFTP: into a hidden temp name in the (real) ISO directory,
 * at most maxBytes, then renamed to its name. SFTP rename on OpenSSH refuses an existing target,
 * so a name taken meanwhile is never overwritten. On any failure (the source's included) the write
 * stream is destroyed and the temp file removed. Used by the upload_image RPC method (small images,
 * base64 in the call) and by the HTTP route PUT /isos/<node>/<name> (streamed request bodies).
 */
import { randomBytes } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SFTPWrapper } from 'ssh2';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import type { Logger } from '../../src/log.ts';

/** Counts bytes through; fails the stream with IsoImageTooLargeError past the limit. */
export function byteLimit(maxBytes: number, onProgress?: (bytes: number) => void): Transform & { bytes: () => number } {
  let seen = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > maxBytes) return cb(oms('IsoImageTooLargeError', { limit: maxBytes }));
      onProgress?.(seen);
      cb(null, chunk);
    },
  });
  return Object.assign(t, { bytes: () => seen });
}

const call = (f: (cb: (err: Error | undefined | null) => void) => void): Promise<void> =>
  new Promise((resolve, reject) => f((err) => (err ? reject(err) : resolve())));

/** How long a failed upload may take to close its SFTP file and remove it before giving up. */
export const CLEANUP_MS = 15_000;

/** Settles with p, or rejects after ms: a stalled SFTP request must not hold a task forever. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from the node in ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export interface UploadTarget {
  node: string;
  /** The ISO directory's real path on the node (from prepareUpload). */
  realDir: string;
  name: string;
}

/** Writes source to realDir/name over an open SFTP session (which the caller ends). Resolves with the size. */
export async function uploadOverSftp(sftp: SFTPWrapper, t: UploadTarget, source: Readable, maxBytes: number, log: Logger, onProgress?: (bytes: number) => void): Promise<number> {
  const tmp = `${t.realDir}/.oms-upload-${randomBytes(8).toString('hex')}.part`;
  const limit = byteLimit(maxBytes, onProgress);
  try {
    const piped = pipeline(source, limit, sftp.createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    // pipeline settles only once every stream has closed, and closing the SFTP file waits on the
    // node: a source that fails (client gone, idle) must not wait longer than CLEANUP_MS for it.
    const sourceFailed = new Promise<never>((_, reject) => source.once('error', (err) => setTimeout(() => reject(err), CLEANUP_MS).unref()));
    piped.catch(() => {});
    sourceFailed.catch(() => {});
    await Promise.race([piped, sourceFailed]);
    try {
      await call((cb) => sftp.rename(tmp, `${t.realDir}/${t.name}`, cb));
    } catch {
      // OpenSSH answers a plain failure when the target exists; that is the only likely cause
      // once the temp file was written in the same directory.
      throw oms('IsoImageExistsError', { node: t.node, name: t.name });
    }
    return limit.bytes();
  } catch (caught) {
    // A source that failed with a typed error (client gone, idle, cancelled) says why; the pipe's
    // own view of it is only "premature close".
    const errored = (source as Readable & { errored?: unknown }).errored;
    const e = isOmsError(errored) ? errored : caught;
    await within(call((cb) => sftp.unlink(tmp, cb)), CLEANUP_MS, 'unlink').catch((err: unknown) => {
      // ENOENT (never created) is expected; anything else leaves a hidden temp file behind.
      if ((err as { code?: number }).code !== 2) log.warn({ node: t.node, err }, 'iso upload: temp file not removed');
    });
    if (isOmsError(e)) throw e;
    throw oms('IsoUploadError', { node: t.node, reason: e instanceof Error ? e.message.slice(0, 200) : 'stream failed' });
  }
}
