/**
 * Moving a KVM guest to another node (migrate_vm), offline or live.
 *
 * Offline, relayed by the gateway (the nodes hold no keys for each other, and never get the
 * gateway's):
 * 1. both nodes and the guest checked before anything changes (target reachable, the name and
 *    every disk path free there, shared media present, space for the disks);
 * 2. a running guest is shut down by ACPI (it must answer the power button within the window);
 * 3. each file disk streams from `cat` on the source through the gateway into `dd` on the
 *    target, at the same path, never held whole; the gateway hashes what passed and the target's
 *    sha256sum must match it;
 * 4. the definition (with its console password, it is the same guest) is defined on the target,
 *    autostart carried, and the guest started there if it ran;
 * 5. only once it runs there (or is defined, for a stopped guest) is it undefined on the source
 *    and its disk files removed there.
 * Any failure before 5 removes what was made on the target and starts the guest again on the
 * source if it ran, so it is where it was, as it was.
 *
 * Live: see migrate-live.ts.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { CallContext } from '../../src/rpc/context.ts';
import { isOmsError, oms, type OmsError } from '../../src/rpc/errors.ts';
import type { TaskHandle } from '../../src/tasks/tasks.ts';
import * as cmd from './commands.ts';
import * as mc from './migrate-commands.ts';
import { domState, isStopped, mustNotExist, sleep } from './common.ts';
import { readDomain } from './domain.ts';
import { exec, kvmNodeOf, storageRun, taskNode, test, virshRun, type KvmNode } from './node.ts';
import { parseDominfo, virshMessage } from './parse.ts';
import { parseAvail, parseSha256, parseSize, planMove, spaceNeeded } from './migrate-parse.ts';
import { formatBytes } from './progress.ts';
import { liveMigrate, liveReadiness, targetRoute, type LiveRoute } from './migrate-live.ts';

/** How long a running guest gets to answer the ACPI power button before an offline move gives up (it keeps running). */
export const SHUTDOWN_WINDOW_S = 120;
const ACPI_REPEAT_MS = 5000;
/** How long a rollback keeps trying a node that does not answer, and how often. */
export const ROLLBACK_RETRY_MS = 120_000;
const ROLLBACK_RETRY_EVERY_MS = 2000;
/** A disk copy's budget: a floor, then one second per 4 MiB (the relay moves far faster); cancel stops it any time. */
export const copyTimeoutMs = (bytes: number): number => 300_000 + Math.ceil(bytes / (4 * 1024 * 1024)) * 1000;

export interface Survey {
  state: string;
  xml: string;
  autostart: boolean;
  disks: { target: string; path: string; bytes: number }[];
  total: number;
}

type Where = { vm: string; source: string; target: string };

/** Errors of the transport (the node down, sshd gone, a command that never answered) say the target cannot be reached. */
const unreachable = (e: unknown): e is OmsError => isOmsError(e) && ['NodeUnreachableError', 'FuncMethodTimeoutError', 'HostKeyMismatchError'].includes(e.omsName);

/** The target's view, any transport failure read as MigrationTargetUnreachableError. */
async function onTarget<T>(w: Where, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (unreachable(e)) throw oms('MigrationTargetUnreachableError', { vm: w.vm, node: w.target, source: w.source, reason: e.message });
    throw e;
  }
}

/**
 * Everything checked before a move, read-only on both nodes; run before the task (immediate
 * refusals) and again under the task's hold (the nodes may have changed between).
 */
