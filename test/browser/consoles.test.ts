/**
 * The console pages at /web-vnc/ on the gateway's own port in headless Chromium (Debian's
 * /usr/bin/chromium, never a downloaded one), against the real gateway process with TLS on (the
 * default; Chromium trusts its generated certificate) and a real lab guest: the VNC page shows the
 * guest's screen, the terminal page runs `hostname` on the node, the serial console shows the
 * guest's output. (The OMS document's own addresses: consoles-document-urls.test.ts.)
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { enroll, startEnv, type Env } from '../integration/fixture.ts';
import { removeGuest, ssh, startGuest } from './lab-guests.ts';
import { launchChromium, screenInk, waitForText } from './console-page.ts';

const VM = 'cons-br1';
const VM_PW = 'cons-br2';
const VNC_PASSWORD = 'cons-pw1';

describe('console pages in a browser', function () {
  this.timeout(180_000);
  let e: Env;
  let ctx: BrowserContext;
  let profile: string;
  const node = () => e.lab.nodes[2];

  before(async () => {
    e = await startEnv({ OMS_TLS: 'on', OMS_NODE_TIMEOUT: '20' });
    expect(e.gw.url).to.match(/^https:/);
    await enroll(e, [node()]);
    await Promise.all([startGuest(e.lab, node(), VM), startGuest(e.lab, node(), VM_PW, { vncPassword: VNC_PASSWORD })]);
    profile = mkdtempSync(join(tmpdir(), 'cons-chromium-'));
    ctx = await launchChromium(profile, e.gw.ca);
  });
  after(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await e?.stop();
    if (e) await Promise.all([removeGuest(e.lab, node(), VM), removeGuest(e.lab, node(), VM_PW)]);
  });

  it('/web-vnc/vnc.html?SESSID&host&port (same origin, wss) shows the guest screen, no bars', async () => {
    const port = await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, node().name, VM]);
    const page = await ctx.newPage();
    try {
      await page.goto(`${e.gw.url}/web-vnc/vnc.html?SESSID=${e.sid}&host=127.0.0.1&port=${port}`);
      await page.waitForSelector('body[data-state="connected"]', { timeout: 20_000 });
      expect(page.url(), 'the session id leaves the address bar').to.not.include(e.sid);
      expect(await page.locator('#status').isVisible()).to.equal(false);
      const shot = await screenInk(page);
      expect(shot.ink, 'share of lit pixels in the top lines').to.be.greaterThan(0.01);
      expect(shot.colours).to.be.at.least(2);
    } finally {
      await page.close();
      await e.ok('kvmservices', 'remove_session_vnc_connections', [e.sid, 0]);
    }
  });

  it('vnc.html with a ticket; a password-protected guest: noVNC asks, the password connects', async () => {
    const port = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, node().name, VM_PW]));
    const t = await e.ok('kvmservices', 'get_vnc_ticket', [e.sid, 0, port]);
    const page = await ctx.newPage();
    try {
      await page.goto(`${e.gw.url}${t.url}`);
      await page.waitForSelector('body[data-state="password"]', { timeout: 20_000 });
      await page.fill('#password input[name="password"]', VNC_PASSWORD);
      await page.click('#password button');
      await page.waitForSelector('body[data-state="connected"]', { timeout: 20_000 });
      expect((await screenInk(page)).ink).to.be.greaterThan(0.01);
      // The ticket was used: the same page address cannot connect again.
      const again = await ctx.newPage();
      await again.goto(`${e.gw.url}${t.url}`);
      await again.waitForSelector('body[data-state="disconnected"], body[data-state="failed"]', { timeout: 20_000 });
      await again.close();
    } finally {
      await page.close();
      await e.ok('kvmservices', 'remove_session_vnc_connections', [e.sid, 0]);
    }
  });

  it('terminal.html: an SSH shell on the node; typing `hostname` shows its name', async () => {
    const port = await e.ok('sshservices', 'set_up_ssh_connection', [e.sid, 0, node().name]);
    const page = await ctx.newPage();
    try {
      await page.goto(`${e.gw.url}/web-vnc/terminal.html?SESSID=${e.sid}&port=${port}`);
      await page.waitForSelector('body[data-state="connected"]', { timeout: 20_000 });
      await waitForText(page, (s) => s.includes('#'));
      await page.locator('#screen').click();
      await page.keyboard.type('hostname\n');
      await waitForText(page, (s) => s.split('\n').some((l) => l.trim() === node().name));
    } finally {
      await page.close();
      await e.ok('sshservices', 'remove_session_ssh_connections', [e.sid, 0]);
    }
  });

  it("terminal.html: a guest's serial console shows the guest's output", async () => {
    const o = await e.ok('kvmservices', 'open_console', [e.sid, 0, node().name, VM]);
    const page = await ctx.newPage();
    try {
      await page.goto(`${e.gw.url}${o.url}`);
      await page.waitForSelector('body[data-state="connected"]', { timeout: 20_000 });
      await waitForText(page, (s) => s.includes(`Connected to domain '${VM}'`));
      await ssh(e.lab, node(), ['virsh', '-c', 'qemu:///system', 'reset', VM]);
      await waitForText(page, (s) => s.includes('SeaBIOS'));
      await e.ok('kvmservices', 'close_console', [e.sid, 0, node().name, VM]);
      await page.waitForSelector('body[data-state="disconnected"]', { timeout: 10_000 });
    } finally {
      await page.close();
    }
  });
});
