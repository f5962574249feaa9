/**
 * Offline migration of a container between two nodes, relayed by the gateway:
 *
 * 1. both nodes checked (tools, the id free on the target) before anything changes;
 * 2. a running container is stopped (no checkpoint/restore here: this is vzmigrate without
 *    --online), its root filesystem packed on the source and unpacked on the target as it streams
 *    through the gateway, never held whole (nodes need no keys for each other, and no size cap);
 * 3. the config is written again for the target's cgroup hierarchy;
 * 4. the copy is verified (name-sorted tar hash equal on both sides), and started and answering
 *    `hostname` on the target if it ran before;
 * 5. only then is it destroyed on the source.
 * Any failure before 5 removes what was made on the target and restarts the source container if
 * it ran, so it stays where it was, in the state it was.
 */
import { PassThrough } from 'node:stream';
import type { CallContext } from '../../src/rpc/context.ts';
import { isOmsError, oms, type OmsError } from '../../src/rpc/errors.ts';
import { checkCancelled, detached, driverFor, requireCt } from './ct.ts';
import type { TaskHandle } from '../../src/tasks/tasks.ts';

/**
 * The copy's time budget: a floor for small containers plus one second per MiB in use (packed,
 * relayed and unpacked at 1 MiB/s or better), so a large container is not cut off by a budget
 * sized for a small one. Cancelling the task stops it at any point.
 */
export const copyTimeoutMs = (usedMiB: number): number => 300_000 + usedMiB * 1000;

async function capable(ctx: CallContext, node: string, role: 'source' | 'target'): Promise<void> {
  try {
    await driverFor(ctx, node).facts();
  } catch (e) {
    if (isOmsError(e) && e.omsName === 'OpenVZNotCapable') throw oms('OpenVZMigrationNotCapable', { node, role, reason: e.message });
    throw e;
  }
}

export async function migrate(caller: CallContext, source: string, id: string, target: string): Promise<number> {
  const ctx = detached(caller);
  if (source === target) throw oms('OpenVZMigrationNotCapable', { node: target, role: 'target', reason: 'it is the source node' });
  const src = driverFor(ctx, source);
  const dst = driverFor(ctx, target); // UnknownNodeError for a node that is not signed
  await capable(ctx, source, 'source');
  await capable(ctx, target, 'target');
  await requireCt(src, source, id);
  const taken = () => oms('OpenVZMigrationNotCapable', { node: target, role: 'target', reason: `container ${id} already exists there` });
  if (await dst.info(id)) throw taken();

  // The migration task holds the container on both nodes (the method's declared lock); the inner
  // task only leaves a row on the target's side.
  const task = ctx.startTask({ kind: 'ovz.migrate', node: source, target: id }, async (t) => {
    return ctx.startTask({ kind: 'ovz.migrate_in', node: target, target: id }, () => copy(t)).done;
  });
  return task.done;

  async function copy(t: TaskHandle): Promise<number> {
    // Read again under the task's hold on both sides: the state may have changed since the checks.
    const info = await requireCt(src, source, id);
    if (await dst.info(id)) throw taken();
    // A paused container would come back running on the target: the caller decides first.
    if (info.state !== 'running' && info.state !== 'stopped') throw oms('OpenVZMigrationNotCapable', { node: source, role: 'source', reason: `container ${id} is ${info.state === 'frozen' ? 'paused' : info.state}; resume or stop it first` });
    const wasRunning = info.state === 'running';
    const [config, configText] = await Promise.all([src.readConfig(id), src.readConfigText(id)]);
    const dstFacts = await dst.facts();
    let created = false;
    t.progress(0, 5);
    try {
      if (wasRunning) {
        t.log(`stopping ${id} on ${source}`);
        await src.stop(id);
      }
      checkCancelled(t);
      const usedMiB = await src.diskUsageMiB(id);
      t.log(`copying ${id} (${usedMiB} MiB) from ${source} to ${target}`);
      await relay(t, usedMiB, () => (created = true));
      t.progress(2, 5);
      checkCancelled(t);
      await dst.writeConfig(id, config, dstFacts, configText);
      t.progress(3, 5);
      const [a, b] = await Promise.all([src.manifest(id), dst.manifest(id)]);
      if (a !== b) throw new MigrationStep('the copy on the target differs from the source');
      checkCancelled(t);
      if (wasRunning) {
        t.log(`starting ${id} on ${target}`);
        await dst.start(id);
        const answer = await dst.exec(id, ['hostname']);
        if (answer.code !== 0 || answer.stdout.trim() !== config.name) throw new MigrationStep('the container does not answer on the target');
      }
      t.progress(4, 5);
    } catch (e) {
      t.log(`migration failed: ${e instanceof Error ? e.message : 'error'}; rolling back`);
      await rollback(ctx, target, id, created, wasRunning, src);
      throw e instanceof MigrationStep ? oms('OpenVZMigrationError', { vm_id: id, source, target, reason: e.message }) : wrap(e, id, source, target);
    }
    t.log(`verified on ${target}; removing ${id} from ${source}`);
    // The pipeline forgets cached results about the source (the call's node); the target changed too.
    ctx.app.cache.invalidateNode(target);
    await src.destroy(id);
    t.progress(5, 5);
    return 0;
  }

  /**
   * Packs on the source straight into unpacking on the target. Whichever side fails first stops
   * the other (its error is the one reported); `made` runs once the target holds a full copy.
   */
  async function relay(t: TaskHandle, usedMiB: number, made: () => void): Promise<void> {
    const pipe = new PassThrough({ highWaterMark: 1024 * 1024 });
    const stop = new AbortController();
    const opts = { timeoutMs: copyTimeoutMs(usedMiB), signal: AbortSignal.any([stop.signal, t.signal]) };
    let first: unknown;
    const failed = (e: unknown): never => {
      first ??= e;
      stop.abort(e);
      throw e;
    };
    const results = await Promise.allSettled([src.exportStream(id, pipe, opts).catch(failed), dst.createFromStream(id, pipe, opts).then(made, failed)]);
    if (results.some((r) => r.status === 'rejected')) throw first;
  }
}

class MigrationStep extends Error {}

const wrap = (e: unknown, vm_id: string, source: string, target: string): unknown =>
  isOmsError(e) && e.omsName !== 'OpenVZMigrationNotCapable' ? oms('OpenVZMigrationError', { vm_id, source, target, reason: (e as OmsError).message }) : e;

/** Undo on the target, then bring the source back as it was; each step tried even if one fails. */
async function rollback(ctx: CallContext, target: string, id: string, created: boolean, wasRunning: boolean, src: ReturnType<typeof driverFor>): Promise<void> {
  if (created) {
    const dst = driverFor(ctx, target);
    try {
      if ((await dst.info(id))?.state === 'running') await dst.stop(id);
    } catch (e) {
      ctx.log.warn({ node: target, vm_id: id, error: isOmsError(e) ? e.omsName : 'error' }, 'migration rollback: stop on target failed');
    }
    try {
      await dst.discard(id);
    } catch (e) {
      ctx.log.error({ node: target, vm_id: id, error: isOmsError(e) ? e.omsName : 'error' }, 'migration rollback: copy on target not removed');
    }
  }
  if (wasRunning) {
    const now = await src.info(id);
    if (now?.state !== 'running') await src.start(id);
  }
}
