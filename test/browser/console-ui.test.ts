/**
 * The web console as an operator uses it, in headless Chromium (Debian's /usr/bin/chromium)
 * against the real gateway process and lab nodes, found by roles, labels and visible text:
 * login (a wrong password in words), the fleet with the lab nodes and their figures, a node whose
 * sshd stops turning unreachable and back without a reload, a guest defined by hand on a node
 * changing its count, the live/stale indicator across a gateway restart, an ended session
 * returning to login and back, logout ending the session at the gateway, dark mode, keyboard
 * reach, the CSP header with no violation, and axe-core on the login and fleet screens.
 *
 * Names made here carry the prefix `uifl-`. The sshd test uses the lab's last light node when
 * there is one (the shared integration tests leave those alone, so other engineers' tests on
 * omsnode1..3 are not cut off), else the last node (CI's lab of three).
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { buildUi } from '../../ui/build.ts';
import { ADMIN_PASSWORD, enroll, startEnv, type Env } from '../integration/fixture.ts';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { killSshd, startSshd, type LabNode } from '../lab/index.ts';
import { launchChromium } from './console-page.ts';
import { guestXml, ssh } from './lab-guests.ts';
import { axeProblems, expectText } from './ui-checks.ts';

const GUEST = 'uifl-g1';

/** Serious and critical axe-core findings on the page as it is now. */

/** Waits until the element's text matches (as a person watching it would). */

