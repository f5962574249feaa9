/**
 * What a method handler sees. Handlers get validated params and this context; they know nothing
 * of HTTP or of which wire format carried the call.
 */
import type { Principal } from '../auth/sessions.ts';
import type { Privilege } from '../auth/permissions.ts';
import type { Logger } from '../log.ts';
import type { AppServices } from '../app.ts';
import type { NodeHandle } from '../fleet/access.ts';

export type Transport = 'oms-get' | 'qooxdoo' | 'qooxdoo-script' | 'jsonrpc' | 'websocket' | 'internal';

export interface CallContext {
  readonly requestId: string;
  readonly transport: Transport;
  readonly remote?: string;
  /** Set for `session` and `sessionOnly` methods. */
  readonly principal?: Principal;
  /** The session id or token as presented (param or bearer); only authservices needs it. Never log it. */
  readonly secret?: string;
  /** Aborted when the caller went away (HTTP client closed, websocket dropped). */
  readonly signal?: AbortSignal;
  readonly app: AppServices;
  readonly log: Logger;
  /** A signed node by name (UnknownNodeError otherwise); its commands end when the caller goes away. */
  node(name: string): NodeHandle;
  /** Permission check for handlers that act on more than the declared path (e.g. filtering lists). */
  can(privilege: Privilege, path: string): boolean;
}
