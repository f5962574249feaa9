/**
 * The health monitor's cost (issue 16): the gateway's CPU time per node per sample, measured on
 * the lab's nodes and extrapolated to 500 nodes at the default 10 s interval (target < 10% of
 * one core). Two gateway processes on the same nodes, one after the other, each enrolled and
 * warmed up (connections open, the nodes' resident samplers started): one with the monitor off
 * (OMS_HEALTH_INTERVAL=0: what the gateway costs idle with its node watchers), one sampling every
 * second. The difference of their CPU time (utime + stime from /proc) over the same window,
 * divided by the samples the second one wrote (counted in its database), is the cost of one
 * sample: the request on the resident, the parse, the rates, the batched write.
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../test/lab/index.ts';
import { against, gatewayOn, type BenchGateway, type BenchOptions } from './lib.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICKS = 100; // USER_HZ on Linux
/** CPU seconds (user + system) a process has used. */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  // After "(comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
};

const samplesIn = (gw: BenchGateway): number => {
  const db = new Database(join(gw.gw.dataDir, 'oms.db'), { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM health_samples WHERE reachable = 1').pluck().get() as number;
  } finally {
    db.close();
  }
};

async function measure(lab: Lab, intervalSeconds: number, windowMs: number): Promise<{ cpu: number; samples: number }> {
  const g = await gatewayOn(lab, lab.nodes, { OMS_HEALTH_INTERVAL: String(intervalSeconds) });
  try {
    // Warm-up: every node's connection and (with the monitor on) its resident sampler started.
    const end = Date.now() + 60_000;
    if (intervalSeconds > 0) while (samplesIn(g) < lab.nodes.length * 3 && Date.now() < end) await sleep(500);
    else await sleep(5_000);
    const pid = g.gw.child.pid!;
    const cpu0 = cpuSeconds(pid);
    const s0 = intervalSeconds > 0 ? samplesIn(g) : 0;
    await sleep(windowMs);
    const cpu = cpuSeconds(pid) - cpu0;
    const samples = intervalSeconds > 0 ? samplesIn(g) - s0 : 0;
    return { cpu, samples };
  } finally {
    await g.stop();
  }
}

export async function benchHealth(lab: Lab, out: (line: string) => void, opts: BenchOptions): Promise<void> {
  const windowMs = opts.quick ? 10_000 : 30_000;
  const n = lab.nodes.length;
  const off = await measure(lab, 0, windowMs);
  const on = await measure(lab, 1, windowMs);
  if (on.samples === 0) throw new Error('the monitor wrote no samples');
  const perSampleMs = (Math.max(0, on.cpu - off.cpu) * 1000) / on.samples;
  out(`  ${n} nodes, ${windowMs / 1000} s window: gateway CPU ${(off.cpu * 1000).toFixed(0)} ms with the monitor off, ${(on.cpu * 1000).toFixed(0)} ms sampling every 1 s (${on.samples} samples, ${(on.samples / (windowMs / 1000) / n).toFixed(2)} per node per s)`);
  out(`  monitor cost: ${perSampleMs.toFixed(3)} ms CPU per node per sample; ${((100 * Math.max(0, on.cpu - off.cpu)) / (windowMs / 1000)).toFixed(2)}% of one core for ${n} nodes at 1 s (measured)`);
  // 500 nodes every 10 s = 50 samples a second.
  const at500 = (perSampleMs * 50) / 10; // ms per s -> percent of one core
  out(`  500 nodes at 10 s (EXTRAPOLATED from the per-sample cost above, not measured on 500 nodes): ${against(at500, { op: '<=', value: 10 }, 2, '% of one core')}`);
}
