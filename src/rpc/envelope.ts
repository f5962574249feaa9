/**
 * The one place where errors meet the wire. An OmsError becomes either the qooxdoo error object
 * `{origin, code, message}` or a JSON-RPC 2.0 error `{code, message, data: {name, origin}}`.
 */
import type { OmsError } from './errors.ts';

export interface QooxdooError {
  origin: 1 | 2;
  code: number;
  message: string;
  /** Structured detail (e.g. per-parameter reasons); clients may ignore it. */
  data?: unknown;
}

export interface JsonRpcError {
  code: number;
  message: string;
  data: { name: string; origin: 1 | 2; details?: unknown };
}

/** Application errors carry their OMS name in the message, as OMS clients match on it. */
export function toQooxdooError(e: OmsError): QooxdooError {
  const message = e.origin === 2 ? `${e.omsName}: ${e.message}` : e.message;
  return e.details === undefined ? { origin: e.origin, code: e.code, message } : { origin: e.origin, code: e.code, message, data: e.details };
}

const jsonRpcCodes: Partial<Record<OmsError['omsName'], number>> = {
  ParseError: -32700,
  InvalidRequest: -32600,
  RequestTooLarge: -32600,
  IllegalService: -32601,
  ServiceNotFound: -32601,
  ClassNotFound: -32601,
  MethodNotFound: -32601,
  ParameterMismatch: -32602,
  InternalError: -32603,
};

/** Standard JSON-RPC codes where one fits; otherwise the catalogue's stable positive code. */
export function toJsonRpcError(e: OmsError): JsonRpcError {
  const data: JsonRpcError['data'] = { name: e.omsName, origin: e.origin };
  if (e.details !== undefined) data.details = e.details;
  return { code: jsonRpcCodes[e.omsName] ?? e.code, message: e.message, data };
}
