/**
 * Scale (issue 16): one gateway and up to 500 light nodes of a lab instance of the bench's own
 * (LAB_INSTANCE=bn, brought up and down here; the shared lab is never touched):
 *  - the lab: time to bring the nodes up and down, and each node's sshd RSS / PSS;
 *  - fan-out on 20, 100 and 500 nodes: the gateway (JSON-RPC batches) vs `ansible all -m raw`
 *    (forks = nodes, at most 100) vs `parallel-ssh` (target: >= 10x ansible; 500 nodes < 2 s);
 *  - the gateway's RSS with every node connected, and per node (target < 1 GiB);
 *  - its CPU idle with every node connected (keepalives, watchers' timers: the cost that grows
 *    with nodes without any call), and with the health monitor sampling every node each 10 s,
 *    measured on all the nodes (target < 10% of one core at 500);
 *  - a fleet call over every node with a tenth of them cut off (links down): how long the
 *    reachable ones take against the same call with every node up, and the cut ones' errors;
 *  - the time until every node is connected again after a gateway restart (through the connect
 *    gate: OMS_NODE_CONNECT_CONCURRENCY at once, jitter), and the most attempts seen at once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cutLink, labDown, labMemory, labUp, restoreLink, type Lab } from '../test/lab/index.ts';
import { startGatewayProcess, type GatewayProcess } from '../test/helpers/process.ts';
import { against, benchClient, type BenchGateway, type BenchOptions } from './lib.ts';
import { compareFanout, type FanoutFigures } from './fanout.ts';
import { needPeers, peers } from './peers.ts';

const INSTANCE = 'bn';
const PASSWORD = 'bench-scale-pw';
const TICKS = 100; // USER_HZ
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cpuSeconds = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
};
const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** The sizes to measure: OMS_BENCH_SCALE (comma-separated), else 20,100,500 (20,100 with --quick). */
export function scaleSizes(env: NodeJS.ProcessEnv, quick: boolean): number[] {
  const text = env.OMS_BENCH_SCALE ?? (quick ? '20,100' : '20,100,500');
  const sizes = text.split(',').map((s) => Number(s.trim()));
  if (!sizes.length || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 1000)) throw new Error(`OMS_BENCH_SCALE must be node counts 1..1000, not ${JSON.stringify(text)}`);
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/** A gateway process on the bench's own data dir (kept across restarts), with a keep-alive client. */
async function gateway(lab: Lab, dataDir: string, env: Record<string, string>): Promise<BenchGateway> {
  const gw: GatewayProcess = await startGatewayProcess(
    // Light nodes have no libvirtd or LXC: their event readers would fail and start again on
    // every node (hundreds of virsh a minute on this one machine), so they are off here.
    { OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off', OMS_SSH_KEY: lab.privateKey!, OMS_LOG_LEVEL: 'warn', OMS_METRICS_ALLOW: '127.0.0.1', OMS_NODE_WATCHERS: 'off', ...env },
    { dataDir },
  );
  return benchClient(gw, PASSWORD, 16);
}

/** Connected nodes and the connect gate's peak, from /metrics. */
async function connections(gw: GatewayProcess): Promise<{ connected: number; peak: number }> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return { connected: num(/^oms_node_connections\{state="connected"\} (\d+)/m), peak: num(/^oms_node_connects_peak (\d+)/m) };
}

async function allConnected(gw: GatewayProcess, n: number, ms: number): Promise<{ seconds: number; peak: number }> {
  const t0 = performance.now();
  for (;;) {
    const c = await connections(gw);
    if (c.connected === n) return { seconds: (performance.now() - t0) / 1000, peak: c.peak };
    if (performance.now() - t0 > ms) throw new Error(`only ${c.connected} of ${n} nodes connected after ${ms / 1000} s`);
    await sleep(250);
  }
}

