/**
 * A subscriber's own choice of events (types, nodes), checked when it subscribes: an unknown
 * type or node is a typed error then, rather than a subscription that silently never fires.
 */
import { oms } from '../rpc/errors.ts';
import { EVENT_TYPES, type OmsEvent } from './types.ts';

export interface EventFilter {
  readonly types?: ReadonlySet<string>;
  readonly nodes?: ReadonlySet<string>;
}

export interface FilterRequest {
  readonly types?: readonly string[];
  readonly nodes?: readonly string[];
}

/**
 * The filter a request asks for. Throws UnknownEventTypeError for a type that is not one of
 * EVENT_TYPES, UnknownEventNodeError for a node `isNode` does not know. Empty lists mean "all".
 */
export function checkFilter(req: FilterRequest | undefined, isNode: (name: string) => boolean): EventFilter {
  const types = req?.types?.length ? new Set(req.types) : undefined;
  const nodes = req?.nodes?.length ? new Set(req.nodes) : undefined;
  for (const t of types ?? []) {
    if (!(EVENT_TYPES as readonly string[]).includes(t)) throw oms('UnknownEventTypeError', { type: t.slice(0, 64), known: EVENT_TYPES.join(', ') });
  }
  for (const n of nodes ?? []) if (!isNode(n)) throw oms('UnknownEventNodeError', { node: n });
  return { ...(types ? { types } : {}), ...(nodes ? { nodes } : {}) };
}

/** Whether the subscriber asked for this event; a resync is always delivered. */
export function matches(f: EventFilter, e: OmsEvent): boolean {
  if (e.type === 'resync') return true;
  if (f.types && !f.types.has(e.type)) return false;
  if (f.nodes && (e.node === undefined || !f.nodes.has(e.node))) return false;
  return true;
}
