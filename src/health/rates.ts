/**
 * From two readings of one node in a row to the values the history keeps. Pure.
 *
 * Rates use the node's own clock (/proc/uptime), not the gateway's: a slow answer does not
 * stretch the interval. A counter that went backwards (reboot, interface re-created, counter
 * wrap) gives no rate for that pair rather than a negative or absurd one.
 */
import type { HealthReading } from './sample.ts';

export interface Derived {
  readonly load: number;
  readonly loadPerCpu: number;
  readonly memory: number;
  readonly disk?: number;
  /** Undefined for the first reading after a (re)start and across a counter reset. */
  readonly cpu?: number;
  readonly net_rx?: number;
  readonly net_tx?: number;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

export function derive(prev: HealthReading | undefined, cur: HealthReading): Derived {
  const memory = cur.memTotalKb > 0 ? round2((100 * (cur.memTotalKb - cur.memAvailableKb)) / cur.memTotalKb) : 0;
  const diskSize = cur.disk ? cur.disk.usedKb + cur.disk.availKb : 0;
  // df's own Use%: used / (used + available); blocks reserved for root count as neither.
  const disk = cur.disk && diskSize > 0 ? round2((100 * cur.disk.usedKb) / diskSize) : undefined;
  const base = { load: cur.load1, loadPerCpu: round2(cur.load1 / Math.max(1, cur.cpus)), memory, disk };
  const seconds = prev ? cur.uptime - prev.uptime : 0;
  if (!prev || !(seconds > 0)) return base;

  const total = cur.cpuTotal - prev.cpuTotal;
  const idle = cur.cpuIdle - prev.cpuIdle;
  const cpu = total > 0 && idle >= 0 && idle <= total ? round2((100 * (total - idle)) / total) : undefined;

  // Per interface: one that appeared, vanished or was reset leaves the sum, the others count.
  let rx = 0;
  let tx = 0;
  for (const [name, c] of cur.net) {
    const p = prev.net.get(name);
    if (!p || c.rxBytes < p.rxBytes || c.txBytes < p.txBytes) continue;
    rx += c.rxBytes - p.rxBytes;
    tx += c.txBytes - p.txBytes;
  }
  return { ...base, cpu, net_rx: round2(rx / seconds), net_tx: round2(tx / seconds) };
}
