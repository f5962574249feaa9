/**
 * The contenders of bench/cached-call.ts: a bare route answering a fixed JSON body, run as its own
 * process started the same way as the gateway (node --import tsx), over HTTP or over HTTPS with the
 * gateway's own certificate, so they differ from the gateway only by what OMS does per call.
 *   BARE_BODY      the exact body to answer (the gateway's answer to the same call)
 *   BARE_TLS_DIR   directory with server.key and server.crt; plain HTTP when unset
 *   BARE_KIND      `express` (default): an express app with one `app.get('/')` route doing
 *                  `res.type('application/json').send(body)` (x-powered-by and etag off);
 *                  `node`: a plain node:http listener answering GET / with one writeHead + end,
 *                  the least any Node server can do per call (for scale)
 */
import express from 'express';
import { createServer as createHttp, type RequestListener } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

const body = process.env.BARE_BODY ?? '{}';
const tlsDir = process.env.BARE_TLS_DIR;
const kind = process.env.BARE_KIND ?? 'express';

function expressApp(): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/', (_req, res) => {
    res.type('application/json').send(body);
  });
  return app;
}

function plainNode(): RequestListener {
  const length = String(Buffer.byteLength(body));
  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method !== 'GET' || (q < 0 ? url : url.slice(0, q)) !== '/') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, ['Content-Type', 'application/json; charset=utf-8', 'Content-Length', length]);
    res.end(body);
  };
}

if (kind !== 'express' && kind !== 'node') throw new Error(`BARE_KIND must be express or node, not ${kind}`);
const listener = kind === 'express' ? expressApp() : plainNode();
const server = tlsDir
  ? createHttps({ key: readFileSync(join(tlsDir, 'server.key')), cert: readFileSync(join(tlsDir, 'server.crt')) }, listener)
  : createHttp(listener);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`OMS listening on ${tlsDir ? 'https' : 'http'}://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
