/**
 * Progress of a long operation: on a terminal one line redrawn in place (bar, bytes or steps, rate
 * and ETA); elsewhere (a pipe, a log) a plain line at most every 10 % so logs stay short.
 */
export interface ProgressSink {
  update(done: number, total: number | undefined): void;
  end(message?: string): void;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
export function bytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[i]}`;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** One progress line: `label [#####.....]  42% 4.2 MiB/10.0 MiB 1.1 MiB/s ETA 00:05`. */
export function progressLine(label: string, done: number, total: number | undefined, elapsedMs: number, unit: 'bytes' | 'steps', width = 30): string {
  const fmt = (n: number) => (unit === 'bytes' ? bytes(n) : String(n));
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  if (!total) return `${label} ${fmt(done)}${unit === 'bytes' ? ` ${bytes(Math.round(rate))}/s` : ''}`;
  const frac = Math.min(1, done / total);
  const filled = Math.round(frac * width);
  const eta = rate > 0 ? (total - done) / rate : Number.NaN;
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${fmt(done)}/${fmt(total)}${unit === 'bytes' ? ` ${bytes(Math.round(rate))}/s` : ''} ETA ${duration(eta)}`;
}

/**
 * A progress display started now (rate and ETA count from here). Without `unit`, a total above
 * 4096 is taken as bytes and a smaller one as steps, decided at the first update.
 */
export function progress(label: string, opts: { tty: boolean; write: (s: string) => void; unit?: 'bytes' | 'steps'; now?: () => number }): ProgressSink {
  const now = opts.now ?? Date.now;
  const started = now();
  let unit = opts.unit;
  let lastDraw = 0;
  let lastTenth = -1;
  let drawn = false;
  return {
    update(done, total) {
      const t = now();
      unit ??= total !== undefined && total <= 4096 ? 'steps' : 'bytes';
      if (opts.tty) {
        if (t - lastDraw < 100 && done !== total) return;
        lastDraw = t;
        drawn = true;
        opts.write(`\r\x1b[2K${progressLine(label, done, total, t - started, unit)}`);
        return;
      }
      const tenth = total ? Math.floor((done / total) * 10) : Math.floor(t / 5000);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      opts.write(`${progressLine(label, done, total, t - started, unit).replace(/ \[[#.]+\]/, '')}\n`);
    },
    end(message) {
      if (opts.tty && drawn) opts.write('\r\x1b[2K');
      if (message) opts.write(`${message}\n`);
    },
  };
}
