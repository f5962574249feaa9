/**
 * A cached call against a bare express route answering the same JSON: what OMS costs per call
 * when nothing reaches a node. Contenders: the gateway process (`oms serve`) answering
 * `tagservices.list_tags` with cache_timeout 60 (`tmp_cache`), and bench/bare-route.ts, a process
 * started the same way with one express route (`app.get('/')`, `res.type('application/json')
 * .send(body)`) sending the gateway's own answer, byte for byte. For scale, a third: the same
 * process with a plain node:http listener (one writeHead + end), the least a Node server does per
 * call; the gateway answers its RPC endpoints without express too (src/http/rpc-endpoints.ts).
 * All are loaded by autocannon (the same GET URL, 50 keep-alive connections, every answer checked
 * to be the expected body) in rounds taken in turn, so machine noise hits them alike; medians are
 * printed, over HTTP and over HTTPS (the bare routes then use the gateway's certificate).
 * Target (OMS issue 13): gateway at least 5000 calls/s and at most 1.3x slower than the bare
 * express route.
 *
 * Also runnable alone: `npx tsx bench/cached-call.ts [rounds] [seconds] [fixed calls/s]`.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startGatewayProcess, repoRoot, type GatewayProcess } from '../test/helpers/process.ts';
import { against, median, type BenchOptions } from './lib.ts';

export interface CachedCallOptions {
  rounds?: number;
  seconds?: number;
  connections?: number;
  /** Which schemes to measure; both by default. */
  tls?: boolean[];
  /** Gateway log level; `warn` as the other benches (no per-call line). */
  logLevel?: string;
  /** Extra environment for the gateway. */
  gatewayEnv?: Record<string, string>;
  /** Extra node options for the gateway (e.g. --cpu-prof for profiling). */
  gatewayNodeArgs?: string[];
  /**
   * Calls per second in total instead of as many as possible: CPU per call compared at the same
   * rate is not skewed by the faster side batching more work per wake-up.
   */
  overallRate?: number;
  /** Extra node options for the bare route's process. */
  bareNodeArgs?: string[];
  /** Also measure the plain node:http route (default true). */
  plain?: boolean;
}

export interface CachedCallFigures {
  tls: boolean;
  gatewayPerSecond: number;
  barePerSecond: number;
  /** How many times slower the gateway is than the bare route (medians). */
  ratio: number;
  gatewayRounds: number[];
  bareRounds: number[];
  /** Server CPU time per call, microseconds (medians). */
  gatewayCpuPerCall: number;
  bareCpuPerCall: number;
  /** The plain node:http route, when measured. */
  plain?: { perSecond: number; rounds: number[]; cpuPerCall: number };
  failed: number;
  /** Which contender's answers failed, and how (the first few). */
  failures: string[];
}

const PASSWORD = 'bench-cached-call-pw';

/** GET over HTTP or HTTPS (trusting the gateway's certificate); resolves with the body text. */
function get(url: string, ca?: string): Promise<string> {
  if (!url.startsWith('https')) return fetch(url).then((r) => r.text());
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end();
  });
}

const omsPath = (service: string, method: string, params: unknown[]): string => `/?${new URLSearchParams({ id: '1', service, method, params: JSON.stringify(params) })}`;

interface BareRoute {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startBareRoute(body: string, tlsDir: string | undefined, nodeArgs: string[] = [], kind: 'express' | 'node' = 'express'): Promise<BareRoute> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(repoRoot, 'bench/bare-route.ts')], {
    cwd: repoRoot,
    env: { ...process.env, BARE_BODY: body, BARE_KIND: kind, ...(tlsDir ? { BARE_TLS_DIR: tlsDir } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bare route exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^OMS listening on (\S+)$/.exec(line);
      if (m) resolve(m[1]);
    });
  });
  child.removeAllListeners('exit');
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { url, child, stop: async () => (child.kill('SIGTERM'), await exited) };
}

/** CPU time (user + system) a process has used so far, in microseconds. */
function cpuMicros(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / TICKS;
}
const TICKS = 100; // USER_HZ on Linux

/**
 * One autocannon run; every answer is checked to be the expected one (same work on both sides).
 * Besides calls/s, the server's CPU time per call: on a machine others load too, it varies far
 * less than throughput does.
 */
async function load(url: string, pid: number, path: string, seconds: number, connections: number, expect: string, overallRate?: number): Promise<{ perSecond: number; cpuPerCall: number; failed: number; how: string[] }> {
  let failed = 0;
  const how: string[] = [];
  const cpu0 = cpuMicros(pid);
  const r = await autocannon({
    url: url + path,
    connections,
    duration: seconds,
    ...(overallRate ? { overallRate } : {}),
    requests: [
      {
        method: 'GET',
        onResponse: (status, body) => {
          if (status === 200 && body === expect) return;
          failed++;
          if (how.length < 3) how.push(`status ${status}: ${body.slice(0, 80)}`);
        },
      },
    ],
  });
  const cpu = cpuMicros(pid) - cpu0;
  if (r.errors) how.push(`${r.errors} connection errors (${r.timeouts} timeouts)`);
  return { perSecond: r.requests.total / seconds, cpuPerCall: cpu / Math.max(1, r.requests.total), failed: failed + r.errors, how };
}

