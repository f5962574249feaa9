/**
 * The administration screen, the command palette and the phone-width layout, in headless Chromium
 * (Debian's /usr/bin/chromium) against the real gateway process and the lab's three full nodes,
 * found by roles, labels and visible text: a user created with a grant on one node sees only that
 * node when they log in; an API token is shown once, works from the typed client and stops working
 * when revoked; the audit log's filters; the palette jumps to a node and to a guest; nothing is wider than a
 * 390 px screen; axe-core on every admin tab, light and dark.
 *
 * Users, tokens and the one guest (defined, never started, on the third node) made here carry the
 * prefix `uad-` and are deleted by the tests themselves.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { buildUi } from '../../ui/build.ts';
import { connect, isOmsError } from '../../clients/typescript/src/index.ts';
import { ADMIN_PASSWORD, enroll, startEnv, type Env } from '../integration/fixture.ts';
import { launchChromium } from './console-page.ts';
import { guestXml, ssh } from './lab-guests.ts';
import { axeProblems } from './ui-checks.ts';

const USER = 'uad-op';
const USER_PASSWORD = 'uad-op-password-7319';
const TOKEN = 'uad-tok';
const GUEST = 'uad-g1';

/** Serious and critical axe-core findings on the page as it is now. */

describe('web console in a browser: administration, command palette, phone width', function () {
  this.timeout(180_000);
  let e: Env;
  let ctx: BrowserContext;
  let page: Page;
  let profile: string;
  let dataDir: string;
  const pages: Page[] = [];
  const nodes = () => e.lab.nodes.slice(0, 3);
  // The node the new user is granted: omsnode2 in the lab, the second node in any case.
  const granted = () => nodes()[1].name;
  const row = (p: Page, name: string) => p.getByRole('row').filter({ has: p.getByRole('rowheader', { name: new RegExp(`^${name}\\b`) }) });

  const logIn = async (p: Page, user: string, password: string) => {
    await p.getByLabel('User').fill(user);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.getByRole('heading', { level: 1 }).filter({ hasNotText: 'Log in' }).first().waitFor();
  };

  /** A page of its own (its own sessionStorage: a fresh login). */
  const freshPage = async (viewport?: { width: number; height: number }) => {
    const p = await ctx.newPage();
    if (viewport) await p.setViewportSize(viewport);
    pages.push(p);
    return p;
  };

  before(async () => {
    await buildUi();
    dataDir = mkdtempSync(join(tmpdir(), 'uad-data-'));
    e = await startEnv({ OMS_NODE_TIMEOUT: '10' }, { dataDir });
    await enroll(e, nodes());
    profile = mkdtempSync(join(tmpdir(), 'uad-chromium-'));
    ctx = await launchChromium(profile);
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write']);
    page = await ctx.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${e.gw.url}/#/admin/users`);
    await logIn(page, 'admin', ADMIN_PASSWORD);
  });
  after(async () => {
    // Whatever a failed test left behind.
    if (e) {
      await e.call('userservices', 'delete_user', [e.sid, 0, USER]).catch(() => undefined);
      await e.call('userservices', 'revoke_api_token', [e.sid, 0, TOKEN]).catch(() => undefined);
      await ssh(e.lab, e.lab.nodes[2], ['virsh', '-c', 'qemu:///system', 'undefine', GUEST]).catch(() => undefined);
    }
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await e?.gw.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const p of [page, ...pages].filter((x) => !x.isClosed())) {
      const seen = await p.locator('body').innerText({ timeout: 2000 }).catch((err: Error) => `(unreadable: ${err.message})`);
      console.log(`  screen at failure (${p.url()}):\n    ${seen.replace(/\s*\n\s*/g, ' | ').slice(0, 1500)}`);
    }
  });

  it('creates a user with a grant on one node through the administration screen', async () => {
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
    await row(page, 'admin').waitFor();
    const form = page.getByRole('form', { name: 'New user' });
    await form.getByLabel('User name').fill(USER);
    await form.getByLabel('Password').fill(USER_PASSWORD);
    await form.getByLabel('Grant on path').fill(`/nodes/${granted()}`);
    await form.getByLabel('Role').selectOption('Operator');
    await form.getByRole('button', { name: 'Create user' }).click();
    await form.getByRole('status').filter({ hasText: `User ${USER} created with Operator on /nodes/${granted()}.` }).waitFor();
    // The table follows (from the inventory event or the re-read), and the gateway holds it.
    await row(page, USER).getByText(`Operator on /nodes/${granted()}`).waitFor();
    const users = (await e.ok('userservices', 'list_users', [e.sid, 0])) as { name: string; grants: { path: string; role: string }[] }[];
    expect(users.find((u) => u.name === USER)?.grants.map((g) => `${g.role} ${g.path}`)).to.deep.equal([`Operator /nodes/${granted()}`]);
  });

  it('logged in as that user in a fresh page, the fleet shows only the granted node', async () => {
    const p = await freshPage({ width: 1280, height: 800 });
    await p.goto(`${e.gw.url}/#/fleet`);
    await logIn(p, USER, USER_PASSWORD);
    await p.getByRole('heading', { name: 'Fleet' }).waitFor();
    await row(p, granted()).getByText('connected', { exact: true }).waitFor({ timeout: 30_000 });
    await p.getByText(/^1 node: 1 connected/).waitFor();
    expect(await p.getByRole('table').getByRole('rowheader').allTextContents()).to.have.length(1);
    for (const n of nodes()) if (n.name !== granted()) expect(await row(p, n.name).count(), n.name).to.equal(0);
    // And administration is refused to them in words, not a blank screen.
    await p.goto(`${e.gw.url}/#/admin/users`);
    await p.getByRole('alert').filter({ hasText: /^PermissionDenied: / }).waitFor();
    await p.getByRole('button', { name: 'Log out' }).click();
    await p.getByRole('heading', { name: 'Log in to OMS' }).waitFor();
    await p.close();
  });

  it('sets the user’s password from the screen (the new one logs in, the old one no longer does)', async () => {
    const r = row(page, USER);
    await r.getByRole('button', { name: `Set password of ${USER}` }).click();
    await r.getByLabel(`New password for ${USER}`).fill(`${USER_PASSWORD}-2`);
    await r.getByRole('button', { name: 'Set', exact: true }).click();
    await r.getByRole('status').filter({ hasText: `Password of ${USER} set.` }).waitFor();
    expect((await e.call('authservices', 'authenticate', [USER, USER_PASSWORD])).error, 'old password refused').to.not.equal(null);
    const ok = await e.call('authservices', 'authenticate', [USER, `${USER_PASSWORD}-2`]);
    expect(ok.error).to.equal(null);
    await e.call('authservices', 'deauthenticate', [ok.result.result]);
  });

  it('creates an API token: its secret shown once with a copy button, gone after a reload, and it works from the typed client', async () => {
    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    const form = page.getByRole('form', { name: 'New token' });
    await form.getByLabel('Token name').fill(TOKEN);
    await form.getByRole('button', { name: 'Create token' }).click();
    const secret = page.getByRole('group', { name: `Token ${TOKEN} created` });
    await secret.waitFor();
    const token = await secret.getByLabel(`Token ${TOKEN}`).inputValue();
    expect(token).to.match(/^\S{20,}$/);
    await secret.getByRole('button', { name: 'Copy' }).click();
    await secret.getByRole('status').filter({ hasText: /Copied to the clipboard|press Ctrl-C/ }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal(token);
    await row(page, TOKEN).waitFor();

    // The typed client, as a script would use it: the token is the whole login.
    const client = connect({ url: e.gw.url, token });
    expect((await client.userservices.whoami()).name).to.equal('admin');
    const signed = (await client.funcservices.list_signed()) as { name: string }[];
    expect(signed.map((n) => n.name)).to.include(granted());

    await page.reload();
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    await row(page, TOKEN).waitFor();
    expect(await page.getByRole('group', { name: `Token ${TOKEN} created` }).count(), 'not shown again').to.equal(0);
    expect(await page.locator('body').innerText()).to.not.include(token);
    expect(await page.evaluate((t) => JSON.stringify({ ...sessionStorage }).includes(t) || JSON.stringify({ ...localStorage }).includes(t) || location.href.includes(t), token)).to.equal(false);

    // Revoked from the screen: the same client is refused from then on.
    await row(page, TOKEN).getByRole('button', { name: `Revoke token ${TOKEN}` }).click();
    await page.getByText('You have no API tokens.').waitFor();
    const refused = await client.userservices.whoami().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isOmsError(refused, 'AuthError'), String(refused)).to.equal(true);
  });

  it('the audit log shows the user’s creation, and its filters (user, method, time range) narrow it', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const table = page.getByRole('region', { name: 'Audit log table' });
    await table.getByRole('cell', { name: 'userservices.add_user' }).waitFor();
    await table.getByRole('cell', { name: 'userservices.create_api_token' }).waitFor();

    const filters = page.getByRole('form', { name: 'Audit log filters' });
    await filters.getByLabel('Method').fill('add_user');
    await filters.getByLabel('User').fill('admin');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('status').filter({ hasText: /^1 entry matching the filters\.$/ }).waitFor();
    // Columns: time (the row's header), user, method, ...
    expect(await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.children[2]?.textContent))).to.deep.equal(['userservices.add_user']);
    expect(new URL(page.url()).hash).to.equal('#/admin/audit?user=admin&method=add_user');

    // A time range that ends before anything happened: nothing.
    await page.getByRole('form', { name: 'Audit log filters' }).getByLabel('To', { exact: true }).fill('2001-01-01T00:00');
    await page.getByRole('form', { name: 'Audit log filters' }).getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('status').filter({ hasText: /^0 entries matching the filters\.$/ }).waitFor();
    // Another user's name: nothing either.
    await page.goto(`${e.gw.url}/#/admin/audit?user=${USER}&method=add_user`);
    await page.getByRole('status').filter({ hasText: /^0 entries matching the filters\.$/ }).waitFor();
    await page.getByRole('link', { name: 'Clear filters' }).click();
    await table.getByRole('cell', { name: 'userservices.revoke_api_token' }).waitFor();
  });

  it('axe-core finds no serious or critical violation on any administration tab (light and dark)', async () => {
    const problems: string[] = [];
    for (const tab of ['Users', 'Groups', 'Roles and grants', 'API tokens', 'Audit log']) {
      await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: tab }).click();
      await page.getByRole('heading', { level: 2, name: tab === 'Roles and grants' ? 'Roles and grants' : tab }).waitFor();
      await page.waitForLoadState('networkidle').catch(() => undefined);
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        problems.push(...(await axeProblems(page)).map((p) => `${tab} (${scheme}): ${p}`));
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    expect(problems).to.deep.equal([]);
  });

  it('the command palette (/ or Ctrl-K) jumps to a node by part of its name, by keyboard alone', async () => {
    await page.goto(`${e.gw.url}/#/fleet`);
    await row(page, granted()).waitFor();
    await page.locator('body').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('/');
    const dialog = page.getByRole('dialog', { name: 'Command palette' });
    await dialog.waitFor();
    const box = dialog.getByRole('combobox');
    expect(await box.evaluate((el) => el === document.activeElement), 'focus in the palette').to.equal(true);
    // Part of the name: "node2" of omsnode2.
    const part = granted().slice(-5);
    await page.keyboard.type(part);
    // The active option once the whole text is in (before, other nodes match its first letters).
    const option = dialog.getByRole('option', { name: new RegExp(`^Node\\s*${granted()}$`), selected: true });
    await option.waitFor();
    expect(await option.getAttribute('aria-selected')).to.equal('true');
    expect(await box.getAttribute('aria-activedescendant')).to.equal(await option.getAttribute('id'));
    expect(await axeProblems(page), 'axe with the palette open').to.deep.equal([]);
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    expect(new URL(page.url()).hash).to.equal(`#/node/${granted()}`);

    // A guest defined by hand on a node a moment ago is found too, and leads to its view.
    const def = await ssh(e.lab, nodes()[2], ['virsh', '-c', 'qemu:///system', 'define', '/dev/stdin'], guestXml(GUEST));
    expect(def.code, def.stderr).to.equal(0);
    await page.goto(`${e.gw.url}/#/fleet`);
    await page.locator('main').focus();
    await page.keyboard.press('/');
    await dialog.waitFor();
    await page.keyboard.type(GUEST.slice(2));
    // Enter takes the active option: wait until the guest is the active one (while the text is
    // still being typed, a node matching its first letters may be).
    const guest = dialog.getByRole('option', { name: new RegExp(`^Guest\\s*${GUEST}\\s*on ${nodes()[2].name}$`), selected: true });
    await guest.waitFor({ timeout: 30_000 });
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    expect(new URL(page.url()).hash).to.equal(`#/guest/${nodes()[2].name}/${GUEST}`);
    await ssh(e.lab, nodes()[2], ['virsh', '-c', 'qemu:///system', 'undefine', GUEST]);

    // Ctrl-K opens it too; arrow keys move; Escape closes and gives focus back.
    await page.goto(`${e.gw.url}/#/fleet`);
    const opener = page.getByRole('button', { name: /Jump to/ });
    await opener.focus();
    await page.keyboard.press('Control+k');
    await dialog.waitFor();
    await page.keyboard.type('omsnode');
    await dialog.getByRole('option', { name: new RegExp(`^Node\\s*${nodes()[0].name}$`) }).waitFor();
    const options = dialog.getByRole('option');
    expect(await options.first().getAttribute('aria-selected')).to.equal('true');
    await page.keyboard.press('ArrowDown');
    expect(await options.nth(1).getAttribute('aria-selected'), 'ArrowDown moves to the next match').to.equal('true');
    await page.keyboard.press('ArrowUp');
    expect(await options.first().getAttribute('aria-selected')).to.equal('true');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await opener.evaluate((el) => el === document.activeElement), 'focus back on the opener').to.equal(true);
    expect(new URL(page.url()).hash).to.equal('#/fleet');

    // "/" typed in a field is text, not the palette.
    await page.goto(`${e.gw.url}/#/admin/audit`);
    const method = page.getByRole('form', { name: 'Audit log filters' }).getByLabel('Method');
    await method.click();
    await page.keyboard.type('a/b');
    expect(await method.inputValue()).to.equal('a/b');
    expect(await dialog.count()).to.equal(0);
  });

  it('at phone width (390 px) nothing overflows sideways on the fleet or administration, and the navigation is reachable', async () => {
    const p = await freshPage({ width: 390, height: 844 });
    await p.goto(`${e.gw.url}/#/fleet`);
    await logIn(p, 'admin', ADMIN_PASSWORD);
    // Every row, with the figures of one at least (a loaded lab may keep another's a while).
    for (const n of nodes()) await row(p, n.name).waitFor({ timeout: 30_000 });
    await row(p, nodes()[0].name).getByRole('cell', { name: /^\d+ \(\d+ running\)$/ }).first().waitFor({ timeout: 30_000 });
    const overflow = () =>
      p.evaluate(() => {
        const wide = [...document.querySelectorAll('body *')]
          .filter((el) => !el.closest('.scroll') && el.getBoundingClientRect().right > innerWidth + 0.5)
          .map((el) => `${el.tagName.toLowerCase()}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`);
        return { scrollWidth: document.documentElement.scrollWidth, width: innerWidth, wide: wide.slice(0, 5) };
      });
    const fleetNow = await overflow();
    expect(fleetNow.scrollWidth, JSON.stringify(fleetNow)).to.be.at.most(fleetNow.width);
    expect(fleetNow.wide).to.deep.equal([]);
    // The wide table scrolls inside its own region, the node's name kept in view while it does.
    const region = p.getByRole('region', { name: 'Nodes table' });
    await region.evaluate((el) => (el.scrollLeft = el.scrollWidth));
    expect(await region.evaluate((el) => el.scrollLeft), 'the table is wider than the screen').to.be.greaterThan(100);
    const name = (await row(p, nodes()[0].name).getByRole('rowheader').boundingBox())!;
    expect(name.x, 'node name in view after scrolling').to.be.at.least(0);
    expect(name.x + name.width).to.be.at.most(390);
    // Every navigation link lies inside the screen and works by touch.
    const links = p.getByRole('navigation', { name: 'Main' }).getByRole('link');
    expect(await links.count()).to.be.greaterThan(1);
    for (const l of await links.all()) {
      const b = (await l.boundingBox())!;
      expect(b.x, (await l.textContent()) ?? "").to.be.at.least(0);
      expect(b.x + b.width, (await l.textContent()) ?? "").to.be.at.most(390);
    }
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Administration' }).click();
    await p.getByRole('heading', { name: 'Administration' }).waitFor();
    await row(p, 'admin').waitFor();
    const adminNow = await overflow();
    expect(adminNow.scrollWidth, JSON.stringify(adminNow)).to.be.at.most(adminNow.width);
    expect(adminNow.wide).to.deep.equal([]);
    await p.getByRole('button', { name: 'Log out' }).click();
    await p.close();
  });

  it('deletes the user from the screen, after confirming; their login is refused', async () => {
    await page.goto(`${e.gw.url}/#/admin/users`);
    const r = row(page, USER);
    await r.getByRole('button', { name: `Delete ${USER}` }).click();
    await r.getByRole('button', { name: `Yes, delete ${USER}` }).click();
    await r.waitFor({ state: 'detached' });
    const users = (await e.ok('userservices', 'list_users', [e.sid, 0])) as { name: string }[];
    expect(users.map((u) => u.name)).to.not.include(USER);
    expect((await e.call('authservices', 'authenticate', [USER, `${USER_PASSWORD}-2`])).error).to.not.equal(null);
  });
});
