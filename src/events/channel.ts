/**
 * What a connection that can carry pushed events (the /ws websocket) offers the events service:
 * the service checks the filter and the caller, the connection owns the stream. Handed to the
 * call as `ctx.events`; absent on wires that cannot push (they use events.poll or GET /events).
 */
import type { EventFilter } from './filter.ts';
import type { LiveViewer } from './subscription.ts';

export interface EventChannel {
  /** Starts this connection's subscription, replacing one it had. */
  subscribe(viewer: LiveViewer, filter: EventFilter, since: number | undefined): void;
  /** Ends it; false when there was none. */
  unsubscribe(): boolean;
}
