/**
 * Load: N concurrent clients (autocannon connections, keep-alive) for a while, each looping over a
 * mix of cached calls (served from the cache_timeout cache), node calls (a fresh get_stats) and
 * authenticate, by their OMS URLs. autocannon drives the traffic and measures latency and calls/s;
 * every answer's body is read here too, since an OMS error is an HTTP 200 with `error` set.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';

export interface LoadResult {
  calls: number;
  failed: number;
  /** Up to five distinct failures, as the client saw them. */
  failures: string[];
  perSecond: number;
  p50: number;
  p99: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
}

export interface LoadOptions {
  url: string;
  /** The gateway's pid, for its resident memory before and after. */
  pid: number;
  sid: string;
  nodes: string[];
  user: string;
  password: string;
  clients: number;
  durationMs: number;
}

const rssMiB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

const omsPath = (service: string, method: string, params: unknown[]): string => `/?${new URLSearchParams({ id: '1', service, method, params: JSON.stringify(params) })}`;

/** Per 20 calls: 1 authenticate, 5 fresh node calls, 7 cached node calls, 7 cached tag lists. */
export function mixPath(o: Pick<LoadOptions, 'sid' | 'nodes' | 'user' | 'password'>, step: number): string {
  const kind = step % 20;
  const node = o.nodes[step % o.nodes.length];
  if (kind === 0) return omsPath('authservices', 'authenticate', [o.user, o.password]);
  if (kind < 6) return omsPath('statsservices', 'get_stats', [o.sid, 0, node, 'uptime']);
  if (kind < 13) return omsPath('statsservices', 'get_stats', [o.sid, 3600, node, 'kernel']);
  return omsPath('tagservices', 'list_tags', [o.sid, 3600]);
}

/** Why an answer counts as failed, or undefined when it is a result. */
function failureOf(status: number, body: string): string | undefined {
  if (status !== 200) return `HTTP ${status}`;
  try {
    const r = JSON.parse(body) as { error?: unknown; result?: unknown };
    if (r.error) return JSON.stringify(r.error).slice(0, 200);
    return r.result === undefined ? 'answer without result' : undefined;
  } catch {
    return `not JSON: ${body.slice(0, 80)}`;
  }
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  // One call of each node first, so the cache holds what the cached calls ask for.
  for (const n of opts.nodes) {
    const r = await fetch(opts.url + omsPath('statsservices', 'get_stats', [opts.sid, 0, n, 'kernel']));
    const f = failureOf(r.status, await r.text());
    if (f) throw new Error(`warm-up on ${n} failed: ${f}`);
  }
  const rssBeforeMiB = rssMiB(opts.pid);
  const failures: string[] = [];
  let nextClient = 0;
  const result = await autocannon({
    url: opts.url,
    connections: opts.clients,
    duration: opts.durationMs / 1000,
    timeout: 30,
    requests: [
      {
        method: 'GET',
        // Each connection starts at its own place in the mix, so they do not march in step.
        setupRequest: (req, context: { step?: number }) => {
          context.step = context.step === undefined ? nextClient++ : context.step + 1;
          return { ...req, path: mixPath(opts, context.step) };
        },
        onResponse: (status, body) => {
          const f = failureOf(status, body);
          if (f) failures.push(f);
        },
      },
    ],
  });
  // Connection errors and timeouts (counted within errors) never reach onResponse.
  const summary = result.errors ? [`${result.errors} connection errors, ${result.timeouts} of them timeouts`] : [];
  return {
    calls: result.requests.total,
    failed: failures.length + result.errors,
    failures: [...summary, ...new Set(failures)].slice(0, 5),
    perSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    rssBeforeMiB,
    rssAfterMiB: rssMiB(opts.pid),
  };
}