export async function benchScale(out: (line: string) => void, opts: BenchOptions): Promise<void> {
  const sizes = scaleSizes(process.env, opts.quick);
  const most = sizes[sizes.length - 1];
  await needPeers([peers.ansible, peers.parallelSsh], out);
  let t = performance.now();
  const lab = await labUp({ instance: INSTANCE, nodes: most });
  const upSeconds = (performance.now() - t) / 1000;
  const dataDir = mkdtempSync(join(tmpdir(), 'oms-bench-scale-'));
  let b: BenchGateway | undefined;
  try {
    const mem = await labMemory({ instance: INSTANCE });
    out(`lab instance ${INSTANCE}: ${most} light nodes up in ${upSeconds.toFixed(1)} s; per node: sshd ${(mem.sshdRssKiBPerNode / 1024).toFixed(1)} MiB RSS, ${(mem.sshdPssKiBPerNode / 1024).toFixed(2)} MiB PSS (its share of pages sshds have in common)`);

    // One gateway, health monitor off: the fan-out, memory and idle figures.
    // A node behind a cut link fails its call after OMS_NODE_TIMEOUT: 10 s here, so the fault figure takes seconds, not minutes.
    b = await gateway(lab, dataDir, { OMS_HEALTH_INTERVAL: '0', OMS_NODE_TIMEOUT: '10' });
    const idleRss = rssMiB(b.gw.child.pid!);
    t = performance.now();
    for (const n of lab.nodes) await b.call('funcservices', 'add_request', [b.sid, 0, n.name, n.address, n.port]);
    // sign_requests proves a fresh login on each node it signs, all at once: by 20, so a loaded
    // machine does not time out a hundred handshakes together; a batch that failed is tried again.
    for (let i = 0; i < lab.nodes.length; i += 20) {
      const names = lab.nodes.slice(i, i + 20).map((n) => n.name);
      let signed = await b.call('funcservices', 'sign_requests', [b.sid, 0, names]);
      for (let attempt = 0; signed.error && attempt < 3; attempt++) {
        // Those signed before the failure are no longer requests: only the rest again.
        const pending = new Set(((await b.call('funcservices', 'list_requests', [b.sid, 0])).result.result as { name: string }[]).map((r) => r.name));
        const rest = names.filter((n) => pending.has(n));
        if (!rest.length) break;
        signed = await b.call('funcservices', 'sign_requests', [b.sid, 0, rest]);
      }
      if (signed.error) throw new Error(`enrollment failed: ${JSON.stringify(signed.error)}`);
    }
    out(`enrolled ${most} nodes in ${((performance.now() - t) / 1000).toFixed(1)} s (add_request each, sign_requests by 20)`);
    await allConnected(b.gw, most, 300_000);

    const rows: [number, FanoutFigures][] = [];
    for (const n of sizes) {
      const f = await compareFanout(lab, lab.nodes.slice(0, n), b, out, { rounds: opts.quick || n > 100 ? 2 : 3, label: `[${n} nodes] ` });
      rows.push([n, f]);
    }
    const at = rows.find(([n]) => n === 500);
    if (at) out(`500 nodes through the gateway: ${against(at[1].gatewayMs / 1000, { op: '<=', value: 2 }, 2, ' s')}`);

    const pid = b.gw.child.pid!;
    const rss = rssMiB(pid);
    out(`gateway RSS with ${most} nodes connected: ${against(rss, { op: '<=', value: 1024 }, 0, ' MiB')}; ${(((rss - idleRss) * 1024) / most).toFixed(0)} KiB per node above its ${idleRss.toFixed(0)} MiB before enrolling`);

    const windowMs = opts.quick ? 15_000 : 60_000;
    await sleep(5_000);
    let c0 = cpuSeconds(pid);
    await sleep(windowMs);
    const idleCpu = (cpuSeconds(pid) - c0) / (windowMs / 1000);
    out(`gateway CPU idle with ${most} nodes connected, monitor off (keepalives, watchers): ${(idleCpu * 100).toFixed(2)}% of one core`);

    // Faults: a tenth of the nodes cut off, one fleet call over all of them (a task, 64 at once):
    // the reachable nodes' slowest answer against the same call with every node up.
    const fleetRun = async () => {
      const r = await b!.call('fleetservices', 'call', [b!.sid, 0, 'all', 'statsservices.get_stats', null, { wait: true, concurrency: 64 }]);
      if (r.error) throw new Error(`fleet call: ${JSON.stringify(r.error)}`);
      return r.result.result.summary as { total: number; ok: number; failed: number; results: { ok: boolean; ms: number; error?: { name: string } }[] };
    };
    const slowestOk = (s: Awaited<ReturnType<typeof fleetRun>>) => Math.max(...s.results.filter((r) => r.ok).map((r) => r.ms));
    t = performance.now();
    const healthy = await fleetRun();
    const healthyMs = performance.now() - t;
    const cut = lab.nodes.filter((_, i) => i % 10 === 9);
    let faulty: Awaited<ReturnType<typeof fleetRun>>;
    for (const n of cut) await cutLink(n);
    try {
      t = performance.now();
      faulty = await fleetRun();
    } finally {
      for (const n of cut) await restoreLink(n);
    }
    const faultyMs = performance.now() - t;
    const errors = [...new Set(faulty.results.filter((r) => !r.ok).map((r) => r.error?.name))].join(', ');
    out(
      `fleet call over ${most} nodes, ${cut.length} of them cut off: ${faulty.ok} answered, the slowest answer after ${slowestOk(faulty)} ms (${slowestOk(healthy)} ms with every node up; whole call ${(faultyMs / 1000).toFixed(1)} s vs ${(healthyMs / 1000).toFixed(1)} s); ${faulty.failed} failed with ${errors} at the 10 s node timeout`,
    );

    // Restart: every node connects again through the connect gate.
    await b.stop();
    b = await gateway(lab, dataDir, { OMS_HEALTH_INTERVAL: '10' });
    const back = await allConnected(b.gw, most, 600_000);
    out(`after a gateway restart all ${most} nodes connected again in ${back.seconds.toFixed(1)} s; at most ${back.peak} connection attempts at once (OMS_NODE_CONNECT_CONCURRENCY default 32, jitter up to 250 ms)`);

    // The same gateway, now sampling every node each 10 s: two intervals to settle, then a window.
    await sleep(25_000);
    c0 = cpuSeconds(b.gw.child.pid!);
    await sleep(windowMs);
    const monCpu = (cpuSeconds(b.gw.child.pid!) - c0) / (windowMs / 1000);
    out(`gateway CPU with the health monitor sampling ${most} nodes every 10 s (MEASURED): ${(monCpu * 100).toFixed(2)}% of one core in all; the monitor's part over idle: ${against(Math.max(0, monCpu - idleCpu) * 100, { op: '<=', value: 10 }, 2, '% of one core')}`);
  } finally {
    await b?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    t = performance.now();
    await labDown({ instance: INSTANCE });
    out(`lab instance ${INSTANCE} down in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
}
