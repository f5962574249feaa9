/**
 * The Guests screen as an operator uses it, in headless Chromium against the real gateway and
 * lab nodes omsnode1..3: the list shows guests of several nodes; a guest defined by hand appears
 * without a reload; `virsh start` / `destroy` by hand move the row's state; the filter
 * `state:running -node:omsnode1` shows exactly the right rows and survives a reload; sorting by
 * a header; keyboard selection; bulk force stop of two guests with progress in their rows,
 * ending with both off on the node (virsh domstate); axe-core in light and dark.
 *
 * Guests made here carry the prefix `ugl-` (32 MiB, no disk, no OS) and are removed after.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { buildUi } from '../../ui/build.ts';
import { ADMIN_PASSWORD, enroll, startEnv, type Env } from '../integration/fixture.ts';
import type { LabNode } from '../lab/index.ts';
import { launchChromium } from './console-page.ts';
import { ssh } from './lab-guests.ts';
import { defineMany, domstate, removeUgl, virshOn } from './ugl-guests.ts';
import { BOOTED, POWER_BUTTON } from '../lab/acpi-guest.ts';
import { count, defineAcpiGuest, hostDir, waitFor } from '../integration/kst-lab.ts';
import { axeProblems, expectText } from './ui-checks.ts';

/** LXC containers are numbered: this test's own number. */
const CT = '85150';

