/**
 * `/` serves two masters: a browser gets the web console's page (strict CSP, no inline script),
 * everything else gets the OMS API on `/` exactly as before, the query-string calls above all,
 * even from a browser (Accept: text/html) when it names the API's parameters. The bundle's
 * content-hashed files are cached for a year; the page is not.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildUi, type UiBuild } from '../../ui/build.ts';
import { UI_CSP } from '../../src/http/ui.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

describe('web console at / beside the OMS API', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  let sid: string;
  let built: UiBuild;
  before(async () => {
    built = await buildUi();
    gw = await startTestGateway();
    sid = await gw.login();
  });
  after(() => gw?.close());

  const get = (path: string, accept?: string) => fetch(gw.url + path, { headers: accept ? { accept } : {} });

  it('a browser opening / gets the page, with a strict CSP and no inline script or style', async () => {
    const res = await get('/', BROWSER_ACCEPT);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).to.equal(UI_CSP);
    expect(csp).to.include("default-src 'self'").and.include("script-src 'self'").and.include("connect-src 'self'");
    expect(csp).to.not.match(/unsafe-inline|unsafe-eval|\*/);
    expect(res.headers.get('vary')).to.equal('Accept');
    expect(res.headers.get('cache-control')).to.equal('no-cache');
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts).to.have.length(1);
    expect(scripts[0][1]).to.match(/src="\/ui\/app-[A-Z0-9]+\.js"/);
    expect(scripts[0][2].trim(), 'inline script').to.equal('');
    expect(html).to.not.match(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it('API clients keep the JSON self-description on / (no Accept, */*, application/json)', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const res = await get('/', accept);
      expect(res.headers.get('content-type'), String(accept)).to.match(/^application\/json/);
      expect(res.headers.get('content-security-policy')).to.equal(null);
      expect(await res.json()).to.include({ name: 'OMS', discover: 'rpc.discover' });
    }
  });

  it('an OMS query-string call on / answers JSON even from a browser (Accept: text/html)', async () => {
    const q = new URLSearchParams({ id: '7', service: 'authservices', method: 'checksessid', params: JSON.stringify([sid]) });
    const res = await get(`/?${q}`, BROWSER_ACCEPT);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(await res.json()).to.deep.equal({ error: null, id: 7, result: { type: 'auth', result: 0 } });
    // A call naming only some of the API's parameters is still the API (its error), not the page.
    const partial = await get('/?id=3&params=[]', BROWSER_ACCEPT);
    expect(partial.headers.get('content-type')).to.match(/^application\/json/);
  });

  it('the qooxdoo ScriptTransport on / still answers JavaScript to a browser', async () => {
    const data = JSON.stringify({ service: 'qooxdoo.test', method: 'echo', id: 5, params: ['hi'] });
    const res = await get(`/?_ScriptTransport_id=5&_ScriptTransport_data=${encodeURIComponent(data)}`, BROWSER_ACCEPT);
    expect(res.headers.get('content-type')).to.match(/^application\/javascript/);
    expect(await res.text()).to.match(/^qx\.io\.remote\.transport\.Script\._requestFinished\(5, /);
  });

  it("the bundle's files: hashed names cached a year, immutable; unknown files 404", async () => {
    for (const path of built.initial) {
      const res = await get(path);
      expect(res.status, path).to.equal(200);
      expect(res.headers.get('cache-control'), path).to.equal('public, max-age=31536000, immutable');
      expect(res.headers.get('content-type'), path).to.match(path.endsWith('.js') ? /javascript/ : /text\/css/);
    }
    expect((await get('/ui/app-NOPE.js')).status).to.equal(404);
    expect((await get('/ui/../package.json')).status).to.not.equal(200);
  });

  it('the initial load is small and the bundle never evaluates strings', () => {
    expect(built.initialGzipBytes, 'gzip bytes of the first load').to.be.below(150 * 1024);
    for (const path of built.initial.filter((p) => p.endsWith('.js'))) {
      const js = readFileSync(join(built.dir, 'assets', path.replace(/^\/ui\//, '')), 'utf8');
      expect(js, path).to.not.match(/\beval\(|new Function\(/);
    }
  });
});
