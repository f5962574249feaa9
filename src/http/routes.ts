/**
 * Mounts the HTTP routes services declare beside their methods (RouteDecl in src/rpc/declare.ts),
 * and does for them what the pipeline does for methods: bearer session, path params validated by
 * their schemas, permission, body limit, audit row, cache invalidation, the OMS envelope, errors
 * in the qooxdoo shape with an HTTP status. The service's run gets a context and a body stream.
 *
 * Time: Node's server-wide requestTimeout (OMS_REQUEST_TIMEOUT) bounds the *whole* request, which
 * no multi-gigabyte upload can meet. A route's socket is therefore exempt from it while the route
 * runs (see answerClientErrors in http-app.ts, which ignores that timeout for such sockets), and the
 * body is bounded by idle time instead (OMS_UPLOAD_IDLE_TIMEOUT, request-body.ts). Headers are still
 * bounded by headersTimeout before any route is chosen, and every other route keeps requestTimeout.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Express, Request, Response } from 'express';
import type { Principal } from '../auth/sessions.ts';
import type { AppServices, CallContext, RouteDecl, ServiceDecl } from '../rpc/declare.ts';
import { toQooxdooError } from '../rpc/envelope.ts';
import { isOmsError, oms, type ErrorName, type OmsError } from '../rpc/errors.ts';
import { internal } from '../rpc/internal.ts';
import { streamBody } from './request-body.ts';
import { changeEvent } from '../events/changes.ts';

const streaming = Symbol('oms.streamingBody');

/** True while a service route streams this socket's request body: Node's whole-request timeout does not apply. */
export const streamsBody = (socket: unknown): boolean => Boolean(socket && (socket as Record<symbol, unknown>)[streaming]);

/** Statuses of generic errors; a route adds its own (RouteDecl.statuses); node failures are 502. */
const genericStatus: Partial<Record<ErrorName, number>> = {
  AuthError: 401,
  PermissionDenied: 403,
  ParameterMismatch: 400,
  InvalidRequest: 400,
  UnknownNodeError: 400,
  UploadAbortedError: 400,
  UploadIdleError: 408,
  TaskConflictError: 409,
  RequestTooLarge: 413,
  InternalError: 500,
};

/** Mounts every declared route; returns their paths. */
export function mountServiceRoutes(http: Express, app: AppServices): string[] {
  const paths: string[] = [];
  for (const service of app.registry.services()) {
    for (const route of service.routes ?? []) {
      const handler = (req: Request, res: Response) => void serveRoute(app, service, route, req, res);
      if (route.method === 'PUT') http.put(route.path, handler);
      else http.post(route.path, handler);
      paths.push(route.path);
    }
  }
  return paths;
}

function send(res: ServerResponse, status: number, body: unknown, close: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', ...(close ? { connection: 'close' } : {}) });
  res.end(text);
}

const bearerOf = (header: string | undefined): string | undefined => (header ? /^Bearer\s+(\S{1,200})$/i.exec(header)?.[1] : undefined);

function contentLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length'];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw oms('InvalidRequest', { reason: 'bad Content-Length' });
  return n;
}

/** Path params (Express decodes them) through their schemas; the first failure is reported. */
function bindParams(route: RouteDecl, raw: Record<string, string | string[] | undefined>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const p of route.params) {
    const v = raw[p.name];
    const r = p.schema.safeParse(typeof v === 'string' ? v : undefined);
    if (!r.success) throw oms('ParameterMismatch', { reason: `${p.name}: ${r.error.issues[0]?.message ?? 'invalid'}` });
    values[p.name] = r.data;
  }
  return values;
}

