/** Error catalogue block: Live events (the events service, GET /events): codes 1000-1099. Merged into the one catalogue in errors.ts. */
import { spec, type ErrorSpec } from './error-spec.ts';

export const eventErrors = {
  UnknownEventTypeError: spec(1000, 'Unknown event type in the filter: {type} (known: {known})'),
  UnknownEventNodeError: spec(1001, 'Unknown node in the event filter: {node}'),
  EventTransportError: spec(1002, 'events.subscribe needs the /ws websocket (this call came by {transport}); use events.poll or GET /events'),
} as const satisfies Record<string, ErrorSpec>;
