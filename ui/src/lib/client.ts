/**
 * The one way the console reaches the gateway: the typed OMS client (@oms/client/browser), at
 * this page's own origin. Calls go as JSON-RPC over POST /jsonrpc, events over /ws; the session id
 * travels as a bearer, never in a cookie.
 */
import { connect, isConnectionError, isOmsError, type OmsClient } from '@oms/client/browser';

export const oms: OmsClient = connect({ url: location.origin, transport: 'http', timeoutMs: 60_000 });

/**
 * An error as an operator reads it: the OMS error name and the gateway's message, or what kept
 * the answer from arriving. Never a stack or a JSON blob.
 */
export function errorText(e: unknown): string {
  if (isOmsError(e)) return `${e.omsName}: ${e.message}`;
  if (isConnectionError(e)) return `No answer from the gateway (${e.reason}): ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export { isOmsError };
