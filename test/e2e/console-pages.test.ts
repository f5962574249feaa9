/**
 * The VNC page port of the real gateway process, TLS on (the default): the OMS document opens
 * `https://host:8002/vnc.html?SESSID=..&host=..&port=..`, so the page must be there, with the
 * gateway's own certificate. The port is a free one here (tests run side by side); `0` and `off`
 * work as documented, and a port another program holds leaves the gateway serving.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { fetchCa } from '../helpers/https.ts';
import { accepts, freePort } from '../helpers/ports.ts';

const PASSWORD = 'e2e-console-pages-pw';

/** SHA-256 fingerprint of the certificate a TLS port presents. */
const certOf = (port: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });

describe('end to end: the VNC page port (OMS_CONSOLE_PAGE_PORT)', function () {
  this.timeout(60_000);
  let gw: GatewayProcess;
  let pagePort: number;

  before(async () => {
    pagePort = await freePort();
    gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_CONSOLE_PAGE_PORT: String(pagePort) });
  });
  after(() => gw?.stop());

  it('serves vnc.html at the document\'s address over TLS, with the gateway\'s certificate', async () => {
    expect(gw.pagesUrl).to.equal(`https://127.0.0.1:${pagePort}/vnc.html`);
    const page = await fetchCa(`https://127.0.0.1:${pagePort}/vnc.html?SESSID=0123456789ABCDEF0123456789ABCDEF01234567&host=127.0.0.1&port=6801`, { ca: gw.ca });
    expect(page.status).to.equal(200);
    expect(page.text).to.include('<script type="module" src="vnc.js">');
    expect(page.headers['referrer-policy']).to.equal('no-referrer');
    expect(page.headers['cache-control']).to.equal('no-store');
    expect(await certOf(pagePort)).to.equal(await certOf(gw.port));
  });

  it('serves the files the page loads, nothing else', async () => {
    for (const path of ['/', '/vnc.js', '/connect.js', '/console.css', '/novnc/core/rfb.js', '/novnc/vendor/pako/lib/zlib/inflate.js']) {
      expect((await fetchCa(`https://127.0.0.1:${pagePort}${path}`, { ca: gw.ca })).status, path).to.equal(200);
    }
    for (const path of ['/novnc/package.json', '/%2e%2e/package.json', '/novnc/core/../../package.json', '/web-vnc/vnc.html', '/jsonrpc']) {
      expect((await fetchCa(`https://127.0.0.1:${pagePort}${path}`, { ca: gw.ca })).status, path).to.equal(404);
    }
    // No RPC on the page port, in any wire format.
    const get = await fetchCa(`https://127.0.0.1:${pagePort}/?id=1&service=qooxdoo.test&method=echo&params=["x"]`, { ca: gw.ca });
    expect(get.text).to.not.include('Client said');
    const post = await fetchCa(`https://127.0.0.1:${pagePort}/jsonrpc`, { ca: gw.ca, method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"qooxdoo.test.echo","params":["x"]}' });
    expect(post.status).to.equal(404);
  });

  it('0 takes any free port and says which; off serves nothing', async () => {
    const any = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off', OMS_CONSOLE_PAGE_PORT: '0' });
    try {
      expect(any.pagesUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+\/vnc\.html$/);
      expect((await fetchCa(any.pagesUrl!)).status).to.equal(200);
    } finally {
      await any.stop();
    }
    const port = await freePort();
    const off = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off', OMS_CONSOLE_PAGE_PORT: 'off' });
    try {
      expect(off.pagesUrl).to.equal(undefined);
      expect(await accepts(port)).to.equal(false);
      expect((await fetchCa(`${off.url}/web-vnc/vnc.html`)).status, 'the same page stays on the main port').to.equal(200);
    } finally {
      await off.stop();
    }
  });

  it('a page port another program holds: the gateway logs why and serves on', async () => {
    const port = await freePort();
    const squatter: Server = await new Promise((resolve) => {
      const s = createServer();
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
    try {
      const p = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off', OMS_CONSOLE_PAGE_PORT: String(port) });
      try {
        expect(p.pagesUrl).to.equal(undefined);
        // stderr (the log) may trail stdout (the listening line) a little.
        let line: string | undefined;
        for (let i = 0; i < 50 && !line; i++, await new Promise((r) => setTimeout(r, 100))) line = p.logs.find((l) => l.includes('VNC page port cannot be opened'));
        expect(line, p.logs.join('\n')).to.not.equal(undefined);
        expect(JSON.parse(line!)).to.include({ port, code: 'EADDRINUSE' });
        const r = (await fetchCa(`${p.url}/?id=1&service=authservices&method=authenticate&params=${encodeURIComponent(JSON.stringify(['admin', PASSWORD]))}`)).json();
        expect(r.result.result).to.match(/^[0-9A-F]{40}$/);
      } finally {
        await p.stop();
      }
    } finally {
      squatter.close();
    }
  });
});
