/**
 * Consoles opened by the literal addresses of the OMS document, in headless Chromium (Debian's),
 * against the real gateway process with TLS on (the default) and a real lab guest and node:
 *   after set_up_vnc_connection: https://hostname:8002/vnc.html?SESSID=SESSID&host=hostname&port=6801
 *   after set_up_ssh_connection: https://hostname:6900/?SESSID=SESSID
 * The page port and the spot pools sit on free ports here (tests run side by side); everything
 * else is as a front-end written for the document does it. Chromium trusts the gateway's own
 * certificate, for the pages and for their wss websockets alike.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { ADMIN_PASSWORD, enroll, startEnv, type Env } from '../integration/fixture.ts';
import { accepts, freePort, freePortRange } from '../helpers/ports.ts';
import { removeGuest, startGuest } from './lab-guests.ts';
import { launchChromium, screenInk, waitForText } from './console-page.ts';

const VM = 'cons-doc1';

describe('consoles by the OMS document\'s URLs in a browser (TLS)', function () {
  this.timeout(180_000);
  let e: Env;
  let ctx: BrowserContext;
  let profile: string;
  let pagePort: number;
  let base: number;
  const node = () => e.lab.nodes[2];

  before(async () => {
    pagePort = await freePort();
    base = await freePortRange(6);
    e = await startEnv({
      OMS_TLS: 'on',
      OMS_NODE_TIMEOUT: '20',
      // Debug: every line the gateway can write, to show none of them carries the session id.
      OMS_LOG_LEVEL: 'debug',
      OMS_CONSOLE_PAGE_PORT: String(pagePort),
      OMS_CONSOLE_SPOT_PORTS: 'on',
      OMS_CONSOLE_POOL: '3',
      OMS_CONSOLE_VNC_BASE: String(base),
      OMS_CONSOLE_SSH_BASE: String(base + 3),
      OMS_CONSOLE_SERIAL_BASE: String(base + 10),
    });
    expect(e.gw.url).to.match(/^https:/);
    await enroll(e, [node()]);
    await startGuest(e.lab, node(), VM);
    profile = mkdtempSync(join(tmpdir(), 'cons-doc-chromium-'));
    ctx = await launchChromium(profile, e.gw.ca);
  });
  after(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await e?.stop();
    if (e) await removeGuest(e.lab, node(), VM);
  });

  it('https://localhost:8002/vnc.html?SESSID=..&host=localhost&port=6801 shows the guest screen; removal disconnects and closes the port', async () => {
    const port = await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, node().name, VM]);
    expect(port).to.equal(String(base));
    const page = await ctx.newPage();
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url().replace(e.sid, 'SESSID')));
    try {
      await page.goto(`https://localhost:${pagePort}/vnc.html?SESSID=${e.sid}&host=localhost&port=${port}`);
      await page.waitForSelector('body[data-state="connected"]', { timeout: 20_000 });
      expect(page.url(), 'the session id leaves the address bar').to.equal(`https://localhost:${pagePort}/vnc.html`);
      expect(sockets, 'noVNC connects to the spot itself, over TLS').to.deep.equal([`wss://localhost:${port}/?SESSID=SESSID`]);
      expect(await page.locator('#status').isVisible(), 'no bars').to.equal(false);
      const shot = await screenInk(page);
      expect(shot.ink, 'share of lit pixels in the top lines').to.be.greaterThan(0.01);
      expect(shot.colours).to.be.at.least(2);
      expect(await e.ok('kvmservices', 'remove_vnc_connection', [e.sid, 0, node().name, VM])).to.equal(port);
      await page.waitForSelector('body[data-state="disconnected"]', { timeout: 10_000 });
      expect(await accepts(Number(port)), 'the spot port is closed').to.equal(false);
    } finally {
      await page.close();
      await e.ok('kvmservices', 'remove_session_vnc_connections', [e.sid, 0]);
    }
  });

  it('https://localhost:6900/?SESSID=.. is a terminal on the node: typing `hostname` shows its name', async () => {
    const port = await e.ok('sshservices', 'set_up_ssh_connection', [e.sid, 0, node().name]);
    expect(port).to.equal(String(base + 3));
    const page = await ctx.newPage();
    try {
      await page.goto(`https://localhost:${port}/?SESSID=${e.sid}`);
      await page.waitForSelector('body[data-state="connected"]', { timeout: 20_000 });
      expect(page.url(), 'the session id leaves the address bar').to.equal(`https://localhost:${port}/`);
      await waitForText(page, (s) => s.includes('#'));
      await page.locator('#screen').click();
      await page.keyboard.type('hostname\n');
      await waitForText(page, (s) => s.split('\n').some((l) => l.trim() === node().name));
      expect(await e.ok('sshservices', 'remove_session_ssh_connections', [e.sid, 0])).to.equal(0);
      await page.waitForSelector('body[data-state="disconnected"]', { timeout: 10_000 });
      expect(await accepts(Number(port)), 'the spot port is closed').to.equal(false);
    } finally {
      await page.close();
      await e.ok('sshservices', 'remove_session_ssh_connections', [e.sid, 0]);
    }
  });

  it("another session's SESSID in the document's URL opens nothing", async () => {
    const port = await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, node().name, VM]);
    const other = await e.ok('authservices', 'authenticate', ['admin', ADMIN_PASSWORD]);
    const page = await ctx.newPage();
    try {
      await page.goto(`https://localhost:${pagePort}/vnc.html?SESSID=${other}&host=localhost&port=${port}`);
      await page.waitForSelector('body[data-state="disconnected"], body[data-state="failed"]', { timeout: 20_000 });
    } finally {
      await page.close();
      await e.call('authservices', 'deauthenticate', [other]);
      await e.ok('kvmservices', 'remove_session_vnc_connections', [e.sid, 0]);
    }
  });

  it('the session id appears in no log line', () => {
    expect(e.gw.logs.length).to.be.greaterThan(5);
    expect(e.gw.logs.some((l) => l.includes('console connected')), 'consoles were logged').to.equal(true);
    expect(e.gw.logs.filter((l) => l.toUpperCase().includes(e.sid.toUpperCase()))).to.deep.equal([]);
  });
});
