/**
 * The RPC endpoints, written against plain Node requests and responses:
 *   GET  /?service=..&method=..&params=[..]&id=..          OMS query string
 *   GET  /?_ScriptTransport_id=N&_ScriptTransport_data=..  qooxdoo ScriptTransport
 *   POST /                                                 qooxdoo RPC or its JSON-RPC 2.0 mode
 *   POST /jsonrpc                                          JSON-RPC 2.0
 *
 * rpcFastPath() answers these exact forms before express sees them: on a cached call, express's
 * router and response helpers cost more than the whole call pipeline (profiled, OMS issue 13). The
 * express app (http-app.ts) routes every other form to the same handlers (HEAD, `/jsonrpc/`), so
 * both paths answer alike: same headers, body limits, error shapes. (One thing express did is
 * gone on both: a GET with `If-None-Match: *` got an empty 304 for an answer the client never had.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { parse as parseQuery, type ParsedUrlQuery } from 'node:querystring';
import express from 'express';
import type { AppServices, Transport } from '../rpc/context.ts';
import { oms, type OmsError } from '../rpc/errors.ts';
import { parseRequestBody } from '../rpc/json.ts';
import { errorResponse, handleJsonRpc, type JsonRpcResponse } from './jsonrpc.ts';
import { handleQooxdoo, qooxdooError, queryId, type QooxdooCaller, type QooxdooResponse } from './qooxdoo.ts';
import { wantsUi, type UiPages } from './ui.ts';

export function bearerOf(header: string | undefined): string | undefined {
  const m = header ? /^Bearer\s+(\S{1,200})$/i.exec(header) : null;
  return m ? m[1] : undefined;
}

/** One request as the endpoints see it, whichever path (fast or express) brought it. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  /** The query string, parsed as express's `simple` parser does (node:querystring). */
  query: ParsedUrlQuery;
}

/** Headers every answer carries (the express path sets them in a middleware, the fast path with its answer). */
export function commonHeaders(requestId: string): string[] {
  return ['X-Request-Id', requestId, 'X-Content-Type-Options', 'nosniff', 'Cache-Control', 'no-store'];
}

function send(x: Exchange, status: number, type: string, text: string): void {
  // One writeHead with every header: no setHeader per header, as express's res.type().send() does.
  x.res.writeHead(status, [...commonHeaders(x.requestId), 'Content-Type', type, 'Content-Length', String(Buffer.byteLength(text))]);
  x.res.end(text);
}

const sendJson = (x: Exchange, body: unknown, status = 200) => send(x, status, 'application/json; charset=utf-8', JSON.stringify(body));

const noContent = (x: Exchange) => {
  x.res.writeHead(204, commonHeaders(x.requestId));
  x.res.end();
};

/** The ScriptTransport answer is JavaScript evaluated by the page: the id must be a plain integer. */
const scriptId = /^\d{1,15}$/;
const sendScript = (x: Exchange, id: string, body: QooxdooResponse | JsonRpcResponse | JsonRpcResponse[]) =>
  send(
    x,
    200,
    'application/javascript; charset=utf-8',
    // JSON is valid JavaScript except for U+2028/2029 in old engines, and "</script>" must not close a tag.
    `qx.io.remote.transport.Script._requestFinished(${id}, ${JSON.stringify(body).replace(/[\u2028\u2029<]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)});`,
  );

/**
 * Who calls. The abort signal (the client went away before its answer) is made on first use: a
 * call answered from the cache never needs one.
 */
function callerOf(x: Exchange, transport: Transport): QooxdooCaller {
  const { req, res } = x;
  let abort: AbortController | undefined;
  return {
    bearer: bearerOf(req.headers.authorization),
    remote: req.socket.remoteAddress,
    requestId: x.requestId,
    transport,
    lockWait: lockWaitOf(x),
    get signal() {
      if (!abort) {
        const a = (abort = new AbortController());
        if (res.closed) {
          if (!res.writableFinished) a.abort();
        } else
          res.on('close', () => {
            if (!res.writableFinished) a.abort();
          });
      }
      return abort.signal;
    },
  };
}

/**
 * How long the caller will wait for a guest another operation holds: the `OMS-Lock-Wait` header
 * (seconds), or `lock_wait` in the query string for GET forms that cannot set headers (the
 * ScriptTransport). Validated in the pipeline; a `lock_wait` named param wins over both.
 */
function lockWaitOf(x: Exchange): unknown {
  const header = x.req.headers['oms-lock-wait'];
  if (typeof header === 'string') return header.trim();
  const q = x.query.lock_wait;
  return x.req.method === 'GET' && q !== undefined ? q : undefined;
}

/**
 * qooxdoo's 2.0 mode sends JSON-RPC 2.0 to the same URL as its qx 1.x form, by POST and by
 * ScriptTransport alike; a batch can only be JSON-RPC 2.0.
 */
const isJsonRpc = (payload: unknown): boolean =>
  Array.isArray(payload) || (typeof payload === 'object' && payload !== null && (payload as { jsonrpc?: unknown }).jsonrpc === '2.0');

/** The body read by express.raw; it leaves none (undefined or `{}`) when there was no body at all. */
const bodyOf = (req: IncomingMessage): Buffer | string => {
  const body = (req as { body?: unknown }).body;
  return Buffer.isBuffer(body) ? body : '';
};

