/**
 * The KVM guests' node watcher (issue 14): libvirt's domain events, read on each node by a
 * `virsh event --all --loop --timestamp` that stays running (NodeHandle.follow: a shell
 * connection, no command slot), published as `kvm` events whatever made the change: OMS, or an
 * administrator running virsh by hand.
 *
 * - Subscribe, then list: the reader starts first; once it has had time to register with
 *   libvirtd (SUBSCRIBE_SETTLE_MS) the guests are listed, so a change is seen by the reader or by
 *   the listing, never by neither. The listing after a reconnect (a new watch) is compared with
 *   the states known before: what changed while the link was down is published with
 *   `data.resync: true`. The same listing runs on the slow resync timer.
 * - libvirt delivers some events out of order (a start prints `Resumed` before `Started`), so
 *   each event carries the guest's state read again after it (`data.state`, the model of
 *   get_vm_state: RUNNING, PAUSED, STOPPED, STOPPING; null once the guest is gone). Events that
 *   arrive together share one read: one `domstats --state` of all guests on the node's resident
 *   virsh, whatever the number of events.
 */
import { followThenList, type NodeWatcherDecl, type WatchContext } from '../../src/events/watchers.ts';
import { SerialBatches } from '../../src/events/batches.ts';
import { isOmsError } from '../../src/rpc/errors.ts';
import { virsh } from './commands.ts';
import { actionOf, changesOf, parseEventLine, parseStates, readerError, STATE_LISTING, type DomainEvent } from './events-parse.ts';
import { kvmNodeOf, virshRead, type KvmNode } from './node.ts';
import type { VmState } from './states.ts';

/** The reader: every domain event of the connection, one line each, with libvirt's time. */
export const eventReader = (uri: string) => virsh(uri, 'event', '--all', '--loop', '--timestamp');

/**
 * How long the reader gets to register its callbacks before the first listing. virsh prints
 * nothing once registered; it connects and registers in a few milliseconds on a lab node, so this
 * leaves a wide margin, and the slow resync catches anything that fell in a longer gap.
 */
export const SUBSCRIBE_SETTLE_MS = 500;

export const kvmEventWatcher: NodeWatcherDecl = {
  name: 'kvm-domain-events',
  watch: (ctx) => new KvmWatch(ctx).run(),
};

class KvmWatch {
  readonly #n: KvmNode;
  /** Events read but not yet published, in the order libvirt printed them; one step at a time. */
  readonly #queue = new SerialBatches<DomainEvent>((batch) => this.#publish(batch), (e) => {
    if (!this.ctx.signal.aborted) this.ctx.log.warn({ error: isOmsError(e) ? e.omsName : 'error' }, 'could not read guest states after a libvirt event');
  });

  constructor(private readonly ctx: WatchContext) {
    const h = ctx.node;
    // Reads for the watch stop with it.
    const handle = { ...h, exec: ((c, o) => h.exec(c, { signal: ctx.signal, ...o, background: true })) as typeof h.exec };
    this.#n = kvmNodeOf(h, handle);
  }

  run(): Promise<void> {
    return followThenList(this.ctx, {
      argv: eventReader(this.#n.uri),
      settleMs: SUBSCRIBE_SETTLE_MS,
      onLine: (line) => this.#line(line),
      what: 'the libvirt event reader',
      resync: () => this.#queue.run(() => this.#resync()),
    });
  }

  #line(line: string): void {
    const e = parseEventLine(line);
    if (!e) {
      const err = readerError(line);
      // libvirt's message names the URI and the socket, nothing secret.
      if (err) this.ctx.log.warn({ reason: err.slice(0, 200) }, 'libvirt event reader reported an error');
      return;
    }
    this.#queue.add(e);
  }

  /** Publishes every event read so far with the states read once after them. */
  async #publish(batch: DomainEvent[]): Promise<void> {
    let states: Map<string, VmState> | undefined;
    try {
      states = await this.#states();
    } catch (e) {
      // The events are published all the same, without a state; the next listing tells it.
      if (this.ctx.signal.aborted) return;
      this.ctx.log.warn({ error: isOmsError(e) ? e.omsName : 'error' }, 'could not read guest states after a libvirt event');
    }
    const { known } = this.ctx;
    if (this.ctx.signal.aborted) return; // the watch ended while the states were read
    for (const e of batch) {
      const { action, data } = actionOf(e);
      const state = states ? (states.get(e.domain) ?? null) : undefined;
      if (state !== undefined) {
        if (state === null) known.states.delete(e.domain);
        else known.states.set(e.domain, state);
      }
      this.ctx.sink.publish({
        type: 'kvm',
        node: this.#n.name,
        target: e.domain,
        action,
        data: { ...data, ...(state !== undefined ? { state } : {}), ...(e.time !== undefined ? { libvirt_time: e.time } : {}) },
      });
    }
  }

  /** Lists the guests; publishes what changed since the states known before (none on the first listing). */
  async #resync(): Promise<void> {
    const now = await this.#states();
    const { known } = this.ctx;
    if (this.ctx.signal.aborted) return;
    if (known.seeded) {
      for (const c of changesOf(known.states, now)) {
        this.ctx.sink.publish({ type: 'kvm', node: this.#n.name, target: c.target, action: c.action, data: { state: c.state, resync: true } });
      }
    }
    known.states.clear();
    for (const [name, s] of now) known.states.set(name, s);
    known.seeded = true;
  }

  async #states(): Promise<Map<string, VmState>> {
    return parseStates(await virshRead(this.#n, STATE_LISTING));
  }
}
