/**
 * The gateway's Prometheus metrics. One registry per app (never prom-client's global one), so
 * several gateways in one test process keep their own counts.
 *
 * Counters and histograms of calls are updated by the call pipeline; everything that is state
 * (nodes, tasks, tunnels, sessions) is read when scraped (gauges.ts), so no copy of it is kept
 * here. Label values are bounded: service and method come from declarations only (anything
 * else is `(unknown)`), transport from the fixed list of wire formats, outcome from the error
 * catalogue.
 */
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import type { Transport } from '../rpc/transport.ts';

/** Label value for a service or method that names nothing declared. */
export const UNKNOWN = '(unknown)';

/**
 * Seconds. Cached calls answer in well under a millisecond, node calls in tens of milliseconds
 * to seconds, the slowest run into the node command timeout (60 s by default).
 */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

interface CountSeries {
  readonly labels: Readonly<Record<string, string>>;
  n: number;
}

interface LatencySeries {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A metric prom-client's registry formats like its own, with values this class keeps. prom-client
 * hashes and validates the label set on every inc()/observe() (about 2 µs each here), which would
 * be most of a cached call's pipeline cost; plain counters behind a string-keyed Map cost ~0.1 µs.
 */
function exported(name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]): Metric {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => undefined,
  };
  return metric as unknown as Metric;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #calls = new Map<string, CountSeries>();
  readonly #latency = new Map<string, LatencySeries>();
  readonly #cacheHits = new Map<string, CountSeries>();
  readonly #events = new Map<string, CountSeries>();
  #processMetrics = false;

  constructor() {
    this.registry.registerMetric(
      exported('oms_rpc_calls_total', 'RPC calls by service, method, wire format and outcome (ok, or the OMS error name).', 'counter', () =>
        [...this.#calls.values()].map((s) => ({ labels: { ...s.labels }, value: s.n })),
      ),
    );
    this.registry.registerMetric(
      exported('oms_rpc_call_duration_seconds', 'Time from a resolved method to its answer (cache hits included), by service and method.', 'histogram', () =>
        [...this.#latency.values()].flatMap((s) => histogramSamples('oms_rpc_call_duration_seconds', s)),
      ),
    );
    this.registry.registerMetric(
      exported('oms_rpc_cache_hits_total', 'Calls answered from the cache_timeout cache (type tmp_cache), by service and method.', 'counter', () =>
        [...this.#cacheHits.values()].map((s) => ({ labels: { ...s.labels }, value: s.n })),
      ),
    );
    this.registry.registerMetric(
      exported('oms_events_published_total', 'Events this gateway numbered into the journal and handed to subscribers, by type (kvm, container, node, task, inventory, console).', 'counter', () =>
        [...this.#events.values()].map((s) => ({ labels: { ...s.labels }, value: s.n })),
      ),
    );
  }

  /** An event was journaled and handed to subscribers (type from the fixed list of event types). */
  eventPublished(type: string): void {
    const s = this.#events.get(type);
    if (s) s.n++;
    else this.#events.set(type, { labels: { type }, n: 1 });
  }

  /** One call of a declared method ended; `started` is process.hrtime.bigint() when it was resolved. */
  call(service: string, method: string, transport: Transport, outcome: string, started: bigint): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const key = `${service}\0${method}`;
    let l = this.#latency.get(key);
    if (!l) this.#latency.set(key, (l = { labels: { service, method }, buckets: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0 }));
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]) b++;
    l.buckets[b]++;
    l.sum += seconds;
    l.count++;
    this.#count(service, method, transport, outcome);
  }

  /** A call that named no declared method (IllegalService, ServiceNotFound, MethodNotFound). */
  unresolved(transport: Transport, outcome: string): void {
    this.#count(UNKNOWN, UNKNOWN, transport, outcome);
  }

  cacheHit(service: string, method: string): void {
    const key = `${service}\0${method}`;
    const s = this.#cacheHits.get(key);
    if (s) s.n++;
    else this.#cacheHits.set(key, { labels: { service, method }, n: 1 });
  }

  #count(service: string, method: string, transport: Transport, outcome: string): void {
    const key = `${service}\0${method}\0${transport}\0${outcome}`;
    const s = this.#calls.get(key);
    if (s) s.n++;
    else this.#calls.set(key, { labels: { service, method, transport, outcome }, n: 1 });
  }

  /**
   * Node.js process metrics (CPU, memory, heap, event loop lag, GC, handles). Switched on by the
   * server only: prom-client starts an event-loop monitor and a GC observer for each registry
   * that cannot be stopped, which in-process test gateways should not pile up.
   */
  collectProcessMetrics(): void {
    if (this.#processMetrics) return;
    this.#processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition; runs every gauge's collect() (database and pool reads). */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The text format's histogram lines: cumulative `_bucket{le}` up to +Inf, then `_sum` and `_count`. */
function histogramSamples(name: string, s: LatencySeries): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  LATENCY_BUCKETS.forEach((le, i) => {
    cumulative += s.buckets[i];
    out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
  });
  out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
  out.push({ metricName: `${name}_sum`, labels: { ...s.labels }, value: s.sum });
  out.push({ metricName: `${name}_count`, labels: { ...s.labels }, value: s.count });
  return out;
}
