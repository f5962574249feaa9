/**
 * The node health monitor (issue 16): samples every signed node every `intervalMs` with one
 * request on the node's resident sampler (no command slot, no new SSH session), keeps the
 * samples in the history ring (history.ts) and turns changes into events on the bus: `down` /
 * `up` when a node stops or starts answering, `threshold` when memory, disk or load per CPU
 * crosses its limit (with hysteresis, thresholds.ts).
 *
 * Cost at scale: one timer for the whole fleet, never one per node. Each node gets a phase
 * (random within the interval) so 500 nodes are spread over the interval instead of sampled in
 * one burst; a tick starts at most the nodes due in it (bounded, plus slack) and at most
 * `maxInFlight` samples are out at once; the samples a tick collected are written in one
 * transaction. The nodes table is read every `lookMs` (and when nodes are signed or removed),
 * never per sample. Runs in the serving gateway only (startServer), stopped by close().
 */
import type { Logger } from '../log.ts';
import type { NodeHandle } from '../fleet/access.ts';
import type { NodeRecord } from '../fleet/nodes.ts';
import type { EventSink } from '../events/types.ts';
import { isOmsError } from '../rpc/errors.ts';
import { derive } from './rates.ts';
import { ThresholdState, type Limits } from './thresholds.ts';
import type { HealthHistory } from './history.ts';
import type { HealthReading, HealthSample, HealthSampler } from './sample.ts';

export interface MonitorOptions {
  readonly intervalMs: number;
  readonly sampler: HealthSampler;
  readonly signedNodes: () => readonly NodeRecord[];
  /** A handle on a signed node; made once per node (and again when its record changes). */
  readonly handle: (node: NodeRecord) => Pick<NodeHandle, 'converse'>;
  readonly history: Pick<HealthHistory, 'append' | 'forget' | 'forgetAllBut'>;
  readonly sink: EventSink;
  readonly log: Logger;
  /** The limits for a node: the gateway's settings overlaid with the node's own. */
  readonly limits: (node: NodeRecord) => Limits;
  readonly clock?: () => number;
  readonly random?: () => number;
  /** Samples out at once, fleet-wide. */
  readonly maxInFlight?: number;
  /** Failed samples in a row before a node is `down`: one lost answer is not an outage. */
  readonly downAfter?: number;
  /** How often the nodes table is read. */
  readonly lookMs?: number;
}

/** What the monitor knows of one node between samples (gone with the node or the gateway). */
class NodeState {
  nextDue: number;
  inFlight = false;
  prev: HealthReading | undefined;
  failures = 0;
  down = false;
  downSince = 0;
  readonly thresholds = new ThresholdState();
  constructor(
    readonly record: NodeRecord,
    readonly identity: string,
    readonly handle: Pick<NodeHandle, 'converse'>,
    readonly limits: Limits,
    firstDue: number,
  ) {
    this.nextDue = firstDue;
  }
}

const identityOf = (n: NodeRecord): string => JSON.stringify([n.address, n.port, n.hostKeyFingerprint, n.settings]);

export class HealthMonitor {
  readonly #o: MonitorOptions;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #nodes = new Map<string, NodeState>();
  readonly #pending: HealthSample[] = [];
  readonly #tickMs: number;
  readonly #timeoutMs: number;
  #timer: NodeJS.Timeout | undefined;
  #lastLook = -Infinity;
  #inFlight = 0;
  #closed = false;
  /** Samples taken and failed since start (bench, tests). */
  readonly counts = { samples: 0, failures: 0, writes: 0 };

