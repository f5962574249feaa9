/**
 * The cached call (issue 13): `tagservices.list_tags` with cache_timeout 60, answered from the
 * gateway's result cache, vs. a bare express route in its own process returning the same JSON
 * body. autocannon, 50 keep-alive connections, interleaved rounds of equal length per contender.
 * Every answer of both must equal the cached body (autocannon's expectBody), so a gateway that
 * answered with errors under load could not pass for a fast one.
 * Targets: gateway >= 5000 calls/s and the bare route at most 1.3x the gateway's calls/s.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { startGatewayProcess } from '../test/helpers/process.ts';
import { against, type BenchOptions } from './lib.ts';

const CONNECTIONS = 50;
const CACHE_TIMEOUT = 60;
const BARE_ROUTE = fileURLToPath(new URL('./bare-route.ts', import.meta.url));

const get = async (url: string): Promise<{ status: number; type: string | null; body: string }> => {
  const r = await fetch(url);
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
};

/** The bare route's process; resolves once it listens. */
function startBareRoute(body: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', BARE_ROUTE], { env: { ...process.env, OMS_BENCH_BODY: body }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`the bare express route did not start within 30 s: ${stderr.trim()}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the bare express route exited (${code}): ${stderr.trim()}`));
    });
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      const m = /^listening on (\S+)$/.exec(line);
      if (!m) {
        child.kill();
        return reject(new Error(`the bare express route said ${JSON.stringify(line)}`));
      }
      resolve({ url: m[1], child });
    });
  });
}

interface Tally {
  calls: number;
  seconds: number;
  /** Answers that were not the expected body, not a 2xx, or did not come at all. */
  bad: number;
}

async function load(url: string, path: string, body: string, seconds: number, t: Tally): Promise<void> {
  const r = await autocannon({ url: url + path, connections: CONNECTIONS, duration: seconds, expectBody: body, timeout: 10 });
  t.calls += r.requests.total;
  t.seconds += r.duration;
  t.bad += r.non2xx + r.errors + r.mismatches;
}

export async function benchCachedCall(out: (line: string) => void, opts: BenchOptions): Promise<void> {
  // Interleaved, equal rounds; all of it well inside the 60 s the cached answer lives.
  const rounds = opts.quick ? 1 : 3;
  const seconds = opts.quick ? 2 : 5;
  const gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: 'bench-admin-pw', OMS_TLS: 'off', OMS_LOG_LEVEL: 'warn' });
  let bare: ChildProcess | undefined;
  try {
    const login = JSON.parse((await get(`${gw.url}/?${new URLSearchParams({ id: '1', service: 'authservices', method: 'authenticate', params: JSON.stringify(['admin', 'bench-admin-pw']) })}`)).body);
    const sid = login.result?.result;
    if (typeof sid !== 'string') throw new Error(`login failed: ${JSON.stringify(login.error ?? login)}`);
    const path = `/?${new URLSearchParams({ id: '1', service: 'tagservices', method: 'list_tags', params: JSON.stringify([sid, CACHE_TIMEOUT]) })}`;
    // The first call fills the cache; from the second on the answer comes from it (and says so).
    await get(gw.url + path);
    const cached = await get(gw.url + path);
    if (cached.status !== 200 || JSON.parse(cached.body).error) throw new Error(`list_tags failed: ${cached.status} ${cached.body.slice(0, 300)}`);
    if ((await get(gw.url + path)).body !== cached.body) throw new Error('two cached answers of list_tags differ; the body cannot be compared');
    const b = await startBareRoute(cached.body);
    bare = b.child;
    const same = await get(b.url + path);
    if (same.body !== cached.body || same.type !== cached.type) throw new Error(`the bare route answers ${same.type} ${same.body.slice(0, 100)}, not the gateway's ${cached.type}`);

    const gateway: Tally = { calls: 0, seconds: 0, bad: 0 };
    const express: Tally = { calls: 0, seconds: 0, bad: 0 };
    for (let i = 0; i < rounds; i++) {
      await load(gw.url, path, cached.body, seconds, gateway);
      await load(b.url, path, cached.body, seconds, express);
    }
    const rate = (t: Tally) => t.calls / t.seconds;
    const bad = gateway.bad || express.bad ? `; WRONG ANSWERS: gateway ${gateway.bad}, bare route ${express.bad}` : '';
    out(
      `cached list_tags (cache_timeout ${CACHE_TIMEOUT}, ${cached.body.length}-byte answer), ${CONNECTIONS} connections, ${rounds}x${seconds} s each: ` +
        `gateway ${rate(gateway).toFixed(0)} calls/s, bare express route ${rate(express).toFixed(0)} calls/s${bad}`,
    );
    out(`ratio bare-route/gateway calls/s: ${against(rate(express) / rate(gateway), { op: '<=', value: 1.3 })}`);
    out(`gateway calls/s: ${against(gateway.bad ? 0 : rate(gateway), { op: '>=', value: 5000 }, 0)}`);
  } finally {
    bare?.kill();
    await gw.stop();
  }
}
