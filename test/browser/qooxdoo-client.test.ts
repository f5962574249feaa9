/**
 * qooxdoo's own RPC client, qx.io.remote.Rpc from the @qooxdoo/framework package (qx 6.0.4, its
 * last release with qx.io.remote), running in headless Chromium against the real gateway process,
 * in its four modes: protocol "qx1" and "2.0", each over XMLHttpRequest (same origin: the page's
 * server forwards /rpc to the gateway, as a web server in front of OMS does) and over
 * ScriptTransport (crossDomain: the page's origin differs from the gateway's, so the browser can
 * reach it only through script tags). Which transport and body form the client really chose is
 * read off the requests the browser sent, not assumed.
 */
import { expect } from 'chai';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page, type Request } from 'playwright-core';
import { ADMIN_PASSWORD, enroll, startEnv, type Env } from '../integration/fixture.ts';
import { qooxdooBundle } from './qooxdoo-bundle.ts';

/** The page: the framework classes and one helper turning an Rpc.callAsync into a promise. */
const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>qooxdoo RPC</title></head>
<body>
<script src="/qx.js"></script>
<script>
window.omsCall = function (mode, service, method, params) {
  return new Promise(function (resolve) {
    var rpc = new qx.io.remote.Rpc(mode.url, service);
    rpc.setProtocol(mode.protocol);
    rpc.setCrossDomain(mode.crossDomain);
    rpc.setTimeout(20000);
    rpc.callAsync.apply(rpc, [function (result, ex, id) {
      resolve({ result: result, ex: ex ? JSON.parse(JSON.stringify(ex)) : null, text: ex ? String(ex) : null, id: id });
    }, method].concat(params));
  });
};
</script>
</body></html>`;

/** Serves the page and qooxdoo, and forwards /rpc to the gateway's / (same-origin XHR). */
async function pageServer(gatewayUrl: string, script: string): Promise<{ server: Server; url: string }> {
  const gw = new URL(gatewayUrl);
  const server = createServer((req, res) => {
    if (req.url === '/rpc' || req.url?.startsWith('/rpc?')) {
      const upstream = httpRequest({ host: gw.hostname, port: gw.port, method: req.method, path: `/${req.url.slice(4)}`, headers: { ...req.headers, host: gw.host } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
      return;
    }
    const [type, body] = req.url === '/qx.js' ? ['application/javascript; charset=utf-8', script] : req.url === '/' ? ['text/html; charset=utf-8', page] : [];
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': type }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Mode {
  name: string;
  protocol: 'qx1' | '2.0';
  crossDomain: boolean;
}
const modes: Mode[] = [
  { name: 'qx1 over XHR', protocol: 'qx1', crossDomain: false },
  { name: 'qx1 over ScriptTransport', protocol: 'qx1', crossDomain: true },
  { name: '2.0 over XHR', protocol: '2.0', crossDomain: false },
  { name: '2.0 over ScriptTransport', protocol: '2.0', crossDomain: true },
];

interface Outcome {
  result: any;
  ex: any;
  text: string | null;
  id: number;
}

describe("qooxdoo's own RPC client (qx.io.remote.Rpc) in a browser, all four modes", function () {
  this.timeout(180_000);
  let e: Env;
  let ctx: BrowserContext;
  let profile: string;
  let site: { server: Server; url: string };
  let tab: Page;
  /** Every RPC request the browser sent: method, origin-relative URL, and the request body qooxdoo built. */
  let sent: { method: string; url: URL; body: any }[] = [];
  const node = () => e.lab.nodes[0];

  before(async () => {
    const bundle = qooxdooBundle();
    expect(bundle.version).to.match(/^6\./);
    e = await startEnv({ OMS_AUTH_MAX_FAILURES: '50' });
    await enroll(e, [node()]);
    site = await pageServer(e.gw.url, bundle.script);
    expect(new URL(site.url).origin, 'the page and the gateway are different origins').to.not.equal(new URL(e.gw.url).origin);
    profile = mkdtempSync(join(tmpdir(), 'qx-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    tab = await ctx.newPage();
    const pageErrors: string[] = [];
    tab.on('pageerror', (err) => pageErrors.push(err.message));
    tab.on('request', (r: Request) => {
      const url = new URL(r.url());
      if (url.pathname === '/rpc') sent.push({ method: r.method(), url, body: JSON.parse(r.postData() ?? 'null') });
      else if (url.searchParams.has('_ScriptTransport_id')) sent.push({ method: r.method(), url, body: JSON.parse(url.searchParams.get('_ScriptTransport_data') ?? 'null') });
    });
    await tab.goto(`${site.url}/`);
    expect(await tab.evaluate(() => typeof (window as any).qx?.io?.remote?.Rpc)).to.equal('function');
    expect(pageErrors, 'qooxdoo loads without errors').to.deep.equal([]);
  });
  after(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    site?.server.close();
    await e?.stop();
  });

  for (const mode of modes) {
    describe(mode.name, () => {
      const url = () => (mode.crossDomain ? `${e.gw.url}/` : `${site.url}/rpc`);
      const call = async (service: string, method: string, params: unknown[]): Promise<Outcome> => {
        sent = [];
        const out = (await tab.evaluate(([m, s, meth, p]) => (window as any).omsCall(m, s, meth, p), [{ ...mode, url: url() }, service, method, params] as const)) as Outcome;
        // The request really went out by the transport and in the body form of this mode.
        expect(sent, 'one RPC request per call').to.have.length(1);
        const [req] = sent;
        if (mode.crossDomain) {
          expect(req.method).to.equal('GET');
          expect(req.url.origin).to.equal(new URL(e.gw.url).origin);
        } else {
          expect(req.method).to.equal('POST');
          expect(req.url.origin).to.equal(site.url);
        }
        if (mode.protocol === 'qx1') expect(req.body).to.include({ service, method });
        else expect(req.body).to.include({ jsonrpc: '2.0', method: `${service}.${method}` });
        expect(out.id, 'the answer carries the request id').to.equal(req.body.id);
        return out;
      };
      const ok = async (service: string, method: string, params: unknown[]) => {
        const out = await call(service, method, params);
        expect(out.ex, out.text ?? '').to.equal(null);
        return out.result;
      };

      it('qooxdoo.test echo and getParams', async () => {
        expect(await ok('qooxdoo.test', 'echo', [`hello ${mode.name}`])).to.equal(`Client said: [hello ${mode.name}]`);
        expect(await ok('qooxdoo.test', 'getParams', [1, 'two', [3], { four: 4 }, null, true])).to.deep.equal([1, 'two', [3], { four: 4 }, null, true]);
      });

      it("errors reach qooxdoo's error callback in the mode's shape", async () => {
        const app = await call('qooxdoo.test', 'getError', []);
        const unknown = await call('qooxdoo.test', 'noSuchMethod', []);
        expect(app.result).to.equal(null);
        if (mode.protocol === 'qx1') {
          expect(app.ex).to.include({ origin: 2, code: 900 });
          expect(app.ex.message).to.match(/^QooxdooTestError: /);
          expect(app.text).to.match(/^Application error 900: QooxdooTestError/);
          expect(unknown.ex).to.include({ origin: 1, code: 4 });
          expect(unknown.text).to.match(/^Server error 4: /);
        } else {
          expect(app.ex).to.include({ code: 900 });
          expect(app.ex.data).to.include({ name: 'QooxdooTestError', origin: 2 });
          expect(app.text).to.match(/^Error 900: /);
          expect(unknown.ex).to.include({ code: -32601 });
          expect(unknown.ex.data).to.include({ name: 'MethodNotFound', origin: 1 });
        }
      });

      it('authservices.authenticate, then kvmservices.list_vms on an enrolled lab node with that session', async () => {
        const auth = await ok('authservices', 'authenticate', ['admin', ADMIN_PASSWORD]);
        expect(auth.type).to.equal('auth');
        expect(auth.result).to.match(/^[0-9A-F]{40}$/);
        const refused = await call('authservices', 'authenticate', ['admin', 'not-the-password']);
        expect(refused.ex, 'a wrong password is an error').to.not.equal(null);
        const vms = await ok('kvmservices', 'list_vms', [auth.result, 0, node().name]);
        expect(vms.type).to.equal('func');
        expect(vms.result.client).to.equal(node().name);
        expect(vms.result.result).to.be.an('array');
        // The session is the one the browser got: it is live and ends when the browser says so.
        expect(await ok('authservices', 'checksessid', [auth.result])).to.deep.equal({ type: 'auth', result: 0 });
        await ok('authservices', 'deauthenticate', [auth.result]);
        const after = await call('kvmservices', 'list_vms', [auth.result, 0, node().name]);
        expect(after.ex, 'a call with an ended session is refused').to.not.equal(null);
      });
    });
  }
});
