/**
 * Turns ssh2 and socket errors into the short, secret-free reasons that go into
 * NodeUnreachableError. Only known shapes are named; anything else is cut to its first line so
 * an unexpected library message cannot carry much (it never holds key material: the private key
 * is parsed once at pool construction, not per connection).
 */
import { oms, type OmsError } from '../rpc/errors.ts';

const BY_CODE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host is down',
  ENOTFOUND: 'address cannot be resolved',
  EAI_AGAIN: 'address cannot be resolved',
};

/** The reason of a login refused by the node: node events report it as an auth failure. */
export const KEY_REFUSED = 'the gateway key was refused';

export function sshErrorReason(err: unknown): string {
  if (!(err instanceof Error)) return 'connection failed';
  const e = err as Error & { code?: string; level?: string };
  if (e.code && BY_CODE[e.code]) return BY_CODE[e.code];
  if (e.level === 'client-authentication') return KEY_REFUSED;
  if (e.level === 'client-timeout') return 'keepalive timeout';
  if (/waiting for handshake/i.test(e.message)) return 'timed out during the SSH handshake';
  const first = e.message.split('\n')[0].trim();
  return first.length > 120 ? `${first.slice(0, 117)}...` : first || 'connection failed';
}

export const unreachable = (node: string, reason: string): OmsError => oms('NodeUnreachableError', { node, reason });

export const isAuthFailure = (err: unknown): boolean =>
  err instanceof Error && (err as Error & { level?: string }).level === 'client-authentication';
