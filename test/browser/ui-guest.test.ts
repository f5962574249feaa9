/**
 * The web console's guest view, Create screen and tasks panel, in headless Chromium (Debian's
 * /usr/bin/chromium) against the real gateway process and a lab node, as an operator uses them:
 * a guest created from (a private copy of) the lab ISO through the Create form and seen on the
 * node with virsh; its view with only the actions of its state; its VNC console embedded showing
 * the guest's screen, and its serial console; a stop by hand with virsh followed without reload;
 * Start; a bad settings value refused at its field; an ACPI shutdown (the guest has no OS, so it
 * waits out its window) shown running with progress in the tasks panel and cancelled there; a
 * finished task's log; a clone's bytes; delete with a confirmation. axe-core on every screen.
 *
 * Names made here carry the prefix `ugv-`.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { buildUi } from '../../ui/build.ts';
import { ADMIN_PASSWORD, enroll, startEnv, type Env } from '../integration/fixture.ts';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { launchChromium } from './console-page.ts';
import { decodePng, inkOf } from './png.ts';
import { axeProblems, expectText } from './ui-checks.ts';

const VM = 'ugv-g1';
const ISO = 'ugv-cd.iso';
const ISOS = '/var/lib/oms-node/isos';
const IMAGES = '/var/lib/oms-node/images';

const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);

/** Removes every ugv-* guest and file of the node: this test's own only. */
async function cleanAll(node: LabNode): Promise<void> {
  const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('ugv-'));
  for (const vm of names) {
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', '--managed-save', vm);
  }
  await nodeExec(node, ['find', IMAGES, ISOS, '-maxdepth', '1', '-name', 'ugv-*', '-exec', 'rm', '-rf', '--', '{}', '+']);
}

/** Serious and critical axe-core findings on the page as it is now (see console-ui.test.ts). */

async function frameOf(page: Page, re: RegExp, ms = 20_000): Promise<Frame> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const f = page.frames().find((x) => re.test(x.url()));
    if (f) return f;
    await page.waitForTimeout(200);
  }
  throw new Error(`no frame at ${re}`);
}

