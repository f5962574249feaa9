/**
 * The health monitor's sampler (src/health/monitor.ts): one request per sample to a shell kept
 * running on the node (a resident command, src/nodes/resident.ts), on the node's shell path, so
 * a sample never takes a command slot nor opens an SSH session of its own.
 *
 * The resident is a fixed script, not `sh -s`: a resident request is plain words only (no `;`),
 * and a sample needs two programs (df and head), so the script runs both for the one word
 * `sample`. Nothing of the caller reaches it: the script and the files are constants.
 *
 * Answer: `df -P -k -T /` (root filesystem, the format parseDf reads), then `head -v` over the
 * counters (three runs, by how much of each file is needed). head puts a `==> FILE <==` header
 * before each file, so the df lines are everything before the first header.
 */
import type { NodeHandle } from '../../src/fleet/access.ts';
import type { ResidentSpec } from '../../src/nodes/resident.ts';
import type { HealthSampler } from '../../src/health/sample.ts';
import { parseHealthSample } from './health-parse.ts';

/**
 * Files read per sample, by how much of each is needed: the first line of the one-line files and
 * of /proc/stat (the aggregate `cpu` line; the rest, interrupt counts, is most of the file), the
 * first five lines of /proc/meminfo (MemTotal, MemFree, MemAvailable, Buffers, Cached; Buffers and
 * Cached stand in for MemAvailable on kernels before 3.14, where they are lines 3 and 4), all of
 * /proc/net/dev. Fewer bytes over SSH is less gateway CPU per sample (bench/health.ts).
 */
export const firstLineFiles = ['/proc/uptime', '/proc/loadavg', '/proc/stat', '/sys/devices/system/cpu/online'] as const;
export const meminfoFile = '/proc/meminfo';
export const netDevFile = '/proc/net/dev';

/**
 * `sample` runs df and head; `echo MARKER` prints the resident protocol's end marker; any other
 * line is ignored (never run). `read -r` keeps backslashes; the script holds no caller data.
 */
const SCRIPT = [
  'M=$1; N=$2; shift 2',
  'while read -r w m; do',
  '  case "$w" in',
  '    sample) df -P -k -T / ; head -v -n 1 -- "$@" ; head -v -n 5 -- "$M" ; head -v -c 1000000 -- "$N" ;;',
  '    echo) printf "%s\\n" "$m" ;;',
  '  esac',
  'done',
].join('\n');

export const healthResident: ResidentSpec = {
  key: 'oms-health-sampler',
  argv: ['sh', '-c', SCRIPT, 'oms-health-sampler', meminfoFile, netDevFile, ...firstLineFiles],
  echo: (marker) => ['echo', marker],
  // Outlives any sensible interval, so it is started once and then kept.
  idleMs: 600_000,
};

/** One sample of a node: one request on its resident sampler, no command slot. */
export const healthSampler: HealthSampler = {
  async read(node: Pick<NodeHandle, 'converse'>, timeoutMs: number) {
    const text = await node.converse(healthResident, ['sample'], { commandSlot: false, timeoutMs });
    return parseHealthSample(text);
  },
};
