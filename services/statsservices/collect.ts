/**
 * Gathers get_stats from one node through an executor, in as few round trips as the stats allow:
 *
 *   round 1, in parallel: one `head` over every /proc and /etc file needed, `df`, `ip route`,
 *            `ip addr` (each only when a requested stat needs it);
 *   pause:   the sampling interval, counted from the end of the first `head`;
 *   round 2: one `head` over the changing counters (/proc/stat, /proc/net/dev) and the main
 *            interface's link speed, when a requested stat is a rate or share.
 *
 * Rates divide by the interval measured between the two samples, not the nominal one: SSH
 * latency and a slow `df` or `ip` in round 1 stretch it.
 */
import {
  addrCommand,
  dfCommand,
  isInterfaceName,
  isStatName,
  linkSpeedPath,
  needsInterface,
  needsSecondSample,
  partialOkExitCodes,
  procFiles,
  procSnapshotCommand,
  routeCommand,
  secondSampleCommand,
  statNames,
  type Argv,
  type StatName,
} from './commands.ts';
import {
  bandwidthStat,
  cpuStat,
  dfStat,
  iowaitStat,
  kernelStat,
  mainInterface,
  memoryStat,
  networkStat,
  osReleaseStat,
  parseCpuinfo,
  parseDf,
  parseHeadFiles,
  parseIpAddrJson,
  parseIpRouteJson,
  parseLinkSpeed,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
  parseSwaps,
  parseUptime,
  swapStat,
  uptimeStat,
  type MainInterface,
} from './parse.ts';

export interface ExecOutput {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Runs argv on the node; rejects when the exit code is not among okExitCodes (default [0]). */
export type StatsExec = (argv: readonly string[], opts?: { okExitCodes?: number[] }) => Promise<ExecOutput>;

export interface CollectOptions {
  /** Time between the two samples of rates and shares; default 250 ms. */
  readonly intervalMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Monotonic milliseconds; injectable so tests control the measured interval. */
  readonly now?: () => number;
  /**
   * stdout of a snapshot command (procSnapshotCommand, secondSampleCommand), e.g. from the
   * node's stats reader (reader.ts); default: `exec` it, taking head's exit 1 as partial.
   */
  readonly read?: StatsRead;
}

export type StatsRead = (argv: Argv) => Promise<string>;

const DEFAULT_INTERVAL_MS = 250;

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const defaultNow = (): number => performance.now();

/** A head snapshot and when it was read: the middle of the call, the best guess without a node clock. */
interface Snapshot {
  readonly files: ReadonlyMap<string, string>;
  readonly atMs: number;
  readonly endMs: number;
}

async function snapshot(read: StatsRead, argv: Argv, now: () => number): Promise<Snapshot> {
  const start = now();
  const out = await read(argv);
  const end = now();
  return { files: parseHeadFiles(out), atMs: (start + end) / 2, endMs: end };
}

const stdoutOf = async (p: Promise<ExecOutput>): Promise<string> => (await p).stdout;

/** The stats asked for; none means all of them, as OMS did. */
function requested(names: readonly StatName[]): ReadonlySet<StatName> {
  for (const n of names) if (!isStatName(n)) throw new TypeError(`unknown stats name: ${JSON.stringify(String(n).slice(0, 40))}`);
  return new Set(names.length > 0 ? names : statNames);
}

export async function collectStats(exec: StatsExec, names: readonly StatName[], opts: CollectOptions = {}): Promise<Record<string, unknown>> {
  const wanted = requested(names);
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  const sleep = opts.sleep ?? defaultSleep;
  const now = opts.now ?? defaultNow;
  const read = opts.read ?? ((argv: Argv) => stdoutOf(exec(argv, { okExitCodes: [...partialOkExitCodes] })));

  const firstArgv = procSnapshotCommand(wanted);
  const withInterface = needsInterface(wanted);
  const [first, dfOut, routeOut, addrOut] = await Promise.all([
    firstArgv && snapshot(read, firstArgv, now),
    wanted.has('df') ? stdoutOf(exec(dfCommand(), { okExitCodes: [...partialOkExitCodes] })) : undefined,
    withInterface ? stdoutOf(exec(routeCommand())) : undefined,
    withInterface ? stdoutOf(exec(addrCommand())) : undefined,
  ]);

  const main = withInterface ? mainInterface(parseIpRouteJson(routeOut ?? ''), parseIpAddrJson(addrOut ?? '')) : undefined;
  // The name comes from the node; one that is not a plain interface name gets no speed or rates.
  const rateIf = main && isInterfaceName(main.name) ? main.name : undefined;

  const secondArgv = first && needsSecondSample(wanted) ? secondSampleCommand(wanted, rateIf) : undefined;
  let second: Snapshot | undefined;
  if (first && secondArgv) {
    await sleep(Math.max(0, intervalMs - (now() - first.endMs)));
    second = await snapshot(read, secondArgv, now);
  }

  return assemble(wanted, { first, second, dfOut, main, rateIf });
}

interface Gathered {
  readonly first?: Snapshot;
  readonly second?: Snapshot;
  readonly dfOut?: string;
  readonly main?: MainInterface;
  readonly rateIf?: string;
}

function assemble(wanted: ReadonlySet<StatName>, g: Gathered): Record<string, unknown> {
  const a = g.first?.files ?? new Map<string, string>();
  const b = g.second?.files ?? new Map<string, string>();
  const fileA = (f: string): string => a.get(f) ?? '';
  const cpuBefore = () => parseProcStat(fileA(procFiles.stat));
  const cpuAfter = () => parseProcStat(b.get(procFiles.stat) ?? '');

  const result: Record<string, unknown> = {};
  if (wanted.has('cpu_load')) result.cpu = cpuStat(cpuBefore(), cpuAfter(), parseCpuinfo(fileA(procFiles.cpuinfo)));
  if (wanted.has('memory')) result.memory = memoryStat(parseMeminfo(fileA(procFiles.meminfo)));
  if (wanted.has('df')) Object.assign(result, dfStat(parseDf(g.dfOut ?? '')));
  if (wanted.has('uptime')) result.uptime = uptimeStat(parseUptime(fileA(procFiles.uptime)));
  if (wanted.has('kernel')) result.kernel = kernelStat(a.get(procFiles.osrelease));
  if (wanted.has('network')) result.network = networkStat(g.main);
  if (wanted.has('bandwidth')) result.bandwidth = bandwidth(a, b, g);
  if (wanted.has('swap')) result.swap = swapStat(parseSwaps(fileA(procFiles.swaps)));
  if (wanted.has('iowait')) result.iowait = iowaitStat(cpuBefore(), cpuAfter());
  if (wanted.has('osrelease')) result.osrelease = osReleaseStat(a.get(procFiles.osRelease) ?? a.get(procFiles.osReleaseFallback));
  return result;
}

function bandwidth(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>, g: Gathered): ReturnType<typeof bandwidthStat> {
  const ifname = g.rateIf;
  const seconds = g.first && g.second ? (g.second.atMs - g.first.atMs) / 1000 : 0;
  const counters = (files: ReadonlyMap<string, string>) => (ifname === undefined ? undefined : parseNetDev(files.get(procFiles.netDev) ?? '').get(ifname));
  const speed = ifname === undefined ? 0 : parseLinkSpeed(b.get(linkSpeedPath(ifname)));
  return bandwidthStat(counters(a), counters(b), seconds, speed);
}
