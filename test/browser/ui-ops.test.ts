/**
 * The web console's operations screens as an operator uses them, in headless Chromium against the
 * real gateway process and lab nodes: enrolling a node on the fleet screen (the offered fingerprint
 * compared with the one the node prints itself), editing its settings, removing it; uploading an
 * ISO with a progress bar (and cancelling one) and finding it on the node; a network change the
 * gateway refuses because it would cut its SSH path, and a bridge deletion behind a confirmation;
 * the node view's charts drawn from the stats history and refreshed live, and its SSH terminal
 * printing the node's hostname. axe-core on each screen.
 *
 * Names made here carry the prefix `uop-`. Enrol/remove and the network changes use light lab
 * nodes (omsnode16, omsnode15 when the lab has them) that no other test signs (in CI's lab of
 * three, where this file runs alone, omsnode3 and omsnode2), and the removed node's
 * authorized_keys file (where remove_signed takes the shared lab key out) is put back at once.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, CDPSession, Frame, Page } from 'playwright-core';
import { buildUi } from '../../ui/build.ts';
import { ADMIN_PASSWORD, enroll, startEnv, type Env } from '../integration/fixture.ts';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { launchChromium } from './console-page.ts';
import { axeProblems as axeOnce } from './ui-checks.ts';

const ISO = 'uop-small.iso';
const ISO_CANCEL = 'uop-cancel.iso';
const ISO_FETCHED = 'uop-fetched.iso';
const BRIDGE = 'uop-br0';
const DISK = 'uop-disk1.qcow2';
const LV = 'uop-lv1';
const NET = 'uop-net1';

/** Serious and critical axe-core findings, in the light and the dark colour scheme. */
async function axeProblems(page: Page): Promise<string[]> {
  const found: string[] = [];
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    found.push(...(await axeOnce(page)).map((f) => `${colorScheme}: ${f}`));
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return found;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not happen within ${ms} ms${last ? ` (${String(last)})` : ''}`);
}

describe('web console in a browser: fleet enrolment, storage, network, node view', function () {
  this.timeout(180_000);
  let e: Env;
  let ctx: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let profile: string;
  let dataDir: string;
  let full: LabNode;
  let enrolNode: LabNode;
  let netNode: LabNode;
  let savedKeys: string | undefined;
  let http: Server | undefined;
  let base = '';
  const fetched = randomBytes(256 * 1024);
  const csp: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'uop-files-'));
  const row = (name: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${name}\\b`) }) });
  const isoDir = '/var/lib/oms-node/isos';

  before(async () => {
    await buildUi();
    dataDir = mkdtempSync(join(tmpdir(), 'uop-data-'));
    e = await startEnv({ OMS_HEALTH_INTERVAL: '1', OMS_NODE_TIMEOUT: '10' }, { dataDir });
    full = e.lab.nodes[0];
    // Light nodes when the lab has them (nobody else signs those); CI's lab of three has none,
    // and nothing else runs there while this file does: its second and third nodes then.
    const light = e.lab.nodes.filter((n) => !n.libvirt);
    enrolNode = light.find((n) => n.name === 'omsnode16') ?? light[0] ?? e.lab.nodes[2];
    netNode = light.find((n) => n.name === 'omsnode15') ?? light.find((n) => n !== enrolNode) ?? e.lab.nodes[1];
    savedKeys = readFileSync(enrolNode.authorizedKeysFile!, 'utf8');
    await enroll(e, [full, netNode]);
    // What the node fetches from a URL: served on the lab's own network.
    http = createServer((req, res) => {
      if (req.url === `/${ISO_FETCHED}`) res.writeHead(200, { 'Content-Length': String(fetched.length) }).end(fetched);
      else res.writeHead(404).end('not here');
    });
    await new Promise<void>((r) => http!.listen(0, e.lab.hostAddress ?? '10.213.7.1', r));
    base = `http://${e.lab.hostAddress ?? '10.213.7.1'}:${(http.address() as { port: number }).port}`;
    profile = mkdtempSync(join(tmpdir(), 'uop-chromium-'));
    ctx = await launchChromium(profile);
    await ctx.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (ev) => console.error(`Content-Security-Policy violation: ${ev.violatedDirective} ${ev.blockedURI}`));
    });
    page = await ctx.newPage();
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) csp.push(m.text());
    });
    cdp = await ctx.newCDPSession(page);
  });

  after(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    if (enrolNode && savedKeys !== undefined) writeFileSync(enrolNode.authorizedKeysFile!, savedKeys);
    http?.close();
    if (full) await nodeExec(full, ['sh', '-c', 'virsh -c qemu:///system net-destroy "$1"; virsh -c qemu:///system net-undefine "$1"', 'sh', NET]).catch(() => undefined);
    if (full) await nodeExec(full, ['rm', '-f', join('/var/lib/oms-node/images', DISK)]).catch(() => undefined);
    if (full?.lvm) await nodeExec(full, ['lvremove', '--driverloaded', 'n', '-f', `${full.lvm.vg}/${LV}`]).catch(() => undefined);
    if (full) await nodeExec(full, ['rm', '-f', join(isoDir, ISO), join(isoDir, ISO_CANCEL), join(isoDir, ISO_FETCHED)]).catch(() => undefined);
    if (netNode) await nodeExec(netNode, ['ip', 'link', 'del', BRIDGE]).catch(() => undefined);
    if (netNode) await nodeExec(netNode, ['ip', 'route', 'del', '198.51.100.0/24']).catch(() => undefined);
    await e?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !page) return;
    const seen = await page.locator('body').innerText({ timeout: 2000 }).catch((err: Error) => `(unreadable: ${err.message})`);
    console.log(`  screen at failure (${page.url()}):\n    ${seen.replace(/\s*\n\s*/g, ' | ').slice(0, 2000)}`);
  });

  it('logs in; the fleet screen with its enrol panel passes axe-core', async () => {
    await page.goto(`${e.gw.url}/`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    await row(full.name).getByText('connected', { exact: true }).waitFor({ timeout: 30_000 });
    await page.getByRole('heading', { name: 'Enrol a node' }).waitFor();
    expect(await axeProblems(page)).to.deep.equal([]);
  });

  it('an operator without node.admin is told enrolling needs it, with no error', async () => {
    await e.ok('userservices', 'add_user', [e.sid, 0, 'uop-operator', 'uop-operator-pw-1', [{ path: `/nodes/${full.name}`, role: 'Operator' }]]);
    const other = await ctx.newPage();
    try {
      await other.goto(`${e.gw.url}/`);
      await other.getByLabel('User').fill('uop-operator');
      await other.getByLabel('Password').fill('uop-operator-pw-1');
      await other.getByRole('button', { name: 'Log in' }).click();
      await other.getByRole('heading', { name: 'Fleet' }).waitFor();
      await other.getByText('Enrolling and removing nodes needs the node.admin privilege on /nodes.').waitFor({ timeout: 20_000 });
      expect(await other.getByRole('form', { name: 'Request a node' }).count()).to.equal(0);
      expect(await other.getByRole('alert').filter({ hasText: /\S/ }).count()).to.equal(0);
    } finally {
      await other.close();
    }
  });

  it('enrols a node: the offered fingerprint is the one the node prints with the command shown, and signed it is connected', async () => {
    expect(await row(enrolNode.name).count()).to.equal(0);
    const form = page.getByRole('form', { name: 'Request a node' });
    await form.getByLabel('Node name').fill(enrolNode.name);
    await form.getByLabel('Address').fill(enrolNode.address);
    await form.getByLabel('SSH port').fill(String(enrolNode.port));
    await form.getByRole('button', { name: 'Request' }).click();
    const req = page.getByRole('listitem', { name: `Request for ${enrolNode.name}` });
    await req.waitFor({ timeout: 20_000 });
    const offered = ((await req.locator('code').first().textContent()) ?? '').trim();
    const command = ((await req.locator('pre.cmd').textContent()) ?? '').trim();
    expect(command).to.match(/^ssh-keygen -lf \/etc\/ssh\/ssh_host_\w+_key\.pub$/);
    // The operator runs the command shown on the node and compares. (A lab node's sshd keeps its
    // host keys under its state directory instead of /etc/ssh: the same file name there.)
    const own = await nodeExec(enrolNode, command.replace('/etc/ssh/', `${enrolNode.stateDir}/ssh/`).split(' '));
    expect(own.code, own.stderr).to.equal(0);
    expect(own.stdout.split(/\s+/)[1]).to.equal(offered);
    expect(offered).to.equal(enrolNode.hostKeyFingerprint);
    await req.getByRole('button', { name: `Fingerprints match: sign ${enrolNode.name}` }).click();
    await row(enrolNode.name).getByText('connected', { exact: true }).waitFor({ timeout: 30_000 });
    await page.getByText(`${enrolNode.name} is signed`).waitFor();
    expect(await req.count(), 'the request is gone once signed').to.equal(0);
    const signed = (await e.ok('funcservices', 'list_signed', [e.sid, 0])) as { name: string; fingerprint: string }[];
    expect(signed.find((n) => n.name === enrolNode.name)?.fingerprint).to.equal(offered);
  });

  it("edits the node's settings: the gateway's answer is shown", async () => {
    await row(enrolNode.name).getByRole('button', { name: `Settings of ${enrolNode.name}` }).click();
    const dlg = page.getByRole('dialog', { name: `Settings of ${enrolNode.name}` });
    await dlg.getByLabel('Memory limit (%)').fill('95');
    await dlg.getByRole('button', { name: 'Save settings' }).click();
    await dlg.getByText('healthLimits: {"memory":95}').waitFor({ timeout: 10_000 });
    await dlg.getByLabel('Disk images directory').fill('not/absolute');
    await dlg.getByRole('button', { name: 'Save settings' }).click();
    await dlg.getByRole('alert').filter({ hasText: /^ParameterMismatch: / }).waitFor({ timeout: 10_000 });
    await dlg.getByRole('button', { name: 'Close' }).click();
    expect(await dlg.count()).to.equal(0);
  });

  it('removes the node only after confirmation', async () => {
    const r = row(enrolNode.name);
    await r.getByRole('button', { name: `Remove ${enrolNode.name}` }).click();
    let dlg = page.getByRole('dialog', { name: `Remove ${enrolNode.name}?` });
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForTimeout(500);
    expect(await r.count(), 'cancelled: still there').to.equal(1);
    await r.getByRole('button', { name: `Remove ${enrolNode.name}` }).click();
    dlg = page.getByRole('dialog', { name: `Remove ${enrolNode.name}?` });
    await dlg.getByRole('button', { name: `Remove ${enrolNode.name}` }).click();
    await until('the row goes', async () => (await r.count()) === 0);
    const signed = (await e.ok('funcservices', 'list_signed', [e.sid, 0])) as { name: string }[];
    expect(signed.map((n) => n.name)).to.not.include(enrolNode.name);
    // remove_signed took the gateway key out of the node's authorized keys; the lab's key goes back at once (other gateways use it).
    const now = readFileSync(enrolNode.authorizedKeysFile!, 'utf8');
    writeFileSync(enrolNode.authorizedKeysFile!, savedKeys!);
    expect(now).to.not.equal(savedKeys);
  });

  it('uploads an ISO with a progress bar; it is on the node with the same bytes', async () => {
    await page.goto(`${e.gw.url}/#/storage/${full.name}`);
    await page.getByRole('heading', { name: `Storage of ${full.name}` }).waitFor();
    await page.getByRole('table', { name: `ISO images on ${full.name}` }).waitFor({ timeout: 20_000 });
    expect(await axeProblems(page)).to.deep.equal([]);
    const file = join(work, ISO);
    const body = randomBytes(3 * 1024 * 1024);
    writeFileSync(file, body);
    // Slow the browser's uploads down so the bar can be watched moving (1 MiB/s).
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024 });
    const form = page.getByRole('form', { name: 'Upload an ISO image' });
    await form.getByLabel('ISO file').setInputFiles(file);
    expect(await form.getByLabel('Name on the node').inputValue()).to.equal(ISO);
    await form.getByRole('button', { name: 'Upload', exact: true }).click();
    const bar = page.getByRole('progressbar', { name: `Upload of ${ISO}` });
    await bar.waitFor();
    const seen = new Set<number>();
    await until('the upload ends', async () => {
      const v = Number(await bar.getAttribute('value'));
      seen.add(v);
      return (await form.getByRole('status').textContent())?.startsWith('Uploaded') || undefined;
    }, 60_000);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const between = [...seen].filter((v) => v > 0 && v < body.length);
    expect(between.length, `values seen: ${[...seen].join(', ')}`).to.be.greaterThan(0);
    expect(Number(await bar.getAttribute('value'))).to.equal(body.length);
    expect(await form.getByRole('status').textContent()).to.equal(`Uploaded ${ISO} (3.0 MiB) to ${full.name}.`);
    // In the list from the event, and on the node itself.
    await page.getByRole('table', { name: `ISO images on ${full.name}` }).getByRole('rowheader', { name: ISO }).waitFor({ timeout: 20_000 });
    const sum = await nodeExec(full, ['sha256sum', join(isoDir, ISO)]);
    expect(sum.stdout.split(' ')[0]).to.equal(createHash('sha256').update(body).digest('hex'));
  });

  it('an upload the gateway refuses says why and what to do', async () => {
    const form = page.getByRole('form', { name: 'Upload an ISO image' });
    await form.getByLabel('ISO file').setInputFiles(join(work, ISO));
    await form.getByLabel('Name on the node').fill(ISO);
    await form.getByRole('button', { name: 'Upload', exact: true }).click();
    const alert = form.getByRole('alert');
    await alert.filter({ hasText: /failed/ }).waitFor({ timeout: 20_000 });
    expect(await alert.textContent()).to.match(new RegExp(`^Upload of ${ISO} failed after .*: IsoImageExistsError: ISO image ${ISO} already exists on node ${full.name}\\. Nothing was sent to ${full.name}: choose another name, or delete the image there first`));
  });

  it('a cancelled upload says so and how to go on; nothing is left on the node', async () => {
    const file = join(work, ISO_CANCEL);
    writeFileSync(file, randomBytes(8 * 1024 * 1024));
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 512 * 1024 });
    const form = page.getByRole('form', { name: 'Upload an ISO image' });
    await form.getByLabel('ISO file').setInputFiles(file);
    await form.getByLabel('Name on the node').fill(ISO_CANCEL);
    await form.getByRole('button', { name: 'Upload', exact: true }).click();
    const bar = page.getByRole('progressbar', { name: `Upload of ${ISO_CANCEL}` });
    await until('some bytes are sent', async () => Number(await bar.getAttribute('value')) > 0);
    await form.getByRole('button', { name: 'Cancel upload' }).click();
    const alert = form.getByRole('alert');
    await alert.filter({ hasText: /cancelled/ }).waitFor({ timeout: 10_000 });
    expect(await alert.textContent()).to.match(new RegExp(`^Upload of ${ISO_CANCEL} cancelled after [\\d.]+ [KM]iB of 8\\.0 MiB\\. Nothing of it was kept on ${full.name}; .*To resume, choose the file again and press Upload`));
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await until('no trace on the node', async () => {
      const ls = await nodeExec(full, ['ls', '-a', isoDir]);
      return !ls.stdout.includes(ISO_CANCEL) && !/\.oms-upload-.*\.part/.test(ls.stdout);
    }, 20_000);
  });

  it('has the node fetch an ISO from a URL; a failed fetch is shown in words', async () => {
    const form = page.getByRole('form', { name: 'Fetch an ISO image from a URL' });
    await form.getByLabel('URL').fill(`${base}/missing.iso`);
    await form.getByLabel('Name on the node').fill('uop-missing.iso');
    await form.getByRole('button', { name: 'Fetch' }).click();
    await form.getByRole('alert').filter({ hasText: /^IsoFetchError: .*404/ }).waitFor({ timeout: 30_000 });
    await form.getByLabel('URL').fill(`${base}/${ISO_FETCHED}`);
    await form.getByLabel('Name on the node').fill('');
    await form.getByRole('button', { name: 'Fetch' }).click();
    await form.getByRole('status').filter({ hasText: `${full.name} fetched ${ISO_FETCHED} (256 KiB).` }).waitFor({ timeout: 30_000 });
    await page.getByRole('table', { name: `ISO images on ${full.name}` }).getByRole('rowheader', { name: ISO_FETCHED }).waitFor({ timeout: 20_000 });
    const sum = await nodeExec(full, ['sha256sum', join(isoDir, ISO_FETCHED)]);
    expect(sum.stdout.split(' ')[0]).to.equal(createHash('sha256').update(fetched).digest('hex'));
    expect((await nodeExec(full, ['ls', isoDir])).stdout).to.not.include('uop-missing.iso');
  });

  it('creates and deletes a disk image and a logical volume, each deletion after confirmation, seen on the node', async () => {
    const imagesDir = '/var/lib/oms-node/images';
    const vg = full.lvm?.vg;
    const images = page.getByRole('list', { name: `Disk images on ${full.name}` });
    const img = page.getByRole('form', { name: 'Create a disk image' });
    await img.getByLabel('Image name').fill(DISK);
    await img.getByLabel('Size (MB)').fill('8');
    await img.getByRole('button', { name: 'Create image' }).click();
    await images.getByText(DISK, { exact: true }).waitFor({ timeout: 20_000 });
    expect((await nodeExec(full, ['ls', imagesDir])).stdout.split('\n')).to.include(DISK);
    await images.getByRole('button', { name: `Delete ${DISK}` }).click();
    await page.getByRole('dialog', { name: `Delete ${DISK}?` }).getByRole('button', { name: `Delete ${DISK}` }).click();
    await until('the image leaves the list', async () => (await page.getByText(DISK, { exact: true }).count()) === 0, 20_000);
    expect((await nodeExec(full, ['ls', imagesDir])).stdout.split('\n')).to.not.include(DISK);
    if (!vg) return;
    const lvs = async () => (await nodeExec(full, ['lvs', '--driverloaded', 'n', '--noheadings', '-o', 'lv_name', vg])).stdout.split(/\s+/).filter(Boolean);
    const lv = page.getByRole('form', { name: 'Create a logical volume' });
    await lv.getByLabel('Volume group').selectOption(vg);
    await lv.getByLabel('Volume name').fill(LV);
    await lv.getByLabel('Size (MB)').fill('8');
    await lv.getByRole('button', { name: 'Create volume' }).click();
    const table = page.getByRole('table', { name: `Logical volumes on ${full.name}` });
    await table.getByRole('rowheader', { name: LV }).waitFor({ timeout: 20_000 });
    expect(await lvs()).to.include(LV);
    await table.getByRole('button', { name: `Remove ${vg}/${LV}` }).click();
    await page.getByRole('dialog', { name: `Remove ${vg}/${LV}?` }).getByRole('button', { name: `Remove ${vg}/${LV}` }).click();
    await until('the volume leaves the list', async () => (await page.getByRole('rowheader', { name: LV }).count()) === 0, 20_000);
    expect(await lvs()).to.not.include(LV);
  });

  it("shows the gateway's SSH-path refusal plainly and changes nothing; a bridge is deleted only after confirmation", async () => {
    const made = await nodeExec(netNode, ['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    expect(made.code, made.stderr).to.equal(0);
    await page.goto(`${e.gw.url}/#/network/${netNode.name}`);
    await page.getByRole('heading', { name: `Network of ${netNode.name}` }).waitFor();
    const bridges = page.getByRole('table', { name: `Bridges of ${netNode.name}` });
    await bridges.getByRole('rowheader', { name: BRIDGE }).waitFor({ timeout: 20_000 });
    expect(await axeProblems(page)).to.deep.equal([]);
    // eth0 carries the gateway's SSH connection: putting it into a bridge is refused.
    const add = page.getByRole('form', { name: 'Add a bridge member' });
    await add.getByLabel('Bridge').selectOption(BRIDGE);
    await add.getByLabel('Interface to add').selectOption('eth0');
    await add.getByRole('button', { name: 'Add member' }).click();
    const refusal = page.locator('.refusal');
    await refusal.waitFor({ timeout: 20_000 });
    expect(await refusal.getAttribute('role')).to.equal('alert');
    expect(await refusal.innerText()).to.match(new RegExp(`Not done: OMS refused to add eth0 to bridge ${BRIDGE}, because it would cut the gateway's own SSH connection to ${netNode.name}`));
    expect(await refusal.innerText()).to.match(/SshPathError: Refused: interface eth0 carries the gateway's SSH connection/);
    const link = JSON.parse((await nodeExec(netNode, ['ip', '-j', 'link', 'show', 'eth0'])).stdout)[0];
    expect(link.master, 'eth0 is in no bridge').to.equal(undefined);
    await refusal.getByRole('button', { name: 'Leave it' }).click();
    // Deleting the bridge asks first; cancelled, the bridge stays.
    const del = bridges.getByRole('button', { name: `Delete bridge ${BRIDGE}` });
    await del.click();
    await page.getByRole('dialog', { name: `Delete bridge ${BRIDGE}?` }).getByRole('button', { name: 'Cancel' }).click();
    expect((await nodeExec(netNode, ['ip', 'link', 'show', BRIDGE])).code, 'still there').to.equal(0);
    await del.click();
    await page.getByRole('dialog', { name: `Delete bridge ${BRIDGE}?` }).getByRole('button', { name: `Delete ${BRIDGE}` }).click();
    await page.getByRole('status').filter({ hasText: `Done: delete bridge ${BRIDGE}.` }).waitFor({ timeout: 20_000 });
    expect((await nodeExec(netNode, ['ip', 'link', 'show', BRIDGE])).code, 'gone from the node').to.not.equal(0);
    await until('the bridge leaves the list', async () => (await bridges.getByRole('rowheader', { name: BRIDGE }).count()) === 0 || (await bridges.count()) === 0, 20_000);
  });

  it('adds a static route from the form and deletes it after confirmation, on the node itself', async () => {
    const onNode = async () => (await nodeExec(netNode, ['ip', 'route', 'show', '198.51.100.0/24'])).stdout.trim();
    expect(await onNode()).to.equal('');
    const form = page.getByRole('form', { name: 'Add a static route' });
    await form.getByLabel('Destination network').fill('198.51.100.0');
    await form.getByLabel('Netmask').fill('255.255.255.0');
    await form.getByLabel('Gateway').fill(e.lab.hostAddress ?? '10.213.7.1');
    await form.getByLabel('Interface').selectOption('eth0');
    await form.getByRole('button', { name: 'Add route' }).click();
    const routes = page.getByRole('table', { name: `IPv4 routes of ${netNode.name}` });
    await routes.getByRole('rowheader', { name: '198.51.100.0/24' }).waitFor({ timeout: 20_000 });
    expect(await onNode()).to.match(/^198\.51\.100\.0\/24 via \S+ dev eth0/);
    await routes.getByRole('button', { name: 'Delete route 198.51.100.0/24 on eth0' }).click();
    await page.getByRole('dialog', { name: 'Delete this route?' }).getByRole('button', { name: 'Delete route' }).click();
    await until('the route leaves the list', async () => (await routes.getByRole('rowheader', { name: '198.51.100.0/24' }).count()) === 0, 20_000);
    expect(await onNode()).to.equal('');
  });

  it('adds a bridged libvirt network and deletes it after confirmation, seen with virsh on the node', async () => {
    const virshNets = async () => (await nodeExec(full, ['virsh', '-c', 'qemu:///system', 'net-list', '--all', '--name'])).stdout.split('\n').map((l) => l.trim());
    const bridge = (await e.ok('netinterfaceservices', 'list_bridges', [e.sid, 0, full.name])).result[0]?.bridge as string | undefined;
    if (!bridge) return; // a node without a bridge: nothing to join
    await page.goto(`${e.gw.url}/#/network/${full.name}`);
    await page.getByRole('heading', { name: `Network of ${full.name}` }).waitFor();
    const form = page.getByRole('form', { name: 'Add a libvirt network' });
    await form.getByLabel('Network name').fill(NET);
    await form.getByLabel('Mode').selectOption('bridge');
    await form.getByLabel('Bridge', { exact: true }).fill(bridge);
    await form.getByRole('button', { name: 'Add network' }).click();
    const nets = page.getByRole('table', { name: `libvirt networks of ${full.name}` });
    await nets.getByRole('rowheader', { name: NET }).waitFor({ timeout: 20_000 });
    expect(await virshNets()).to.include(NET);
    await nets.getByRole('button', { name: `Delete network ${NET}` }).click();
    await page.getByRole('dialog', { name: `Delete the libvirt network ${NET}?` }).getByRole('button', { name: `Delete ${NET}` }).click();
    await until('the network leaves the list', async () => (await nets.getByRole('rowheader', { name: NET }).count()) === 0, 20_000);
    expect(await virshNets()).to.not.include(NET);
  });

  it('the node view draws charts from the stats history and refreshes them live', async () => {
    await page.goto(`${e.gw.url}/#/fleet`);
    await row(full.name).getByRole('link', { name: full.name }).click();
    await page.getByRole('heading', { name: `Node ${full.name}` }).waitFor();
    const cpu = page.getByRole('img', { name: /^CPU busy chart\./ });
    const points = async () => Number(/CPU: (\d+) points/.exec((await cpu.getAttribute('aria-label')) ?? '')?.[1] ?? 0);
    const first = await until('two CPU points', async () => ((await points()) >= 2 ? points() : undefined), 40_000);
    // What the chart says matches the history the gateway holds (steps start at `from`, a few
    // seconds apart here, so the count may differ by the one step at the edge).
    const now = Math.floor(Date.now() / 1000);
    const h = (await e.ok('statsservices', 'get_history', [e.sid, 0, full.name, 'cpu', now - 900, now + 5, 5])) as { result: { points: unknown[] } };
    expect(Math.abs(h.result.points.length - first), `history ${h.result.points.length}, chart ${first}`).to.be.at.most(1);
    // Drawn: the canvas has ink, and uPlot was given the points.
    expect(Number(await cpu.getAttribute('data-drawn'))).to.be.at.least(2);
    const ink = await cpu.locator('canvas').evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    expect(ink).to.be.greaterThan(100);
    for (const t of ['Memory used', 'Network', 'Disk used (root filesystem)']) await page.getByRole('img', { name: new RegExp(`^${t.replace(/[()]/g, '\\$&')} chart\\.`) }).waitFor();
    // Live: more points without a reload.
    await until('a new point', async () => (await points()) > first, 30_000);
    expect(await axeProblems(page)).to.deep.equal([]);
  });

  it("the node view's SSH terminal prints the node's hostname", async () => {
    await page.getByRole('button', { name: `Open a shell on ${full.name}` }).click();
    const frameEl = page.locator(`iframe[title="SSH terminal on ${full.name}"]`);
    await frameEl.waitFor({ timeout: 20_000 });
    const frame = (await (await frameEl.elementHandle())!.contentFrame()) as Frame;
    await until('the terminal connects', async () => (await frame.evaluate(() => document.body.dataset.state)) === 'connected', 30_000);
    await frame.locator('.xterm-helper-textarea').focus().catch(() => undefined);
    await page.keyboard.type('echo uop-$(hostname)-done\n');
    const text = await until('the hostname', async () => {
      const t = await frame.evaluate(() => {
        const term = (window as any).omsTerm;
        const lines: string[] = [];
        for (let i = 0; i < term.buffer.active.length; i++) lines.push(term.buffer.active.getLine(i).translateToString(true));
        return lines.join('\n');
      });
      return t.includes(`uop-${full.hostname}-done`) ? t : undefined;
    }, 20_000);
    expect(text).to.include(`uop-${full.hostname}-done`);
    const sid = await page.evaluate(() => sessionStorage.getItem('oms.session'));
    const open = async () => (await e.call('sshservices', 'list_session_ssh_connections', [sid, 0])).result.result as { host: string }[];
    expect((await open()).map((c) => c.host)).to.deep.equal([full.name]);
    await page.getByRole('button', { name: 'Close terminal' }).click();
    expect(await frameEl.count()).to.equal(0);
    await until("the session's SSH connection is removed", async () => (await open()).length === 0, 10_000);
  });

  it('no Content-Security-Policy violation was reported on these screens (uPlot, the embedded terminal)', () => {
    expect(csp).to.deep.equal([]);
  });
});
