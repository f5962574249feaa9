/**
 * Inventory events from the audit path: a mutating call that succeeded says what it changed
 * (service, method, node, the permission path it acted on, its params), as the audit row does.
 * Secret params are dropped, not redacted: an event goes to many readers and a redacted value
 * would still say that a password was set to something. Services whose changes have sources of
 * their own are left to them: node enrolment and settings (the node store), task cancellation
 * (the task's own events), logins (sessions are not inventory).
 */
import type { EventInput } from './types.ts';

export interface Change {
  readonly service: string;
  readonly method: string;
  /** The node the call named (its declared node param), when there is one. */
  readonly node?: string;
  /** The permission path the call was checked on. */
  readonly path?: string;
  readonly user?: string;
  readonly params: Record<string, unknown>;
  readonly secretParams?: readonly string[];
}

/** Told by their own sources, or not inventory at all. */
const OWN_SOURCES = new Set(['authservices', 'funcservices', 'tasks']);

/** Param names that hold secrets even where a declaration forgot to say so. */
const SECRET_NAME = /pass(word)?|secret|token|private/i;

/** Params larger than this (serialised) are left out: the journal keeps what changed, not bulk data. */
const MAX_PARAMS_BYTES = 8 * 1024;

export function changeEvent(c: Change): EventInput | undefined {
  if (OWN_SOURCES.has(c.service)) return undefined;
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.params)) {
    if (v === undefined || c.secretParams?.includes(k) || SECRET_NAME.test(k)) continue;
    params[k] = v;
  }
  const text = JSON.stringify(params);
  const node = c.node ?? (c.path ? /^\/nodes\/([^/]+)/.exec(c.path)?.[1] : undefined);
  const target = c.path ? /^\/nodes\/[^/]+\/vms\/([^/]+)$/.exec(c.path)?.[1] : undefined;
  return {
    type: 'inventory',
    ...(node ? { node } : {}),
    ...(target ? { target } : {}),
    action: `${c.service}.${c.method}`,
    data: {
      service: c.service,
      method: c.method,
      ...(c.user ? { user: c.user } : {}),
      ...(c.path ? { path: c.path } : {}),
      ...(text.length <= MAX_PARAMS_BYTES ? { params } : { params_omitted: true }),
    },
  };
}
