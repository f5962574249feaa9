/**
 * One subscriber's stream: a resume from the journal, then live events, filtered by what it asked
 * for and what it may see, handed to an Outlet (a websocket, an SSE response) that reports its
 * backpressure. Memory is bounded: while catching up, the journal is the buffer (a page is read
 * only when the outlet can take it); once live, at most `maxQueue` events wait for a slow outlet,
 * after which the subscriber gets a `resync` (seq = the last event it was handed, so it can
 * resume from the journal) and is dropped. A slow subscriber never slows the bus.
 */
import type { EventJournal } from './journal.ts';
import { matches, type EventFilter } from './filter.ts';
import { resumeFrom, resyncEvent } from './resync.ts';
import type { OmsEvent } from './types.ts';
import { visibleTo, type Viewer } from './visibility.ts';

/** Where a subscription's events go: the delivery side (ws.ts, sse.ts) implements it. */
export interface Outlet {
  send(e: OmsEvent): void;
  /** False while the transport holds more than its high-water mark unsent. */
  writable(): boolean;
  /** Calls fn once, when the transport can take more. */
  whenWritable(fn: () => void): void;
  /** The subscription ended on the bus's side (too slow, session over, gateway closing). */
  ended(why: EndReason): void;
}

export type EndReason = 'slow' | 'session' | 'closed';

/** A viewer whose grants are kept current and whose session may end. */
export interface LiveViewer extends Viewer {
  /** False once the session or token is gone; checked before each delivery. */
  alive(): boolean;
}

export interface SubscriptionDeps {
  readonly journal: EventJournal;
  readonly maxQueue: number;
  readonly listen: (fn: (e: OmsEvent) => void) => () => void;
  readonly onClose: (s: Subscription) => void;
}

export class Subscription {
  /** Every event up to here was handed out or passed over. */
  #position: number;
  /** The last event actually handed to the outlet: where a dropped subscriber resumes. */
  #sent: number;
  #live = false;
  #closed = false;
  #waiting = false;
  #queue: OmsEvent[] = [];
  #pendingResync: OmsEvent | undefined;
  readonly #unlisten: () => void;
  readonly #pageSize: number;

  constructor(
    private readonly deps: SubscriptionDeps,
    readonly viewer: LiveViewer,
    readonly filter: EventFilter,
    private readonly outlet: Outlet,
    since: number | undefined,
  ) {
    this.#pageSize = Math.max(1, Math.min(500, deps.maxQueue));
    // Listen first, then read the journal: nothing published in between can fall through.
    this.#unlisten = deps.listen((e) => this.#offer(e));
    const bounds = deps.journal.bounds();
    if (since === undefined) {
      this.#position = this.#sent = bounds.latest;
      this.#live = true;
      return;
    }
    const start = resumeFrom(since, bounds);
    this.#position = this.#sent = start.position;
    this.#pendingResync = start.resync;
  }

  /**
   * Begins the resume from the journal (a no-op for a live-only subscription). Separate from the
   * constructor so the caller can answer the subscribe call first; live events published in
   * between are read from the journal, in order.
   */
  start(): void {
    if (this.#closed || this.#live) return;
    const r = this.#pendingResync;
    this.#pendingResync = undefined;
    if (r) this.#hand(r);
    this.#catchUp();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queued for a slow outlet now (never more than maxQueue). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Ends it from the subscriber's side (unsubscribe, socket closed): the outlet is not told. */
  close(): void {
    this.#end(undefined);
  }

  /** Ends it from the bus's side: the outlet is told why. */
  end(why: EndReason): void {
    this.#end(why);
  }

  #end(why: EndReason | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#unlisten();
    this.deps.onClose(this);
    if (why) this.outlet.ended(why);
  }

  #hand(e: OmsEvent): void {
    this.outlet.send(e);
    this.#sent = e.seq;
  }

  #wanted(e: OmsEvent): boolean {
    return matches(this.filter, e) && visibleTo(e, this.viewer);
  }

  /** Pages from the journal while the outlet keeps up; live once the journal is read to its end. */
  #catchUp(): void {
    while (!this.#closed && !this.#live) {
      if (!this.viewer.alive()) return this.#end('session');
      if (!this.outlet.writable()) {
        this.outlet.whenWritable(() => this.#catchUp());
        return;
      }
      // The journal may have been trimmed past us while we waited for the outlet.
      const again = resumeFrom(this.#position, this.deps.journal.bounds());
      if (again.resync) {
        this.#hand(again.resync);
        this.#position = again.position;
      }
      const page = this.deps.journal.after(this.#position, this.#pageSize);
      for (const e of page) {
        this.#position = e.seq;
        if (this.#wanted(e)) this.#hand(e);
      }
      // Read to the end in this same turn: from here on the listener sees every new event.
      if (page.length < this.#pageSize) this.#live = true;
    }
  }

  #offer(e: OmsEvent): void {
    // While catching up, new events are read from the journal in order; the live copy is not needed.
    if (this.#closed || !this.#live || e.seq <= this.#position) return;
    this.#position = e.seq;
    if (!this.viewer.alive()) return this.#end('session');
    if (!this.#wanted(e)) return;
    if (this.#queue.length === 0 && this.outlet.writable()) return this.#hand(e);
    this.#queue.push(e);
    if (this.#queue.length > this.deps.maxQueue) return this.#overflow();
    this.#wait();
  }

  #wait(): void {
    if (this.#waiting) return;
    this.#waiting = true;
    this.outlet.whenWritable(() => {
      this.#waiting = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (!this.#closed && this.#queue.length && this.outlet.writable()) this.#hand(this.#queue.shift()!);
    if (!this.#closed && this.#queue.length) this.#wait();
  }

  #overflow(): void {
    const dropped = this.#queue.length;
    this.#queue = [];
    // Handed over whatever the outlet's state: one small message past its mark, then nothing more.
    this.outlet.send(resyncEvent(this.#sent, 'slow', { dropped }));
    this.#end('slow');
  }
}
