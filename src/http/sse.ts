/**
 * Server-Sent Events: `GET /events?since=N&types=kvm,task&nodes=n1` with `Authorization: Bearer
 * <SESSID or API token>` (or `?bearer=` for EventSource, which cannot set headers). One `id:` +
 * `data:` block per event, id = seq, so a reconnecting EventSource resumes by itself
 * (`Last-Event-ID`, which wins over `since`). Without `since` the stream starts with what happens
 * from now on. Idle streams get a comment line each OMS_EVENTS_HEARTBEAT seconds, so proxies keep
 * them open. Backpressure is the response's own (res.write returning false): past it events wait
 * in the subscription's bounded queue, then the client gets `resync` and the stream ends.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppServices } from '../rpc/context.ts';
import { isOmsError, oms, type OmsError } from '../rpc/errors.ts';
import { toQooxdooError } from '../rpc/envelope.ts';
import { internal } from '../rpc/internal.ts';
import { nodeName } from '../rpc/fields.ts';
import { paths } from '../auth/permissions.ts';
import type { Principal } from '../auth/sessions.ts';
import { checkFilter, type EventFilter } from '../events/filter.ts';
import { liveViewer } from '../events/viewer.ts';
import type { Outlet } from '../events/subscription.ts';
import type { OmsEvent } from '../events/types.ts';

export const EVENTS_PATH = '/events';

const seq = z.string().regex(/^\d{1,15}$/, 'expected a whole number').transform(Number);

const status: Record<string, number> = { AuthError: 401, PermissionDenied: 403 };

function fail(res: Response, e: OmsError): void {
  res.status(status[e.omsName] ?? 400).type('application/json').send(JSON.stringify({ error: toQooxdooError(e), id: null, result: null }));
}

const list = (raw: unknown): string[] | undefined => (typeof raw === 'string' && raw !== '' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

function bearerFrom(req: Request): string | undefined {
  const m = req.headers.authorization ? /^Bearer\s+(\S{1,200})$/i.exec(req.headers.authorization) : null;
  if (m) return m[1];
  const q = (req.query as Record<string, unknown>).bearer;
  return typeof q === 'string' ? q : undefined;
}

/** What the request asks for, checked: session, since (Last-Event-ID first), filter. */
function parse(app: AppServices, req: Request): { principal: Principal; secret: string; since: number | undefined; filter: EventFilter } {
  const secret = bearerFrom(req);
  const principal = app.sessions.resolve(secret);
  const q = req.query as Record<string, unknown>;
  const rawSince = typeof req.headers['last-event-id'] === 'string' && req.headers['last-event-id'] !== '' ? req.headers['last-event-id'] : q.since;
  let since: number | undefined;
  if (rawSince !== undefined) {
    const r = seq.safeParse(rawSince);
    if (!r.success) throw oms('ParameterMismatch', { reason: 'since (or Last-Event-ID): expected a whole number' });
    since = r.data;
  }
  const nodes = list(q.nodes);
  for (const n of nodes ?? []) if (!nodeName.safeParse(n).success) throw oms('UnknownEventNodeError', { node: n.slice(0, 64) });
  const filter = checkFilter({ types: list(q.types), nodes }, (n) => !!app.nodes.find(n)?.signed);
  const grants = app.permissions.forUser(principal.userId, principal.userName);
  for (const n of filter.nodes ?? []) if (!grants.has('node.view', paths.node(n))) throw oms('PermissionDenied', { privilege: 'node.view', path: paths.node(n) });
  return { principal, secret: secret!, since, filter };
}

export function sseRoute(app: AppServices) {
  // Block text per event, shared by every stream; gone with the event.
  const blocks = new WeakMap<OmsEvent, string>();
  const blockOf = (e: OmsEvent): string => {
    let b = blocks.get(e);
    if (b === undefined) blocks.set(e, (b = `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`));
    return b;
  };
  return (req: Request, res: Response): void => {
    let asked: ReturnType<typeof parse>;
    try {
      asked = parse(app, req);
    } catch (e) {
      return fail(res, isOmsError(e) ? e : internal(e, app.log));
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx and friends buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    // A reconnect delay for EventSource, and a first line so curl shows the stream is open.
    res.write('retry: 3000\n: events\n\n');
    let lastWrite = Date.now();
    let blocked = false;
    let drainWaiters: (() => void)[] = [];
    res.on('drain', () => {
      blocked = false;
      const w = drainWaiters;
      drainWaiters = [];
      for (const fn of w) fn();
    });
    const write = (text: string) => {
      lastWrite = Date.now();
      if (!res.write(text)) blocked = true;
    };
    const outlet: Outlet = {
      send: (e) => write(blockOf(e)),
      writable: () => !blocked && !res.destroyed,
      whenWritable: (fn) => void drainWaiters.push(fn),
      ended: () => res.end(),
    };
    const viewer = liveViewer({ permissions: app.permissions, sessions: app.sessions, recheckMs: app.config.sessionRecheckMs }, asked.principal, asked.secret);
    const sub = app.bus.subscribe(viewer, asked.filter, asked.since, outlet, 'sse');
    const heartbeatMs = app.config.eventsHeartbeatSeconds * 1000;
    const heartbeat = setInterval(() => {
      if (!blocked && Date.now() - lastWrite >= heartbeatMs - 50) write(`: heartbeat ${Date.now()}\n\n`);
    }, heartbeatMs);
    heartbeat.unref();
    const onSessionEnded = (key: string) => {
      if (key === asked.principal.sessionKey) {
        sub.close();
        res.end();
      }
    };
    app.events.on('session-ended', onSessionEnded);
    res.on('close', () => {
      clearInterval(heartbeat);
      sub.close();
      app.events.off('session-ended', onSessionEnded);
    });
  };
}
