/**
 * A streamed request body for service routes (uploads of gigabytes): bounded by idle time, not by
 * total time, and never left hanging. The stream handed to the route *fails* with a typed error
 * when the client goes away (UploadAbortedError), when nothing moves for idleMs (UploadIdleError)
 * or past maxBytes (RequestTooLarge), so whatever the route pipes it into (an SFTP write) is torn
 * down and cleaned up by its own error path. A plain `req.pipe(x)` would just stop: pipe does not
 * forward errors, and an upload task would wait forever.
 *
 * Two clocks, one at a time: idleMs while the body waits on the client (OMS_UPLOAD_IDLE_TIMEOUT),
 * stallMs while the client waits on the route (backpressure: the node is slow to take the bytes;
 * a loaded node may pause for seconds without being broken). Either way an upload that makes no
 * progress for that long is cut off with UploadIdleError.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { oms, type OmsError } from '../rpc/errors.ts';

export interface StreamedBody {
  readonly stream: Readable;
  /** Bytes received so far. */
  received(): number;
  /** The error that failed the body, if it failed. */
  failure(): OmsError | undefined;
  /** Rejects with that error when the body fails; never resolves. */
  readonly failed: Promise<never>;
  /** Stops the idle clock and listening to the request (the route has answered). */
  close(): void;
}

export function streamBody(req: IncomingMessage, opts: { idleMs: number; stallMs: number; maxBytes: number; onTimeout?: (waitingOn: 'client' | 'node', bytes: number) => void }): StreamedBody {
  // A pass-through between request and route: the route's failure path may destroy its source,
  // and destroying the request itself would take the socket before an error could be answered.
  const body = new PassThrough();
  let bytes = 0;
  let failedWith: OmsError | undefined;
  let timer: NodeJS.Timeout | undefined;
  let reject: (e: OmsError) => void = () => {};
  const failed = new Promise<never>((_, rej) => (reject = rej));
  failed.catch(() => {}); // observed by whoever races it; not an unhandled rejection otherwise

  const fail = (err: OmsError) => {
    if (failedWith || body.writableEnded) return;
    failedWith = err;
    clearTimeout(timer);
    req.off('data', onData);
    body.destroy(err);
    reject(err);
  };
  const arm = (waitingOn: 'client' | 'node') => {
    clearTimeout(timer);
    const ms = waitingOn === 'client' ? opts.idleMs : opts.stallMs;
    timer = setTimeout(() => {
      opts.onTimeout?.(waitingOn, bytes);
      fail(oms('UploadIdleError', { seconds: Math.round(ms / 100) / 10, bytes }));
    }, ms);
    timer.unref();
  };
  const onData = (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > opts.maxBytes) return fail(oms('RequestTooLarge', { limit: `${opts.maxBytes} bytes body` }));
    // The route stopped reading (destroyed its source on its own error): it answers and closes.
    if (body.destroyed) return clearTimeout(timer);
    if (body.write(chunk)) arm('client');
    else {
      req.pause();
      arm('node');
    }
  };
  const onDrain = () => {
    if (failedWith) return;
    arm('client');
    req.resume();
  };
  const onEnd = () => {
    clearTimeout(timer);
    if (!failedWith) body.end();
  };
  // 'close' before the whole body arrived: the client disconnected or was killed. ('aborted' is
  // deprecated; 'error' ECONNRESET comes with it, and 'close' always follows.)
  const onClose = () => {
    if (!req.complete) fail(oms('UploadAbortedError', { bytes }));
  };
  const onError = () => fail(oms('UploadAbortedError', { bytes }));

  req.on('data', onData);
  req.on('end', onEnd);
  req.on('close', onClose);
  req.on('error', onError);
  body.on('drain', onDrain);
  // The route may stop reading by destroying its source (its own limit, a node error).
  body.on('error', () => clearTimeout(timer));
  body.on('close', () => clearTimeout(timer));
  arm('client');

  return {
    stream: body,
    received: () => bytes,
    failure: () => failedWith,
    failed,
    close() {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      body.off('drain', onDrain);
      // 'error' stays: an error after we stopped listening must not become an uncaught exception.
    },
  };
}
