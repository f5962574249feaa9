/**
 * The call pipeline every wire format goes through:
 *   resolve -> session -> bind + validate params -> permission -> cache_timeout -> guest lock
 *   -> run -> release -> envelope
 * Nothing of the handler runs before every earlier step passed. Errors leave as OmsError; anything
 * else is logged with a log id and replaced by InternalError, so no stack trace or raw exception
 * text reaches a client.
 */
import { randomUUID } from 'node:crypto';
import type { ZodError } from 'zod';
import type { Principal } from '../auth/sessions.ts';
import type { UserPermissions } from '../auth/permissions.ts';
import type { Logger } from '../log.ts';
import { ResultCache } from './cache.ts';
import type { AppServices, CallContext, MethodDecl, ParamDecl, ServiceDecl, Transport } from './declare.ts';
import { cacheTimeout as cacheTimeoutSchema, lockWait as lockWaitSchema } from './fields.ts';
import { isOmsError, oms, OmsError } from './errors.ts';
import { internal } from './internal.ts';

// Lives in internal.ts so layers below the pipeline (tasks) can use it; re-exported for old imports.
export { internal };
import type { LockHold } from '../locks/guest-locks.ts';
import type { EventChannel } from '../events/channel.ts';
import { changeEvent } from '../events/changes.ts';

export interface CallRequest {
  /** Either service + method, or `dotted` (`kvmservices.list_vms`). */
  service?: unknown;
  method?: unknown;
  dotted?: unknown;
  params: unknown;
  /** `Authorization: Bearer` value, for JSON-RPC 2.0 clients. */
  bearer?: string;
  remote?: string;
  requestId?: string;
  transport: Transport;
  signal?: AbortSignal;
  /** Seconds to wait for a held guest, as the wire gave it (`OMS-Lock-Wait` header); a `lock_wait` named param wins. */
  lockWait?: unknown;
  /** The connection can carry pushed events (/ws). */
  events?: EventChannel;
}

export interface CallOutcome {
  service: ServiceDecl;
  method: MethodDecl;
  /** Fresh or cached result, already in the service's envelope. */
  value: unknown;
}

interface Extracted {
  secret?: string;
  cacheRaw: unknown;
  /** `lock_wait` from named params; undefined when not given. */
  lockWaitRaw?: unknown;
  raw: Record<string, unknown>;
  /** Shape problems found while extracting (counts, unknown names); reported after authentication. */
  problems: Problem[];
}

interface Problem {
  param: string;
  reason: string;
}

const reasonOf = (e: ZodError): string => e.issues.map((i) => (i.path.length ? `[${i.path.join('.')}] ` : '') + i.message).join('; ');

function validate(decl: MethodDecl, raw: Record<string, unknown>, problems: Problem[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const p of decl.params) {
    const v = raw[p.name];
    if (v === undefined && (p.optional || p.rest)) {
      values[p.name] = p.rest ? [] : undefined;
      continue;
    }
    if (v === undefined) {
      problems.push({ param: p.name, reason: 'missing' });
      continue;
    }
    if (p.rest) {
      if (!Array.isArray(v)) {
        problems.push({ param: p.name, reason: 'expected a list' });
        continue;
      }
      values[p.name] = v.map((item, i) => {
        const r = p.schema.safeParse(item);
        if (!r.success) problems.push({ param: `${p.name}[${i}]`, reason: reasonOf(r.error) });
        return r.success ? r.data : undefined;
      });
      continue;
    }
    const r = p.schema.safeParse(v);
    if (r.success) values[p.name] = r.data;
    else problems.push({ param: p.name, reason: reasonOf(r.error) });
  }
  return values;
}

function positional(decl: MethodDecl, list: unknown[], problems: Problem[]): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const params: readonly ParamDecl[] = decl.params;
  const last = params[params.length - 1];
  const fixed = last?.rest ? params.length - 1 : params.length;
  if (!last?.rest && list.length > params.length) problems.push({ param: '(count)', reason: `expected at most ${params.length} params after the session, got ${list.length}` });
  params.slice(0, fixed).forEach((p, i) => {
    if (i < list.length) raw[p.name] = list[i];
  });
  if (last?.rest) raw[last.name] = list.slice(fixed);
  return raw;
}

const MISSING = Symbol('missing');