export async function getRoot(app: AppServices, x: Exchange, ui?: UiPages): Promise<void> {
  const q = x.query;
  if (q._ScriptTransport_id !== undefined) {
    const id = typeof q._ScriptTransport_id === 'string' && scriptId.test(q._ScriptTransport_id) ? q._ScriptTransport_id : undefined;
    if (!id) return sendJson(x, qooxdooError(null, oms('InvalidRequest', { reason: '_ScriptTransport_id must be an integer' })), 400);
    let payload: unknown;
    try {
      payload = parseRequestBody(String(q._ScriptTransport_data ?? ''));
    } catch (e) {
      return sendScript(x, id, qooxdooError(null, e as never));
    }
    // qx.io.remote.Rpc in its 2.0 mode (the default since qooxdoo 6) sends JSON-RPC 2.0 here too.
    if (isJsonRpc(payload)) {
      const answer = await handleJsonRpc(app, payload, callerOf(x, 'qooxdoo-script'));
      return answer === undefined ? noContent(x) : sendScript(x, id, answer);
    }
    return sendScript(x, id, await handleQooxdoo(app, payload, callerOf(x, 'qooxdoo-script')));
  }
  if (q.service === undefined && q.method === undefined) {
    // A browser opening the gateway gets the web console; everything else the JSON as before.
    if (ui && wantsUi(x.req, q)) return ui.servePage(x.res, commonHeaders(x.requestId));
    return sendJson(x, { name: 'OMS', description: 'OpenNode-compatible management server', discover: 'rpc.discover', webVnc: '/web-vnc/' });
  }
  let params: unknown = [];
  if (q.params !== undefined) {
    try {
      params = parseRequestBody(String(q.params));
    } catch (e) {
      return sendJson(x, qooxdooError(queryId(q.id), e as never));
    }
  }
  sendJson(x, await handleQooxdoo(app, { service: q.service, method: q.method, id: queryId(q.id), params }, callerOf(x, 'oms-get')));
}

/** POST /, after the body was read. */
export async function postRoot(app: AppServices, x: Exchange): Promise<void> {
  let payload: unknown;
  try {
    payload = parseRequestBody(bodyOf(x.req));
  } catch (e) {
    return sendJson(x, qooxdooError(null, e as never));
  }
  if (isJsonRpc(payload)) {
    const answer = await handleJsonRpc(app, payload, callerOf(x, 'qooxdoo'));
    return answer === undefined ? noContent(x) : sendJson(x, answer);
  }
  sendJson(x, await handleQooxdoo(app, payload, callerOf(x, 'qooxdoo')));
}

/** POST /jsonrpc, after the body was read. */
export async function postJsonRpc(app: AppServices, x: Exchange): Promise<void> {
  let payload: unknown;
  try {
    payload = parseRequestBody(bodyOf(x.req));
  } catch (e) {
    return sendJson(x, errorResponse(null, e as never));
  }
  const answer = await handleJsonRpc(app, payload, callerOf(x, 'jsonrpc'));
  return answer === undefined ? noContent(x) : sendJson(x, answer);
}

/**
 * Body-parser failures (too large, aborted) and anything unexpected: the same shapes as the
 * endpoints give, in JSON-RPC 2.0 form for /jsonrpc and the qooxdoo form elsewhere.
 */
export function answerFailure(app: AppServices, x: Exchange, err: unknown, jsonRpc: boolean): void {
  const e = err as { type?: string; status?: number };
  const problem: OmsError =
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
  if (x.res.headersSent) return void x.res.end();
  sendJson(x, jsonRpc ? errorResponse(null, problem) : qooxdooError(null, problem), status);
}

/** Reads a request body as express.raw does (limit, inflating gzip/deflate/br), for both paths. */
export const rawBody = (app: AppServices) => express.raw({ type: () => true, limit: app.config.maxBodyBytes });

/** Characters for which express's URL parser (parseurl) leaves the fast form; such URLs go to express. */
const unusualUrl = /[\t\n\f\r #\u00a0\ufeff]/;

/**
 * The fast path: answers GET /, POST / and POST /jsonrpc and returns true, or returns false for
 * express to route the request. Only the plain forms are taken: a HEAD, a path express would also
 * match (`/jsonrpc/`, `/JSONRPC`) or a URL parseurl would parse the slow way goes to express,
 * which serves it with the same handlers.
 */
export function rpcFastPath(app: AppServices, ui?: UiPages): (req: IncomingMessage, res: ServerResponse) => boolean {
  const raw = rawBody(app);
  return (req, res) => {
    const url = req.url ?? '';
    const method = req.method;
    if ((method !== 'GET' && method !== 'POST') || url.charCodeAt(0) !== 47 /* / */ || unusualUrl.test(url)) return false;
    const mark = url.indexOf('?');
    const path = mark < 0 ? url : url.slice(0, mark);
    const handler = method === 'GET' ? (path === '/' ? getRoot : undefined) : path === '/' ? postRoot : path === '/jsonrpc' ? postJsonRpc : undefined;
    if (!handler) return false;
    const x: Exchange = { req, res, requestId: randomUUID(), query: parseQuery(mark < 0 ? '' : url.slice(mark + 1)) };
    const failed = (err: unknown) => answerFailure(app, x, err, path === '/jsonrpc');
    const run = () => handler(app, x, ui).catch(failed);
    if (method === 'GET') void run();
    else raw(req as never, res as never, (err?: unknown) => (err ? failed(err) : void run()));
    return true;
  };
}