describe('web console in a browser: login, fleet, live', function () {
  this.timeout(180_000);
  let e: Env;
  let gw: GatewayProcess;
  let ctx: BrowserContext;
  let page: Page;
  let profile: string;
  let dataDir: string;
  let light: LabNode;
  const csp: string[] = [];
  const urls: string[] = [];
  const full = () => e.lab.nodes.slice(0, 3);
  const row = (name: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${name}\\b`) }) });

  before(async () => {
    await buildUi();
    dataDir = mkdtempSync(join(tmpdir(), 'uifl-data-'));
    e = await startEnv({ OMS_NODE_TIMEOUT: '10' }, { dataDir });
    gw = e.gw;
    // A light node when the lab has one (a shared lab's engineers leave those alone); the CI lab
    // of three has none, and nothing else runs there while this file does: its last node then.
    light = [...e.lab.nodes].reverse().find((n) => !n.libvirt) ?? e.lab.nodes.at(-1)!;
    await enroll(e, [...new Set([...full(), light])]);
    profile = mkdtempSync(join(tmpdir(), 'uifl-chromium-'));
    ctx = await launchChromium(profile);
    page = await ctx.newPage();
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) csp.push(m.text());
    });
    // Every address the page asked for, websockets included: a session id must be in none.
    page.on('request', (r) => urls.push(r.url()));
    page.on('websocket', (w) => urls.push(w.url()));
    await ctx.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (ev) => console.error(`Content-Security-Policy violation: ${ev.violatedDirective} ${ev.blockedURI}`));
    });
  });
  after(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (e) await ssh(e.lab, e.lab.nodes[2], ['virsh', '-c', 'qemu:///system', 'undefine', GUEST]).catch(() => undefined);
    if (light) await startSshd(light).catch(() => undefined);
    await gw?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  // What the operator would have seen when a step failed: the reason is on the screen more often than in the assertion.
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !page) return;
    const seen = await page.locator('body').innerText({ timeout: 2000 }).catch((err: Error) => `(unreadable: ${err.message})`);
    console.log(`  screen at failure (${page.url()}):\n    ${seen.replace(/\s*\n\s*/g, ' | ').slice(0, 1500)}`);
  });

  const logIn = async (password = ADMIN_PASSWORD) => {
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
  };

  it('serves the login screen at / with a CSP header; a wrong password is shown plainly', async () => {
    const res = await page.goto(`${gw.url}/`);
    expect(res!.headers()['content-security-policy']).to.include("default-src 'self'").and.include("connect-src 'self'");
    await page.getByRole('heading', { name: 'Log in to OMS' }).waitFor();
    await logIn('not-the-password');
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: /\S/ }).waitFor({ timeout: 10_000 });
    expect(await alert.textContent()).to.match(/^AuthError: \S/);
    expect(await alert.textContent()).to.not.match(/[{}"]|stack|at \w+ \(/);
    expect(await page.getByRole('heading', { name: 'Fleet' }).count()).to.equal(0);
  });

  it('a page that tries an inline script is refused and the refusal is seen (the CSP check can fail)', async () => {
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.uiflInline = 1';
      document.body.append(s);
    });
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => (window as unknown as { uiflInline?: number }).uiflInline)).to.equal(undefined);
    expect(csp.length, 'violation reported').to.be.greaterThan(0);
    csp.length = 0;
  });

  it('axe-core finds no serious or critical violation on the login screen', async () => {
    expect(await axeProblems(page)).to.deep.equal([]);
  });

  it('logs in and shows the fleet: every lab node with status, CPU, memory, disk, counts and tags', async () => {
    await logIn();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    for (const n of full()) {
      const r = row(n.name);
      await r.getByText('connected', { exact: true }).waitFor({ timeout: 30_000 });
      await r.getByRole('cell', { name: /^\d+ \(\d+ running\)$/ }).first().waitFor({ timeout: 30_000 });
      await r.getByRole('cell', { name: /^\d+(\.\d)? %$/ }).waitFor({ timeout: 30_000 });
      // Memory and disk, each used of total.
      await r.getByRole('cell', { name: /^[\d.]+ [KMGT]iB of [\d.]+ [KMGT]iB$/ }).nth(1).waitFor();
      expect(await r.getByRole('cell', { name: /^[\d.]+ [KMGT]iB of [\d.]+ [KMGT]iB$/ }).count()).to.equal(2);
      await r.getByRole('link', { name: 'OpenNode' }).waitFor();
    }
    await row(light.name).getByText('connected', { exact: true }).waitFor({ timeout: 30_000 });
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 20_000 });
    // The session lives in this tab's sessionStorage, never in a cookie.
    expect(await ctx.cookies()).to.deep.equal([]);
    const sid = await page.evaluate(() => sessionStorage.getItem('oms.session'));
    expect(sid).to.match(/^\S{16,}$/);
    // The event socket is open (Live) with the session as its bearer, yet no address carries it:
    // it travels as a websocket subprotocol, so no browser, proxy or access log prints it.
    expect(urls.some((u) => /\/ws\b/.test(u)), 'the page opened /ws').to.equal(true);
    expect(urls.filter((u) => u.includes(sid!))).to.deep.equal([]);
  });

  it('axe-core finds no serious or critical violation on the fleet screen (light and dark)', async () => {
    expect(await axeProblems(page)).to.deep.equal([]);
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await axeProblems(page)).to.deep.equal([]);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('follows the system colour scheme (dark mode)', async () => {
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await bg();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await bg();
    const lum = (c: string) => (c.match(/\d+/g) ?? []).slice(0, 3).reduce((s, v) => s + Number(v), 0);
    expect(lum(light)).to.be.greaterThan(600);
    expect(lum(dark)).to.be.lessThan(150);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('is reachable by keyboard: Tab reaches the navigation, the tags and Log out', async () => {
    await page.locator('body').focus();
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      seen.add(await page.evaluate(() => `${document.activeElement?.tagName} ${document.activeElement?.textContent?.trim()}`));
    }
    expect([...seen]).to.include.members(['A Fleet', 'BUTTON Log out', 'A OpenNode']);
  });

  it("a node whose sshd stops turns unreachable without a reload, and connected again when it is back", async () => {
    await page.evaluate(() => ((window as unknown as { uiflMark: number }).uiflMark = 1));
    const r = row(light.name);
    await killSshd(light);
    try {
      await r.getByText('unreachable', { exact: true }).waitFor({ timeout: 60_000 });
    } finally {
      await startSshd(light);
    }
    await r.getByText('connected', { exact: true }).waitFor({ timeout: 90_000 });
    expect(await page.evaluate(() => (window as unknown as { uiflMark?: number }).uiflMark), 'same page, no reload').to.equal(1);
  });

  it('a guest defined by hand on a node (virsh) changes its guest count from the event', async () => {
    const node = e.lab.nodes[2];
    // Columns: status, CPU, memory, disk, guests, containers, ...
    const cell = row(node.name).getByRole('cell').nth(4);
    const total = async () => Number(/^(\d+)/.exec((await cell.textContent()) ?? '')![1]);
    const before = await total();
    const def = await ssh(e.lab, node, ['virsh', '-c', 'qemu:///system', 'define', '/dev/stdin'], guestXml(GUEST));
    expect(def.code, def.stderr).to.equal(0);
    await expectText(cell, new RegExp(`^${before + 1} \\(`));
    await ssh(e.lab, node, ['virsh', '-c', 'qemu:///system', 'undefine', GUEST]);
    await expectText(cell, new RegExp(`^${before} \\(`));
    expect(await total()).to.equal(before);
  });

  it('when the gateway goes away: the fleet stays, marked stale with the time; live again when it is back', async () => {
    const port = gw.port;
    await gw.kill('SIGKILL');
    try {
      const stale = page.getByRole('status').filter({ hasText: /^Stale since \d{1,2}:\d{2}:\d{2}/ });
      await stale.waitFor({ timeout: 20_000 });
      expect(await row(full()[0].name).count(), 'last state kept').to.equal(1);
    } finally {
      // Back on the same port and database (sessions, nodes, the event journal), for the tests after this one.
      gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: ADMIN_PASSWORD, OMS_TLS: 'off', OMS_SSH_KEY: e.lab.privateKey!, OMS_LOG_LEVEL: 'warn', OMS_NODE_TIMEOUT: '10', OMS_PORT: String(port) }, { dataDir });
    }
    await page.getByRole('status').filter({ hasText: /^Live$/ }).waitFor({ timeout: 30_000 });
    await row(full()[0].name).getByText('connected', { exact: true }).waitFor({ timeout: 30_000 });
  });

  it('an ended session returns to login and, logged in again, to the same screen', async () => {
    await page.goto(`${gw.url}/#/fleet?tag=OpenNode`);
    await page.getByText('Nodes tagged OpenNode').waitFor({ timeout: 20_000 });
    const sid = await page.evaluate(() => sessionStorage.getItem('oms.session'));
    await e.call('authservices', 'deauthenticate', [sid]);
    await page.getByRole('heading', { name: 'Log in to OMS' }).waitFor({ timeout: 30_000 });
    expect(await page.getByRole('status').textContent()).to.match(/session has ended/);
    await logIn();
    await page.getByText('Nodes tagged OpenNode').waitFor({ timeout: 20_000 });
    expect(new URL(page.url()).hash).to.equal('#/fleet?tag=OpenNode');
    await row(full()[0].name).getByText('connected', { exact: true }).waitFor({ timeout: 30_000 });
  });

  it('logout ends the session at the gateway (deauthenticate), not only in the page', async () => {
    const sid = await page.evaluate(() => sessionStorage.getItem('oms.session'));
    expect((await e.call('authservices', 'checksessid', [sid])).error).to.equal(null);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to OMS' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('oms.session'))).to.equal(null);
    const after = await e.call('authservices', 'checksessid', [sid]);
    expect(after.error, 'the old session id is refused').to.not.equal(null);
    expect(after.error.message).to.be.a('string').and.match(/\S/);
    expect(after.result).to.equal(null);
  });

  // Last: the lockout holds this address for the rest of the gateway's window.
  it('throttled logins are shown plainly, with the wait', async () => {
    const alert = page.getByRole('alert');
    let text = '';
    for (let i = 0; i < 8 && !/Too many/.test(text); i++) {
      await logIn('uifl-wrong');
      await page.getByRole('button', { name: 'Log in' }).and(page.locator(':enabled')).waitFor();
      text = (await alert.textContent()) ?? '';
    }
    expect(text).to.match(/^AuthError: Too many failed attempts; try again in \d+ s$/);
  });

  it('no Content-Security-Policy violation was reported by any of it', () => {
    expect(csp).to.deep.equal([]);
  });
});
