/** Readers of virsh and qemu-img output (kvmservices). Pure: no I/O, no state. */

/** `virsh domstats --raw`: domain name -> its `key=value` fields, as strings. */
export function parseDomstats(stdout: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let cur: Record<string, string> | undefined;
  for (const line of stdout.split('\n')) {
    const head = /^Domain: '(.*)'$/.exec(line);
    if (head) {
      cur = {};
      out.set(head[1], cur);
      continue;
    }
    const kv = /^\s+([^=\s]+)=(.*)$/.exec(line);
    if (kv && cur) cur[kv[1]] = kv[2];
  }
  return out;
}

export interface DiskStats {
  dev: string;
  path: string;
  rd_reqs: number;
  rd_bytes: number;
  wr_reqs: number;
  wr_bytes: number;
  fl_reqs: number;
  /** Bytes: the size the guest sees, what the image holds, and what it takes on the node. */
  capacity: number;
  allocation: number;
  physical: number;
}

/**
 * The per-disk counters of one guest's `virsh domstats --block` fields (block.N.*), in libvirt's
 * order; a counter libvirt leaves out (a CD-ROM without medium has no path or sizes) reads 0.
 * The one reader of them: vm_runtime_info and get_vm_runtime answer the same fields.
 */
export function diskStats(f: Record<string, string>): DiskStats[] {
  const num = (k: string) => (f[k] === undefined ? 0 : Number(f[k]));
  return Array.from({ length: num('block.count') }, (_, i) => ({
    dev: f[`block.${i}.name`] ?? '',
    path: f[`block.${i}.path`] ?? '',
    rd_reqs: num(`block.${i}.rd.reqs`),
    rd_bytes: num(`block.${i}.rd.bytes`),
    wr_reqs: num(`block.${i}.wr.reqs`),
    wr_bytes: num(`block.${i}.wr.bytes`),
    fl_reqs: num(`block.${i}.fl.reqs`),
    capacity: num(`block.${i}.capacity`),
    allocation: num(`block.${i}.allocation`),
    physical: num(`block.${i}.physical`),
  }));
}

/**
 * libvirt's virDomainState numbers (state.state) to the names OMS used: func's virt module
 * mapped running, blocked and "no state" to `running`, shutdown and shut off to `shutdown`.
 */
const STATE_NAMES: Record<string, string> = { '0': 'running', '1': 'running', '2': 'running', '3': 'paused', '4': 'shutdown', '5': 'shutdown', '6': 'crashed', '7': 'suspended' };
export const stateName = (n: string | undefined): string => STATE_NAMES[n ?? ''] ?? 'unknown';
/** Running in the OMS list_vms sense (status 1): the guest is up, paused or not. */
export const isActiveState = (n: string | undefined): boolean => n === '1' || n === '2' || n === '3' || n === '7';

/** `virsh dominfo` / `virsh nodeinfo`: `Key:  value` lines. */
export function parseColonTable(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) out[m[1].trim()] = m[2].trim();
  }
  return out;
}

export interface NodeInfo {
  cpus: number;
  memoryKiB: number;
  /** `CPU model` is the host architecture (x86_64, aarch64). */
  arch: string;
}

export function parseNodeinfo(stdout: string): NodeInfo {
  const t = parseColonTable(stdout);
  const cpus = Number(t['CPU(s)']);
  const mem = /^(\d+) KiB$/.exec(t['Memory size'] ?? '');
  if (!Number.isInteger(cpus) || !mem) throw new Error('virsh nodeinfo: CPU(s) or Memory size missing');
  return { cpus, memoryKiB: Number(mem[1]), arch: t['CPU model'] ?? '' };
}

export interface DomInfo {
  state: string;
  vcpu: number;
  maxMemoryKiB: number;
  usedMemoryKiB: number;
  autostart: boolean;
  persistent: boolean;
}

export function parseDominfo(stdout: string): DomInfo {
  const t = parseColonTable(stdout);
  const kib = (s: string | undefined) => Number(/^(\d+) KiB$/.exec(s ?? '')?.[1] ?? NaN);
  return {
    state: t.State ?? '',
    vcpu: Number(t['CPU(s)']),
    maxMemoryKiB: kib(t['Max memory']),
    usedMemoryKiB: kib(t['Used memory']),
    autostart: t.Autostart === 'enable',
    persistent: t.Persistent === 'yes',
  };
}

/** `virsh domstate` prints the state name (`shut off`, `running`, `paused`, ...) and a blank line. */
export const parseDomstate = (stdout: string): string => stdout.split('\n')[0].trim();
/**
 * `virsh domstate --reason`: `paused (starting up)`, `shut off (destroyed)`, `running (booted)`.
 * The state names have no parentheses, so the last parenthesised part is the reason.
 */
export function parseDomstateReason(stdout: string): { state: string; reason?: string } {
  const line = parseDomstate(stdout);
  const m = /^(.*?) \(([^()]*)\)$/.exec(line);
  return m ? { state: m[1], reason: m[2] } : { state: line };
}

/**
 * libvirt's message from virsh's stderr: the most specific `error:` line. virsh prints a generic
 * line first ("Failed to start domain 'x'") and libvirt's reason after it when there is one.
 */
export function virshMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.replace(/^error:\s*/, ''));
  if (lines.length === 0) return 'virsh failed without a message';
  const specific = lines.find((l, i) => i > 0 && !/^Failed to /.test(l));
  return (specific ?? lines[0]).slice(0, 300);
}

/** Whether virsh failed because the named domain does not exist. */
export const isNoDomain = (stderr: string): boolean => /failed to get domain|Domain not found|no domain with matching name/.test(stderr);
export const isNoNetwork = (stderr: string): boolean => /failed to get network|Network not found|no network with matching name/.test(stderr);