/** Splits the caller's params (positional OMS order, or named) into session, cache_timeout and the method's own. */
export function extract(decl: MethodDecl, params: unknown, bearer: string | undefined): Extracted {
  const problems: Problem[] = [];
  let secret: unknown;
  let cacheRaw: unknown = 0;
  const list = params === undefined || params === null ? [] : params;

  if (Array.isArray(list)) {
    let rest = list;
    if (decl.auth !== 'public') {
      // With a bearer token the SESSID may be left out; if present it must be first.
      if (bearer !== undefined && rest[0] !== bearer) secret = bearer;
      else {
        secret = rest[0];
        rest = rest.slice(1);
      }
      if (decl.auth === 'session') {
        cacheRaw = rest.length ? rest[0] : MISSING;
        rest = rest.slice(1);
      }
      if (decl.auth === 'sessionOnly' && rest.length > 0) problems.push({ param: '(count)', reason: 'expected only the session id' });
    }
    return { secret: typeof secret === 'string' ? secret : undefined, cacheRaw, raw: positional(decl, rest, problems), problems };
  }
  if (typeof list === 'object') {
    const named = { ...(list as Record<string, unknown>) };
    // Like SESSID and cache_timeout, a name no method uses for its own params.
    const lockWaitRaw = named.lock_wait;
    delete named.lock_wait;
    if (decl.auth !== 'public') {
      secret = named.SESSID ?? named.sessid ?? bearer;
      delete named.SESSID;
      delete named.sessid;
      if (decl.auth === 'session') {
        cacheRaw = named.cache_timeout ?? 0;
        delete named.cache_timeout;
      }
    }
    const known = new Set(decl.params.map((p) => p.name));
    for (const k of Object.keys(named)) if (!known.has(k)) problems.push({ param: k.slice(0, 64), reason: 'unknown parameter' });
    return { secret: typeof secret === 'string' ? secret : undefined, cacheRaw, lockWaitRaw, raw: named, problems };
  }
  throw oms('ParameterMismatch', { reason: 'params must be a list or an object' });
}

/** Validates what extract() found; throws ParameterMismatch with every reason at once. */
export function bindValues(decl: MethodDecl, x: Extracted, headerLockWait?: unknown): { cacheTimeout: number; lockWaitMs: number; values: Record<string, unknown> } {
  const problems = [...x.problems];
  let cacheTimeout = 0;
  let lockWaitMs = 0;
  const waitRaw = x.lockWaitRaw ?? headerLockWait;
  if (waitRaw !== undefined) {
    const r = lockWaitSchema.safeParse(waitRaw);
    if (r.success) lockWaitMs = Math.round(r.data * 1000);
    else problems.push({ param: 'lock_wait', reason: 'expected seconds from 0 to 600' });
  }
  if (decl.auth === 'session') {
    const r = cacheTimeoutSchema.safeParse(x.cacheRaw);
    if (x.cacheRaw === MISSING) problems.push({ param: 'cache_timeout', reason: 'missing' });
    else if (r.success) cacheTimeout = r.data;
    else problems.push({ param: 'cache_timeout', reason: 'expected whole seconds from 0 to 86400' });
  }
  const values = validate(decl, x.raw, problems);
  if (problems.length) throw oms('ParameterMismatch', { reason: problems.map((p) => `${p.param}: ${p.reason}`).join('; ') }, { params: problems });
  return { cacheTimeout, lockWaitMs, values };
}

/** Params as they may be shown in the audit log or used as a cache key: secrets replaced. */
function redacted(decl: MethodDecl, values: Record<string, unknown>): Record<string, unknown> {
  const out = { ...values };
  for (const name of decl.secretParams ?? []) if (name in out) out[name] = '[redacted]';
  return out;
}

