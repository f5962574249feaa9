/**
 * Streamed ISO uploads over HTTP, for images too large for upload_image's base64 param.
 *
 *   PUT /isos/<node>/<image name>      Authorization: Bearer <SESSID or API token>
 *   body: the image bytes (Content-Length optional; at most HTTP_UPLOAD_MAX_BYTES)
 *
 * Answers in the OMS envelope, `{"error": null, "id": null, "result": {"type": "func", "result":
 * {"client": node, "result": {name, size}}}}`, or `{"error": {origin, code, message}, ...}` with a
 * 4xx/5xx status. Same checks as an RPC call: session, strict node and image names, node.admin on
 * the node, audit row. The body streams to the node over SFTP (upload.ts); nothing is buffered.
 *
 * Mount (src/http, before any body parser so the request stream is untouched):
 *   http.put('/isos/:node/:name', (req, res) => void isoUploadRoute(app, req, res));
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { AppServices } from '../../src/app.ts';
import { paths } from '../../src/auth/permissions.ts';
import type { Principal } from '../../src/auth/sessions.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { toQooxdooError } from '../../src/rpc/envelope.ts';
import { isOmsError, oms, type OmsError } from '../../src/rpc/errors.ts';
import { nodeName } from '../../src/rpc/fields.ts';
import { internal } from '../../src/rpc/pipeline.ts';
import { isoName, uploadImage } from './index.ts';

/** 8 GiB: a DVD image. */
export const HTTP_UPLOAD_MAX_BYTES = 8 * 1024 ** 3;

const statusOf = (e: OmsError): number => {
  if (e.omsName === 'AuthError') return 401;
  if (e.omsName === 'PermissionDenied') return 403;
  if (e.omsName === 'IsoImageTooLargeError') return 413;
  if (e.omsName === 'IsoImageExistsError' || e.omsName === 'TaskConflictError') return 409;
  if (e.omsName === 'ParameterMismatch' || e.omsName === 'UnknownNodeError' || e.omsName === 'IsoDirectoryError') return 400;
  return e.omsName === 'InternalError' ? 500 : 502;
};

function send(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(close ? { connection: 'close' } : {}) });
  res.end(text);
}

/** The two last path segments, percent-decoded; the schemas decide what is acceptable. */
function target(url: string | undefined): { node: string; name: string } {
  const parts = new URL(url ?? '/', 'http://x').pathname.split('/').filter(Boolean);
  if (parts.length < 2) throw oms('ParameterMismatch', { reason: 'expected /<node>/<image name>' });
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw oms('ParameterMismatch', { reason: 'bad percent-encoding in the path' });
    }
  };
  return { node: decode(parts[parts.length - 2]), name: decode(parts[parts.length - 1]) };
}

export async function isoUploadRoute(app: AppServices, req: IncomingMessage, res: ServerResponse, maxBytes = HTTP_UPLOAD_MAX_BYTES): Promise<void> {
  const requestId = randomUUID();
  const log = app.log.child({ reqId: requestId, transport: 'http-upload' });
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  let principal: Principal | undefined;
  let values: { server_hostname: string; image_name: string } | undefined;
  try {
    if (req.method !== 'PUT') throw oms('InvalidRequest', { reason: 'use PUT' });
    const bearer = /^Bearer (\S{1,200})$/.exec(req.headers.authorization ?? '')?.[1];
    principal = app.sessions.resolve(bearer);
    const t = target(req.url);
    const node = nodeName.safeParse(t.node);
    const name = isoName.safeParse(t.name);
    if (!node.success || !name.success) throw oms('ParameterMismatch', { reason: !node.success ? 'not a valid node name' : 'not a valid ISO image name' });
    values = { server_hostname: node.data, image_name: name.data };
    const path = paths.node(node.data);
    if (!app.permissions.has(principal.userId, principal.userName, 'node.admin', path)) throw oms('PermissionDenied', { privilege: 'node.admin', path });
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > maxBytes) throw oms('IsoImageTooLargeError', { limit: maxBytes });

    const p = principal;
    const ctx: CallContext = {
      requestId,
      transport: 'internal',
      remote: req.socket.remoteAddress,
      principal: p,
      signal: abort.signal,
      app,
      log,
      node: (n) => app.access.get(n, abort.signal),
      can: (privilege, at) => app.permissions.has(p.userId, p.userName, privilege, at),
      // An ISO upload changes no guest: it holds none.
      lockGuests: async () => {
        throw new Error('an ISO upload holds no guest');
      },
      startTask: (scope, work) => app.tasks.start({ ...scope, user: p.userName }, work),
    };
    // The upload pipeline destroys its source on failure; a pass-through keeps the request (and
    // so the socket) alive long enough to answer.
    const body = new PassThrough();
    req.pipe(body);
    const result = await uploadImage(ctx, node.data, name.data, body, maxBytes);
    app.cache.invalidateNode(node.data);
    app.audit.record({ requestId, user: p.userName, remote: ctx.remote, service: 'isoservices', method: 'http_upload', target: path, outcome: 'ok', detail: values });
    send(res, 200, { error: null, id: null, result: { type: 'func', result: { client: node.data, result } } });
  } catch (e) {
    const err = isOmsError(e) ? e : internal(e, log);
    if (values) app.audit.record({ requestId, user: principal?.userName, remote: req.socket.remoteAddress, service: 'isoservices', method: 'http_upload', target: paths.node(values.server_hostname), outcome: err.omsName, detail: values });
    // The client may still be sending: answer, then close the connection rather than read the rest.
    req.unpipe();
    res.once('finish', () => req.destroy());
    send(res, statusOf(err), { error: toQooxdooError(err), id: null, result: null }, true);
  }
}
