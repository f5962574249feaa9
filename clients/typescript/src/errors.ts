/**
 * Errors as a caller meets them: OmsError for everything the gateway answered with an error of
 * its catalogue (the OMS name, e.g. AuthError, is both `.name` and `.omsName`), and
 * OmsConnectionError for what kept an answer from arriving (unreachable, certificate refused,
 * timeout, not JSON-RPC). Neither ever carries a password, session id or token: messages are the
 * gateway's own (which never hold secrets) or built here from host names and status codes only.
 */
import { errorCodes, type OmsErrorName } from './generated.js';

export class OmsError extends Error {
  /** The OMS error name from the gateway's catalogue; a name newer than this client is kept as sent. */
  readonly omsName: OmsErrorName | (string & {});
  /** The catalogue's stable code (e.g. 101 for AuthError). */
  readonly code: number;
  /** The code on the JSON-RPC wire (-32602 for ParameterMismatch, else the catalogue code). */
  readonly rpcCode: number;
  /** qooxdoo origin: 1 server/transport error, 2 application error. */
  readonly origin?: 1 | 2;
  /** Structured detail the gateway sent (per-parameter reasons, the task holding a guest ...). */
  readonly details?: unknown;

  constructor(omsName: string, message: string, extra: { rpcCode?: number; origin?: 1 | 2; details?: unknown } = {}) {
    super(message);
    this.name = omsName;
    this.omsName = omsName;
    const known = (errorCodes as Record<string, number>)[omsName];
    this.code = known ?? extra.rpcCode ?? 0;
    this.rpcCode = extra.rpcCode ?? known ?? 0;
    this.origin = extra.origin;
    this.details = extra.details;
  }
}

/** True for an OmsError, and when `name` is given, one of that OMS name: `isOmsError(e, 'TaskConflictError')`. */
export function isOmsError<N extends OmsErrorName>(e: unknown, name?: N): e is OmsError & { omsName: N } {
  return e instanceof OmsError && (name === undefined || e.omsName === name);
}

export type ConnectionReason = 'unreachable' | 'certificate' | 'timeout' | 'protocol' | 'closed' | 'aborted';

/** No answer from the gateway: `reason` says why; the message names the host, never a secret. */
export class OmsConnectionError extends Error {
  constructor(
    readonly reason: ConnectionReason,
    message: string,
  ) {
    super(message);
    this.name = 'OmsConnectionError';
  }
}

export const isConnectionError = (e: unknown, reason?: ConnectionReason): e is OmsConnectionError =>
  e instanceof OmsConnectionError && (reason === undefined || e.reason === reason);

/** A JSON-RPC 2.0 error object of the gateway as an OmsError. */
export function fromRpcError(error: unknown): OmsError {
  const e = (error ?? {}) as { code?: unknown; message?: unknown; data?: { name?: unknown; origin?: unknown; details?: unknown } };
  const name = typeof e.data?.name === 'string' ? e.data.name : 'JsonRpcError';
  const origin = e.data?.origin === 1 || e.data?.origin === 2 ? e.data.origin : undefined;
  return new OmsError(name, typeof e.message === 'string' ? e.message : 'error without a message', {
    rpcCode: typeof e.code === 'number' ? e.code : undefined,
    origin,
    details: e.data?.details,
  });
}
