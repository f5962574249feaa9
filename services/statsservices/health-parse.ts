/**
 * Reader of the health sampler's answer (health-sampler.ts): `df -P -k /` lines, then `head -v`
 * over /proc/uptime, /proc/loadavg, /proc/stat, /proc/meminfo, /proc/net/dev and
 * /sys/devices/system/cpu/online. Pure: text in, reading out. Throws when a counter the monitor
 * cannot do without is missing (the answer is not a sample, e.g. an error message).
 */
import type { HealthReading, NetCounters } from '../../src/health/sample.ts';
import { parseDf, parseHeadFiles, parseMeminfo, parseNetDev, parseProcStat, parseUptime } from './parse.ts';

/** `0-3,8-11` (a CPU list, see cpuset(7)) -> 8. */
export function countCpuList(text: string): number {
  let n = 0;
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    n += m[2] === undefined ? 1 : Math.max(0, Number(m[2]) - Number(m[1]) + 1);
  }
  return n;
}

export function parseHealthSample(text: string): HealthReading {
  const firstHeader = text.search(/^==> \//m);
  if (firstHeader < 0) throw new Error('health sample: no head output');
  const files = parseHeadFiles(text.slice(firstHeader));
  const root = parseDf(text.slice(0, firstHeader)).find((e) => e.mount === '/');

  const uptime = parseUptime(files.get('/proc/uptime') ?? '');
  const load1 = Number((files.get('/proc/loadavg') ?? '').trim().split(/\s+/)[0]);
  const cpu = parseProcStat(files.get('/proc/stat') ?? '');
  const mem = parseMeminfo(files.get('/proc/meminfo') ?? '');
  const memTotalKb = mem.get('MemTotal');
  if (uptime === undefined || !Number.isFinite(load1) || cpu === undefined || memTotalKb === undefined) {
    throw new Error('health sample: a counter is missing');
  }
  const memAvailableKb = mem.get('MemAvailable') ?? (mem.get('MemFree') ?? 0) + (mem.get('Buffers') ?? 0) + (mem.get('Cached') ?? 0);
  const net = new Map<string, NetCounters>();
  for (const [name, c] of parseNetDev(files.get('/proc/net/dev') ?? '')) if (name !== 'lo') net.set(name, c);
  // Without the CPU list (an old kernel), the per-CPU lines of /proc/stat count them.
  const cpus = countCpuList(files.get('/sys/devices/system/cpu/online') ?? '') || Math.max(1, (files.get('/proc/stat') ?? '').match(/^cpu\d+\s/gm)?.length ?? 1);
  return {
    uptime,
    load1,
    cpus,
    cpuTotal: cpu.total,
    cpuIdle: cpu.idle + cpu.iowait,
    memTotalKb,
    memAvailableKb,
    disk: root ? { usedKb: root.usedKb, availKb: root.availKb } : undefined,
    net,
  };
}
