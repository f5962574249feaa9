/**
 * Progress of long disk copies, read from `qemu-img convert -p`. qemu-img prints its progress on
 * stdout whether or not stdout is a terminal, each step as `    (NN.NN/100%)` followed by a
 * carriage return (no newline until the end), so the stream is split on \r and \n. The percentage
 * is of the source's virtual size (qemu-img walks the image's sectors), which is what the
 * caller's byte totals are made of. Pure except for the stream plumbing: no I/O, no state beyond
 * the one stream.
 */
import { Writable } from 'node:stream';

const STEP = /\(\s*(\d{1,3}(?:\.\d+)?)\/100%\)/;

/** The percentage in one progress step, or undefined for anything else (blank, noise). */
export function parseConvertStep(text: string): number | undefined {
  const m = STEP.exec(text);
  if (!m) return undefined;
  const p = Number(m[1]);
  return p >= 0 && p <= 100 ? p : undefined;
}

/** Every percentage in a captured `qemu-img convert -p` output, in order. */
export function parseConvertOutput(stdout: string): number[] {
  return stdout
    .split(/[\r\n]/)
    .map(parseConvertStep)
    .filter((p): p is number => p !== undefined);
}

/** Bytes done of `total` at `percent`, never past the total. */
export const bytesAt = (percent: number, total: number): number => Math.min(total, Math.round((percent / 100) * total));

/**
 * A sink for qemu-img's stdout that calls `onPercent` for each step as it arrives. Steps never go
 * backwards (qemu-img repeats the last one at the end). A step split across two chunks is joined.
 * Errors of the stream (the executor destroys it when the command fails) are the command's to
 * report, so they are swallowed here rather than crashing the process as an unhandled 'error'.
 */
export function convertProgressSink(onPercent: (percent: number) => void): Writable {
  let pending = '';
  let last = -1;
  const take = (piece: string) => {
    const p = parseConvertStep(piece);
    if (p !== undefined && p > last) {
      last = p;
      onPercent(p);
    }
  };
  const sink = new Writable({
    decodeStrings: false,
    write(chunk: Buffer | string, _enc, done) {
      const parts = (pending + chunk.toString()).split(/[\r\n]/);
      // The last piece may be half a step; keep it (bounded: a step is ~20 characters).
      pending = parts.pop()!.slice(-200);
      for (const part of parts) take(part);
      done();
    },
    final(done) {
      take(pending);
      pending = '';
      done();
    },
  });
  sink.on('error', () => {});
  return sink;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Sizes for task log lines: `10 GiB`, `64.5 MiB`, `512 B`. */
export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, '');
  return `${s} ${UNITS[u]}`;
}
