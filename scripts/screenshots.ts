/**
 * Screenshots of the web console for the README, from the running lab: starts a gateway of this
 * checkout (its own temporary data directory, TLS off, on loopback), enrolls the lab's full nodes,
 * logs in with Debian's Chromium and saves the login screen and every screen the console's main
 * navigation lists (so a screen registered in ui/src/shell/screens.ts is photographed without
 * touching this script), light and dark, 1280x800 PNGs, into docs/screenshots/.
 *
 *   npm run screenshots            (the lab must be up: npm run -s lab -- status)
 *
 * It never brings the lab up or down. So that the lists show something, it defines a few tiny
 * demo guests (`shots-*`, no disk; two of them started) on the full nodes, and removes them after.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Page } from 'playwright-core';
import { connect } from '../clients/typescript/src/index.ts';
import { launchChromium } from '../test/browser/console-page.ts';
import { repoRoot, startGatewayProcess } from '../test/helpers/process.ts';
import { labStatus, nodeExec, type LabNode } from '../test/lab/index.ts';
import { buildUi } from '../ui/build.ts';

const OUT = join(repoRoot, 'docs/screenshots');
const SIZE = { width: 1280, height: 800 };
const SCHEMES = ['light', 'dark'] as const;

const lab = await labStatus();
if (!lab?.privateKey) {
  process.stderr.write('screenshots: the lab is not up (npm run -s lab -- status); nothing taken\n');
  process.exit(1);
}

await buildUi();
const password = randomBytes(18).toString('base64url');
const dataDir = mkdtempSync(join(tmpdir(), 'oms-shots-'));
const gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: password, OMS_TLS: 'off', OMS_SSH_KEY: lab.privateKey, OMS_LOG_LEVEL: 'warn', OMS_NODE_TIMEOUT: '10' }, { dataDir });
const profile = mkdtempSync(join(tmpdir(), 'oms-shots-chromium-'));
const ctx = await launchChromium(profile);

/** Waits until the screen has settled: its heading shown, nothing "Loading…", a moment for late figures. */
async function settle(page: Page): Promise<void> {
  await page.getByRole('heading', { level: 1 }).first().waitFor({ timeout: 20_000 });
  const until = Date.now() + 15_000;
  while (Date.now() < until && /Loading|…$/m.test(await page.locator('main').innerText())) await page.waitForTimeout(250);
  await page.waitForTimeout(1500);
}

async function shoot(page: Page, name: string): Promise<void> {
  for (const scheme of SCHEMES) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(150);
    const file = join(OUT, `${name}-${scheme}.png`);
    await page.screenshot({ path: file, type: 'png' });
    process.stdout.write(`  ${relative(repoRoot, file)} (${Math.round(statSync(file).size / 1024)} KiB)\n`);
  }
}

/** The demo guests: name, node index, started. */
const DEMO: [string, number, boolean][] = [
  ['shots-web1', 0, true],
  ['shots-web2', 1, true],
  ['shots-db1', 2, false],
  ['shots-build', 0, false],
];
const virsh = (n: LabNode, ...args: string[]) => nodeExec(n, ['virsh', '-c', 'qemu:///system', ...args]);
/** `virsh define` of the XML on stdin, through a file (the node's stdin is a socket). */
const DEFINE = ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'];
const demoXml = (name: string) => `<domain type='kvm'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><devices><graphics type='vnc' autoport='yes' listen='127.0.0.1'/></devices></domain>`;
async function removeDemo(nodes: LabNode[]): Promise<void> {
  for (const [name, i] of DEMO) {
    const n = nodes[i % nodes.length];
    await virsh(n, 'destroy', name);
    await virsh(n, 'undefine', name);
  }
}

const full = lab.nodes.filter((n) => n.libvirt).slice(0, 3);
try {
  await removeDemo(full);
  for (const [name, i, start] of DEMO) {
    const n = full[i % full.length];
    await nodeExec(n, DEFINE, { input: demoXml(name) });
    if (start) await virsh(n, 'start', name);
  }
  // Enrolment through the typed client, as an administrator's script would do it.
  const oms = connect({ url: gw.url });
  await oms.login('admin', password);
  const nodes = lab.nodes.filter((n) => n.libvirt).slice(0, 3);
  for (const n of nodes) await oms.funcservices.add_request(n.name, n.address, n.port);
  await oms.funcservices.sign_requests(nodes.map((n) => n.name));
  await oms.logout();

  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) if (f.endsWith('.png')) unlinkSync(join(OUT, f));
  const page = await ctx.newPage();
  await page.setViewportSize(SIZE);
  process.stdout.write(`screenshots of ${gw.url} into ${relative(repoRoot, OUT)}/:\n`);

  await page.goto(`${gw.url}/`);
  await page.getByRole('heading', { name: 'Log in to OMS' }).waitFor();
  await page.getByLabel('User').fill('admin');
  await shoot(page, 'login');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  await page.getByRole('status').filter({ hasText: /^Live$/ }).waitFor({ timeout: 20_000 });

  // The screens as the navigation lists them at run time.
  const links = await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link')
    .evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href') ?? '', label: a.textContent?.trim() ?? '' })));
  for (const l of links) {
    const id = /^#\/([^/?]+)/.exec(l.href)?.[1];
    if (!id) continue;
    await page.goto(`${gw.url}/${l.href}`);
    await settle(page);
    await shoot(page, id);
  }

  // The command palette over the fleet, as an operator opens it.
  await page.goto(`${gw.url}/#/fleet`);
  await settle(page);
  await page.locator('main').focus();
  await page.keyboard.press('/');
  await page.getByRole('dialog', { name: 'Command palette' }).waitFor();
  await page.keyboard.type('node');
  await page.waitForTimeout(800);
  await shoot(page, 'palette');
} finally {
  await removeDemo(full).catch(() => undefined);
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
  await gw.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