async function serveRoute(app: AppServices, service: ServiceDecl, route: RouteDecl, req: Request, res: Response): Promise<void> {
  const requestId = (res.locals.requestId as string | undefined) ?? randomUUID();
  const log = app.log.child({ reqId: requestId, transport: 'http-route', route: `${service.name}.${route.name}` });
  const socket = req.socket as Socket & Record<symbol, unknown>;
  socket[streaming] = true;
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const idleMs = app.config.uploadIdleTimeoutSeconds * 1000;
  const body = streamBody(req, {
    idleMs,
    // A node may pause for as long as a node command may take.
    stallMs: Math.max(idleMs, app.config.nodeCommandTimeoutSeconds * 1000),
    maxBytes: Math.min(route.maxBodyBytes, app.config.uploadMaxBytes),
    onTimeout: (waitingOn, bytes) => log.warn({ waitingOn, bytes }, 'upload made no progress; cutting it off'),
  });
  const target = (values: Record<string, unknown>) => route.permission.path(values as never);
  let principal: Principal | undefined;
  let values: Record<string, unknown> | undefined;
  try {
    principal = app.sessions.resolve(bearerOf(req.headers.authorization));
    values = bindParams(route, req.params as Record<string, string>);
    const path = target(values);
    if (!app.permissions.has(principal.userId, principal.userName, route.permission.privilege, path)) throw oms('PermissionDenied', { privilege: route.permission.privilege, path });
    const length = contentLength(req);
    const max = Math.min(route.maxBodyBytes, app.config.uploadMaxBytes);
    if (length !== undefined && length > max) throw oms('RequestTooLarge', { limit: `${max} bytes body` });

    const p = principal;
    const ctx: CallContext = {
      requestId,
      transport: 'http-route',
      remote: req.socket.remoteAddress,
      principal: p,
      signal: abort.signal,
      app,
      log,
      node: (n) => app.access.get(n, abort.signal),
      can: (privilege, at) => app.permissions.has(p.userId, p.userName, privilege, at),
      // Routes stream files (ISO images) and change no guest: they hold none.
      lockGuests: async () => {
        throw new Error('a service route holds no guest');
      },
      startTask: (scope, work) => app.tasks.start({ ...scope, user: p.userName }, work),
    };
    // The client is answered as soon as its body fails; the route's own cleanup (the task, the
    // temp file on the node) goes on without holding the answer.
    const running = route.run(ctx, values as never, { stream: body.stream, length });
    running.catch((err: unknown) => body.failure() && log.debug({ err }, 'route ended after its body failed'));
    const result = await Promise.race([running, body.failed]);
    const node = route.node ? String(values[route.node]) : undefined;
    if (node) app.cache.invalidateNode(node);
    app.audit.record({ requestId, user: p.userName, remote: ctx.remote, service: service.name, method: route.name, target: path, outcome: 'ok', detail: values });
    const change = changeEvent({ service: service.name, method: route.name, node, path, user: p.userName, params: values });
    if (change) app.bus.publish(change);
    const inner = node ? { client: node, result } : result;
    send(res, 200, { error: null, id: null, result: service.envelope === 'oms' ? { type: service.resultType ?? 'func', result: inner } : inner }, true);
  } catch (e) {
    // A failed body is the cause whatever the route made of it (a premature close of its pipe).
    const err: OmsError = body.failure() ?? (isOmsError(e) ? e : internal(e, log));
    if (values) app.audit.record({ requestId, user: principal?.userName, remote: req.socket.remoteAddress, service: service.name, method: route.name, target: target(values), outcome: err.omsName, detail: values });
    if (err.omsName === 'UploadAbortedError') log.info({ bytes: body.received() }, 'upload aborted by the client');
    // The client may still be sending: answer, then close the connection rather than read the rest.
    if (!res.headersSent && !socket.destroyed) {
      res.once('finish', () => req.destroy());
      send(res, route.statuses?.[err.omsName] ?? genericStatus[err.omsName] ?? 502, { error: toQooxdooError(err), id: null, result: null }, true);
    } else req.destroy();
  } finally {
    body.close();
    socket[streaming] = false;
  }
}
