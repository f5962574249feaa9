/**
 * The HTTP routes: every wire format on one port.
 *   GET  /?service=..&method=..&params=[..]&id=..     OMS query string
 *   GET  /?_ScriptTransport_id=N&_ScriptTransport_data=..  qooxdoo ScriptTransport (JavaScript answer),
 *                                                      qx 1.x body or qooxdoo 2.0 mode (JSON-RPC 2.0)
 *   POST /                                             qooxdoo RPC, or qooxdoo 2.0 mode (JSON-RPC 2.0)
 *   POST /jsonrpc                                      JSON-RPC 2.0 (single, batch, notifications)
 *   GET  /ws (upgrade)                                 JSON-RPC 2.0 over websocket (see ws.ts)
 *   GET  /events                                       live events as Server-Sent Events (see sse.ts)
 *   routes services declare (e.g. PUT /isos/<node>/<name>)   mounted by routes.ts
 */
import express, { type Request, type Response, type NextFunction } from 'express';
import { randomUUID } from 'node:crypto';
import type { AppServices } from '../rpc/context.ts';
import { oms } from '../rpc/errors.ts';
import { parseRequestBody } from '../rpc/json.ts';
import { errorResponse, handleJsonRpc, type JsonRpcResponse } from './jsonrpc.ts';
import { handleQooxdoo, qooxdooError, queryId, type QooxdooResponse } from './qooxdoo.ts';
import type { Transport } from '../rpc/context.ts';
import { mountServiceRoutes, streamsBody } from './routes.ts';
import { METRICS_PATH, metricsRoute } from './metrics.ts';
import { EVENTS_PATH, sseRoute } from './sse.ts';

export function bearerOf(header: string | undefined): string | undefined {
  const m = header ? /^Bearer\s+(\S{1,200})$/i.exec(header) : null;
  return m ? m[1] : undefined;
}

function callerOf(req: Request, res: Response, transport: Transport) {
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  return { bearer: bearerOf(req.headers.authorization), remote: req.socket.remoteAddress, requestId: res.locals.requestId as string, transport, signal: abort.signal, lockWait: lockWaitOf(req) };
}

/**
 * How long the caller will wait for a guest another operation holds: the `OMS-Lock-Wait` header
 * (seconds), or `lock_wait` in the query string for GET forms that cannot set headers (the
 * ScriptTransport). Validated in the pipeline; a `lock_wait` named param wins over both.
 */
function lockWaitOf(req: Request): unknown {
  const header = req.headers['oms-lock-wait'];
  if (typeof header === 'string') return header.trim();
  const q = (req.query as Record<string, unknown>).lock_wait;
  return req.method === 'GET' && q !== undefined ? q : undefined;
}

const sendJson = (res: Response, body: unknown, status = 200) => res.status(status).type('application/json').send(JSON.stringify(body));

/** The ScriptTransport answer is JavaScript evaluated by the page: the id must be a plain integer. */
const scriptId = /^\d{1,15}$/;
const sendScript = (res: Response, id: string, body: QooxdooResponse | JsonRpcResponse | JsonRpcResponse[]) =>
  res
    .status(200)
    .type('application/javascript')
    // JSON is valid JavaScript except for U+2028/2029 in old engines, and "</script>" must not close a tag.
    .send(`qx.io.remote.transport.Script._requestFinished(${id}, ${JSON.stringify(body).replace(/[\u2028\u2029<]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)});`);

