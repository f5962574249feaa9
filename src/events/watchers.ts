/**
 * Node watchers: readers that stay running on every signed node and report what changes there,
 * made by OMS or by hand (issue 14: the libvirt domain event reader, the LXC monitor). Services
 * declare them (ServiceDecl.watchers); the runner here runs each declared watcher once per signed
 * node while the gateway serves: started at gateway start and when a node is signed, started
 * again after it ended (the link dropped, the program died) with a backoff, restarted when the
 * node's address, key or settings change, stopped when the node is removed and on close().
 *
 * Bounded cost at scale: one watch (one reader process) per node per watcher; what a watcher
 * polls, it polls on the slow resync timer only (`resyncMs`). The runner's own timer reads the
 * nodes table, never a node.
 *
 * A watcher publishes through the EventSink it is given and knows nothing of the bus behind it.
 */
import type { Logger } from '../log.ts';
import type { NodeHandle } from '../fleet/access.ts';
import type { NodeRecord } from '../fleet/nodes.ts';
import { Backoff } from '../nodes/backoff.ts';
import type { Argv } from '../nodes/command.ts';
import { lineSink } from '../nodes/lines.ts';
import { isOmsError } from '../rpc/errors.ts';
import type { EventSink } from './types.ts';

/** Emitted on AppServices.events when nodes were signed or removed: the runner looks again at once. */
export const NODES_CHANGED = 'nodes-changed';

/**
 * The last states a watcher knew on one node (target -> state), kept by the runner across the
 * watch's restarts, so the listing after a reconnect can tell what changed while the link was
 * down. `seeded` is false until a first listing filled it: that one is the baseline and reports
 * nothing (the gateway knows nothing older to compare it with).
 */
export class KnownStates {
  readonly states = new Map<string, string>();
  seeded = false;
}

export interface WatchContext {
  readonly node: NodeHandle;
  readonly sink: EventSink;
  readonly log: Logger;
  /** Aborted when the watch must end (node removed or changed, gateway closing). */
  readonly signal: AbortSignal;
  /** Period of the slow resynchronisation (a full listing compared with `known`), in ms. */
  readonly resyncMs: number;
  readonly known: KnownStates;
  /** Called once the watch is subscribed and has listed: the backoff after its end starts over. */
  healthy(): void;
}

export interface NodeWatcherDecl {
  /** Names the watcher in logs, e.g. `kvm-domain-events`. */
  readonly name: string;
  /**
   * Watches one node until `ctx.signal` is aborted or the watch fails. Settling (either way) while
   * the signal is not aborted means "ended": the runner starts it again after a backoff.
   */
  watch(ctx: WatchContext): Promise<void>;
}

export interface WatcherRunnerOptions {
  readonly watchers: readonly NodeWatcherDecl[];
  /** The signed nodes, read from the database on every look. */
  readonly signedNodes: () => readonly NodeRecord[];
  /** A handle on a signed node (NodeAccess.get). */
  readonly handle: (name: string) => NodeHandle;
  readonly sink: EventSink;
  readonly log: Logger;
  readonly resyncMs: number;
  /** Wait before starting a watch again after it ended; doubled per failure up to max. */
  readonly backoffMs: { readonly min: number; readonly max: number };
  /** How often the nodes table is read for nodes signed or removed elsewhere (the CLI, another gateway). */
  readonly lookMs?: number;
}

/** What identifies a node's watch: any change of it (re-signed key, address, libvirt URI) restarts it. */
const identity = (n: NodeRecord): string => JSON.stringify([n.address, n.port, n.hostKeyFingerprint, n.settings]);

/** One watcher on one node, run again and again until stopped. */
class Watch {
  readonly #stop = new AbortController();
  readonly #backoff: Backoff;
  readonly #known = new KnownStates();
  readonly done: Promise<void>;
  /** Times the watch was started (tests and logs). */
  runs = 0;
  /** The current run has subscribed and listed. */
  healthy = false;

  constructor(
    readonly node: string,
    readonly identity: string,
    readonly decl: NodeWatcherDecl,
    private readonly opts: WatcherRunnerOptions,
  ) {
    this.#backoff = new Backoff(opts.backoffMs.min, opts.backoffMs.max);
    this.done = this.#loop();
  }

  stop(): void {
    this.#stop.abort(new Error('watch stopped'));
  }

