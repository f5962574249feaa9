/**
 * The event connection (events.subscribe over /ws through the client's iterator) and what the
 * shell shows of it. Subscribe first, then list (as Cockpit does), so no change falls between the
 * list and the first event. When the socket drops, the last state stays on screen marked stale
 * with the time; the client reconnects and resumes after the last event seen, and a `resync`
 * (the gateway's journal no longer reaches back that far) re-lists everything.
 */
import { signal } from '@preact/signals';
import type { OmsEvent } from '@oms/client/browser';
import { errorText, oms } from './client.ts';
import { lostSession } from './session.ts';

export type Link = { state: 'connecting' } | { state: 'live' } | { state: 'stale'; since: number; reason?: string };

export const link = signal<Link>({ state: 'connecting' });

export interface EventSink {
  /** Lists everything afresh. */
  relist(): void;
  apply(ev: OmsEvent): void;
}

const TYPES = ['node', 'kvm', 'container', 'inventory', 'task', 'console'];

/**
 * Every store that follows the events (the fleet, the guests, the tasks panel, ...). A store joins
 * with listen() while its screen needs it; each event goes to all of them.
 */
const sinks = new Set<EventSink>();

const everyone: EventSink = {
  relist: () => sinks.forEach((s) => s.relist()),
  apply: (ev) => sinks.forEach((s) => s.apply(ev)),
};

/** Adds a store to the event stream until the returned function is called; it lists at once when the stream is live. */
export function listen(sink: EventSink): () => void {
  sinks.add(sink);
  if (link.value.state === 'live') sink.relist();
  return () => sinks.delete(sink);
}

/** Follows the fleet's events into every listening store until the returned function is called. */
export function follow(sink: EventSink = everyone): () => void {
  const ctl = new AbortController();
  let connectedOnce = false;
  let seenEvent = false;
  const stale = (reason?: string) => {
    if (link.value.state !== 'stale') link.value = { state: 'stale', since: Date.now(), reason };
  };
  void (async () => {
    try {
      const events = oms.events({
        types: TYPES,
        signal: ctl.signal,
        backoff: { minMs: 500, maxMs: 5000 },
        onState: (s) => {
          if (!s.connected) return stale(s.error ? errorText(s.error) : undefined);
          link.value = { state: 'live' };
          // The first subscription lists. A resumed one replays what was missed, unless no event
          // had come yet (the iterator then has no seq to resume from): list again.
          if (!connectedOnce || !seenEvent) sink.relist();
          connectedOnce = true;
        },
      });
      for await (const ev of events) {
        seenEvent = true;
        if (ev.type === 'resync') sink.relist();
        else sink.apply(ev);
      }
    } catch (e) {
      if (!lostSession(e)) stale(errorText(e));
    }
  })();
  return () => {
    ctl.abort();
    link.value = { state: 'connecting' };
  };
}