export async function call(app: AppServices, req: CallRequest): Promise<CallOutcome> {
  const requestId = req.requestId ?? randomUUID();
  // Made only when something logs through it: building a child logger per call cost more than the
  // whole session lookup. Call lines carry the same fields directly.
  let child: Logger | undefined;
  const log = (): Logger => (child ??= app.log.child({ reqId: requestId, transport: req.transport }));
  const line = { reqId: requestId, transport: req.transport };
  let resolved: { service: ServiceDecl; method: MethodDecl };
  try {
    resolved = req.dotted !== undefined ? app.registry.resolveDotted(req.dotted) : app.registry.resolve(req.service, req.method);
  } catch (e) {
    // Names that resolve to nothing are counted under one fixed label, never as given.
    app.metrics.unresolved(req.transport, isOmsError(e) ? e.omsName : 'InternalError');
    throw e;
  }
  const { service, method } = resolved;
  const started = process.hrtime.bigint();
  let principal: Principal | undefined;
  let target: string | undefined;
  let values: Record<string, unknown> | undefined;
  let hold: LockHold | undefined;

  try {
    // Authenticate before validating, so a caller without a session learns nothing about params.
    const extracted = extract(method, req.params, req.bearer);
    if (method.auth !== 'public') principal = app.sessions.resolve(extracted.secret);
    const bound = { ...bindValues(method, extracted, req.lockWait), secret: extracted.secret };
    values = bound.values;

    // One snapshot of the caller's grants serves the declared check and every ctx.can() of the call;
    // read on first use, so methods open to any authenticated user (cached reads) skip the query.
    let snapshot: UserPermissions | undefined;
    const grants = (): UserPermissions | undefined => (principal ? (snapshot ??= app.permissions.forUser(principal.userId, principal.userName)) : undefined);
    if (typeof method.permission === 'object') {
      const { orSelf } = method.permission;
      target = method.permission.path(values as never);
      const self = orSelf !== undefined && principal !== undefined && values[orSelf] === principal.userName;
      if (!self && !grants()!.has(method.permission.privilege, target))
        throw oms('PermissionDenied', { privilege: method.permission.privilege, path: target });
    }

    const nodeName = method.node ? String(values[method.node]) : undefined;
    const cacheKey = method.cacheable && principal ? ResultCache.key(principal.userId, service.name, method.name, redacted(method, values)) : undefined;
    if (cacheKey && bound.cacheTimeout > 0) {
      const cached = app.cache.get(cacheKey, bound.cacheTimeout);
      if (cached.hit) {
        // The line's fields are built only when it will be written: hits are the hot path.
        if (app.log.isLevelEnabled('debug')) app.log.debug({ ...line, service: service.name, method: method.name, user: principal?.userName }, 'served from cache');
        app.metrics.cacheHit(service.name, method.name);
        app.metrics.call(service.name, method.name, req.transport, 'ok', started);
        return { service, method, value: service.envelope === 'oms' ? { type: 'tmp_cache', result: cached.value } : cached.value };
      }
    }

    // One change at a time per guest: the declared guests are held before the handler runs. Not
    // waiting, this is synchronous, so of two calls arriving together the first one wins.
    hold = app.locks.hold(`${service.name}.${method.name}`, { waitMs: bound.lockWaitMs, signal: req.signal });
    if (method.lock && 'guests' in method.lock) await hold.add(method.lock.guests(values as never));
    const myHold = hold;

    const ctx: CallContext = {
      requestId,
      transport: req.transport,
      remote: req.remote,
      principal,
      secret: bound.secret ?? req.bearer,
      signal: req.signal,
      events: req.events,
      app,
      get log() {
        return log();
      },
      node: (name) => app.access.get(name, req.signal),
      can: (privilege, path) => !!grants()?.has(privilege, path),
      lockGuests: (guests) => myHold.add(guests),
      startTask: (scope, work) => app.tasks.start({ ...scope, user: principal?.userName, lock: myHold.adoptable ? myHold : undefined }, work),
    };
    const result = await method.run(ctx, values as never);
    const inner = nodeName !== undefined && service.envelope === 'oms' ? { client: nodeName, result } : result;

    if (cacheKey) app.cache.put(cacheKey, nodeName, inner);
    if (method.mutates) {
      if (nodeName) app.cache.invalidateNode(nodeName);
      app.audit.record({ requestId, user: principal?.userName ?? userNameFrom(method, values), remote: req.remote, service: service.name, method: method.name, target, outcome: 'ok', detail: redacted(method, values) });
      // What the audit row says changed, told to subscribers (secret params dropped, not redacted).
      const change = changeEvent({ service: service.name, method: method.name, node: nodeName, path: target, user: principal?.userName, params: values, secretParams: method.secretParams });
      if (change) app.bus.publish(change);
    }
    app.log.info({ ...line, service: service.name, method: method.name, user: principal?.userName, ms: msSince(started) }, 'call');
    app.metrics.call(service.name, method.name, req.transport, 'ok', started);
    return { service, method, value: service.envelope === 'oms' ? { type: service.resultType ?? 'func', result: inner } : inner };
  } catch (e) {
    const err = isOmsError(e) ? e : internal(e, log());
    if (method.mutates && values !== undefined) {
      // The audit row of a failure may fail for the same reason (a locked database); the caller
      // must still learn the first error, not the audit's.
      try {
        app.audit.record({ requestId, user: principal?.userName ?? userNameFrom(method, values), remote: req.remote, service: service.name, method: method.name, target, outcome: err.omsName, detail: redacted(method, values) });
      } catch (auditErr) {
        log().error({ err: auditErr, service: service.name, method: method.name, outcome: err.omsName }, 'audit row of a failed call not written');
      }
    }
    app.log.info({ ...line, service: service.name, method: method.name, user: principal?.userName, ms: msSince(started), error: err.omsName }, 'call failed');
    app.metrics.call(service.name, method.name, req.transport, err.omsName, started);
    throw err;
  } finally {
    // Given back when the call ends, unless a task it started holds the guests now.
    hold?.release();
  }
}

/** authenticate has no principal yet; its audit row names the user who tried. */
const userNameFrom = (decl: MethodDecl, values: Record<string, unknown>): string | undefined =>
  decl.params.some((p) => p.name === 'username') && typeof values.username === 'string' ? values.username : undefined;

const msSince = (t: bigint): number => Number((process.hrtime.bigint() - t) / 1000n) / 1000;

