/**
 * The web console (ui/, bundled by esbuild into ui/dist by `npm run ui:build`, which install,
 * start and test run): its page at `/` for a browser, its files under /ui/.
 *
 * `/` is also the OMS query-string API and its self-description in JSON. The page is the answer
 * only to a request that asks for HTML (Accept) and carries none of the API's parameters, so
 * every script, curl call and qooxdoo client gets exactly what it got before; this check runs
 * only where the JSON self-description was answered, never on an RPC call.
 *
 * The page itself is a static shell (no inline script or style) served with a strict
 * Content-Security-Policy: scripts, styles and connections (fetch, and the /ws websocket, which
 * CSP3 'self' covers) to this origin only, no eval, no frames, no plugins. The bundle's file names
 * carry a content hash, so they are cached for a year; the page is revalidated every time.
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ParsedUrlQuery } from 'node:querystring';
import express from 'express';

/** Where the built UI lives; ui/build.ts writes it. */
export const UI_DIST = resolve(import.meta.dirname, '..', '..', 'ui', 'dist');
/** The URL prefix of the bundle's files. */
export const UI_ASSETS_PATH = '/ui';

export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Query parameters of the OMS API on `/` (query string, ScriptTransport): with any of them, `/` is the API. */
const API_PARAMS = ['service', 'method', 'params', 'id', '_ScriptTransport_id', '_ScriptTransport_data', 'lock_wait'];

/** A browser navigating to `/`: it asks for HTML and names nothing of the API. */
export function wantsUi(req: IncomingMessage, query: ParsedUrlQuery): boolean {
  const accept = req.headers.accept;
  if (typeof accept !== 'string' || !accept.includes('text/html')) return false;
  for (const p of API_PARAMS) if (query[p] !== undefined) return false;
  return true;
}

export interface UiPages {
  /** Answers `/` with the UI's page (or a plain 503 when it was never built). */
  servePage(res: ServerResponse, commonHeaders: string[]): void;
  /** Static routes of the bundle's files. */
  routes(router: express.Router): void;
}

export function uiPages(dir: string = UI_DIST): UiPages {
  // The page is read once per build: its modification time tells a rebuild (npm run ui:build
  // while the gateway runs) from the one already held.
  let held: { mtimeMs: number; body: Buffer } | undefined;
  const page = (): Buffer | undefined => {
    const file = join(dir, 'index.html');
    try {
      const { mtimeMs } = statSync(file);
      if (held?.mtimeMs !== mtimeMs) held = { mtimeMs, body: readFileSync(file) };
      return held.body;
    } catch {
      return undefined;
    }
  };
  return {
    servePage(res, commonHeaders) {
      const body = page();
      const base = commonHeaders.filter((_, i, a) => (i % 2 === 0 ? a[i] !== 'Cache-Control' : a[i - 1] !== 'Cache-Control'));
      if (!body) {
        const text = 'The web console is not built: run `npm run ui:build` (npm ci and npm start do it).\n';
        res.writeHead(503, [...base, 'Cache-Control', 'no-store', 'Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(text))]);
        return void res.end(text);
      }
      res.writeHead(200, [
        ...base,
        'Cache-Control',
        'no-cache',
        'Content-Type',
        'text/html; charset=utf-8',
        'Content-Length',
        String(body.length),
        'Content-Security-Policy',
        UI_CSP,
        'Referrer-Policy',
        'no-referrer',
        'X-Frame-Options',
        'DENY',
        // Negotiated on Accept: a cache must not hand the page to an API client, or JSON to a browser.
        'Vary',
        'Accept',
      ]);
      res.end(body);
    },
    routes(router) {
      const files = express.static(join(dir, 'assets'), { index: false, fallthrough: true, dotfiles: 'deny', redirect: false, maxAge: '365d', immutable: true, etag: false });
      router.use(UI_ASSETS_PATH, (_req, res, next) => {
        // Content-hashed names never change content: cache them (the gateway's default is no-store).
        res.removeHeader('Cache-Control');
        res.setHeader('Content-Security-Policy', UI_CSP);
        next();
      }, files);
    },
  };
}
