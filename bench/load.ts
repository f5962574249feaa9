/**
 * Load: N concurrent clients for a while, each looping over a mix of cached calls (served from
 * the cache_timeout cache), node calls (a fresh get_stats) and authenticate. Counts failures and
 * measures latency percentiles, calls/s and the gateway's memory before and after.
 */
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { percentile } from './lib.ts';

export interface LoadResult {
  calls: number;
  failed: number;
  failures: string[];
  perSecond: number;
  p50: number;
  p99: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
}

const rssMiB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

export async function runLoad(opts: { url: string; pid: number; sid: string; nodes: string[]; user: string; password: string; clients: number; durationMs: number }): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.clients });
  const get = (service: string, method: string, params: unknown[]) =>
    new Promise<{ error: unknown }>((resolve, reject) => {
      const q = new URLSearchParams({ id: '1', service, method, params: JSON.stringify(params) });
      const req = request(`${opts.url}/?${q}`, { agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (e) {
            reject(e);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
  // One call of each kind first, so the cache holds what the cached calls ask for.
  for (const n of opts.nodes) await get('statsservices', 'get_stats', [opts.sid, 0, n, 'kernel']);
  const rssBeforeMiB = rssMiB(opts.pid);
  const latencies: number[] = [];
  const failures: string[] = [];
  let calls = 0;
  const end = Date.now() + opts.durationMs;
  const client = async (c: number) => {
    for (let i = 0; Date.now() < end; i++) {
      const kind = (c + i) % 20;
      const node = opts.nodes[(c + i) % opts.nodes.length];
      const t = process.hrtime.bigint();
      try {
        const r =
          kind === 0
            ? await get('authservices', 'authenticate', [opts.user, opts.password])
            : kind < 6
              ? await get('statsservices', 'get_stats', [opts.sid, 0, node, 'uptime'])
              : kind < 13
                ? await get('statsservices', 'get_stats', [opts.sid, 3600, node, 'kernel'])
                : await get('tagservices', 'list_tags', [opts.sid, 3600]);
        if (r.error) failures.push(JSON.stringify(r.error).slice(0, 200));
      } catch (e) {
        failures.push((e as Error).message);
      }
      calls++;
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
  const seconds = (Date.now() - started) / 1000;
  agent.destroy();
  return { calls, failed: failures.length, failures: [...new Set(failures)].slice(0, 5), perSecond: calls / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), rssBeforeMiB, rssAfterMiB: rssMiB(opts.pid) };
}
