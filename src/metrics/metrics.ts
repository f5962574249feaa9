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
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { Transport } from '../rpc/context.ts';

/** Label value for a service or method that names nothing declared. */
export const UNKNOWN = '(unknown)';

/**
 * Seconds. Cached calls answer in well under a millisecond, node calls in tens of milliseconds
 * to seconds, the slowest run into the node command timeout (60 s by default).
 */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  readonly registry = new Registry();
  readonly #calls: Counter<'service' | 'method' | 'transport' | 'outcome'>;
  readonly #latency: Histogram<'service' | 'method'>;
  readonly #cacheHits: Counter<'service' | 'method'>;
  // prom-client hashes a label set on every labels() call; the children are looked up by a
  // plain string key instead, keeping the per-call cost to a Map lookup.
  readonly #callChildren = new Map<string, Counter.Internal>();
  readonly #latencyChildren = new Map<string, Histogram.Internal<'service' | 'method'>>();
  readonly #cacheChildren = new Map<string, Counter.Internal>();
  #processMetrics = false;

  constructor() {
    const registers = [this.registry];
    this.#calls = new Counter({
      name: 'oms_rpc_calls_total',
      help: 'RPC calls by service, method, wire format and outcome (ok, or the OMS error name).',
      labelNames: ['service', 'method', 'transport', 'outcome'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'oms_rpc_call_duration_seconds',
      help: 'Time from a resolved method to its answer (cache hits included), by service and method.',
      labelNames: ['service', 'method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#cacheHits = new Counter({
      name: 'oms_rpc_cache_hits_total',
      help: 'Calls answered from the cache_timeout cache (type tmp_cache), by service and method.',
      labelNames: ['service', 'method'],
      registers,
    });
  }

  /** One call of a declared method ended; `started` is process.hrtime.bigint() when it was resolved. */
  call(service: string, method: string, transport: Transport, outcome: string, started: bigint): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const key = `${service}\0${method}`;
    let latency = this.#latencyChildren.get(key);
    if (!latency) this.#latencyChildren.set(key, (latency = this.#latency.labels(service, method)));
    latency.observe(seconds);
    this.#count(service, method, transport, outcome);
  }

  /** A call that named no declared method (IllegalService, ServiceNotFound, MethodNotFound). */
  unresolved(transport: Transport, outcome: string): void {
    this.#count(UNKNOWN, UNKNOWN, transport, outcome);
  }

  cacheHit(service: string, method: string): void {
    const key = `${service}\0${method}`;
    let child = this.#cacheChildren.get(key);
    if (!child) this.#cacheChildren.set(key, (child = this.#cacheHits.labels(service, method)));
    child.inc();
  }

  #count(service: string, method: string, transport: Transport, outcome: string): void {
    const key = `${service}\0${method}\0${transport}\0${outcome}`;
    let child = this.#callChildren.get(key);
    if (!child) this.#callChildren.set(key, (child = this.#calls.labels(service, method, transport, outcome)));
    child.inc();
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