export function createHttpApp(app: AppServices, extra?: (router: express.Router) => void): express.Express {
  const http = express();
  http.disable('x-powered-by');
  http.set('query parser', 'simple');
  http.set('etag', false);

  http.use((req, res, next) => {
    res.locals.requestId = randomUUID();
    res.setHeader('X-Request-Id', res.locals.requestId as string);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  const raw = express.raw({ type: () => true, limit: app.config.maxBodyBytes });

  // Routes services declare (large ISO uploads) stream their bodies; no body parser may buffer them.
  mountServiceRoutes(http, app);

  http.get(METRICS_PATH, metricsRoute(app));
  http.get(EVENTS_PATH, sseRoute(app));

  http.get('/', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    if (q._ScriptTransport_id !== undefined) {
      const id = typeof q._ScriptTransport_id === 'string' && scriptId.test(q._ScriptTransport_id) ? q._ScriptTransport_id : undefined;
      if (!id) return sendJson(res, qooxdooError(null, oms('InvalidRequest', { reason: '_ScriptTransport_id must be an integer' })), 400);
      let payload: unknown;
      try {
        payload = parseRequestBody(String(q._ScriptTransport_data ?? ''));
      } catch (e) {
        return sendScript(res, id, qooxdooError(null, e as never));
      }
      // qx.io.remote.Rpc in its 2.0 mode (the default since qooxdoo 6) sends JSON-RPC 2.0 here too.
      if (isJsonRpc(payload)) {
        const answer = await handleJsonRpc(app, payload, callerOf(req, res, 'qooxdoo-script'));
        return answer === undefined ? res.status(204).end() : sendScript(res, id, answer);
      }
      return sendScript(res, id, await handleQooxdoo(app, payload, callerOf(req, res, 'qooxdoo-script')));
    }
    if (q.service === undefined && q.method === undefined) {
      return sendJson(res, { name: 'OMS', description: 'OpenNode-compatible management server', discover: 'rpc.discover', webVnc: '/web-vnc/' });
    }
    let params: unknown = [];
    if (q.params !== undefined) {
      try {
        params = parseRequestBody(String(q.params));
      } catch (e) {
        return sendJson(res, qooxdooError(queryId(q.id), e as never));
      }
    }
    sendJson(res, await handleQooxdoo(app, { service: q.service, method: q.method, id: queryId(q.id), params }, callerOf(req, res, 'oms-get')));
  });

  http.post('/', raw, async (req, res) => {
    let payload: unknown;
    try {
      payload = parseRequestBody(bodyOf(req));
    } catch (e) {
      return sendJson(res, qooxdooError(null, e as never));
    }
    if (isJsonRpc(payload)) {
      const answer = await handleJsonRpc(app, payload, callerOf(req, res, 'qooxdoo'));
      return answer === undefined ? res.status(204).end() : sendJson(res, answer);
    }
    sendJson(res, await handleQooxdoo(app, payload, callerOf(req, res, 'qooxdoo')));
  });

  http.post('/jsonrpc', raw, async (req, res) => {
    let payload: unknown;
    try {
      payload = parseRequestBody(bodyOf(req));
    } catch (e) {
      return sendJson(res, errorResponse(null, e as never));
    }
    const answer = await handleJsonRpc(app, payload, callerOf(req, res, 'jsonrpc'));
    return answer === undefined ? res.status(204).end() : sendJson(res, answer);
  });

  if (extra) {
    const router = express.Router();
    extra(router);
    http.use(router);
  }

  // Body-parser failures (too large, aborted) and anything unexpected: same shapes as the routes.
  http.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    const problem =
      e.type === 'entity.too.large'
        ? oms('RequestTooLarge', { limit: `${app.config.maxBodyBytes} bytes body` })
        : e.status && e.status < 500
          ? oms('InvalidRequest', { reason: 'unreadable request body' })
          : (() => {
              const logId = randomUUID().slice(0, 8);
              app.log.error({ logId, err }, 'http error');
              return oms('InternalError', { logId });
            })();
    const status = e.type === 'entity.too.large' ? 413 : e.status && e.status < 500 ? 400 : 500;
    if (res.headersSent) return res.end();
    if (req.path === '/jsonrpc') sendJson(res, errorResponse(null, problem), status);
    else sendJson(res, qooxdooError(null, problem), status);
  });

  http.use((_req, res) => sendJson(res, { error: 'not found' }, 404));
  return http;
}

/**
 * qooxdoo's 2.0 mode sends JSON-RPC 2.0 to the same URL as its qx 1.x form, by POST and by
 * ScriptTransport alike; a batch can only be JSON-RPC 2.0.
 */
const isJsonRpc = (payload: unknown): boolean =>
  Array.isArray(payload) || (typeof payload === 'object' && payload !== null && (payload as { jsonrpc?: unknown }).jsonrpc === '2.0');

/** express.raw leaves `{}` when there was no body at all. */
const bodyOf = (req: Request): Buffer | string => (Buffer.isBuffer(req.body) ? req.body : '');

/**
 * Requests Node's HTTP parser refuses before any route sees them (a URL or headers over the
 * limit, garbage instead of HTTP) still get an answer in the qooxdoo error shape, not a bare
 * status line, so OMS query-string clients can show a reason.
 */
export function answerClientErrors(server: import('node:http').Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // A service route streaming a body is bounded by its idle timeout instead (routes.ts); Node
    // reports the whole-request timeout once per request and then stops watching it.
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && streamsBody(socket)) return;
    if (!socket.writable) return socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const tooSlow = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const problem = tooLarge
      ? oms('RequestTooLarge', { limit: 'header' })
      : oms('InvalidRequest', { reason: tooSlow ? 'request not completed in time' : 'malformed HTTP request' });
    const body = JSON.stringify(qooxdooError(null, problem));
    const status = tooLarge ? '431 Request Header Fields Too Large' : tooSlow ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}
