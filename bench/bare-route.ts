/**
 * The contender of bench/cached-call.ts: a bare express route answering a fixed JSON body, run as
 * its own process started the same way as the gateway (node --import tsx), over HTTP or over HTTPS
 * with the gateway's own certificate, so the two differ only by what OMS does per call.
 *   BARE_BODY      the exact body to answer (the gateway's answer to the same call)
 *   BARE_TLS_DIR   directory with server.key and server.crt; plain HTTP when unset
 */
import express from 'express';
import { createServer as createHttp } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

const body = process.env.BARE_BODY ?? '{}';
const tlsDir = process.env.BARE_TLS_DIR;
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.get('/', (_req, res) => {
  res.type('application/json').send(body);
});
const server = tlsDir
  ? createHttps({ key: readFileSync(join(tlsDir, 'server.key')), cert: readFileSync(join(tlsDir, 'server.crt')) }, app)
  : createHttp(app);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`OMS listening on ${tlsDir ? 'https' : 'http'}://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