export async function survey(src: KvmNode, dst: KvmNode, w: Where, live: LiveRoute | undefined): Promise<Survey> {
  const notCapable = (reason: string) => oms('MigrationNotCapableError', { vm: w.vm, source: w.source, target: w.target, reason });
  await onTarget(w, () => virshRun(dst, cmd.listNames(dst.uri)));
  const state = await domState(src, w.vm);
  if (state !== 'running' && !isStopped(state)) throw notCapable(`it is ${state}; resume or stop it first`);
  const xml = await virshRun(src, cmd.dumpxmlSecure(src.uri, w.vm), { vm: w.vm });
  const d = readDomain(xml);
  const plan = planMove(d, xml);
  if ('refuse' in plan) throw notCapable(plan.refuse);
  const snaps = (await virshRun(src, mc.snapshotNames(src.uri, w.vm), { vm: w.vm })).split('\n').filter((l) => l.trim());
  if (snaps.length > 0) throw notCapable(`it has ${snaps.length} snapshot${snaps.length === 1 ? '' : 's'}, whose libvirt metadata does not move; delete them first`);
  const autostart = parseDominfo(await virshRun(src, cmd.dominfo(src.uri, w.vm), { vm: w.vm })).autostart;
  const taken = (what: string) => oms('MigrationNameTakenError', { vm: w.vm, node: w.target, source: w.source, what });
  await onTarget(w, async () => {
    try {
      await mustNotExist(dst, w.vm);
    } catch (e) {
      if (isOmsError(e) && e.omsName === 'VmExistsError') throw taken(`a guest named ${w.vm}`);
      throw e;
    }
  });
  const disks: Survey['disks'] = [];
  for (const k of plan.disks) disks.push({ ...k, bytes: parseSize((await storageRun(src, mc.fileSize(k.path))).stdout) });
  await onTarget(w, async () => {
    for (const k of disks) if (await test(dst, mc.exists(k.path))) throw taken(`disk file ${k.path}`);
    for (const p of plan.shared) if (!(await test(dst, mc.exists(p)))) throw notCapable(`its shared medium ${p} is not on ${w.target}`);
    for (const [dir, need] of spaceNeeded(disks)) {
      if (!(await test(dst, mc.isDir(dir)))) throw notCapable(`the directory ${dir} of its disks does not exist on ${w.target}`);
      const free = parseAvail((await storageRun(dst, mc.freeBytes(dir))).stdout);
      if (free < need) throw oms('MigrationSpaceError', { vm: w.vm, node: w.target, source: w.source, dir, free: formatBytes(free), need: formatBytes(need) });
    }
    if (live) await liveReadiness(src, dst, w, state, live);
  });
  return { state, xml, autostart, disks, total: disks.reduce((a, k) => a + k.bytes, 0) };
}

/** Raised by a step of the move that found something wrong (not a node's own error). */
export class MigrationStep extends Error {}

/** Any failure of the move as the caller sees it: the catalogue's own migration errors pass, the rest become MigrationError. */
export function migrationFailure(e: unknown, w: Where): unknown {
  if (isOmsError(e) && /^(Migration|LiveMigration)/.test(e.omsName)) return e;
  if (isOmsError(e) && ['ShutdownTimeoutError', 'TaskCancelledError'].includes(e.omsName)) return e;
  const reason = e instanceof MigrationStep || isOmsError(e) ? (e as Error).message : 'internal error';
  return oms('MigrationError', { vm: w.vm, source: w.source, target: w.target, reason });
}

/** A node handle whose commands are tied to nothing: rollback and removal must run even after a cancel. */
export const freeNode = (ctx: CallContext, name: string): KvmNode => kvmNodeOf(ctx.app.access.get(name));

/**
 * The move itself, inside the migrate task (both names held). `t` reports; the nodes' commands
 * stop on cancel_task, the rollback does not.
 */
