/** Steps the OpenVZService methods share: find a container, read its settings with the node's bounds. */
import type { CallContext } from '../../src/rpc/context.ts';
import type { TaskHandle } from '../../src/tasks/tasks.ts';
import { oms } from '../../src/rpc/errors.ts';
import { parseConfig, type CtConfig } from './config.ts';
import type { ContainerDriver, CtInfo, NodeFacts } from './driver.ts';
import { lxcDriver } from './lxc-driver.ts';
import { nodeBounds, type Bounds } from './settings.ts';

/** The driver for a node. LXC today; a per-node choice (vzctl) would be made here. */
export const driverFor = (ctx: CallContext, node: string): ContainerDriver => lxcDriver(ctx.node(node));

export async function requireCt(d: ContainerDriver, node: string, id: string): Promise<CtInfo> {
  const info = await d.info(id);
  if (!info) throw oms('OpenVZUnknownContainerError', { vm_id: id, node });
  return info;
}

export interface CtView {
  info: CtInfo;
  config: CtConfig;
  /** The config file as it is, for writeConfig to keep what OMS does not own. */
  text: string;
  facts: NodeFacts;
  bounds: Bounds;
  diskUsedMiB: number;
}

export async function viewCt(d: ContainerDriver, node: string, id: string): Promise<CtView> {
  const info = await requireCt(d, node, id);
  const [text, facts, diskUsedMiB] = await Promise.all([d.readConfigText(id), d.facts(), d.diskUsageMiB(id)]);
  const config = parseConfig(id, text, { cpus: facts.cpus, memoryMiB: Math.floor(facts.memTotalKiB / 1024) });
  return { info, config, text, facts, diskUsedMiB, bounds: nodeBounds(facts, diskUsedMiB) };
}

/** The lowest id from 101 up (OpenVZ's first CT id) that the node does not use. */
export function nextFreeId(used: readonly string[]): string {
  const taken = new Set(used.map(Number));
  let id = 101;
  while (taken.has(id)) id++;
  return String(id);
}

/** OMS list_vms_status states (the libvirt words the document uses). */
export const omsState = (s: CtInfo['state']): string => (s === 'running' ? 'running' : s === 'frozen' ? 'paused' : s === 'stopped' ? 'shutdown' : s);

/**
 * Runs a change to one container as a task, which takes over the call's hold of the container
 * (declared `lock`), so a start, stop, settings change or delete cannot interleave with a deploy
 * or migration of the same container (TaskConflictError instead), and it leaves a row and log behind.
 */
export function locked<T>(ctx: CallContext, kind: string, node: string, id: string, work: (t: TaskHandle) => Promise<T>): Promise<T> {
  return ctx.startTask({ kind: `ovz.${kind}`, node, target: id }, work).done;
}

/** Between steps of a long task: stop here when cancel_task asked (the caller's catch cleans up). */
export function checkCancelled(t: TaskHandle): void {
  if (t.signal.aborted) throw t.signal.reason;
}

/**
 * The context a task's work uses: its node commands are not tied to the caller's request, so a
 * client that goes away mid-migration does not cut the copy or, worse, the rollback. Tasks stop
 * on cancel_task between steps instead (checkCancelled).
 */
export const detached = (ctx: CallContext): CallContext => ({ ...ctx, signal: undefined, node: (name: string) => ctx.app.access.get(name) });
