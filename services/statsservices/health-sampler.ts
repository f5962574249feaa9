/**
 * The health monitor's sampler (src/health/monitor.ts): one request per sample to a shell kept
 * running on the node (a resident command, src/nodes/resident.ts), on the node's shell path, so
 * a sample never takes a command slot nor opens an SSH session of its own.
 *
 * The resident is a fixed script, not `sh -s`: a resident request is plain words only (no `;`),
 * and a sample needs two programs (df and head), so the script runs both for the one word
 * `sample`. Nothing of the caller reaches it: the script and the files are constants.
 *
 * Answer: `df -P -k -T /` (root filesystem, the format parseDf reads), then one `head -v` over the counters. head puts a
 * `==> FILE <==` header before each file, so the df lines are everything before the first header.
 */
import type { NodeHandle } from '../../src/fleet/access.ts';
import type { ResidentSpec } from '../../src/nodes/resident.ts';
import type { HealthSampler } from '../../src/health/sample.ts';
import { parseHealthSample } from './health-parse.ts';

/** Files read per sample; small except /proc/stat on hosts with many CPUs (its first line is used). */
export const healthFiles = ['/proc/uptime', '/proc/loadavg', '/proc/stat', '/proc/meminfo', '/proc/net/dev', '/sys/devices/system/cpu/online'] as const;

/**
 * `sample` runs df and head; `echo MARKER` prints the resident protocol's end marker; any other
 * line is ignored (never run). `read -r` keeps backslashes; the script holds no caller data.
 */
const SCRIPT = [
  'while read -r w m; do',
  '  case "$w" in',
  '    sample) df -P -k -T / ; head -v -c 1000000 -- "$@" ;;',
  '    echo) printf "%s\\n" "$m" ;;',
  '  esac',
  'done',
].join('\n');

export const healthResident: ResidentSpec = {
  key: 'oms-health-sampler',
  argv: ['sh', '-c', SCRIPT, 'oms-health-sampler', ...healthFiles],
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