export async function moveWork(ctx: CallContext, w: Where, live: boolean, t: TaskHandle): Promise<Record<string, unknown>> {
  const src = taskNode(ctx, w.source, t.signal);
  const dst = taskNode(ctx, w.target, t.signal);
  const s = await survey(src, dst, w, live ? targetRoute(ctx, w.target) : undefined);
  const wasRunning = s.state === 'running';
  t.log(`moving ${w.vm} (${wasRunning ? 'running' : 'stopped'}) from ${w.source} to ${w.target}, ${live ? 'live' : 'offline'}: ${s.disks.length} disk${s.disks.length === 1 ? '' : 's'}, ${formatBytes(s.total)}`);
  t.progress(0, s.total);
  if (live) return liveMigrate(ctx, w, s, t);

  const made: string[] = [];
  let defined = false;
  try {
    if (wasRunning) await shutdown(src, w.vm, t);
    let before = 0;
    for (const [i, k] of s.disks.entries()) {
      t.log(`copying disk ${i + 1}/${s.disks.length} ${k.target}: ${formatBytes(k.bytes)} to ${w.target}:${k.path}`);
      made.push(k.path);
      await relayDisk(src, dst, k, (n) => t.progress(before + n, s.total), t.signal);
      before += k.bytes;
    }
    t.log(`defining ${w.vm} on ${w.target}`);
    // On stdin, never on a command line: it may carry the console password.
    await virshRun(dst, cmd.defineStdin(dst.uri), { input: s.xml });
    defined = true;
    if (s.autostart) await virshRun(dst, cmd.autostart(dst.uri, w.vm, true), { vm: w.vm });
    if (wasRunning) {
      t.log(`starting ${w.vm} on ${w.target}`);
      await virshRun(dst, cmd.power(dst.uri, 'start', w.vm), { vm: w.vm });
      const now = await domState(dst, w.vm);
      if (now !== 'running') throw new MigrationStep(`it is ${now} on ${w.target} after the start`);
    }
  } catch (e) {
    t.log(`migration failed: ${e instanceof Error ? e.message : 'error'}; rolling back`);
    await rollback(ctx, w, { made, defined, wasRunning }, t);
    throw migrationFailure(e, w);
  }
  ctx.app.cache.invalidateNode(w.target);
  const left = await removeFromSource(ctx, w, s.disks.map((k) => k.path), t);
  t.progress(s.total, s.total);
  t.log('done');
  return { name: w.vm, node: w.target, live: false, state: wasRunning ? 'running' : 'shut off', disks: s.disks.map((k) => k.path), bytes: s.total, left_on_source: left };
}

/** ACPI power button, again every few seconds, until the guest is off or the window has passed (then it keeps running). */
async function shutdown(n: KvmNode, vm: string, t: TaskHandle): Promise<void> {
  t.log(`shutting ${vm} down on ${n.name} (ACPI, up to ${SHUTDOWN_WINDOW_S} s)`);
  const deadline = Date.now() + SHUTDOWN_WINDOW_S * 1000;
  let lastPress = 0;
  for (;;) {
    const state = await domState(n, vm);
    if (isStopped(state)) return;
    if (Date.now() >= deadline) throw oms('ShutdownTimeoutError', { vm, node: n.name, seconds: SHUTDOWN_WINDOW_S, state });
    if (Date.now() - lastPress >= ACPI_REPEAT_MS) {
      const r = await exec(n, cmd.power(n.uri, 'shutdown', vm));
      if (r.code !== 0 && !/not running/.test(r.stderr)) throw oms('LibvirtError', { node: n.name, message: virshMessage(r.stderr) });
      lastPress = Date.now();
    }
    await sleep(500, t.signal);
  }
}

/**
 * One disk from the source's `cat` through the gateway into the target's `dd`, with backpressure;
 * whichever side fails first stops the other (its error is the one reported). The gateway hashes
 * the bytes as they pass, and the file on the target must hash the same.
 */
async function relayDisk(src: KvmNode, dst: KvmNode, k: { target: string; path: string; bytes: number }, progress: (n: number) => void, signal: AbortSignal): Promise<void> {
  const hash = createHash('sha256');
  let moved = 0;
  const pipe = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      moved += chunk.length;
      progress(moved);
      done(null, chunk);
    },
  });
  const stop = new AbortController();
  const opts = { timeoutMs: copyTimeoutMs(k.bytes), signal: AbortSignal.any([stop.signal, signal]) };
  let first: unknown;
  const failed = (e: unknown): never => {
    first ??= e;
    stop.abort(e);
    throw e;
  };
  const results = await Promise.allSettled([
    src.handle.exec(mc.readTo(k.path), { ...opts, stdout: pipe }).catch(failed),
    dst.handle.exec(mc.writeFrom(k.path), { ...opts, input: pipe }).catch(failed),
  ]);
  if (results.some((r) => r.status === 'rejected')) throw first;
  if (moved !== k.bytes) throw new MigrationStep(`disk ${k.target}: ${moved} bytes came from ${src.name}, ${k.bytes} expected (did it change?)`);
  const there = parseSha256((await storageRun(dst, mc.sha256(k.path))).stdout);
  if (there !== hash.digest('hex')) throw new MigrationStep(`the copy of disk ${k.target} on ${dst.name} differs from what left ${src.name}`);
}