  constructor(opts: MonitorOptions) {
    if (!(opts.intervalMs > 0)) throw new Error('health monitor: interval must be positive');
    this.#o = opts;
    this.#clock = opts.clock ?? Date.now;
    this.#random = opts.random ?? Math.random;
    // Ten ticks per interval spread the starts; never busier than 10 per second.
    this.#tickMs = Math.max(100, Math.min(1000, Math.floor(opts.intervalMs / 10)));
    // Slow answers must not pile up: a sample gets at most the interval, and at least 2 s.
    this.#timeoutMs = Math.max(2000, Math.min(10_000, opts.intervalMs));
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  start(): void {
    if (this.#closed || this.#timer) return;
    try {
      this.#o.history.forgetAllBut(this.#o.signedNodes().map((n) => n.name));
    } catch (e) {
      this.#o.log.warn({ error: e instanceof Error ? e.name : 'error' }, 'could not drop the health history of removed nodes');
    }
    this.#timer = setInterval(() => this.tick(), this.#tickMs);
    this.#timer.unref();
    this.sync();
  }

  /** Matches the known nodes to the signed ones (a new node gets a random phase in the interval). */
  sync(): void {
    if (this.#closed) return;
    this.#lastLook = this.#clock();
    let signed: readonly NodeRecord[];
    try {
      signed = this.#o.signedNodes();
    } catch (e) {
      this.#o.log.warn({ error: e instanceof Error ? e.name : 'error' }, 'could not read the signed nodes for the health monitor');
      return;
    }
    const wanted = new Map(signed.map((n) => [n.name, n]));
    for (const [name, st] of this.#nodes) {
      const now = wanted.get(name);
      if (!now) {
        this.#nodes.delete(name);
        this.#forget(name);
      } else if (identityOf(now) !== st.identity) {
        // Address, key or settings changed: a fresh handle and limits; the counters stay valid.
        const next = new NodeState(now, identityOf(now), this.#o.handle(now), this.#o.limits(now), st.nextDue);
        Object.assign(next, { prev: st.prev, failures: st.failures, down: st.down, downSince: st.downSince, inFlight: st.inFlight });
        this.#nodes.set(name, next);
      }
    }
    const now = this.#clock();
    for (const [name, rec] of wanted) {
      if (this.#nodes.has(name)) continue;
      this.#nodes.set(name, new NodeState(rec, identityOf(rec), this.#o.handle(rec), this.#o.limits(rec), now + this.#random() * this.#o.intervalMs));
    }
  }

  /** One tick: starts the samples due (bounded), writes what the last ones brought. */
  tick(): void {
    if (this.#closed) return;
    const now = this.#clock();
    if (now - this.#lastLook >= (this.#o.lookMs ?? 10_000)) this.sync();
    // The nodes due in one tick on average, twice over for catching up, at least one.
    const maxStarts = Math.ceil((this.#nodes.size * this.#tickMs * 2) / this.#o.intervalMs) + 1;
    const maxInFlight = this.#o.maxInFlight ?? 64;
    let started = 0;
    for (const st of this.#nodes.values()) {
      if (started >= maxStarts || this.#inFlight >= maxInFlight) break;
      if (st.inFlight || st.nextDue > now) continue;
      // Keep the node's phase; after a long stall start over from now rather than catch up.
      st.nextDue += this.#o.intervalMs;
      if (st.nextDue <= now) st.nextDue = now + this.#o.intervalMs;
      started++;
      void this.#sample(st);
    }
    this.flush();
  }

  /** Writes the samples collected since the last write, in one transaction. */
  flush(): void {
    if (this.#pending.length === 0 || this.#closed) return;
    const batch = this.#pending.splice(0);
    try {
      this.#o.history.append(batch);
      this.counts.writes++;
    } catch (e) {
      this.#o.log.warn({ error: e instanceof Error ? e.name : 'error', samples: batch.length }, 'could not write health samples');
    }
  }

  async #sample(st: NodeState): Promise<void> {
    st.inFlight = true;
    this.#inFlight++;
    const name = st.record.name;
    try {
      let reading: HealthReading;
      try {
        reading = await this.#o.sampler.read(st.handle, this.#timeoutMs);
      } catch (e) {
        if (this.#closed || this.#nodes.get(name) === undefined) return;
        this.#failed(this.#current(name, st), e);
        return;
      }
      if (this.#closed || this.#nodes.get(name) === undefined) return;
      this.#answered(this.#current(name, st), reading);
    } finally {
      st.inFlight = false;
      const cur = this.#nodes.get(name);
      if (cur) cur.inFlight = false;
      this.#inFlight--;
    }
  }

  /** The node's state now: sync() may have replaced it (new settings) while the sample ran. */
  #current(name: string, st: NodeState): NodeState {
    return this.#nodes.get(name) ?? st;
  }

  #failed(st: NodeState, e: unknown): void {
    this.counts.failures++;
    const node = st.record.name;
    st.prev = undefined; // rates start over after the gap
    st.failures++;
    this.#pending.push({ node, time: this.#clock(), reachable: false });
    const reason = isOmsError(e) ? e.omsName : e instanceof Error ? e.name : 'error';
    if (!st.down && st.failures >= (this.#o.downAfter ?? 2)) {
      st.down = true;
      st.downSince = this.#clock();
      this.#o.sink.publish({ type: 'node', node, action: 'down', data: { reason, failures: st.failures } });
    }
  }

  #answered(st: NodeState, reading: HealthReading): void {
    this.counts.samples++;
    const node = st.record.name;
    const now = this.#clock();
    st.failures = 0;
    if (st.down) {
      st.down = false;
      this.#o.sink.publish({ type: 'node', node, action: 'up', data: { down_seconds: Math.round((now - st.downSince) / 1000) } });
    }
    const d = derive(st.prev, reading);
    st.prev = reading;
    this.#pending.push({ node, time: now, reachable: true, load: d.load, cpu: d.cpu, memory: d.memory, disk: d.disk, net_rx: d.net_rx, net_tx: d.net_tx });
    for (const c of st.thresholds.update({ memory: d.memory, disk: d.disk, load_per_cpu: d.loadPerCpu }, st.limits)) {
      this.#o.sink.publish({ type: 'node', node, action: 'threshold', data: { ...c } });
    }
  }

  #forget(name: string): void {
    try {
      this.#o.history.forget(name);
    } catch (e) {
      this.#o.log.warn({ node: name, error: e instanceof Error ? e.name : 'error' }, 'could not drop the health history of a removed node');
    }
  }

  /** What the monitor holds of each node (tests, diagnostics). */
  nodes(): { node: string; down: boolean; failures: number; nextDue: number }[] {
    return [...this.#nodes.values()].map((s) => ({ node: s.record.name, down: s.down, failures: s.failures, nextDue: s.nextDue }));
  }

  /** Stops sampling; samples still out are dropped when they come back (the database may be closing). */
  close(): void {
    if (this.#timer) this.flush();
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#nodes.clear();
  }
}
