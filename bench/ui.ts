/**
 * The web console (issue 15):
 *  - first load: the gzip size of what a browser fetches before the console shows (page, entry
 *    script, stylesheet and the chunks the entry imports statically), built afresh as
 *    `npm run ui:build` builds it. Screens loaded lazily later do not count.
 *  - the guest list with 1,000 guests: tiny KVM guests (`ugl-bench-NNNN`, defined with virsh,
 *    never started) spread over the lab's KVM nodes; the time from a (re)load of `#/guests` in
 *    Debian's Chromium to the list shown complete (every node read, all guests counted, rows on
 *    screen), median of a few loads; with how many rows are in the page (the list is virtualised)
 *    and how long filtering the 1,000 takes.
 *  - live: from `virsh start` returning on the node (the node prints its clock, which is this
 *    machine's: the lab's nodes are namespaces of it) to the row's state changing in the page
 *    (a MutationObserver stamps it), p50 over ~10 starts. A change that beats virsh's return
 *    counts as 0 ms and is counted apart. The guests are removed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildUi } from '../ui/build.ts';
import { nodeExec, type Lab, type LabNode } from '../test/lab/index.ts';
import { launchChromium } from '../test/browser/console-page.ts';
import { defineMany, removeUgl } from '../test/browser/ugl-guests.ts';
import { against, gatewayOn, median, type BenchOptions, type Target } from './lib.ts';

const TARGET: Target = { op: '<=', value: 150 };
const LIST_TARGET: Target = { op: '<=', value: 1500 };
const LIVE_TARGET: Target = { op: '<=', value: 300 };
const GUESTS = 1000;
const PREFIX = 'ugl-bench-';

export async function benchUi(lab: Lab, out: (line: string) => void, opts: BenchOptions): Promise<void> {
  const b = await buildUi();
  out(`  initial load: ${against(b.initialGzipBytes / 1024, TARGET, 1, ' KiB gzip')}`);
  out(`       files: /, ${b.initial.join(', ')}`);
  await benchGuestList(lab, out, opts);
}

/** Until the summary counts at least `min` guests with every node read; the page's clock then. */
async function listShown(page: Page, min: number): Promise<number> {
  const h = await page.waitForFunction(
    (min) => {
      const m = /^(\d+) guests on \d+ nodes?$/.exec(document.querySelector('.guests .summary')?.textContent?.trim() ?? '');
      return m && Number(m[1]) >= min && document.querySelector('tr.g-row') ? Date.now() : false;
    },
    min,
    { polling: 'raf', timeout: 60_000 },
  );
  return (await h.jsonValue()) as number;
}