  async #loop(): Promise<void> {
    const signal = this.#stop.signal;
    const log = this.opts.log.child({ node: this.node, watcher: this.decl.name });
    while (!signal.aborted) {
      this.runs++;
      this.healthy = false;
      try {
        await this.decl.watch({
          node: this.opts.handle(this.node),
          sink: this.opts.sink,
          log,
          signal,
          resyncMs: this.opts.resyncMs,
          known: this.#known,
          healthy: () => {
            this.healthy = true;
            this.#backoff.success();
          },
        });
        if (!signal.aborted) log.info('node watcher ended; starting it again');
      } catch (e) {
        // Name only: a message may quote node output.
        if (!signal.aborted) log.warn({ error: isOmsError(e) ? e.omsName : e instanceof Error ? e.name : 'error' }, 'node watcher failed; starting it again');
      }
      this.healthy = false;
      if (signal.aborted) break;
      this.#backoff.failure();
      await pause(this.#backoff.remainingMs(), signal);
    }
  }
}

/**
 * A watch's own resync period: within 10% of `ms`, so that the watches of many nodes started at
 * once (gateway start) drift apart instead of listing all their nodes in the same second.
 */
export const spread = (ms: number): number => Math.round(ms * (0.9 + 0.2 * Math.random()));

/** Waits `ms`, or less when `signal` is aborted first; never rejects. */
export const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** What a node reader is: its program, how long it needs to subscribe, and what it does with a line and a listing. */
export interface FollowSpec {
  /** The long-running reporting program (libvirt's `virsh event --loop`, `lxc-monitor`). */
  readonly argv: Argv;
  /** Time for the program to subscribe before the first listing: it prints nothing once it has. */
  readonly settleMs: number;
  readonly onLine: (line: string) => void;
  /** Names the reader in the warning about an overlong line. */
  readonly what: string;
  /** Lists and publishes what changed since the known states (the caller orders it after pending events). */
  readonly resync: () => Promise<void>;
}

/**
 * The shape every node reader shares: start the reporting program first, give it time to
 * subscribe, then list (so no change falls in between), then list again on the slow timer until
 * the program ends. A program that is not installed (exit 127) is looked for again at the resync
 * pace only; one that fails ends the watch with its error (the runner starts it again).
 */
export async function followThenList(ctx: WatchContext, spec: FollowSpec): Promise<void> {
  const stdout = lineSink(spec.onLine, { onOverlong: () => ctx.log.warn(`skipped an overlong line of ${spec.what}`) });
  const ended = ctx.node.follow(spec.argv, { stdout, signal: ctx.signal }).then(
    (r) => ({ ended: r.code }),
    (e: unknown) => ({ failed: e }),
  );
  const settled = await Promise.race([ended, pause(spec.settleMs, ctx.signal).then(() => undefined)]);
  if (!settled && !ctx.signal.aborted) {
    await spec.resync();
    ctx.healthy();
  }
  const timer = setInterval(() => void spec.resync(), spread(ctx.resyncMs));
  timer.unref();
  try {
    const r = await ended;
    if ('failed' in r) throw r.failed;
    if (r.ended === 127) await pause(ctx.resyncMs, ctx.signal);
  } finally {
    clearInterval(timer);
  }
}

export class WatcherRunner {
  /** Watches by node, one per declared watcher. */
  readonly #watches = new Map<string, Watch[]>();
  #look: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly opts: WatcherRunnerOptions) {}

  /** Starts a watch per watcher on every signed node, and looks at the nodes table from now on. */
  start(): void {
    if (this.#closed || this.#look || this.opts.watchers.length === 0) return;
    this.#look = setInterval(() => this.sync(), this.opts.lookMs ?? 10_000);
    this.#look.unref();
    this.sync();
  }

  /** Matches the running watches to the signed nodes: starts, restarts and stops as needed. */
  sync(): void {
    if (this.#closed || !this.#look) return;
    let signed: readonly NodeRecord[];
    try {
      signed = this.opts.signedNodes();
    } catch (e) {
      this.opts.log.warn({ error: e instanceof Error ? e.name : 'error' }, 'could not read the signed nodes for the node watchers');
      return;
    }
    const wanted = new Map(signed.map((n) => [n.name, identity(n)]));
    for (const [name, watches] of this.#watches) {
      if (wanted.get(name) === watches[0]?.identity) continue;
      for (const w of watches) w.stop();
      this.#watches.delete(name);
    }
    for (const [name, id] of wanted) {
      if (this.#watches.has(name)) continue;
      this.#watches.set(
        name,
        this.opts.watchers.map((d) => new Watch(name, id, d, this.opts)),
      );
    }
  }

  /** What runs now: node, watcher, how many times it was started, whether it is subscribed and has listed. */
  running(): { node: string; watcher: string; runs: number; healthy: boolean }[] {
    return [...this.#watches.values()].flat().map((w) => ({ node: w.node, watcher: w.decl.name, runs: w.runs, healthy: w.healthy }));
  }

  /** Stops every watch; resolves once they have all ended. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#look);
    const all = [...this.#watches.values()].flat();
    this.#watches.clear();
    for (const w of all) w.stop();
    await Promise.all(all.map((w) => w.done));
  }
}
