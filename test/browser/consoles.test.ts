/**
 * The console pages in headless Chromium (Debian's /usr/bin/chromium, never a downloaded one),
 * against the real gateway process and a real lab guest: the VNC page shows the guest's screen,
 * the terminal page runs `hostname` on the node, the serial console shows the guest's output.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { enroll, startEnv, type Env } from '../integration/fixture.ts';
import { removeGuest, ssh, startGuest } from './lab-guests.ts';
import { decodePng, inkOf } from './png.ts';

const VM = 'cons-br1';
const VM_PW = 'cons-br2';
const VNC_PASSWORD = 'cons-pw1';

const terminalText = (page: Page) =>
  page.evaluate(() => {
    const t = (window as any).omsTerm;
    const lines: string[] = [];
    for (let i = 0; i < t.buffer.active.length; i++) lines.push(t.buffer.active.getLine(i).translateToString(true));
    return lines.join('\n');
  });

async function waitForText(page: Page, test: (s: string) => boolean, ms = 20_000): Promise<string> {
  const until = Date.now() + ms;
  let text = '';
  while (Date.now() < until) {
    text = await terminalText(page);
    if (test(text)) return text;
    await page.waitForTimeout(200);
  }
  throw new Error(`terminal never matched; it shows:\n${text.trim().slice(-800)}`);
}

/**
 * Screenshots the VNC canvas until it shows the guest's own picture: SeaBIOS's banner in the top
 * lines. (Right after start QEMU shows one centred line of its own, "Guest has not initialized
 * the display"; looking at the top fifth only keeps that from counting.)
 */
async function screenInk(page: Page, ms = 20_000): Promise<{ ink: number; colours: number; width: number }> {
  const until = Date.now() + ms;
  let last = { ink: 0, colours: 0, width: 0 };
  while (Date.now() < until) {
    const canvas = page.locator('#screen canvas');
    const img = decodePng(await canvas.screenshot());
    last = { ...inkOf(img, 0.2), width: img.width };
    if (last.ink > 0.01 && last.colours >= 2) return last;
    await page.waitForTimeout(500);
  }
  return last;
}

describe('console pages in a browser', function () {
  this.timeout(180_000);
  let e: Env;
  let ctx: BrowserContext;
  let profile: string;
  const node = () => e.lab.nodes[2];

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '20' });
    await enroll(e, [node()]);
    await Promise.all([startGuest(e.lab, node(), VM), startGuest(e.lab, node(), VM_PW, { vncPassword: VNC_PASSWORD })]);
    profile = mkdtempSync(join(tmpdir(), 'cons-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 800, height: 600 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await e?.stop();
    if (e) await Promise.all([removeGuest(e.lab, node(), VM), removeGuest(e.lab, node(), VM_PW)]);
  });

  it('vnc.html opened as the OMS document says (?SESSID&host&port) shows the guest screen, no bars', async () => {
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