describe('web console in a browser: the Guests screen', function () {
  this.timeout(180_000);
  let e: Env;
  let ctx: BrowserContext;
  let page: Page;
  let profile: string;
  let n1: LabNode, n2: LabNode, n3: LabNode;
  const row = (name: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });
  const stateOf = (name: string) => row(name).locator('td.g-state');
  /** Names of the ugl- rows on screen, in screen order. */
  const shownUgl = async () => (await page.getByRole('rowheader').allTextContents()).map((s) => s.trim()).filter((s) => s.startsWith('ugl-'));
  const filterBox = () => page.getByLabel('Filter', { exact: true });
  const mark = () => page.evaluate(() => ((window as unknown as { uglMark: number }).uglMark = 1));
  const marked = () => page.evaluate(() => (window as unknown as { uglMark?: number }).uglMark);

  before(async () => {
    await buildUi();
    e = await startEnv({ OMS_NODE_TIMEOUT: '10' });
    [n1, n2, n3] = e.lab.nodes;
    for (const n of [n1, n2, n3]) await removeUgl(e.lab, n);
    await enroll(e, [n1, n2, n3]);
    await defineMany(e.lab, n1, ['ugl-a1']);
    await defineMany(e.lab, n2, ['ugl-b1', 'ugl-b2']);
    await defineMany(e.lab, n3, ['ugl-c1']);
    await virshOn(e.lab, n1, 'start', 'ugl-a1');
    await virshOn(e.lab, n2, 'start', 'ugl-b1');
    await virshOn(e.lab, n3, 'start', 'ugl-c1');
    await ssh(e.lab, n3, ['lxc-destroy', '-n', CT, '-f']);
    const made = await ssh(e.lab, n3, ['lxc-create', '-t', 'busybox', '-n', CT]);
    if (made.code !== 0) throw new Error(`lxc-create ${CT}: ${made.stderr}`);
    profile = mkdtempSync(join(tmpdir(), 'ugl-chromium-'));
    ctx = await launchChromium(profile);
    await ctx.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (ev) => console.error(`Content-Security-Policy violation: ${ev.violatedDirective}`));
    });
    page = await ctx.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
  });
  after(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (e) for (const n of [n1, n2, n3]) await removeUgl(e.lab, n).catch(() => undefined);
    if (e) for (const n of [n2, n3]) for (const f of ['ugl-acpi1', 'ugl-acpi2']) for (const ext of ['.img', '-serial.log']) rmSync(join(hostDir(n), f + ext), { force: true });
    if (e) await ssh(e.lab, n3, ['lxc-destroy', '-n', CT, '-f']).catch(() => undefined);
    await e?.stop();
  });
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !page) return;
    const seen = await page.locator('body').innerText({ timeout: 2000 }).catch((err: Error) => `(unreadable: ${err.message})`);
    console.log(`  screen at failure (${page.url()}):\n    ${seen.replace(/\s*\n\s*/g, ' | ').slice(0, 2000)}`);
  });

  it('lists the guests of several nodes with type, node, state, vCPUs and memory', async () => {
    await page.goto(`${e.gw.url}/#/guests`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Guests' }).waitFor();
    await page.getByRole('link', { name: 'Guests' }).and(page.locator('[aria-current=page]')).waitFor();
    for (const [name, node] of [['ugl-a1', n1], ['ugl-b1', n2], ['ugl-b2', n2], ['ugl-c1', n3]] as const) {
      const r = row(name);
      await r.waitFor({ timeout: 30_000 });
      const cells = (await r.getByRole('cell').allTextContents()).map((s) => s.trim());
      // checkbox, type, node, state, vCPUs, memory, IPs, tags, action
      expect(cells.slice(1, 6), name).to.deep.equal(['kvm', node.name, name === 'ugl-b2' ? 'stopped' : 'running', '1', '32 MiB']);
    }
    await page.getByRole('status').filter({ hasText: /^Live$/ }).waitFor({ timeout: 20_000 });
  });

  it('lists containers too (type container); lxc-start and lxc-stop by hand: the row follows', async () => {
    await filterBox().fill(`type:container ${CT}`);
    const r = page.getByRole('row').filter({ hasText: CT });
    await r.waitFor({ timeout: 30_000 });
    const cells = (await r.getByRole('cell').allTextContents()).map((s) => s.trim());
    expect(cells.slice(1, 4)).to.deep.equal(['container', n3.name, 'stopped']);
    await mark();
    const started = await ssh(e.lab, n3, ['lxc-start', '-n', CT]);
    expect(started.code, started.stderr).to.equal(0);
    await expectText(r.locator('td.g-state'), /^running$/, 20_000);
    const stopped = await ssh(e.lab, n3, ['lxc-stop', '-n', CT, '-k']);
    expect(stopped.code, stopped.stderr).to.equal(0);
    await expectText(r.locator('td.g-state'), /^stopped$/, 20_000);
    expect(await marked(), 'same page, no reload').to.equal(1);
    await filterBox().fill('');
  });

  it('a guest defined by hand on a node appears without a reload, and goes when undefined', async () => {
    await mark();
    await defineMany(e.lab, n3, ['ugl-new']);
    await expectText(stateOf('ugl-new'), /^stopped$/);
    expect(await row('ugl-new').getByRole('cell', { name: n3.name, exact: true }).count()).to.equal(1);
    await virshOn(e.lab, n3, 'undefine', 'ugl-new');
    await row('ugl-new').waitFor({ state: 'detached', timeout: 30_000 });
    expect(await marked(), 'same page, no reload').to.equal(1);
  });

  it('virsh start and destroy by hand on the node: the row follows', async () => {
    await virshOn(e.lab, n2, 'start', 'ugl-b2');
    await expectText(stateOf('ugl-b2'), /^running$/, 20_000);
    await virshOn(e.lab, n2, 'destroy', 'ugl-b2');
    await expectText(stateOf('ugl-b2'), /^stopped$/, 20_000);
    expect(await marked(), 'same page, no reload').to.equal(1);
  });

  it('filter state:running -node:omsnode1 shows exactly the running guests of the other nodes; it lives in the address', async () => {
    await filterBox().fill(`state:running -node:${n1.name} ugl-`);
    await expectText(page.locator('.summary'), /^\d+ of \d+ guests shown/);
    const want = ['ugl-b1', 'ugl-c1'];
    const end = Date.now() + 10_000;
    while (JSON.stringify(await shownUgl()) !== JSON.stringify(want) && Date.now() < end) await page.waitForTimeout(100);
    expect(await shownUgl()).to.deep.equal(want);
    // Every row shown obeys the filter (not only ours).
    for (const r of await page.locator('tbody tr.g-row').all()) {
      const cells = (await r.getByRole('cell').allTextContents()).map((s) => s.trim());
      expect(cells[3]).to.equal('running');
      expect(cells[2]).to.not.equal(n1.name);
    }
    expect(decodeURIComponent(new URL(page.url()).hash)).to.equal(`#/guests?q=state:running -node:${n1.name} ugl-`.replace(/ /g, '+'));
    await page.reload();
    await page.getByRole('heading', { name: 'Guests' }).waitFor();
    expect(await filterBox().inputValue()).to.equal(`state:running -node:${n1.name} ugl-`);
    await row('ugl-c1').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(500);
    expect(await shownUgl()).to.deep.equal(want);
    await mark();
  });

  it('sorts by a column header, telling it with aria-sort', async () => {
    await filterBox().fill('ugl-');
    await row('ugl-a1').waitFor();
    const nameHeader = page.getByRole('columnheader', { name: /^Name/ });
    expect(await nameHeader.getAttribute('aria-sort')).to.equal('ascending');
    expect(await shownUgl()).to.deep.equal(['ugl-a1', 'ugl-b1', 'ugl-b2', 'ugl-c1']);
    await nameHeader.getByRole('button').click();
    expect(await nameHeader.getAttribute('aria-sort')).to.equal('descending');
    expect(await shownUgl()).to.deep.equal(['ugl-c1', 'ugl-b2', 'ugl-b1', 'ugl-a1']);
    const stateHeader = page.getByRole('columnheader', { name: /^State/ });
    await stateHeader.getByRole('button').click();
    expect(await stateHeader.getAttribute('aria-sort')).to.equal('ascending');
    expect(await nameHeader.getAttribute('aria-sort')).to.equal('none');
    expect(await shownUgl()).to.deep.equal(['ugl-a1', 'ugl-b1', 'ugl-c1', 'ugl-b2']);
    expect(new URL(page.url()).hash).to.match(/sort=state/);
    await nameHeader.getByRole('button').click();
  });

  it('selects by keyboard: arrows move between rows, Space selects', async () => {
    await row('ugl-a1').getByRole('checkbox').focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).to.equal(`Select ugl-b1 on ${n2.name}`);
    await page.keyboard.press('Space');
    expect(await row('ugl-b1').getByRole('checkbox').isChecked()).to.equal(true);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).to.equal(`Select ugl-c1 on ${n3.name}`);
    await page.keyboard.press('Space');
    await page.getByText('2 selected', { exact: true }).waitFor();
  });

  it('bulk force stop of two guests: progress in each row and a summary, both off on the node', async () => {
    // Every text the two rows' action cells show, as it changes.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { uglSeen: string[] }).uglSeen = seen;
      new MutationObserver(() => {
        for (const td of document.querySelectorAll('tr.g-row td.g-progress')) {
          const t = `${td.parentElement?.querySelector('th')?.textContent}: ${td.textContent}`;
          if (td.textContent && seen.at(-1) !== t && !seen.includes(t)) seen.push(t);
        }
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    expect(await domstate(e.lab, n2, 'ugl-b1')).to.equal('running');
    expect(await domstate(e.lab, n3, 'ugl-c1')).to.equal('running');
    await page.getByRole('toolbar', { name: 'Actions on the selected guests' }).getByRole('button', { name: 'Force stop' }).click();
    await expectText(page.getByRole('status', { name: 'Bulk action progress' }), /^Force stop of 2 guests: 2 done, 0 failed\.$/);
    for (const name of ['ugl-b1', 'ugl-c1']) {
      await expectText(row(name).locator('td.g-progress'), /^Force stop: stopped$/);
      await expectText(stateOf(name), /^stopped$/);
    }
    const seen = (await page.evaluate(() => (window as unknown as { uglSeen: string[] }).uglSeen)) as string[];
    expect(seen.some((s) => /^ugl-\w+: Force stop: (waiting|stopping…)$/.test(s)), seen.join(' | ')).to.equal(true);
    expect(await domstate(e.lab, n2, 'ugl-b1')).to.equal('shut off');
    expect(await domstate(e.lab, n3, 'ugl-c1')).to.equal('shut off');
    expect(await domstate(e.lab, n1, 'ugl-a1'), 'an unselected guest is left alone').to.equal('running');
  });

  it('bulk shutdown (ACPI) of two guests that listen: progress in each row, both hear the button and are off on the node', async () => {
    // Two guests whose tiny OS answers the ACPI power button on its serial console (test/lab/acpi-guest.ts).
    const acpi = [['ugl-acpi1', n2], ['ugl-acpi2', n3]] as const;
    const serial = new Map<string, () => string>();
    for (const [name, n] of acpi) {
      serial.set(name, (await defineAcpiGuest(n, name)).serial);
      await virshOn(e.lab, n, 'start', name);
    }
    for (const [name] of acpi) await waitFor(`${name} booted`, async () => serial.get(name)!(), (t) => count(t, BOOTED) === 1, 90_000, 500);
    await page.getByRole('button', { name: 'Clear selection' }).click();
    for (const [name] of acpi) {
      await expectText(stateOf(name), /^running$/);
      await row(name).getByRole('checkbox').check();
    }
    await page.getByText('2 selected', { exact: true }).waitFor();
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { uglSeen: string[] }).uglSeen = seen;
      new MutationObserver(() => {
        for (const td of document.querySelectorAll('tr.g-row td.g-progress')) {
          const t = `${td.parentElement?.querySelector('th')?.textContent}: ${td.textContent}`;
          if (td.textContent && seen.at(-1) !== t && !seen.includes(t)) seen.push(t);
        }
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.getByRole('toolbar', { name: 'Actions on the selected guests' }).getByRole('button', { name: 'Shut down' }).click();
    await expectText(page.getByRole('status', { name: 'Bulk action progress' }), /Shut down of 2 guests: 2 done, 0 failed\.$/, 90_000);
    for (const [name, n] of acpi) {
      await expectText(stateOf(name), /^stopped$/);
      expect(await domstate(e.lab, n, name)).to.equal('shut off');
      expect(count(serial.get(name)!(), POWER_BUTTON), `${name} heard the button`).to.equal(1);
    }
    const seen = (await page.evaluate(() => (window as unknown as { uglSeen: string[] }).uglSeen)) as string[];
    expect(seen.some((s) => /^ugl-acpi\d: Shut down: (waiting|\S.*…)$/.test(s)), seen.join(' | ')).to.equal(true);
  });

  it('a guest whose call fails says why in its row, in words (pause of a stopped guest)', async () => {
    await page.getByRole('button', { name: 'Clear selection' }).click();
    await row('ugl-b2').getByRole('checkbox').check();
    await page.getByRole('toolbar', { name: 'Actions on the selected guests' }).getByRole('button', { name: 'Pause' }).click();
    await expectText(page.getByRole('status', { name: 'Bulk action progress' }), /Pause of 1 guest: 0 done, 1 failed\./);
    const text = ((await row('ugl-b2').locator('td.g-progress').textContent()) ?? '').trim();
    expect(text).to.match(/^Pause failed: [A-Z]\w+: \S/);
    expect(text).to.not.match(/[{}"]|stack/);
    expect(await domstate(e.lab, n2, 'ugl-b2')).to.equal('shut off');
  });

  it('is usable at phone width: no page-wide sideways scroll, the actions and filter in view, the table scrolls in its own box', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    try {
      await filterBox().fill('ugl-');
      await row('ugl-a1').waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth), 'page width').to.be.at.most(390);
      for (const el of [filterBox(), page.getByRole('button', { name: 'Force stop' }), row('ugl-a1').getByRole('checkbox')]) {
        const box = (await el.boundingBox())!;
        expect(box.x + box.width, 'inside the screen').to.be.at.most(390);
      }
      if (process.env.UGL_SHOT) await page.screenshot({ path: process.env.UGL_SHOT });
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('axe-core finds no serious or critical violation on the guests screen (light and dark)', async () => {
    expect(await axeProblems(page)).to.deep.equal([]);
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await axeProblems(page)).to.deep.equal([]);
    await page.emulateMedia({ colorScheme: 'light' });
  });
});
