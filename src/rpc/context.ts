/**
 * What a method handler sees. Handlers get validated params and this context; they know nothing
 * of HTTP or of which wire format carried the call.
 */
import type { Principal } from '../auth/sessions.ts';
import type { Privilege } from '../auth/permissions.ts';
import type { Logger } from '../log.ts';
import type { AppServices } from '../app.ts';
import type { NodeHandle } from '../fleet/access.ts';
import type { GuestRef } from '../locks/guest-locks.ts';
import type { TaskHandle, TaskScope } from '../tasks/tasks.ts';

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
  /**
   * Holds more guests for this call, beside those its declaration names: for a guest known only
   * once the handler ran (a container id picked as the next free one). TaskConflictError when one
   * is held elsewhere; waits (the caller's wait) only when the call held nothing yet.
   */
  lockGuests(guests: readonly GuestRef[]): Promise<void>;
  /**
   * Starts a task on behalf of the caller: the task is the caller's, and it takes over the
   * guests this call holds, keeping them until it ends. Services start tasks only this way.
   */
  startTask<T>(scope: Omit<TaskScope, 'user' | 'lock'>, work: (task: TaskHandle) => Promise<T>): { id: string; done: Promise<T> };
}
