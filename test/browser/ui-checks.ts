/** What the web console's browser tests check alike: axe-core's findings and text that comes in time. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Locator, Page } from 'playwright-core';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical findings on the page as it is, one line each. Evaluated through
 * the DevTools protocol, which the page's CSP does not govern (an injected <script> would be
 * refused, as it should be). `iframes: false` leaves embedded pages (the consoles) to their own tests.
 */
export async function axeProblems(page: Page, opts: { iframes?: boolean } = {}): Promise<string[]> {
  await page.evaluate(axeSource);
  const found = (await page.evaluate(async (iframes) => {
    type Run = (ctx?: unknown, o?: unknown) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }>;
    const axe = (window as unknown as { axe: { run: Run } }).axe;
    const r = iframes === false ? await axe.run(document, { iframes: false }) : await axe.run();
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, at: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  }, opts.iframes)) as { id: string; impact: string; help: string; at: string[] }[];
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.at.join(', ')}`);
}

/** Waits until the element's text (trimmed) matches; resolves with it, or fails saying what it read last. */
export async function expectText(el: Locator, re: RegExp, ms = 30_000): Promise<string> {
  const end = Date.now() + ms;
  let last = '';
  while (Date.now() < end) {
    last = ((await el.textContent().catch(() => '')) ?? '').trim();
    if (re.test(last)) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`expected ${re} within ${ms} ms; it reads "${last}"`);
}
