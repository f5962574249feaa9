/**
 * Readers of node output for statsservices.get_stats, and the combiners that turn one or two
 * samples into the OMS result pieces. Pure: text in, data out; no I/O, no clock, no state.
 *
 * OMS sends most numbers as strings ("23.92", "262144") and a few as numbers (bandwidth rates);
 * the combiners keep those types exactly as the OMS sample response has them.
 */

// ---------------------------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------------------------

/*
 * GNU head with several files (or -v) prints "==> FILE <==" before each file and an empty line
 * before every header but the first. A file it cannot open gets no header (the error goes to
 * stderr); a file it opens but cannot read (EINVAL from a down link's speed) gets a header and
 * no content. Only absolute paths count as headers: the files we read never hold such a line.
 */
const HEAD_HEADER = /^==> (\/[^\n]*) <==$/gm;

/** Splits `head -v` output into file -> content. Files head could not open are absent. */
export function parseHeadFiles(text: string): Map<string, string> {
  const headers = [...text.matchAll(HEAD_HEADER)];
  const files = new Map<string, string>();
  headers.forEach((h, i) => {
    const start = h.index + h[0].length + 1;
    const next = headers[i + 1];
    // The newline right before the next header is head's separator, not part of this file.
    const end = next === undefined ? text.length : next.index - 1;
    files.set(h[1], text.slice(start, Math.max(start, end)));
  });
  return files;
}

/** Jiffies of the aggregate "cpu" line of /proc/stat, as the shares need them. */
export interface CpuTimes {
  /** user + nice + system + idle + iowait + irq + softirq + steal; guest time is already in user. */
  readonly total: number;
  readonly idle: number;
  readonly iowait: number;
}

export function parseProcStat(text: string): CpuTimes | undefined {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (line === undefined) return undefined;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return undefined;
  return { total: f.reduce((a, b) => a + b, 0), idle: f[3], iowait: f[4] ?? 0 };
}

/** /proc/meminfo as key -> kB (the unit every line of it uses, or a plain count). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([^:\s]+):\s+(\d+)/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

export interface CpuInfo {
  /** Values of the first processor block, text as the kernel prints it ('' when absent). */
  readonly modelName: string;
  readonly mhz: string;
  readonly cacheSize: string;
  /** Number of "processor" entries. */
  readonly count: number;
}

/** Model names live under different keys per architecture (x86, older ARM, POWER). */
const MODEL_KEYS = ['model name', 'Processor', 'cpu model', 'cpu'];

export function parseCpuinfo(text: string): CpuInfo {
  const blocks = text.split(/\n\s*\n/).map(keyValues).filter((b) => b.size > 0);
  const first = blocks[0] ?? new Map<string, string>();
  const model = MODEL_KEYS.map((k) => first.get(k)).find((v) => v !== undefined && v !== '');
  return {
    modelName: model ?? '',
    mhz: first.get('cpu MHz') ?? '',
    cacheSize: first.get('cache size') ?? '',
    count: blocks.filter((b) => b.has('processor')).length,
  };
}

function keyValues(block: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of block.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}

/** Seconds since boot from /proc/uptime. */
export function parseUptime(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s/.exec(text);
  return m ? Number(m[1]) : undefined;
}

export interface SwapEntry {
  readonly path: string;
  readonly type: string;
  readonly sizeKb: number;
  readonly usedKb: number;
}

/** /proc/swaps; the kernel writes space, tab, newline and backslash in paths as octal escapes. */
export function parseSwaps(text: string): SwapEntry[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3]))
    .map((f) => ({ path: unescapeOctal(f[0]), type: f[1], sizeKb: Number(f[2]), usedKb: Number(f[3]) }));
}

const unescapeOctal = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export interface NetDevCounters {
  readonly rxBytes: number;
  readonly txBytes: number;
}

/**
 * /proc/net/dev as interface -> byte counters. The kernel prints "%6s:%8llu", so a long name
 * touches its first number ("omslabv1:40792"); names cannot contain ':', so split at the first.
 */
export function parseNetDev(text: string): Map<string, NetDevCounters> {
  const out = new Map<string, NetDevCounters>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const f = line.slice(i + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.set(line.slice(0, i).trim(), { rxBytes: f[0], txBytes: f[8] });
  }
  return out;
}

/** os-release(5): KEY=value lines, values in shell quoting (double, single or none). */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1], unquoteShellValue(m[2]));
  }
  return out;
}

