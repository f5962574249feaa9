/**
 * JSON-RPC 2.0 framing, shared by POST /jsonrpc, qooxdoo's 2.0 mode on POST / and the /ws
 * websocket. Hand-written rather than json-rpc-2.0's server because that one throws on a batch
 * holding `null` and calls valid-JSON non-objects parse errors; the rules here are small and
 * every edge of them is tested.
 */
import type { AppServices } from '../rpc/context.ts';
import { call } from '../rpc/pipeline.ts';
import type { Transport } from '../rpc/context.ts';
import { toJsonRpcError } from '../rpc/envelope.ts';
import { isOmsError, oms, type OmsError } from '../rpc/errors.ts';
import { internal } from '../rpc/internal.ts';
import type { EventChannel } from '../events/channel.ts';


export interface JsonRpcCaller {
  bearer?: string;
  remote?: string;
  requestId: string;
  transport: Transport;
  signal?: AbortSignal;
  /** Seconds to wait for a held guest (OMS-Lock-Wait), unvalidated. */
  lockWait?: unknown;
  /** Pushed events on this connection (/ws only). */
  events?: EventChannel;
}

type Id = string | number | null;
export type JsonRpcResponse = { jsonrpc: '2.0'; id: Id; result: unknown } | { jsonrpc: '2.0'; id: Id; error: ReturnType<typeof toJsonRpcError> };

export const errorResponse = (id: Id, e: OmsError): JsonRpcResponse => ({ jsonrpc: '2.0', id, error: toJsonRpcError(e) });

const validId = (id: unknown): id is Id => id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

/** One request object; undefined for a notification (no answer is sent). */
async function single(app: AppServices, req: unknown, caller: JsonRpcCaller): Promise<JsonRpcResponse | undefined> {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return errorResponse(null, oms('InvalidRequest', { reason: 'a request must be an object' }));
  const r = req as Record<string, unknown>;
  const isNotification = !('id' in r);
  const id = validId(r.id) ? r.id : null;
  if (r.jsonrpc !== '2.0') return errorResponse(id, oms('InvalidRequest', { reason: 'jsonrpc must be "2.0"' }));
  if (!isNotification && !validId(r.id)) return errorResponse(null, oms('InvalidRequest', { reason: 'id must be a string, number or null' }));
  if (typeof r.method !== 'string') return errorResponse(id, oms('InvalidRequest', { reason: 'method must be a string' }));
  if (r.params !== undefined && (typeof r.params !== 'object' || r.params === null))
    return isNotification ? undefined : errorResponse(id, oms('InvalidRequest', { reason: 'params must be an array or an object' }));
  try {
    // `signal` read only when the call needs it: the caller may make it on first use (rpc-endpoints.ts).
    const out = await call(app, { dotted: r.method, params: r.params ?? [], bearer: caller.bearer, remote: caller.remote, requestId: caller.requestId, transport: caller.transport, get signal() { return caller.signal; }, lockWait: caller.lockWait, events: caller.events });
    return isNotification ? undefined : { jsonrpc: '2.0', id, result: out.value };
  } catch (e) {
    if (isNotification) return undefined;
    return errorResponse(id, isOmsError(e) ? e : internal(e, app.log));
  }
}

/** Answers a parsed JSON-RPC payload: an object, an array (batch) or undefined (nothing to send). */
export async function handleJsonRpc(app: AppServices, payload: unknown, caller: JsonRpcCaller): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
  if (Array.isArray(payload)) {
    if (payload.length === 0) return errorResponse(null, oms('InvalidRequest', { reason: 'empty batch' }));
    if (payload.length > 100) return errorResponse(null, oms('InvalidRequest', { reason: 'batch larger than 100 requests' }));
    // Batch members run concurrently, as the spec allows; each has its own outcome.
    const answers = await Promise.all(payload.map((r, i) => single(app, r, { bearer: caller.bearer, remote: caller.remote, transport: caller.transport, lockWait: caller.lockWait, requestId: `${caller.requestId}.${i}`, get signal() { return caller.signal; } })));
    const sent = answers.filter((a): a is JsonRpcResponse => a !== undefined);
    return sent.length ? sent : undefined;
  }
  return single(app, payload, caller);
}
