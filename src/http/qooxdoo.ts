/**
 * qooxdoo's own RPC dialect (qx 1.x): `{"service", "method", "id", "params"[, "server_data"]}`
 * in, `{"error", "id", "result"}` out. Used by the OMS query-string GET, POST / and the
 * ScriptTransport. Requests in qooxdoo's 2.0 mode (`"jsonrpc": "2.0"`) go to jsonrpc.ts instead.
 */
import type { AppServices } from '../rpc/context.ts';
import { call } from '../rpc/pipeline.ts';
import type { Transport } from '../rpc/context.ts';
import { toQooxdooError, type QooxdooError } from '../rpc/envelope.ts';
import { isOmsError, oms, type OmsError } from '../rpc/errors.ts';
import { internal } from '../rpc/internal.ts';

export interface QooxdooCaller {
  bearer?: string;
  remote?: string;
  requestId: string;
  transport: Transport;
  signal?: AbortSignal;
  /** Seconds to wait for a held guest (OMS-Lock-Wait), unvalidated. */
  lockWait?: unknown;
}

export interface QooxdooResponse {
  error: QooxdooError | null;
  id: unknown;
  result: unknown;
}

/** Ids are echoed back; anything but a plain scalar is replaced so nothing odd is reflected. */
const echoId = (id: unknown): unknown => (typeof id === 'number' || typeof id === 'string' ? (typeof id === 'string' ? id.slice(0, 100) : id) : null);

export const qooxdooError = (id: unknown, e: OmsError): QooxdooResponse => ({ error: toQooxdooError(e), id: echoId(id), result: null });

export async function handleQooxdoo(app: AppServices, payload: unknown, caller: QooxdooCaller): Promise<QooxdooResponse> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return qooxdooError(null, oms('InvalidRequest', { reason: 'a request must be an object' }));
  const r = payload as Record<string, unknown>;
  try {
    if (!('service' in r)) throw oms('InvalidRequest', { reason: 'service missing' });
    if (!('method' in r)) throw oms('InvalidRequest', { reason: 'method missing' });
    // `signal` read only when the call needs it: the caller may make it on first use (rpc-endpoints.ts).
    const out = await call(app, { service: r.service, method: r.method, params: r.params ?? [], bearer: caller.bearer, remote: caller.remote, requestId: caller.requestId, transport: caller.transport, get signal() { return caller.signal; }, lockWait: caller.lockWait });
    return { error: null, id: echoId(r.id), result: out.value };
  } catch (e) {
    return qooxdooError(r.id, isOmsError(e) ? e : internal(e, app.log));
  }
}

/** OMS ids in query strings are numbers in the document's samples (`"id": 1`). */
export function queryId(raw: unknown): unknown {
  if (typeof raw !== 'string') return null;
  return /^-?\d{1,15}$/.test(raw) ? Number(raw) : raw;
}