function unquoteShellValue(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\([$"`\\])/g, '$1');
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  return v.replace(/\\(.)/g, '$1');
}

export interface DfEntry {
  readonly dev: string;
  readonly type: string;
  readonly totalKb: number;
  readonly usedKb: number;
  readonly availKb: number;
  readonly mount: string;
}

/*
 * `df -P -k -T` line: device, type, four numbers, mount point. Mount points (and some device
 * names) may hold spaces, so fields are not split on whitespace: the device is the shortest
 * prefix followed by "type n n n n%" and a path; the mount point is the rest of the line.
 */
const DF_LINE = /^(.+?)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(?:\d+%|-)\s+(\/.*)$/;

export function parseDf(text: string): DfEntry[] {
  const out: DfEntry[] = [];
  for (const line of text.split('\n')) {
    const m = DF_LINE.exec(line);
    if (m) out.push({ dev: m[1], type: m[2], totalKb: Number(m[3]), usedKb: Number(m[4]), availKb: Number(m[5]), mount: m[6] });
  }
  return out;
}

export interface Route {
  readonly dev: string;
  readonly gateway?: string;
  readonly metric: number;
}

/** `ip -j route show default`; a multipath route counts with its first next hop's device. */
export function parseIpRouteJson(text: string): Route[] {
  const out: Route[] = [];
  for (const r of jsonArray(text, 'ip route')) {
    const hop = firstObject(r.nexthops) ?? r;
    if (typeof hop.dev !== 'string') continue; // blackhole, unreachable, prohibit
    const gateway = typeof hop.gateway === 'string' ? hop.gateway : undefined;
    out.push({ dev: hop.dev, gateway, metric: typeof r.metric === 'number' ? r.metric : 0 });
  }
  return out;
}

export interface Interface {
  readonly name: string;
  readonly loopback: boolean;
  /** IPv4 addresses, primary ones first. */
  readonly ipv4: readonly string[];
}

export function parseIpAddrJson(text: string): Interface[] {
  return jsonArray(text, 'ip addr')
    .filter((i) => typeof i.ifname === 'string')
    .map((i) => {
      const flags = Array.isArray(i.flags) ? i.flags : [];
      const inet = (Array.isArray(i.addr_info) ? i.addr_info : []).filter(isObject).filter((a) => a.family === 'inet' && typeof a.local === 'string');
      // Secondary addresses are aliases; the interface's own address is the primary one.
      const ordered = [...inet.filter((a) => a.secondary !== true), ...inet.filter((a) => a.secondary === true)];
      return { name: i.ifname as string, loopback: flags.includes('LOOPBACK') || i.link_type === 'loopback', ipv4: ordered.map((a) => a.local as string) };
    });
}

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const firstObject = (v: unknown): JsonObject | undefined => (Array.isArray(v) && isObject(v[0]) ? v[0] : undefined);

/** Empty output means an empty list (old iproute2 prints nothing when nothing matches). */
function jsonArray(text: string, what: string): JsonObject[] {
  if (text.trim() === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`${what} did not print JSON`);
  }
  if (!Array.isArray(v)) throw new Error(`${what} did not print a JSON array`);
  return v.filter(isObject);
}

/** /sys/class/net/IF/speed in Mbit/s; 0 when unknown (-1 from virtual NICs, empty on EINVAL). */
export function parseLinkSpeed(text: string | undefined): number {
  const n = Number((text ?? '').trim());
  return Number.isInteger(n) && n > 0 ? n : 0;
}

// ---------------------------------------------------------------------------------------------
// Combiners: OMS result pieces
// ---------------------------------------------------------------------------------------------

/** part/whole as a percentage with two decimals; "0.00" when there is no whole to share. */
export function percent(part: number, whole: number): string {
  return whole > 0 && part > 0 ? ((part / whole) * 100).toFixed(2) : '0.00';
}

/** A counter's growth; counters reset (reboot, interface re-created), which is not negative use. */
const grown = (before: number, after: number): number => Math.max(0, after - before);

export interface CpuStat {
  readonly percentage: string;
  readonly cpu_cache: string;
  readonly cpu_type: string;
  readonly cpu_mhz: string;
}

/** Busy share of all CPUs between two /proc/stat samples: neither idle nor waiting for I/O. */
export function cpuStat(before: CpuTimes | undefined, after: CpuTimes | undefined, info: CpuInfo): CpuStat {
  let percentage = '0.00';
  if (before && after) {
    const total = grown(before.total, after.total);
    const idle = grown(before.idle, after.idle) + grown(before.iowait, after.iowait);
    percentage = percent(Math.max(0, total - idle), total);
  }
  return { percentage, cpu_cache: info.cacheSize, cpu_type: info.modelName, cpu_mhz: info.mhz };
}

export function iowaitStat(before: CpuTimes | undefined, after: CpuTimes | undefined): { percentage: string } {
  if (!before || !after) return { percentage: '0.00' };
  return { percentage: percent(grown(before.iowait, after.iowait), grown(before.total, after.total)) };
}

export interface UsageStat {
  readonly percentage: string;
  readonly total: string;
  readonly used: string;
}

/** used = MemTotal - MemAvailable; kernels before 3.14 lack MemAvailable, so estimate it there. */
export function memoryStat(meminfo: ReadonlyMap<string, number>): UsageStat {
  const total = meminfo.get('MemTotal') ?? 0;
  const get = (k: string): number => meminfo.get(k) ?? 0;
  const available = meminfo.get('MemAvailable') ?? get('MemFree') + get('Buffers') + get('Cached');
  const used = Math.max(0, total - available);
  return { percentage: percent(used, total), total: String(total), used: String(used) };
}

export interface DfDetail {
  readonly mount: string;
  readonly used: string;
  readonly dev: string;
  readonly free: string;
}

/** Memory-backed, image and userspace filesystems: not the node's disks. */
const NOT_DISK_TYPES = new Set(['tmpfs', 'devtmpfs', 'ramfs', 'overlay', 'squashfs', 'efivarfs', 'iso9660', 'udf']);

/** A filesystem on a block device (ZFS datasets have pool names instead of /dev paths). */
export function isDiskFilesystem(e: DfEntry): boolean {
  if (NOT_DISK_TYPES.has(e.type) || e.type === 'fuse' || e.type.startsWith('fuse.')) return false;
  return e.dev.startsWith('/dev/') || e.type === 'zfs';
}

/**
 * Totals over the node's disk filesystems, each device counted once (btrfs subvolumes repeat
 * their device). The share is used / (used + available) as df prints it, so space reserved for
 * root counts as unavailable, which is what "how full" means to an operator.
 */
export function dfStat(entries: readonly DfEntry[]): { df: UsageStat; details: DfDetail[] } {
  const disks = entries.filter(isDiskFilesystem);
  const seen = new Set<string>();
  let total = 0;
  let used = 0;
  let avail = 0;
  for (const e of disks) {
    if (seen.has(e.dev)) continue;
    seen.add(e.dev);
    total += e.totalKb;
    used += e.usedKb;
    avail += e.availKb;
  }
  return {
    df: { percentage: percent(used, used + avail), total: String(total), used: String(used) },
    details: disks.map((e) => ({ mount: e.mount, used: String(e.usedKb), dev: e.dev, free: String(e.availKb) })),
  };
}

export const uptimeStat = (seconds: number | undefined): string => String(Math.floor(seconds ?? 0));

export const kernelStat = (osrelease: string | undefined): string => (osrelease ?? '').trim();

/** PRETTY_NAME; os-release(5) says "Linux" when the file does not set it. */
export function osReleaseStat(text: string | undefined): string {
  if (text === undefined) return '';
  return parseOsRelease(text).get('PRETTY_NAME') ?? 'Linux';
}

export interface MainInterface {
  readonly name: string;
  readonly ip: string;
}

/**
 * The interface traffic leaves by: the default route with the lowest metric; without one, the
 * first non-loopback interface with an IPv4 address.
 */
export function mainInterface(routes: readonly Route[], interfaces: readonly Interface[]): MainInterface | undefined {
  const best = [...routes].sort((a, b) => a.metric - b.metric)[0];
  if (best) return { name: best.dev, ip: interfaces.find((i) => i.name === best.dev)?.ipv4[0] ?? '' };
  const first = interfaces.find((i) => !i.loopback && i.ipv4.length > 0);
  return first && { name: first.name, ip: first.ipv4[0] };
}

export const networkStat = (main: MainInterface | undefined): { ip: string; name: string } => ({ ip: main?.ip ?? '', name: main?.name ?? '' });

export interface BandwidthStat {
  readonly percentage: string;
  /** bytes per second */
  readonly received: number;
  /** link speed in bits per second as OMS counts it (Mbit x 1048576); 0 when unknown */
  readonly maximum: number;
  /** bytes per second */
  readonly sent: number;
}

/** OMS reported a 100 Mbit link as 104857600, i.e. binary mega; kept for compatibility. */
const OMS_BITS_PER_MBIT = 1048576;

export function bandwidthStat(before: NetDevCounters | undefined, after: NetDevCounters | undefined, seconds: number, speedMbit: number): BandwidthStat {
  const maximum = speedMbit * OMS_BITS_PER_MBIT;
  if (!before || !after || !(seconds > 0)) return { percentage: '0.00', received: 0, maximum, sent: 0 };
  const received = grown(before.rxBytes, after.rxBytes) / seconds;
  const sent = grown(before.txBytes, after.txBytes) / seconds;
  // Both directions over one link speed, as OMS did: a busy full-duplex link can pass 100.
  return { percentage: percent((received + sent) * 8, maximum), received: Math.round(received), maximum, sent: Math.round(sent) };
}

export interface SwapStat extends UsageStat {
  readonly path: string;
}

export function swapStat(entries: readonly SwapEntry[]): SwapStat {
  const total = entries.reduce((a, e) => a + e.sizeKb, 0);
  const used = entries.reduce((a, e) => a + e.usedKb, 0);
  return { path: entries[0]?.path ?? '', percentage: percent(used, total), total: String(total), used: String(used) };
}
