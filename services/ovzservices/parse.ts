/** Readers of LXC and node output (captured samples in fixtures/). Pure. */
import type { CtInfo, CtState, NodeFacts } from './driver.ts';

const STATES: Record<string, CtState> = {
  RUNNING: 'running',
  STOPPED: 'stopped',
  FROZEN: 'frozen',
  STARTING: 'starting',
  STOPPING: 'stopping',
  ABORTING: 'aborting',
  FREEZING: 'frozen',
  THAWED: 'running',
};

/** `lxc-info -s -p -S -H` (raw numbers: nanoseconds, bytes). */
export function parseInfo(id: string, stdout: string): CtInfo {
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(stdout)?.[1].trim();
  const state = STATES[field('State') ?? ''] ?? 'unknown';
  const pid = Number(field('PID'));
  const cpu = Number(field('CPU use'));
  const mem = Number(field('Memory use'));
  return {
    id,
    state,
    ...(Number.isInteger(pid) && pid > 0 ? { pid } : {}),
    cpuTimeNs: Number.isFinite(cpu) ? cpu : 0,
    memoryBytes: Number.isFinite(mem) ? mem : 0,
  };
}

/** The `== id` blocks of infoMany; ids without a block body (gone meanwhile) are left out. */
export function parseInfoMany(stdout: string): CtInfo[] {
  const out: CtInfo[] = [];
  for (const block of stdout.split(/^== /m).slice(1)) {
    const nl = block.indexOf('\n');
    const id = (nl < 0 ? block : block.slice(0, nl)).trim();
    const body = nl < 0 ? '' : block.slice(nl + 1);
    if (/^State:/m.test(body)) out.push(parseInfo(id, body));
  }
  return out;
}

/** `lxc-ls -1`: one name a line. Only numeric names are OpenVZ-style containers OMS manages. */
export function parseList(stdout: string): string[] {
  return stdout
    .split(/\s+/)
    .filter((s) => /^[1-9][0-9]{2,9}$/.test(s))
    .sort((a, b) => Number(a) - Number(b));
}

/** Four lines of the facts script: nproc, MemTotal, cgroup fs type, df -Pk line. */
export function parseFacts(stdout: string): NodeFacts {
  const lines = stdout.split('\n');
  const cpus = Number(lines[0]?.trim());
  const mem = /^MemTotal:\s+(\d+)\s*kB/.exec(lines[1] ?? '');
  const fsType = lines[2]?.trim();
  const df = (lines[3] ?? '').trim().split(/\s+/);
  const avail = Number(df[3]);
  if (!Number.isInteger(cpus) || cpus < 1 || !mem || !fsType || !Number.isFinite(avail)) throw new Error('unexpected node facts output');
  return { cpus, memTotalKiB: Number(mem[1]), cgroup: fsType === 'cgroup2fs' ? 'v2' : 'v1', diskFreeKiB: avail };
}

/** `du -sm DIR`: MiB, rounded up by du. */
export function parseDu(stdout: string): number {
  const n = Number(stdout.trim().split(/\s+/)[0]);
  if (!Number.isInteger(n)) throw new Error('unexpected du output');
  return n;
}

/** First word of `sha256sum` output. */
export function parseSha256(stdout: string): string {
  const h = stdout.trim().split(/\s+/)[0];
  if (!/^[0-9a-f]{64}$/.test(h ?? '')) throw new Error('unexpected sha256sum output');
  return h;
}

/** Template names in the cache: `NAME.tar.gz` files (partial `.oms-part` files are not templates). */
export function parseTemplateList(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.endsWith('.tar.gz'))
    .map((l) => l.slice(0, -'.tar.gz'.length))
    .filter((n) => /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/.test(n))
    .sort();
}

/** Output of readConfigs: config text per id. */
export function splitBlocks(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const block of stdout.split(/^== /m).slice(1)) {
    const nl = block.indexOf('\n');
    out.set((nl < 0 ? block : block.slice(0, nl)).trim(), nl < 0 ? '' : block.slice(nl + 1));
  }
  return out;
}
