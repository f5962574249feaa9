/** list_vms and list_vms_status: every container of a node with its state, settings and usage. */
import type { CallContext } from '../../src/rpc/context.ts';
import { paths } from '../../src/auth/permissions.ts';
import { parseConfig, type CtConfig } from './config.ts';
import type { ContainerDriver, CtInfo } from './driver.ts';
import { omsState } from './ct.ts';
import { poolList } from '../../src/fleet/pools.ts';

export const STAT_NAMES = ['cpu', 'memory', 'df'] as const;
export type StatName = (typeof STAT_NAMES)[number];
/** cpu percentage is measured between two samples this far apart. */
const CPU_SAMPLE_MS = 1000;

export interface CtRow {
  info: CtInfo;
  config: CtConfig;
}

/** Containers the caller may see, with state and settings, in two round trips. */
export async function rows(ctx: CallContext, d: ContainerDriver, node: string): Promise<CtRow[]> {
  const ids = (await d.list()).filter((id) => ctx.can('vm.view', paths.vm(node, id)));
  if (ids.length === 0) return [];
  const [infos, facts, configs] = await Promise.all([
    d.infoAll(ids),
    d.facts(),
    d.readConfigTexts(ids),
  ]);
  const defaults = { cpus: facts.cpus, memoryMiB: Math.floor(facts.memTotalKiB / 1024) };
  return infos.map((info) => ({ info, config: parseConfig(info.id, configs.get(info.id) ?? '', defaults) }));
}

const pct = (part: number, whole: number): string => (whole > 0 ? ((100 * part) / whole).toFixed(2) : '0.00');

export async function listVms(ctx: CallContext, d: ContainerDriver, node: string, stats: readonly StatName[]): Promise<unknown[]> {
  const list = await rows(ctx, d, node);
  const want = new Set(stats);
  let cpuPct = new Map<string, string>();
  if (want.has('cpu')) {
    const running = list.filter((r) => r.info.state === 'running');
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, CPU_SAMPLE_MS));
    const second = await d.infoAll(running.map((r) => r.info.id));
    const dtNs = (Date.now() - t0) * 1e6;
    // Percent of the CPUs the container may use (its vcpu count), as OpenVZ's vzlist shows it.
    cpuPct = new Map(second.map((s) => {
      const first = running.find((r) => r.info.id === s.id)!;
      return [s.id, pct(Math.max(0, s.cpuTimeNs - first.info.cpuTimeNs), dtNs * first.config.vcpu)];
    }));
  }
  const disk = want.has('df') ? await Promise.all(list.map((r) => d.diskUsageMiB(r.info.id))) : [];
  const pools = ctx.app.pools.ofNode(node);
  return list.map((r, i) => {
    const s: Record<string, unknown> = {};
    if (want.has('memory')) {
      const total = r.config.memory * 1024;
      const used = Math.round(r.info.memoryBytes / 1024);
      s.memory = { percentage: pct(used, total), total: String(total), used: String(used) };
    }
    if (want.has('cpu')) s.cpu = { percentage: cpuPct.get(r.info.id) ?? '0.00' };
    if (want.has('df')) s.df = { percentage: pct(disk[i] * 1024, r.config.disk * 1024), total: String(r.config.disk * 1024), used: String(disk[i] * 1024) };
    return {
      status: r.info.state === 'running' ? 1 : 0,
      tags: ctx.app.tags.ofVm(node, r.info.id),
      pools: poolList(pools, 'ct', r.info.id),
      stats: s,
      network: { ip: r.config.ip_address ?? '', name: 'eth0' },
      name: r.config.name,
      id: r.info.id,
    };
  });
}

export async function listVmsStatus(ctx: CallContext, d: ContainerDriver, node: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const r of await rows(ctx, d, node)) {
    out[r.info.id] = {
      nrVirtCpu: r.config.vcpu,
      state: omsState(r.info.state),
      maxMem: String(r.config.memory * 1024),
      cpuTime: String(r.info.cpuTimeNs),
      memory: String(Math.round(r.info.memoryBytes / 1024)),
    };
  }
  return out;
}
