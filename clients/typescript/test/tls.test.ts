/**
 * Certificate pinning in Node: a gateway with a self-signed certificate is reached with its
 * certificate as `ca` (curl's --cacert) or with its SHA-256 `fingerprint`; any other certificate
 * is refused before a single HTTP byte (and so the bearer) is sent, over POST and over wss.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { WebSocketServer } from 'ws';
import { loadOrCreateCertificate, type TlsFiles } from '../../../src/http/tls.ts';
import { connect, isConnectionError, peerCertificate, type OmsConnectionError } from '../src/index.ts';

describe('client: certificate pinning (ca, fingerprint) against a local HTTPS gateway', function () {
  this.timeout(30_000);
  const dirs: string[] = [];
  let mine: TlsFiles;
  let other: TlsFiles;
  let server: Server;
  let url: string;
  let wss: WebSocketServer;
  /** HTTP requests and websocket upgrades the server received: a refused certificate must leave these at 0. */
  let seen: { requests: number; upgrades: number; authorization: (string | undefined)[] };

  const certificate = async () => {
    const d = mkdtempSync(join(tmpdir(), 'cl-tls-'));
    dirs.push(d);
    return loadOrCreateCertificate(d);
  };
  const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;
  const refused = (p: Promise<unknown>) => p.then(() => expect.fail('expected the certificate to be refused'), (e: OmsConnectionError) => e);

  before(async () => {
    [mine, other] = await Promise.all([certificate(), certificate()]);
    server = createServer({ key: mine.key, cert: mine.cert }, (req, res) => {
      seen.requests++;
      seen.authorization.push(req.headers.authorization);
      req.resume();
      req.on('end', () => res.setHeader('content-type', 'application/json').end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { type: 'auth', result: 0 } })));
    });
    wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      seen.upgrades++;
      seen.authorization.push(req.headers.authorization);
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => ws.send(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(String(d)).id, result: { type: 'auth', result: 0 } }))));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    seen = { requests: 0, upgrades: 0, authorization: [] };
  });
  after(async () => {
    for (const c of wss?.clients ?? []) c.terminate();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const transport of ['http', 'ws'] as const) {
    it(`${transport}: the gateway's own certificate as ca, or its fingerprint, is accepted`, async () => {
      const a = connect({ url, transport, token: 'cl-token', ca: mine.cert });
      expect(await a.authservices.checksessid()).to.equal(0);
      const b = connect({ url, transport, token: 'cl-token', fingerprint: fingerprintOf(mine.cert) });
      expect(await b.authservices.checksessid()).to.equal(0);
      a.close();
      b.close();
      expect(seen.authorization).to.deep.equal(['Bearer cl-token', 'Bearer cl-token']);
    });

    it(`${transport}: another certificate as ca, another fingerprint, or none at all is refused before any request`, async () => {
      for (const tls of [{ ca: other.cert }, { fingerprint: fingerprintOf(other.cert) }, {}]) {
        const err = await refused(connect({ url, transport, token: 'cl-token', ...tls }).authservices.checksessid());
        expect(isConnectionError(err, 'certificate'), `${JSON.stringify(Object.keys(tls))}: ${err}`).to.equal(true);
        expect(err.message).to.not.include('cl-token');
      }
      expect(seen).to.deep.equal({ requests: 0, upgrades: 0, authorization: [] });
    });
  }

  it('names both fingerprints when the pinned one does not match', async () => {
    const err = await refused(connect({ url, fingerprint: fingerprintOf(other.cert) }).authservices.checksessid());
    expect(err.message).to.include(fingerprintOf(mine.cert)).and.include(fingerprintOf(other.cert));
  });

  it('peerCertificate() shows what the gateway offers, for a first contact that pins it', async () => {
    const c = await peerCertificate(url);
    expect(c.fingerprint256).to.equal(fingerprintOf(mine.cert));
    expect(new X509Certificate(c.pem).fingerprint256).to.equal(fingerprintOf(mine.cert));
    expect(seen.requests).to.equal(0);
  });

  it('refuses a fingerprint that is not a SHA-256 one', () => {
    return refused(connect({ url, fingerprint: 'AB:CD' }).authservices.checksessid()).then((e) => expect(String(e)).to.match(/64 hex digits/));
  });
});
