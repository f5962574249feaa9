/**
 * The HTTP routes: every wire format on one port.
 *   GET  /?service=..&method=..&params=[..]&id=..     OMS query string
 *   GET  /?_ScriptTransport_id=N&_ScriptTransport_data=..  qooxdoo ScriptTransport (JavaScript answer),
 *                                                      qx 1.x body or qooxdoo 2.0 mode (JSON-RPC 2.0)
 *   POST /                                             qooxdoo RPC, or qooxdoo 2.0 mode (JSON-RPC 2.0)
 *   POST /jsonrpc                                      JSON-RPC 2.0 (single, batch, notifications)
 *   GET  /ws (upgrade)                                 JSON-RPC 2.0 over websocket (see ws.ts)
 *   GET  /events                                       live events as Server-Sent Events (see sse.ts)
 *   GET  / (a browser: Accept text/html, no API params) the web console's page; /ui/* its files (ui.ts)
 *   routes services declare (e.g. PUT /isos/<node>/<name>)   mounted by routes.ts
 * The RPC endpoints live in rpc-endpoints.ts; their plain forms are answered there before express
 * (rpcFastPath), the rest through the express routes below, by the same handlers.
 */
import express, { type Request, type Response, type NextFunction } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { ParsedUrlQuery } from 'node:querystring';
import type { AppServices } from '../rpc/context.ts';
import { oms } from '../rpc/errors.ts';
import { qooxdooError } from './qooxdoo.ts';
import { mountServiceRoutes, streamsBody } from './routes.ts';
import { METRICS_PATH, metricsRoute } from './metrics.ts';
import { EVENTS_PATH, sseRoute } from './sse.ts';
import { uiPages, type UiPages } from './ui.ts';
import { answerFailure, commonHeaders, getRoot, postJsonRpc, postRoot, rawBody, rpcFastPath, type Exchange } from './rpc-endpoints.ts';

/** The gateway's request listener: the RPC fast path first, express for everything else. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

const exchange = (req: Request, res: Response): Exchange => ({ req, res, requestId: res.locals.requestId as string, query: req.query as ParsedUrlQuery });

export function createHttpApp(app: AppServices, extra?: (router: express.Router) => void, ui: UiPages = uiPages()): HttpHandler {
  const http = express();
  http.disable('x-powered-by');
  http.set('query parser', 'simple');
  http.set('etag', false);

  http.use((req, res, next) => {
    const requestId = randomUUID();
    res.locals.requestId = requestId;
    const headers = commonHeaders(requestId);
    for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i], headers[i + 1]);
    next();
  });

  const raw = rawBody(app);

  // Routes services declare (large ISO uploads) stream their bodies; no body parser may buffer them.
  const claimed = mountServiceRoutes(http, app);
  for (const path of ['/', '/jsonrpc']) if (claimed.includes(path)) throw new Error(`a service route may not take ${path}: the RPC endpoints answer it`);

  http.get(METRICS_PATH, metricsRoute(app));
  http.get(EVENTS_PATH, sseRoute(app));
  // The web console's bundle (its page is `/` for a browser: getRoot).
  const uiRouter = express.Router();
  ui.routes(uiRouter);
  http.use(uiRouter);

  // The RPC endpoints in the forms the fast path leaves to express (HEAD, `/jsonrpc/`, `/JSONRPC`).
  http.get('/', (req, res) => getRoot(app, exchange(req, res), ui));
  http.post('/', raw, (req, res) => postRoot(app, exchange(req, res)));
  http.post('/jsonrpc', raw, (req, res) => postJsonRpc(app, exchange(req, res)));

  if (extra) {
    const router = express.Router();
    extra(router);
    http.use(router);
  }

  // Body-parser failures (too large, aborted) and anything unexpected: same shapes as the routes.
  http.use((err: unknown, req: Request, res: Response, _next: NextFunction) => answerFailure(app, exchange(req, res), err, req.path === '/jsonrpc'));

  http.use((_req, res) => res.status(404).type('application/json').send(JSON.stringify({ error: 'not found' })));

  const fast = rpcFastPath(app, ui);
  return (req, res) => {
    if (!fast(req, res)) http(req, res);
  };
}

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
