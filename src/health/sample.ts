/**
 * What the health monitor reads from a node and what it keeps. A reading is the node's raw
 * counters at one moment; a sample is what the history stores, derived from two readings in a
 * row (rates.ts). The reading comes from a sampler a service declares (statsservices: one
 * request to a shell kept running on the node), so src/ knows the shape, not the commands.
 */
import type { NodeHandle } from '../fleet/access.ts';

export interface NetCounters {
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface HealthReading {
  /** Seconds since the node booted (/proc/uptime): the clock rates are measured with. */
  readonly uptime: number;
  /** 1-minute load average. */
  readonly load1: number;
  /** CPUs online; load per CPU is load1 / cpus. */
  readonly cpus: number;
  /** Jiffies of all CPUs: all of them, and those idle or waiting for I/O. */
  readonly cpuTotal: number;
  readonly cpuIdle: number;
  readonly memTotalKb: number;
  /** MemAvailable, or MemFree + Buffers + Cached on kernels without it. */
  readonly memAvailableKb: number;
  /** Root filesystem; undefined when df printed no line for it. */
  readonly disk?: { readonly usedKb: number; readonly availKb: number };
  /** Byte counters by interface, loopback left out. */
  readonly net: ReadonlyMap<string, NetCounters>;
}

/** How a node is read: one cheap request, answered within timeoutMs or rejected. */
export interface HealthSampler {
  read(node: Pick<NodeHandle, 'converse'>, timeoutMs: number): Promise<HealthReading>;
}

/** The metrics kept in the history, in the order of the table's columns. */
export const HEALTH_METRICS = ['reachable', 'load', 'cpu', 'memory', 'disk', 'net_rx', 'net_tx'] as const;
export type HealthMetric = (typeof HEALTH_METRICS)[number];

export const METRIC_UNITS: Readonly<Record<HealthMetric, string>> = {
  reachable: 'share of samples the node answered (0-1)',
  load: '1-minute load average',
  cpu: 'percent of all CPUs busy',
  memory: 'percent of memory used',
  disk: 'percent of the root filesystem used',
  net_rx: 'bytes per second received (all interfaces but loopback)',
  net_tx: 'bytes per second sent (all interfaces but loopback)',
};

/** One row of the history: a node at one moment; values undefined when not measured. */
export interface HealthSample {
  readonly node: string;
  /** Unix milliseconds (the gateway's clock). */
  readonly time: number;
  readonly reachable: boolean;
  readonly load?: number;
  readonly cpu?: number;
  readonly memory?: number;
  readonly disk?: number;
  readonly net_rx?: number;
  readonly net_tx?: number;
}
