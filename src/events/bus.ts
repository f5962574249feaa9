/**
 * The event bus: what every source publishes through (EventSink). An event is numbered and kept
 * in the journal (database), then handed to the transport, which brings it to every
 * subscription: /ws and SSE streams (Subscription) and waiting long polls. The bus holds no
 * events of its own; the journal is the truth and the transport only says "there is a new one".
 */
import type { Logger } from '../log.ts';
import { EventJournal, type RetainLimits } from './journal.ts';
import { matches, type EventFilter } from './filter.ts';
import { resumeFrom } from './resync.ts';
import { Subscription, type LiveViewer, type Outlet } from './subscription.ts';
import type { EventTransport } from './transport.ts';
import { EVENT_TYPES, type EventInput, type EventSink, type OmsEvent } from './types.ts';
import { visibleTo, type Viewer } from './visibility.ts';

export interface BusOptions {
  readonly journal: EventJournal;
  readonly transport: EventTransport;
  readonly log: Logger;
  readonly retain: RetainLimits;
  /** Events that may wait for one slow subscriber before it is told to resync and dropped. */
  readonly maxQueue: number;
  /** Called for every event this gateway journaled (metrics). */
  readonly onPublished?: (e: OmsEvent) => void;
}

export interface PollRequest {
  readonly viewer: Viewer;
  readonly filter: EventFilter;
  /** After this seq; undefined: only events from now on. */
  readonly since: number | undefined;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Most events in one answer. */
  readonly limit: number;
}

export interface PollResult {
  readonly events: OmsEvent[];
  /** Pass as `since` to the next poll: every event up to it was answered or is not for this caller. */
  readonly next_since: number;
}

/** How a subscription is delivered: the /ws websocket or an SSE response. */
export type StreamKind = 'ws' | 'sse';

/** Rows a poll looks at in one answer, matching or not: bounds the work of one call. */
const POLL_SCAN = 10_000;

export class EventBus implements EventSink {
  readonly #o: BusOptions;
  readonly #subs = new Map<Subscription, StreamKind>();
  #polls = 0;
  #sinceTrim = 0;
  readonly #trimEvery: number;

  constructor(opts: BusOptions) {
    this.#o = opts;
    // Between sweeps a burst may not grow the journal past its bound by more than a tenth.
    this.#trimEvery = Math.max(1, Math.floor(opts.retain.count / 10));
  }

  /**
   * Numbers, journals and delivers one event. Call it after the change is committed, never inside
   * a database transaction that may still roll back: subscribers would have been told of an event
   * whose number the journal then hands out again.
   */
  publish(input: EventInput): void {
    try {
      if (!(EVENT_TYPES as readonly string[]).includes(input.type)) throw new Error(`unknown event type ${String(input.type)}`);
      const e = this.#o.journal.append(input);
      if (++this.#sinceTrim >= this.#trimEvery) {
        this.#sinceTrim = 0;
        this.#o.journal.trim({ count: this.#o.retain.count, ageMs: Number.MAX_SAFE_INTEGER });
      }
      this.#o.onPublished?.(e);
      this.#o.transport.send(e);
    } catch (err) {
      // Never into the source: a change that happened must not fail because its event could not be told.
      this.#o.log.error({ err, type: input.type, action: input.action }, 'event not published');
    }
  }

  /** Every event as it is published, unfiltered: for the gateway's own consumers (cache invalidation). */
  listen(fn: (e: OmsEvent) => void): () => void {
    return this.#o.transport.listen(fn);
  }

  /** A stream to an outlet: after `since` from the journal (resync first when it is too old), then live. */
  subscribe(viewer: LiveViewer, filter: EventFilter, since: number | undefined, outlet: Outlet, kind: StreamKind = 'ws'): Subscription {
    const sub = new Subscription(
      { journal: this.#o.journal, maxQueue: this.#o.maxQueue, listen: (fn) => this.#o.transport.listen(fn), onClose: (s) => this.#subs.delete(s) },
      viewer,
      filter,
      outlet,
      since,
    );
    this.#subs.set(sub, kind);
    // After the caller's answer to the subscribe call has gone out.
    setImmediate(() => sub.start());
    return sub;
  }

  /**
   * Long poll: the events after `since` the caller may see, at once when there are some, else
   * the first one published within the timeout, else none. A `since` older than the journal
   * answers a resync first.
   */
  async poll(req: PollRequest): Promise<PollResult> {
    const wanted = (e: OmsEvent) => matches(req.filter, e) && visibleTo(e, req.viewer);
    const bounds = this.#o.journal.bounds();
    const start = req.since === undefined ? { position: bounds.latest } : resumeFrom(req.since, bounds);
    const events: OmsEvent[] = start.resync ? [start.resync] : [];
    let position = start.position;
    // Listening before reading: an event published while this call waits is not missed.
    let wake: ((e: OmsEvent) => void) | undefined;
    const seen: OmsEvent[] = [];
    const unlisten = this.#o.transport.listen((e) => {
      seen.push(e);
      wake?.(e);
    });
    try {
      let scanned = 0;
      while (scanned < POLL_SCAN && events.length < req.limit) {
        const page = this.#o.journal.after(position, Math.min(1000, POLL_SCAN - scanned));
        for (const e of page) {
          position = e.seq;
          if (wanted(e)) events.push(e);
          if (events.length >= req.limit) break;
        }
        scanned += page.length;
        if (page.length === 0) break;
      }
      if (events.length || scanned >= POLL_SCAN || req.timeoutMs <= 0 || req.signal?.aborted) return { events, next_since: position };
      // Nothing yet: wait for the first event for this caller.
      this.#polls++;
      try {
        const first = await new Promise<OmsEvent | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(undefined), req.timeoutMs);
          const done = (e: OmsEvent | undefined) => {
            clearTimeout(timer);
            req.signal?.removeEventListener('abort', onAbort);
            wake = undefined;
            resolve(e);
          };
          const onAbort = () => done(undefined);
          req.signal?.addEventListener('abort', onAbort, { once: true });
          const check = (e: OmsEvent) => {
            if (e.seq <= position) return;
            position = e.seq;
            if (wanted(e)) done(e);
          };
          for (const e of seen.splice(0)) check(e);
          wake = check;
        });
        return { events: first ? [first] : [], next_since: position };
      } finally {
        this.#polls--;
      }
    } finally {
      unlisten();
    }
  }

  /** Subscriptions streaming now plus long polls waiting. */
  get subscribers(): number {
    return this.#subs.size + this.#polls;
  }

  /** The same, by how they are delivered. */
  counts(): Record<StreamKind | 'poll', number> {
    const out = { ws: 0, sse: 0, poll: this.#polls };
    for (const k of this.#subs.values()) out[k]++;
    return out;
  }

  /** The last seq handed out (0 before the first event). */
  latest(): number {
    return this.#o.journal.bounds().latest;
  }

  /** Housekeeping: the journal back within its retained count and age. */
  sweep(): number {
    return this.#o.journal.trim(this.#o.retain);
  }

  /** Ends every subscription (gateway stopping); outlets are told. */
  close(): void {
    for (const s of [...this.#subs.keys()]) s.end('closed');
    this.#o.transport.close();
  }
}
