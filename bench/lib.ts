/** Shared pieces of the benchmarks: timing, medians, the gateway process on the lab. */
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { Client } from 'ssh2';
import { startGatewayProcess, type GatewayProcess } from '../test/helpers/process.ts';
import type { Lab } from '../test/lab/index.ts';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

export async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, r];
}

/** Runs each contender once per round, interleaved, so machine noise hits all alike. */
export async function sideBySide(rounds: number, contenders: Record<string, () => Promise<unknown>>): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (let i = 0; i < rounds; i++) for (const [k, fn] of Object.entries(contenders)) samples[k].push((await time(fn))[0]);
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

export interface BenchGateway {
  gw: GatewayProcess;
  sid: string;
  call(service: string, method: string, params: unknown[]): Promise<any>;
  stop(): Promise<void>;
}

/** A keep-alive client of a running gateway process, logged in as admin; stop() ends both. */
export async function benchClient(gw: GatewayProcess, password: string, maxSockets = 64): Promise<BenchGateway> {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const call = (service: string, method: string, params: unknown[]) =>
    new Promise<any>((resolve, reject) => {
      const q = new URLSearchParams({ id: '1', service, method, params: JSON.stringify(params) });
      const req = request(`${gw.url}/?${q}`, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      });
      req.on('error', reject);
      req.end();
    });
  const sid = (await call('authservices', 'authenticate', ['admin', password])).result.result;
  if (sid === undefined) throw new Error('the bench gateway refused the admin login');
  return {
    gw,
    sid,
    call,
    stop: async () => {
      agent.destroy();
      await gw.stop();
    },
  };
}

/** The real gateway process with keep-alive HTTP, enrolled on the given lab nodes. */
export async function gatewayOn(lab: Lab, nodes = lab.nodes, env: Record<string, string> = {}): Promise<BenchGateway> {
  const gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: 'bench-admin-pw', OMS_TLS: 'off', OMS_SSH_KEY: lab.privateKey!, OMS_LOG_LEVEL: 'warn', OMS_NODE_CHANNELS: '8', ...env });
  const b = await benchClient(gw, 'bench-admin-pw');
  for (const n of nodes) await b.call('funcservices', 'add_request', [b.sid, 0, n.name, n.address, n.port]);
  if (nodes.length) {
    const signed = await b.call('funcservices', 'sign_requests', [b.sid, 0, nodes.map((n) => n.name)]);
    if (signed.error) throw new Error(`enrollment failed: ${JSON.stringify(signed.error)}`);
  }
  return b;
}

export const ratio = (a: number, b: number): string => (a / b).toFixed(2);

/** A target from the issues: the figure must be at most (`<=`) or at least (`>=`) the value. */
export interface Target {
  op: '<=' | '>=';
  value: number;
}

export const isMet = (x: number, t: Target): boolean => (t.op === '<=' ? x <= t.value : x >= t.value);

/** `1.12 (target <= 1.15): met`: a figure, its target and the verdict, as every row prints them. */
export const against = (x: number, t: Target, digits = 2, unit = ''): string =>
  `${x.toFixed(digits)}${unit} (target ${t.op} ${t.value}${unit}): ${isMet(x, t) ? 'met' : 'missed'}`;

/** Options every section gets from bench/run.ts. */
export interface BenchOptions {
  /** Short durations and fewer rounds, for development on a shared machine. */
  quick: boolean;
}

/** A raw ssh2 client to a lab node, tuned as the pool is (TCP_NODELAY): the fair contender. */
export function rawClient(lab: Lab, node: Lab['nodes'][number]): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => {
      // As the pool does: without it, small exchanges stall on Nagle + delayed ACK (~40 ms).
      c.setNoDelay(true);
      resolve(c);
    }).on('error', reject);
    c.connect({ host: node.address, port: node.port, username: 'root', privateKey: readFileSync(lab.privateKey!) });
  });
}

/** One command line over an open raw client; resolves with its stdout. */
export const rawExec = (c: Client, line: string): Promise<string> =>
  new Promise<string>((resolve, reject) => {
    c.exec(line, (err, ch) => {
      if (err) return reject(err);
      let out = '';
      ch.on('data', (d: Buffer) => (out += d.toString()));
      ch.stderr.on('data', () => {});
      ch.on('close', () => resolve(out));
    });
  });
