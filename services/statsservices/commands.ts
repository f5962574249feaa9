/**
 * Argv builders for statsservices.get_stats. Pure: no I/O, no state.
 *
 * Nothing the RPC caller sends reaches a command: stats names only choose among the fixed paths
 * below. The one variable part, an interface name for the link-speed file, comes from the node's
 * own `ip -j` output and is checked against the kernel's naming rules before it becomes a path.
 */

/** One command as the program receives it; the node executor quotes every element. */
export type Argv = readonly string[];

export const statNames = ['cpu_load', 'memory', 'df', 'uptime', 'kernel', 'network', 'bandwidth', 'swap', 'iowait', 'osrelease'] as const;
export type StatName = (typeof statNames)[number];

export const isStatName = (s: string): s is StatName => (statNames as readonly string[]).includes(s);

/** Every file the snapshot may read; a closed list, so no caller data can name a file. */
export const procFiles = {
  stat: '/proc/stat',
  meminfo: '/proc/meminfo',
  cpuinfo: '/proc/cpuinfo',
  uptime: '/proc/uptime',
  swaps: '/proc/swaps',
  netDev: '/proc/net/dev',
  osrelease: '/proc/sys/kernel/osrelease',
  osRelease: '/etc/os-release',
  // os-release(5): read /etc/os-release and fall back to this one when the former is missing.
  osReleaseFallback: '/usr/lib/os-release',
} as const;
export type ProcFile = (typeof procFiles)[keyof typeof procFiles];

const filesOfStat: Readonly<Record<StatName, readonly ProcFile[]>> = {
  cpu_load: [procFiles.stat, procFiles.cpuinfo],
  memory: [procFiles.meminfo],
  df: [],
  uptime: [procFiles.uptime],
  kernel: [procFiles.osrelease],
  network: [],
  bandwidth: [procFiles.netDev],
  swap: [procFiles.swaps],
  iowait: [procFiles.stat],
  osrelease: [procFiles.osRelease, procFiles.osReleaseFallback],
};

/** Stats whose value is a rate or share over an interval, so they need a second sample. */
const twoSampleStats: ReadonlySet<StatName> = new Set(['cpu_load', 'iowait', 'bandwidth']);
/** Stats that need to know the node's main interface (default route, or first with IPv4). */
const interfaceStats: ReadonlySet<StatName> = new Set(['network', 'bandwidth']);

export const needsSecondSample = (names: Iterable<StatName>): boolean => [...names].some((n) => twoSampleStats.has(n));
export const needsInterface = (names: Iterable<StatName>): boolean => [...names].some((n) => interfaceStats.has(n));

/**
 * head and df exit 1 when one file or filesystem could not be read but still print the others
 * (a missing /usr/lib/os-release, a down link's speed file, a mount the user may not stat), so
 * for them 1 is a partial answer, not a failure.
 */
export const partialOkExitCodes: readonly number[] = [0, 1];

/** Per-file cap: generous for /proc/cpuinfo on hosts with hundreds of CPUs, yet bounded. */
const HEAD_BYTES = '1000000';

/**
 * One `head` reading several files in one round trip. `-v` makes it print the `==> FILE <==`
 * header even for a single file, so the output always splits the same way (parseHeadFiles).
 */
function headCommand(files: readonly string[]): Argv {
  return ['head', '-v', '-c', HEAD_BYTES, '--', ...files];
}

/** Files the first snapshot reads for `names`, in a fixed order, each once. */
export function snapshotFiles(names: Iterable<StatName>): ProcFile[] {
  const wanted = new Set([...names].flatMap((n) => filesOfStat[n]));
  return Object.values(procFiles).filter((f) => wanted.has(f));
}

/** The first snapshot of every /proc and /etc file `names` need; undefined when none are. */
export function procSnapshotCommand(names: Iterable<StatName>): Argv | undefined {
  const files = snapshotFiles(names);
  return files.length > 0 ? headCommand(files) : undefined;
}

/**
 * The second sample: only the counters that change (/proc/stat, /proc/net/dev). The link-speed
 * file rides along here because the interface is only known after the first round, and this
 * spares a round trip of its own. Undefined when nothing needs a second sample.
 */
export function secondSampleCommand(names: Iterable<StatName>, ifname?: string): Argv | undefined {
  const list = [...names];
  const files: string[] = [];
  if (list.includes('cpu_load') || list.includes('iowait')) files.push(procFiles.stat);
  if (list.includes('bandwidth') && ifname !== undefined) files.push(procFiles.netDev, linkSpeedPath(ifname));
  return files.length > 0 ? headCommand(files) : undefined;
}

/**
 * POSIX output (one line per filesystem, never wrapped), 1 KiB units, with the type column so
 * pseudo filesystems can be told apart; `-l` skips network mounts, which are not the node's
 * disks and would hang the call when their server is gone.
 */
export const dfCommand = (): Argv => ['df', '-P', '-k', '-T', '-l'];

export const routeCommand = (): Argv => ['ip', '-j', 'route', 'show', 'default'];

export const addrCommand = (): Argv => ['ip', '-j', 'addr', 'show'];

/**
 * Kernel interface names are at most 15 bytes without '/', ':' or whitespace; this is stricter
 * still and, with an alphanumeric first character, rules out '.' and '..'.
 */
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

export const isInterfaceName = (s: string): boolean => IFNAME.test(s);

/** /sys/class/net/IF/speed; throws on a name that is not a plain interface name. */
export function linkSpeedPath(ifname: string): string {
  if (!isInterfaceName(ifname)) throw new Error(`not an interface name: ${JSON.stringify(ifname.slice(0, 40))}`);
  return ['', 'sys', 'class', 'net', ifname, 'speed'].join('/');
}

/** Reads one link's speed on its own (get_stats folds it into secondSampleCommand instead). */
export const linkSpeedCommand = (ifname: string): Argv => ['cat', '--', linkSpeedPath(ifname)];
