/**
 * Shared by the browser console tests: Debian's Chromium (never a downloaded one) trusting the
 * gateway's own certificate, and reading what a console page shows (terminal text, VNC canvas).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { decodePng, inkOf } from './png.ts';

/**
 * Chromium with its own profile. With `ca` (the gateway's self-signed certificate) it trusts
 * exactly that certificate's key (--ignore-certificate-errors-spki-list), for pages and wss alike;
 * any other bad certificate still fails.
 */
export function launchChromium(profile: string, ca?: string): Promise<BrowserContext> {
  const trust = ca ? [`--ignore-certificate-errors-spki-list=${spkiHash(ca)}`] : [];
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 800, height: 600 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...trust],
  });
}

/** base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as Chromium's SPKI list wants it. */
export function spkiHash(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

export const terminalText = (page: Page): Promise<string> =>
  page.evaluate(() => {
    const t = (window as any).omsTerm;
    const lines: string[] = [];
    for (let i = 0; i < t.buffer.active.length; i++) lines.push(t.buffer.active.getLine(i).translateToString(true));
    return lines.join('\n');
  });

export async function waitForText(page: Page, test: (s: string) => boolean, ms = 20_000): Promise<string> {
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
export async function screenInk(page: Page, ms = 20_000): Promise<{ ink: number; colours: number; width: number }> {
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