export async function measureCachedCall(opts: CachedCallOptions = {}): Promise<CachedCallFigures[]> {
  const rounds = opts.rounds ?? 5;
  const seconds = opts.seconds ?? 5;
  const connections = opts.connections ?? 50;
  const figures: CachedCallFigures[] = [];
  for (const tls of opts.tls ?? [false, true]) {
    let gw: GatewayProcess | undefined;
    const bares: BareRoute[] = [];
    try {
      gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: tls ? 'on' : 'off', OMS_LOG_LEVEL: opts.logLevel ?? 'warn', ...opts.gatewayEnv }, { nodeArgs: opts.gatewayNodeArgs });
      const login = JSON.parse(await get(gw.url + omsPath('authservices', 'authenticate', ['admin', PASSWORD]), gw.ca)) as { result: { result: string } };
      const path = omsPath('tagservices', 'list_tags', [login.result.result, 60]);
      // A fresh call (cache_timeout 0) stores its result too: run before each gateway round, so no
      // round outlives the 60 s of the cached answer (a run of all rounds does).
      const refresh = () => get(gw!.url + omsPath('tagservices', 'list_tags', [login.result.result, 0]), gw!.ca);
      await refresh();
      const body = await get(gw.url + path, gw.ca);
      if (!body.includes('"tmp_cache"')) throw new Error(`expected a cached answer, got ${body.slice(0, 200)}`);
      const tlsDir = tls ? join(gw.dataDir, 'tls') : undefined;
      const bare = await startBareRoute(body, tlsDir, opts.bareNodeArgs);
      bares.push(bare);
      const plain = (opts.plain ?? true) ? await startBareRoute(body, tlsDir, opts.bareNodeArgs, 'node') : undefined;
      if (plain) bares.push(plain);
      const sides = { gw: { url: gw.url, pid: gw.child.pid! }, bare: { url: bare.url, pid: bare.child.pid! }, ...(plain ? { plain: { url: plain.url, pid: plain.child.pid! } } : {}) };
      type Who = keyof typeof sides;
      const order = Object.keys(sides) as Who[];
      const perSecond: Record<string, number[]> = {};
      const cpu: Record<string, number[]> = {};
      for (const who of order) {
        perSecond[who] = [];
        cpu[who] = [];
        // Warm-up: JIT, TLS session set-up, connection pools.
        if (who === 'gw') await refresh();
        await load(sides[who]!.url, sides[who]!.pid, path, 1, connections, body);
      }
      let failed = 0;
      const failures: string[] = [];
      for (let i = 0; i < rounds; i++) {
        // Rotate who goes first, so a trend in machine load does not favour one side.
        for (let k = 0; k < order.length; k++) {
          const who = order[(i + k) % order.length];
          if (who === 'gw') await refresh();
          const r = await load(sides[who]!.url, sides[who]!.pid, path, seconds, connections, body, opts.overallRate);
          perSecond[who].push(r.perSecond);
          cpu[who].push(r.cpuPerCall);
          failed += r.failed;
          for (const h of r.how) if (failures.length < 5) failures.push(`${who}: ${h}`);
        }
      }
      const gm = median(perSecond.gw);
      const bm = median(perSecond.bare);
      figures.push({
        tls,
        gatewayPerSecond: gm,
        barePerSecond: bm,
        ratio: bm / gm,
        gatewayRounds: perSecond.gw,
        bareRounds: perSecond.bare,
        gatewayCpuPerCall: median(cpu.gw),
        bareCpuPerCall: median(cpu.bare),
        ...(plain ? { plain: { perSecond: median(perSecond.plain), rounds: perSecond.plain, cpuPerCall: median(cpu.plain) } } : {}),
        failed,
        failures,
      });
    } finally {
      for (const b of bares) await b.stop();
      await gw?.stop();
    }
  }
  return figures;
}

export async function benchCachedCall(out: (line: string) => void, opts: CachedCallOptions & Partial<BenchOptions> = {}): Promise<void> {
  const measure: CachedCallOptions = opts.quick ? { rounds: 1, seconds: 3, ...opts } : opts;
  for (const f of await measureCachedCall(measure)) {
    out(
      `${f.tls ? 'https' : 'http '}: gateway ${f.gatewayPerSecond.toFixed(0)} calls/s, bare express ${f.barePerSecond.toFixed(0)} calls/s; ` +
        `gateway slower by ${against(f.ratio, { op: '<=', value: 1.3 })}; gateway calls/s ${against(f.gatewayPerSecond, { op: '>=', value: 5000 }, 0)}${f.failed ? `, ${f.failed} FAILED answers (${f.failures.join('; ')})` : ''}`,
    );
    out(`       rounds gateway [${f.gatewayRounds.map((x) => x.toFixed(0)).join(' ')}] bare [${f.bareRounds.map((x) => x.toFixed(0)).join(' ')}]`);
    out(`       server CPU per call: gateway ${f.gatewayCpuPerCall.toFixed(0)} us, bare express ${f.bareCpuPerCall.toFixed(0)} us (${(f.gatewayCpuPerCall / f.bareCpuPerCall).toFixed(2)}x)`);
    if (f.plain)
      out(
        `       for scale, a plain node:http route (no express): ${f.plain.perSecond.toFixed(0)} calls/s [${f.plain.rounds.map((x) => x.toFixed(0)).join(' ')}], ` +
          `${f.plain.cpuPerCall.toFixed(0)} us CPU per call; gateway slower by ${(f.plain.perSecond / f.gatewayPerSecond).toFixed(2)}x, CPU ${(f.gatewayCpuPerCall / f.plain.cpuPerCall).toFixed(2)}x`,
      );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [rounds, seconds, rate] = process.argv.slice(2).map(Number);
  await benchCachedCall((l) => process.stdout.write(`${l}\n`), { rounds: rounds || undefined, seconds: seconds || undefined, overallRate: rate || undefined });
}