describe('web console in a browser: guest view, create, tasks panel', function () {
  this.timeout(240_000);
  let e: Env;
  let ctx: BrowserContext;
  let page: Page;
  let profile: string;
  let node: LabNode;
  const csp: string[] = [];
  const state = () => page.getByRole('status', { name: 'Guest state' });
  const domstate = async () => (await virsh(node, 'domstate', VM)).stdout.trim();

  before(async () => {
    await buildUi();
    e = await startEnv({ OMS_NODE_TIMEOUT: '20' });
    node = e.lab.nodes[1];
    await cleanAll(node);
    await enroll(e, e.lab.nodes.slice(0, 3));
    // A private copy of the lab ISO, so nothing here touches the shared lab.iso.
    expect((await nodeExec(node, ['cp', `${ISOS}/lab.iso`, `${ISOS}/${ISO}`])).code).to.equal(0);
    profile = mkdtempSync(join(tmpdir(), 'ugv-chromium-'));
    ctx = await launchChromium(profile);
    page = await ctx.newPage();
    await page.setViewportSize({ width: 1200, height: 900 });
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) csp.push(m.text());
    });
    await ctx.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (ev) => console.error(`Content-Security-Policy violation: ${ev.violatedDirective} ${ev.blockedURI}`));
    });
  });
  after(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (node) await cleanAll(node);
    await e?.stop();
  });
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !page) return;
    const seen = await page.locator('body').innerText({ timeout: 2000 }).catch((err: Error) => `(unreadable: ${err.message})`);
    console.log(`  screen at failure (${page.url()}):\n    ${seen.replace(/\s*\n\s*/g, ' | ').slice(0, 2000)}`);
  });

  it('logs in and opens Create from the navigation; each node shows its free memory and CPU load; axe finds nothing serious', async () => {
    await page.goto(`${e.gw.url}/`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'Create' }).waitFor();
    // The guest view is reached by links only.
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Guest', exact: true }).count()).to.equal(0);
    // Every enrolled node is offered; the figures are checked on this test's node only (another
    // engineer's fault test may have a shared node unreachable for a while, which it then says).
    for (const n of e.lab.nodes.slice(0, 3)) await page.locator('label.node-option').filter({ hasText: n.name }).waitFor();
    const option = page.locator('label.node-option').filter({ hasText: node.name });
    await expectText(option, /[\d.]+ [KMGT]iB free of [\d.]+ [KMGT]iB; CPU load \d+(\.\d)? %/);
    expect(await axeProblems(page, { iframes: false })).to.deep.equal([]);
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await axeProblems(page, { iframes: false })).to.deep.equal([]);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('the network-install form is made from its declaration too (lists, the install tree); a refusal lands at its field; axe finds nothing serious', async () => {
    await page.getByRole('radio', { name: 'KVM guest by network install' }).check();
    await page.getByRole('radio', { name: new RegExp(`^${node.name}`) }).check();
    await page.getByLabel(/^Disks \(GB\)/).waitFor();
    expect(await page.getByLabel(/^Disks \(GB\)/).inputValue()).to.equal('1');
    await page.getByLabel(/^Networks/).waitFor();
    await page.getByRole('checkbox', { name: /Installer output on the serial console/ }).waitFor();
    expect(await axeProblems(page, { iframes: false })).to.deep.equal([]);
    await page.getByLabel('Name', { exact: true }).fill('ugv-n1');
    await page.getByLabel(/^Install tree/).fill('ugv-no-such-tree');
    await page.getByRole('button', { name: 'Create' }).click();
    const tree = page.getByLabel(/^Install tree/);
    await page.getByRole('alert').filter({ hasText: /^ParameterMismatch: .*location: / }).waitFor({ timeout: 60_000 });
    expect(await tree.getAttribute('aria-invalid')).to.equal('true');
    expect((await virsh(node, 'dominfo', 'ugv-n1')).code).to.not.equal(0);
    await page.getByRole('radio', { name: 'KVM guest from an ISO' }).check();
  });

  it("the template form shows the template's own settings; a bad one is refused at its field and nothing is deployed", async () => {
    await page.getByRole('radio', { name: 'KVM guest from a template' }).check();
    await page.getByRole('radio', { name: new RegExp(`^${node.name}`) }).check();
    const tpl = page.getByLabel('Template', { exact: true });
    await tpl.locator('option', { hasText: 'lab-template' }).waitFor({ state: 'attached' });
    await tpl.selectOption('lab-template');
    await page.getByLabel('Guest name').fill('ugv-t1');
    await page.getByRole('button', { name: "Show the template's settings" }).click();
    const mem = page.getByLabel('memory', { exact: true });
    await mem.waitFor();
    expect(await mem.inputValue()).to.match(/^\d+$/);
    expect(await axeProblems(page, { iframes: false })).to.deep.equal([]);
    await mem.fill('lots');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('alert').filter({ hasText: /^Nothing was created/ }).waitFor({ timeout: 60_000 });
    expect(await mem.getAttribute('aria-invalid')).to.equal('true');
    expect(await page.locator('#t-set-memory-err').textContent()).to.match(/\S/);
    expect((await virsh(node, 'dominfo', 'ugv-t1')).code).to.not.equal(0);
  });

  it('the ISO form, made from the declaration, shows the gateway\'s refusal at the field it names', async () => {
    await page.getByRole('radio', { name: 'KVM guest from an ISO' }).check();
    await page.getByRole('radio', { name: new RegExp(`^${node.name}`) }).check();
    await page.getByText(/\d+ CPUs; a guest may have up to \d+ MiB/).waitFor();
    const iso = page.getByLabel('ISO image');
    await iso.locator('option', { hasText: ISO }).waitFor({ state: 'attached' });
    await page.getByLabel('Name', { exact: true }).fill('ugv bad/name');
    await iso.selectOption(ISO);
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('alert').filter({ hasText: /^ParameterMismatch: / }).waitFor();
    const name = page.getByLabel('Name', { exact: true });
    expect(await name.getAttribute('aria-invalid')).to.equal('true');
    const said = await page.locator('#c-kvm_vm_name-err').textContent();
    expect(said).to.match(/\S/);
    expect(await name.getAttribute('aria-describedby')).to.include('c-kvm_vm_name-err');
    // Only that field: the others are not marked.
    expect(await page.locator('[aria-invalid="true"]').count()).to.equal(1);
    expect((await virsh(node, 'dominfo', 'ugv bad/name')).code).to.not.equal(0);
  });

  it('creates a guest from the lab ISO through the Create screen; the node has it (virsh dominfo)', async () => {
    await page.getByLabel('Name', { exact: true }).fill(VM);
    await page.getByLabel(/^Disk size/).fill('0.02');
    await page.getByLabel(/^Memory/).fill('64');
    await page.getByLabel(/^Network/).selectOption('(no network interface)');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByText(`Created ${VM} on ${node.name}.`).waitFor({ timeout: 120_000 });
    const info = await virsh(node, 'dominfo', VM);
    expect(info.code, info.stderr).to.equal(0);
    expect(info.stdout).to.match(/Max memory:\s+65536 KiB/);
    expect((await virsh(node, 'domblklist', VM)).stdout).to.include(`${ISOS}/${ISO}`);
  });

  it("opens the guest's view from the link: RUNNING with only a running guest's actions; axe finds nothing serious", async () => {
    await page.getByRole('link', { name: `Open ${VM}` }).click();
    await page.getByRole('heading', { name: new RegExp(`^${VM}`) }).waitFor();
    expect(new URL(page.url()).hash).to.equal(`#/guest/${node.name}/${VM}`);
    await expectText(state(), /^RUNNING$/);
    const actions = page.getByRole('region', { name: 'State' }).getByRole('button');
    expect(await actions.allTextContents()).to.deep.equal(['Shut down', 'Force stop', 'Pause']);
    await page.getByRole('region', { name: 'Disks' }).getByRole('rowheader').first().waitFor();
    expect(await page.getByRole('region', { name: 'Disks' }).getByText(`${ISOS}/${ISO}`).count()).to.equal(1);
    await page.getByRole('heading', { name: 'Task history' }).waitFor();
    await page.getByRole('region', { name: 'Task history' }).getByText('kvm.create_vm_from_iso').waitFor();
    await expectText(page.getByRole('region', { name: 'Runtime' }), /Started.*\d/);
    expect(await axeProblems(page, { iframes: false })).to.deep.equal([]);
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await axeProblems(page, { iframes: false })).to.deep.equal([]);
    await page.emulateMedia({ colorScheme: 'light' });
    // At phone width the page does not scroll sideways and every action button is on screen.
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).to.be.at.most(390);
      for (const b of await actions.all()) {
        const box = (await b.boundingBox())!;
        expect(box.x + box.width, (await b.textContent()) ?? '').to.be.at.most(390);
      }
    } finally {
      await page.setViewportSize({ width: 1200, height: 900 });
    }
  });

  it("embeds the VNC console: the frame's noVNC canvas shows the guest's screen", async () => {
    await page.getByRole('button', { name: 'Open VNC console' }).click();
    const frameEl = page.getByTitle(`VNC console of ${VM}`);
    await frameEl.waitFor();
    try {
      const frame = await frameOf(page, /\/web-vnc\/vnc\.html/);
      await frame.waitForSelector('body[data-state="connected"]', { timeout: 30_000 }).catch(async (err: Error) => {
        throw new Error(`${err.message}; the console page says: ${await frame.locator('#status').textContent().catch(() => '?')}`);
      });
      // SeaBIOS's banner in the top lines: the guest's own picture (see console-page.ts screenInk).
      let last = { ink: 0, colours: 0 };
      const until = Date.now() + 30_000;
      while (Date.now() < until && !(last.ink > 0.01 && last.colours >= 2)) {
        last = inkOf(decodePng(await frame.locator('#screen canvas').screenshot()), 0.2);
        if (!(last.ink > 0.01 && last.colours >= 2)) await page.waitForTimeout(500);
      }
      expect(last.ink, 'share of lit pixels in the top lines').to.be.greaterThan(0.01);
      expect(last.colours).to.be.at.least(2);
    } finally {
      // Closed either way, so the tests after this one see the view as they expect.
      await page.getByRole('button', { name: 'Close VNC console' }).click();
    }
    expect(await frameEl.count()).to.equal(0);
  });

  it('embeds the serial console (terminal page connected to the guest)', async () => {
    await page.getByRole('button', { name: 'Open serial console' }).click();
    const frame = await frameOf(page, /\/web-vnc\/terminal\.html/);
    await frame.waitForSelector('body[data-state="connected"]', { timeout: 20_000 });
    const text = async () =>
      frame.evaluate(() => {
        const t = (window as any).omsTerm;
        const out: string[] = [];
        for (let i = 0; i < t.buffer.active.length; i++) out.push(t.buffer.active.getLine(i).translateToString(true));
        return out.join('\n');
      });
    const end = Date.now() + 20_000;
    let seen = '';
    while (Date.now() < end && !seen.includes(`Connected to domain '${VM}'`)) {
      seen = await text();
      await page.waitForTimeout(200);
    }
    await page.getByRole('button', { name: 'Close serial console' }).click();
    expect(seen).to.include(`Connected to domain '${VM}'`);
  });

  it('a stop by hand on the node (virsh destroy) turns the view STOPPED without a reload, with only Start and Delete', async () => {
    await page.evaluate(() => ((window as unknown as { ugvMark: number }).ugvMark = 1));
    const r = await virsh(node, 'destroy', VM);
    expect(r.code, r.stderr).to.equal(0);
    const t0 = Date.now();
    await expectText(state(), /^STOPPED$/);
    // Measured from virsh's return (its exec over the lab includes some of the event's path), polled every 200 ms.
    console.log(`      view read STOPPED ${Date.now() - t0} ms after virsh destroy returned`);
    const actions = page.getByRole('region', { name: 'State' }).getByRole('button');
    expect(await actions.allTextContents()).to.deep.equal(['Start', 'Delete…']);
    expect(await page.evaluate(() => (window as unknown as { ugvMark?: number }).ugvMark), 'same page').to.equal(1);
    expect(await page.getByRole('button', { name: 'Open VNC console' }).isDisabled()).to.equal(true);
  });

  it('Start starts it on the node and the view reads RUNNING', async () => {
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expectText(state(), /^RUNNING$/);
    expect(await domstate()).to.equal('running');
  });

  it('a settings edit with a bad value shows the gateway\'s error at that field; the node keeps its memory', async () => {
    const mem = page.getByLabel('Memory (MiB)');
    await mem.fill('lots');
    await page.getByRole('button', { name: 'Save settings' }).click();
    const err = page.locator('#g-memory-err');
    await err.waitFor();
    expect(await err.textContent()).to.match(/\S/);
    expect(await mem.getAttribute('aria-invalid')).to.equal('true');
    expect(await mem.getAttribute('aria-describedby')).to.include('g-memory-err');
    expect(await page.getByLabel('vCPUs').getAttribute('aria-invalid')).to.equal(null);
    expect((await virsh(node, 'dominfo', VM)).stdout).to.match(/Max memory:\s+65536 KiB/);
    // And a good one is applied to the definition.
    await mem.fill('80');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText(/^Saved\./).waitFor();
    expect(await mem.getAttribute('aria-invalid')).to.equal(null);
    expect((await virsh(node, 'dumpxml', '--inactive', VM)).stdout).to.match(/<memory unit='KiB'>81920<\/memory>/);
  });

  it('an ACPI shutdown the guest ignores runs as a task: the tasks panel shows it with progress, Cancel ends it, the guest still runs', async () => {
    await page.getByRole('button', { name: 'Shut down' }).click();
    await expectText(state(), /^STOPPING$/);
    const toggle = page.getByRole('button', { name: /^Tasks/ });
    await expectText(toggle, /^Tasks \(1 running\)$/);
    await toggle.click();
    const panel = page.getByRole('complementary', { name: 'Tasks' });
    const item = panel.getByRole('listitem', { name: `kvm.shutdown_vm ${VM} on ${node.name}` });
    await expectText(item.locator('.task-progress'), /^\d+ of \d+, \d+(\.\d)? %$/);
    const bar = item.getByRole('progressbar');
    const first = Number(await bar.getAttribute('value'));
    await expectText(item.locator('.task-progress'), new RegExp(`^\\d+ of \\d+, (?!${first} %)`), 20_000);
    expect(await axeProblems(page, { iframes: false })).to.deep.equal([]);
    await item.getByRole('button', { name: 'Cancel' }).click();
    await expectText(item.locator('.task-state'), /^cancelled$/);
    expect(await item.getByRole('button', { name: 'Cancel' }).count()).to.equal(0);
    await expectText(state(), /^RUNNING$/);
    expect(await domstate()).to.equal('running');
    const t = (await e.ok('tasks', 'list_tasks', [e.sid, 0, node.name])).find((x: any) => x.kind === 'kvm.shutdown_vm' && x.target === VM);
    expect(t.state).to.equal('cancelled');
  });

  it('the finished create task shows its log in the panel', async () => {
    const panel = page.getByRole('complementary', { name: 'Tasks' });
    const item = panel.getByRole('listitem', { name: `kvm.create_vm_from_iso ${VM} on ${node.name}` });
    await expectText(item.locator('.task-state'), /^succeeded$/);
    await item.getByRole('button', { name: 'Show log' }).click();
    const log = item.getByLabel('Task log');
    await expectText(log, /\d{1,2}:\d{2}:\d{2}\s+\S/);
    const lines = (await e.ok('tasks', 'task_log', [e.sid, 0, (await e.ok('tasks', 'list_tasks', [e.sid, 0, node.name])).find((x: any) => x.kind === 'kvm.create_vm_from_iso' && x.target === VM).id])).map((l: any) => l.line);
    expect(lines.length).to.be.greaterThan(0);
    for (const l of lines) expect(await log.textContent()).to.include(l);
  });

  it("a clone started elsewhere appears in the panel live, with its bytes and percent", async () => {
    await page.getByRole('button', { name: 'Force stop' }).click();
    await expectText(state(), /^STOPPED$/);
    const r = await e.ok('kvmservices', 'clone_vm', [e.sid, 0, node.name, VM, 'ugv-g2']);
    expect(r.result.name).to.equal('ugv-g2');
    const item = page.getByRole('complementary', { name: 'Tasks' }).getByRole('listitem', { name: `kvm.clone_vm ${VM} on ${node.name}` });
    await expectText(item.locator('.task-state'), /^succeeded$/, 60_000);
    await expectText(item.locator('.task-progress'), /^[\d.]+ MiB of [\d.]+ MiB, 100 %$/);
    // Escape closes the panel and gives the focus back to its button.
    await item.getByRole('button', { name: 'Show log' }).focus();
    await page.keyboard.press('Escape');
    expect(await page.getByRole('complementary', { name: 'Tasks' }).count()).to.equal(0);
    expect(await page.evaluate(() => document.activeElement?.textContent)).to.match(/^Tasks/);
  });

  it('attaches and detaches a disk image and a NIC on the stopped guest; the definition on the node follows', async () => {
    await e.ok('kvmservices', 'create_file_based_image', [e.sid, 0, node.name, 'ugv-d1.qcow2', 16]);
    const disks = page.getByRole('region', { name: 'Disks' });
    await disks.getByLabel('Disk image (images directory)').fill('ugv-d1.qcow2');
    await disks.getByLabel('As device').fill('vdb');
    await disks.getByRole('button', { name: 'Attach disk' }).click();
    await disks.getByRole('rowheader', { name: 'vdb' }).waitFor();
    expect((await virsh(node, 'domblklist', '--inactive', VM)).stdout).to.match(/vdb\s+\S*ugv-d1/);
    await disks.getByRole('button', { name: 'Detach vdb' }).click();
    await disks.getByRole('rowheader', { name: 'vdb' }).waitFor({ state: 'detached' });
    expect((await virsh(node, 'domblklist', '--inactive', VM)).stdout).to.not.include('ugv-d1');

    const nics = page.getByRole('region', { name: 'Network interfaces' });
    await nics.getByLabel('Type').selectOption('network');
    await nics.getByLabel('Network or bridge name').fill('default');
    await nics.getByRole('button', { name: 'Attach NIC' }).click();
    const detach = nics.getByRole('button', { name: /^Detach NIC 52:54:00:/ });
    await detach.waitFor();
    const mac = (await detach.getAttribute('aria-label'))!.replace('Detach NIC ', '');
    expect((await virsh(node, 'domiflist', '--inactive', VM)).stdout).to.include(mac);
    await detach.click();
    await detach.waitFor({ state: 'detached' });
    expect((await virsh(node, 'domiflist', '--inactive', VM)).stdout).to.not.include(mac);
  });

  it('Delete asks first; confirmed, the guest is gone from the node and the view says so', async () => {
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.getByText(`Delete guest ${VM} on ${node.name}?`).waitFor();
    await page.getByRole('button', { name: 'Keep it' }).click();
    expect((await virsh(node, 'dominfo', VM)).code).to.equal(0);
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.getByRole('button', { name: 'Delete guest' }).click();
    await expectText(state(), /^NOT DEFINED$/);
    expect((await virsh(node, 'dominfo', VM)).code).to.not.equal(0);
  });

  it('no Content-Security-Policy violation was reported by any of it', () => {
    expect(csp).to.deep.equal([]);
  });
});