export interface ImageInfo {
  virtualSize: number;
  actualSize: number;
  format: string;
}

export function parseQemuImgInfo(stdout: string): ImageInfo {
  const j = JSON.parse(stdout) as Record<string, unknown>;
  const n = (k: string) => (typeof j[k] === 'number' ? (j[k] as number) : 0);
  return { virtualSize: n('virtual-size'), actualSize: n('actual-size'), format: typeof j.format === 'string' ? j.format : '' };
}

/** `find DIR -mindepth 1 -maxdepth N -printf '%y %P\n'`: type letter and path relative to DIR. */
export function parseFindListing(stdout: string): { type: string; path: string }[] {
  return stdout
    .split('\n')
    .filter((l) => /^[a-z] ./.test(l))
    .map((l) => ({ type: l[0], path: l.slice(2) }));
}

/** `virsh net-list --all`: rows of name, state, autostart, persistent. */
export function parseNetList(stdout: string): { name: string; active: boolean; autostart: boolean; persistent: boolean }[] {
  const rows: { name: string; active: boolean; autostart: boolean; persistent: boolean }[] = [];
  for (const line of stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    // With or without virsh -q: the header and its rule are skipped by content.
    if (f.length === 4 && !(f[0] === 'Name' && f[1] === 'State') && !f[0].startsWith('---')) rows.push({ name: f[0], active: f[1] === 'active', autostart: f[2] === 'yes', persistent: f[3] === 'yes' });
  }
  return rows;
}

export interface IfAddr {
  /** Host-side device (vnet0) as libvirt names it; '-' when it does not know. */
  dev: string;
  mac: string;
  family: 'ipv4' | 'ipv6';
  address: string;
  prefix: number;
}

/**
 * `virsh domifaddr VM --source lease|agent --full`: one row per address. Rows are recognised by
 * their MAC column, so the header, its rule and blank lines (with or without -q) are skipped.
 */
export function parseDomifaddr(stdout: string): IfAddr[] {
  const out: IfAddr[] = [];
  for (const line of stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 4 || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(f[1]) || (f[2] !== 'ipv4' && f[2] !== 'ipv6')) continue;
    const [address, prefix] = f[3].split('/');
    out.push({ dev: f[0], mac: f[1].toLowerCase(), family: f[2], address, prefix: Number(prefix ?? (f[2] === 'ipv4' ? 32 : 128)) });
  }
  return out;
}

export interface Neighbour {
  address: string;
  dev: string;
  mac: string;
  state: string[];
}

/**
 * `ip -j neigh show`: the node's ARP (IPv4) and NDP (IPv6) table. Entries without a link-layer
 * address, or that failed or are still being resolved, say nothing about who holds an address.
 */
export function parseNeighbours(stdout: string): Neighbour[] {
  const rows = JSON.parse(stdout || '[]') as { dst?: string; dev?: string; lladdr?: string; state?: string[] }[];
  return rows
    .filter((r) => r.dst && r.lladdr && !(r.state ?? []).some((s) => s === 'FAILED' || s === 'INCOMPLETE'))
    .map((r) => ({ address: r.dst!, dev: r.dev ?? '', mac: r.lladdr!.toLowerCase(), state: r.state ?? [] }));
}

/** `ip -j -4 route show`: destinations with the device they go through ("default" left out). */
export function parseRouteSubnets(stdout: string): { subnet: string; dev: string }[] {
  const rows = JSON.parse(stdout || '[]') as { dst?: string; dev?: string }[];
  return rows.filter((r) => r.dst && r.dst !== 'default').map((r) => ({ subnet: r.dst!, dev: r.dev ?? '' }));
}

/** `ip -j -4 addr show`: every interface's IPv4 address as `address/prefix`. */
export function parseAddrSubnets(stdout: string): { subnet: string; dev: string }[] {
  const rows = JSON.parse(stdout || '[]') as { ifname?: string; addr_info?: { family?: string; local?: string; prefixlen?: number }[] }[];
  return rows.flatMap((r) => (r.addr_info ?? []).filter((a) => a.family === 'inet' && a.local).map((a) => ({ subnet: `${a.local}/${a.prefixlen ?? 32}`, dev: r.ifname ?? '' })));
}

/**
 * USER_HZ, the unit of /proc/PID/stat's start time: 100 on every Linux ABI the nodes run
 * (x86-64, arm64); the kernel converts its internal HZ to it for userspace.
 */
export const USER_HZ = 100;

/**
 * When a process started, in Unix seconds: the boot time (`btime` of /proc/stat) plus its start
 * time in ticks after boot (field 22 of /proc/PID/stat). The command name in field 2 may hold
 * spaces and parentheses, so fields are counted after its last ')'. Returns the name too, so a
 * caller can check it is the process it expected.
 */
export function parseProcessStart(procStat: string, pidStat: string): { startedAt: number; comm: string } {
  const btime = /^btime (\d+)$/m.exec(procStat);
  const open = pidStat.indexOf('(');
  const close = pidStat.lastIndexOf(')');
  if (!btime || open < 0 || close < open) throw new Error('/proc/stat or /proc/PID/stat unreadable');
  const rest = pidStat.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state), so field 22 is rest[19].
  const ticks = Number(rest[19]);
  if (!Number.isFinite(ticks)) throw new Error('/proc/PID/stat without a start time');
  return { startedAt: Number(btime[1]) + ticks / USER_HZ, comm: pidStat.slice(open + 1, close) };
}

/** `virsh list --all --name`: one guest name per line. */
export const parseNameList = (stdout: string): string[] =>
  stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