/** Undo on the target (what this move made only), then bring the guest back up on the source if it ran. Each step is tried even if one fails. */
export async function rollback(ctx: CallContext, w: Where, done: { made: string[]; defined: boolean; wasRunning: boolean }, t: TaskHandle): Promise<void> {
  const dst = freeNode(ctx, w.target);
  const src = freeNode(ctx, w.source);
  // A node that dropped off (the usual reason a move fails mid-way) is waited for: the target is
  // not left holding half a guest because it was away for a few seconds.
  const until = Date.now() + ROLLBACK_RETRY_MS;
  const attempt = async (what: string, step: () => Promise<unknown>) => {
    for (let waited = false; ; waited = true) {
      try {
        await step();
        if (waited) t.log(`rollback: ${what} done once the node answered again`);
        return;
      } catch (e) {
        if (unreachable(e) && Date.now() < until) {
          if (!waited) t.log(`rollback: ${what}: ${e.message}; trying again while it is away`);
          await sleep(ROLLBACK_RETRY_EVERY_MS);
          continue;
        }
        t.log(`rollback: ${what} failed: ${e instanceof Error ? e.message : 'error'}`);
        ctx.log.error({ vm: w.vm, node: w.target, error: isOmsError(e) ? e.omsName : 'error' }, `migration rollback: ${what} failed`);
        return;
      }
    }
  };
  if (done.defined) {
    await attempt(`stopping ${w.vm} on ${w.target}`, async () => {
      if (!isStopped(await domState(dst, w.vm))) await virshRun(dst, cmd.power(dst.uri, 'destroy', w.vm), { vm: w.vm });
    });
    await attempt(`undefining ${w.vm} on ${w.target}`, () => virshRun(dst, cmd.undefine(dst.uri, w.vm), { vm: w.vm }));
  }
  for (const p of done.made) await attempt(`removing ${w.target}:${p}`, async () => void (await dst.handle.exec(cmd.removeFile(p))));
  if (done.wasRunning)
    await attempt(`starting ${w.vm} again on ${w.source}`, async () => {
      if (isStopped(await domState(src, w.vm))) await virshRun(src, cmd.power(src.uri, 'start', w.vm), { vm: w.vm });
    });
  t.log(`rolled back: ${w.vm} is on ${w.source}${done.wasRunning ? ', running' : ''}`);
}

/**
 * The move is done (the guest runs, or is defined, on the target): the source's definition and
 * disk files go. A failure here leaves a stopped copy behind, reported, never rolled back.
 */
export async function removeFromSource(ctx: CallContext, w: Where, files: string[], t: TaskHandle): Promise<string[]> {
  const src = freeNode(ctx, w.source);
  const left: string[] = [];
  t.log(`removing ${w.vm} from ${w.source}`);
  try {
    const state = await domState(src, w.vm).catch((e) => (isOmsError(e) && e.omsName === 'UnknownVmError' ? undefined : Promise.reject(e)));
    if (state !== undefined) {
      if (!isStopped(state)) throw new MigrationStep(`it is ${state} on ${w.source}`);
      await virshRun(src, cmd.undefine(src.uri, w.vm), { vm: w.vm });
    }
  } catch (e) {
    t.log(`could not undefine ${w.vm} on ${w.source}: ${e instanceof Error ? e.message : 'error'}; its disks are left there too`);
    return [`definition of ${w.vm}`, ...files];
  }
  for (const p of files) {
    const r = await src.handle.exec(cmd.removeFile(p), { okExitCodes: [0, 1] }).catch(() => undefined);
    if (r?.code !== 0) left.push(p);
  }
  if (left.length > 0) t.log(`left on ${w.source}: ${left.join(', ')}`);
  ctx.app.cache.invalidateNode(w.source);
  return left;
}
