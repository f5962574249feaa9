/**
 * Scraping /metrics as Prometheus does (GET with an optional bearer token, optionally from a
 * chosen loopback source address for the allow-list) and reading the answer with a Prometheus
 * text-format parser from npm (prom2javascript: it refuses malformed lines and reads labelled
 * histograms), not with our own.
 */
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './process.ts';
import { getMetricsFromIterator, type PromHistogramData, type PromMetric } from 'prom2javascript';

export interface Scrape {
  status: number;
  contentType: string;
  text: string;
  /** Families by name; `type` in lower case as in the text (`counter`, `gauge`, `histogram`). */
  families: Map<string, PromMetric>;
}

export function scrape(base: string, opts: { bearer?: string; ca?: string; localAddress?: string } = {}): Promise<Scrape> {
  const u = new URL(base);
  u.pathname = '/metrics';
  const headers: Record<string, string> = { accept: 'text/plain' };
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { headers, ca: opts.ca, localAddress: opts.localAddress });
  return new Promise((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        // NaN is a valid sample value (prom-client writes `Nan` for an event-loop lag not yet
        // sampled; Prometheus reads it with Go's case-blind ParseFloat), but this parser refuses
        // any NaN, so such lines are left out here; checkWithPromtool() sees the text untouched.
        const lines = text.split('\n').filter((l) => !/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? nan$/i.test(l));
        const parsed = res.statusCode === 200 ? getMetricsFromIterator(lines[Symbol.iterator]()) : Promise.resolve({});
        parsed.then(
          (families) => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text, families: new Map(Object.entries(families)) }),
          reject,
        );
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const matches = (have: Record<string, string> | undefined, want: Record<string, string>): boolean =>
  Object.entries(want).every(([k, v]) => (have ?? {})[k] === v);

/**
 * The value of the samples of `name` whose labels include `labels`, summed (for a histogram:
 * the count of observations); undefined when there is none.
 */
export function sample(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = s.families.get(name);
  if (!f) return undefined;
  const hits = (f.data as { labels: Record<string, string> }[]).filter((m) => matches(m.labels, labels));
  if (hits.length === 0) return undefined;
  return hits.reduce((sum, m) => sum + (f.type === 'histogram' ? (m as PromHistogramData).count : (m as unknown as { value: number }).value), 0);
}

/** Like sample(), 0 when absent: counters appear only once something was counted. */
export const count = (s: Scrape, name: string, labels: Record<string, string> = {}): number => sample(s, name, labels) ?? 0;

/** promtool from Debian's prometheus package, unpacked by test/run.sh (never installed: no daemon). */
export const promtoolPath = (): string | undefined =>
  [process.env.OMS_PROMTOOL, join(repoRoot, 'test/.cache/prometheus/usr/bin/promtool'), '/usr/bin/promtool'].find((p): p is string => !!p && existsSync(p));

/**
 * Prometheus's own parser and linter over the exposition, exactly as served. Returns its
 * complaints; a text it cannot parse is an error.
 */
export function checkWithPromtool(text: string): string[] {
  const tool = promtoolPath();
  if (!tool) throw new Error('promtool not found: test/run.sh unpacks it into test/.cache/prometheus');
  const r = spawnSync(tool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  // Exit 3: lint problems only (listed); anything else non-zero, or a parse error: unreadable.
  if ((r.status !== 0 && r.status !== 3) || /error while linting/.test(out)) throw new Error(`promtool could not read the exposition (exit ${r.status}): ${out}`);
  return out.split('\n').filter(Boolean);
}
