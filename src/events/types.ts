/**
 * The one event shape (issue 14) and the entry point every source publishes through. Sources
 * (tasks, node connectivity, the audit path, consoles, the libvirt and LXC readers on each node)
 * know only `EventSink`; the bus behind it numbers events in the database journal and delivers
 * them to subscribers, in process today and over a shared transport when several gateways run.
 */

/** What changed, by kind of object. A subscriber filters on these. */
export const EVENT_TYPES = ['kvm', 'container', 'node', 'task', 'inventory', 'console'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What a source hands to the bus: everything but the number and the time. */
export interface EventInput {
  readonly type: EventType;
  /** The node the change happened on, when there is one; permission filtering reads it. */
  readonly node?: string;
  /** The object on that node (guest name, container id, task id, tag, user...). */
  readonly target?: string;
  /** What happened to it: `started`, `stopped`, `progress`, `added`, `connected`, ... */
  readonly action: string;
  /** Details of the change (state and reason, progress bytes, the new value...). Never secrets. */
  readonly data?: Record<string, unknown>;
}

/** An event as stored in the journal and delivered: `seq` increases by one per event. */
export interface OmsEvent {
  readonly seq: number;
  /** Milliseconds since the epoch, when the gateway recorded it. */
  readonly time: number;
  readonly type: EventType | 'resync';
  readonly node?: string;
  readonly target?: string;
  readonly action: string;
  readonly data: Record<string, unknown>;
}

/** How a source reports a change. Never throws into the source: a bus failure is the bus's to log. */
export interface EventSink {
  publish(event: EventInput): void;
}
