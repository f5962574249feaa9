/** Readers of `virsh list --all` and `virsh dominfo` (samples in fixtures/). Pure. */

export interface VirshListRow {
  /** Numeric id of a running domain, undefined for `-` (not running). */
  readonly id?: number;
  readonly name: string;
  /** virsh's words: running, paused, shut off, ... */
  readonly state: string;
}

/** The table after the header line and the dashes: `Id Name State`, state may hold a space. */
export function parseVirshList(stdout: string): VirshListRow[] {
  const lines = stdout.split('\n');
  const dash = lines.findIndex((l) => /^-{3,}\s*$/.test(l.trim()));
  if (dash < 0) return [];
  const out: VirshListRow[] = [];
  for (const line of lines.slice(dash + 1)) {
    const m = /^\s*(\d+|-)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (m) out.push({ ...(m[1] !== '-' ? { id: Number(m[1]) } : {}), name: m[2], state: m[3] });
  }
  return out;
}

export interface DomInfo {
  readonly name: string;
  readonly state: string;
  readonly vcpu: number;
  readonly maxMemKiB: number;
  readonly usedMemKiB: number;
  /** Seconds of CPU time, 0 when not running. */
  readonly cpuTimeS: number;
  readonly autostart: boolean;
}

export function parseDominfo(text: string): DomInfo | undefined {
  const f = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text)?.[1].trim();
  const name = f('Name');
  if (!name) return undefined;
  const kib = (v?: string) => Number(/^(\d+)\s*KiB$/.exec(v ?? '')?.[1] ?? 0);
  return {
    name,
    state: f('State') ?? 'unknown',
    vcpu: Number(f('CPU\\(s\\)') ?? 0),
    maxMemKiB: kib(f('Max memory')),
    usedMemKiB: kib(f('Used memory')),
    cpuTimeS: Number(/^([\d.]+)s$/.exec(f('CPU time') ?? '')?.[1] ?? 0),
    autostart: f('Autostart') === 'enable',
  };
}

export function parseDominfoMany(stdout: string): DomInfo[] {
  return stdout
    .split(/^== .*$/m)
    .slice(1)
    .map(parseDominfo)
    .filter((d): d is DomInfo => d !== undefined);
}