async function benchGuestList(lab: Lab, out: (line: string) => void, opts: BenchOptions): Promise<void> {
  const kvm = lab.nodes.filter((n) => n.libvirt);
  if (kvm.length === 0) throw new Error('the lab has no KVM node');
  const names = Array.from({ length: GUESTS }, (_, i) => `${PREFIX}${String(i).padStart(4, '0')}`);
  const on = new Map<LabNode, string[]>(kvm.map((n) => [n, []]));
  names.forEach((name, i) => on.get(kvm[i % kvm.length])!.push(name));
  const where = new Map<string, LabNode>();
  for (const [n, list] of on) for (const name of list) where.set(name, n);

  for (const n of kvm) await removeUgl(lab, n, PREFIX);
  const profile = mkdtempSync(join(tmpdir(), 'ugl-bench-chromium-'));
  let g: Awaited<ReturnType<typeof gatewayOn>> | undefined;
  let ctx: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    const t = Date.now();
    await Promise.all([...on].map(([n, list]) => defineMany(lab, n, list)));
    out(`  defined ${GUESTS} guests (never started) over ${kvm.length} KVM nodes in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    g = await gatewayOn(lab, kvm);
    ctx = await launchChromium(profile);
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${g.gw.url}/#/guests`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill('bench-admin-pw');
    await page.getByRole('button', { name: 'Log in' }).click();
    await listShown(page, GUESTS);

    // Navigation (a reload of #/guests: page, bundle, session check, event subscription, every
    // node's listing, render) to the complete list on screen.
    const loads: number[] = [];
    for (let i = 0; i < (opts.quick ? 3 : 5); i++) {
      const t0 = Date.now();
      await page.reload();
      loads.push((await listShown(page, GUESTS)) - t0);
    }
    const total = Number(/^(\d+)/.exec((await page.locator('.guests .summary').textContent()) ?? '')![1]);
    const inPage = await page.locator('tr.g-row').count();
    out(`  navigation -> guest list shown, ${total} guests (${GUESTS} of them bench guests), median of ${loads.length} loads: ${against(median(loads), LIST_TARGET, 0, ' ms')}`);
    out(`    loads: ${loads.map((x) => `${x} ms`).join(', ')}; rows in the page: ${inPage} of ${total} (virtualised)`);

    // Filtering all rows: from the keystroke to the summary saying the new count.
    const filterMs: number[] = [];
    for (const q of ['state:running', `${PREFIX}07`, '-type:kvm', '']) {
      // A string, not a function: tsx's helpers (__name) do not exist in the page.
      filterMs.push(
        (await page.evaluate(`new Promise((resolve) => {
          const box = document.querySelector('#g-filter');
          const summary = document.querySelector('.guests .summary');
          const before = summary.textContent;
          const t0 = performance.now();
          box.value = ${JSON.stringify(q)};
          box.dispatchEvent(new Event('input', { bubbles: true }));
          const check = () => (summary.textContent !== before || ${JSON.stringify(q)} === '' ? resolve(performance.now() - t0) : requestAnimationFrame(check));
          requestAnimationFrame(check);
        })`)) as number,
      );
    }
    out(`    filtering ${total} rows (keystroke -> list redrawn): ${filterMs.map((x) => `${x.toFixed(0)} ms`).join(', ')}`);

    // virsh start by hand -> the row's state changes in the page.
    const rounds = opts.quick ? 5 : 10;
    const picked = Array.from({ length: rounds }, (_, i) => names[(i * 97) % GUESTS]);
    const ms: number[] = [];
    const fromBegin: number[] = [];
    let early = 0;
    for (const name of picked) {
      const node = where.get(name)!;
      await page.locator('#g-filter').fill(name);
      const cell = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) }).locator('td.g-state');
      await cell.filter({ hasText: 'stopped' }).waitFor({ timeout: 30_000 });
      await page.evaluate(() => {
        const w = window as unknown as { uglChanged?: Promise<number> };
        w.uglChanged = new Promise((resolve) => {
          const mo = new MutationObserver(() => {
            const s = document.querySelector('tr.g-row td.g-state')?.textContent?.trim();
            if (s && s !== 'stopped') {
              mo.disconnect();
              resolve(Date.now());
            }
          });
          mo.observe(document.querySelector('.g-table tbody')!, { subtree: true, childList: true, characterData: true });
        });
      });
      // Inside the node's namespaces without ssh (as the events bench does): the clock printed is taken right after virsh returns.
      const r = await nodeExec(node, ['sh', '-c', 'date +%s%3N && virsh -c qemu:///system start "$1" >/dev/null && date +%s%3N', 'ugl-start', name]);
      if (r.code !== 0) throw new Error(`virsh start ${name}: ${r.stderr}`);
      const [began, returned] = r.stdout.trim().split('\n').map(Number);
      const changed = (await page.evaluate(() => (window as unknown as { uglChanged: Promise<number> }).uglChanged)) as number;
      if (changed < returned) early++;
      ms.push(Math.max(0, changed - returned));
      fromBegin.push(changed - began);
      await nodeExec(node, ['virsh', '-c', 'qemu:///system', 'destroy', name]);
      await cell.filter({ hasText: 'stopped' }).waitFor({ timeout: 30_000 });
    }
    out(`  virsh start on the node -> the row's state changes in the browser, ${rounds} starts: p50 ${against(median(ms), LIVE_TARGET, 0, ' ms')}`);
    out(`    each: ${ms.map((x) => `${x} ms`).join(', ')}; the row changed before virsh start had returned in ${early} of ${rounds} (counted as 0 ms)`);
    out(`    from virsh start beginning on the node (its own run included) to the row changing: p50 ${median(fromBegin).toFixed(0)} ms`);
  } finally {
    await ctx?.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
    await g?.stop().catch(() => undefined);
    for (const n of kvm) await removeUgl(lab, n, PREFIX).catch(() => undefined);
  }
}
