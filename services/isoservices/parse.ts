/** Readers of ISOService command output. Pure. */

/** NUL-separated names from listIsos, sorted (find's order is the directory's, not stable). */
export const parseIsoList = (stdout: string): string[] =>
  stdout
    .split('\0')
    .filter((n) => n !== '')
    .sort();

/** Two lines: real directory, real file. */
export function parseResolved(stdout: string): { dir: string; file: string } {
  const [dir, file] = stdout.split('\n');
  if (!dir?.startsWith('/') || !file?.startsWith('/')) throw new Error('unreadable path resolution output');
  return { dir, file };
}

/** curl's message (`curl: (22) The requested URL returned error: 404`) or our own last line. */
/** The fetched image's size: the last line of the fetch script's output (watchdog dots before it). */
export function parseFetchedSize(stdout: string): number {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  if (!/^\d+$/.test(last)) throw new Error('fetch: no size in the output');
  return Number(last);
}

export function fetchReason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => l.startsWith('curl:')) ?? lines.at(-1) ?? 'unknown error';
}

export interface IsoDetails {
  name: string;
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
}

/** `size/mtime/name` records from listIsoDetails, sorted by name. */
export const parseIsoDetails = (stdout: string): IsoDetails[] =>
  stdout
    .split('\0')
    .filter((r) => r !== '')
    .map((r) => {
      const [size, mtime, ...name] = r.split('/');
      if (!/^\d+$/.test(size) || !/^\d+(\.\d+)?$/.test(mtime) || name.length !== 1) throw new Error('unreadable ISO listing');
      return { name: name[0], size: Number(size), mtime: Math.floor(Number(mtime)) };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
