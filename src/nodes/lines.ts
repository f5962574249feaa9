/**
 * A Writable that cuts a program's output into lines, for readers of line-oriented streams
 * (follow(): `virsh event --loop`, `lxc-monitor`). Each whole line is handed to `onLine` without
 * its line end, in order; a partial line waits for the rest. A line longer than `maxLineBytes`
 * is dropped up to its end (reported by `onOverlong`) rather than buffered without bound. What
 * is left without a line end when the stream ends is handed over too.
 */
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export interface LineSinkOptions {
  readonly maxLineBytes?: number;
  readonly onOverlong?: () => void;
}

export function lineSink(onLine: (line: string) => void, opts: LineSinkOptions = {}): Writable {
  const max = opts.maxLineBytes ?? 64 * 1024;
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let skipping = false;
  const feed = (text: string): void => {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const line = pending + text.slice(start, nl);
      pending = '';
      start = nl + 1;
      if (skipping) skipping = false;
      else onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    if (skipping) return;
    pending += text.slice(start);
    if (pending.length > max) {
      pending = '';
      skipping = true;
      opts.onOverlong?.();
    }
  };
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        feed(decoder.write(chunk));
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    final(cb) {
      try {
        feed(decoder.end());
        if (pending && !skipping) onLine(pending);
        pending = '';
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}
