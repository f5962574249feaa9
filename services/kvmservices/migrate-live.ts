/**
 * Live migration: libvirt's own, `virsh migrate --live --p2p --copy-storage-all`, run on the
 * source, the guest running all along.
 *
 * The nodes hold no keys for each other (and never get the gateway's), so libvirt's usual
 * `qemu+ssh://target` cannot be used. Instead the gateway is the path of libvirt's control
 * connection: it has the source's sshd listen on a fresh Unix socket (a streamlocal forward) and
 * relays every connection made to it over the target's SSH connection to the target's libvirtd
 * socket. The source's libvirtd is given `qemu+unix:///system?socket=<that socket>`. Memory and
 * disk data (QEMU's migration stream and the NBD disk copy) go node to node, to the target's
 * enrolled address: libvirt 9.0 refuses a disk copy inside its tunnel (`--tunnelled` with
 * `--copy-storage-all` fails: "argument key 'host' must not have null value"), and relaying
 * gigabytes through the gateway is what native migration avoids.
 *
 * libvirt undoes its own failed migration (the guest keeps running on the source, the target
 * domain goes); what OMS made on the target (the empty disk files libvirt fills) is removed here.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { Writable } from 'node:stream';
import { isIP } from 'node:net';
import type { CallContext } from '../../src/rpc/context.ts';
import { raw } from '../../src/nodes/command.ts';
import { oms } from '../../src/rpc/errors.ts';
import type { TaskHandle } from '../../src/tasks/tasks.ts';
import * as cmd from './commands.ts';
import * as mc from './migrate-commands.ts';
import { domState } from './common.ts';
import { exec, storageRun, taskNode, test, virshRun, type KvmNode } from './node.ts';
import { parseDominfo, parseQemuImgInfo, virshMessage } from './parse.ts';
import { parseMigrateStep } from './migrate-parse.ts';
import { DEFAULT_LIBVIRT_URI } from './node.ts';
import { copyTimeoutMs, freeNode, migrationFailure, MigrationStep, removeFromSource, rollback, type Survey } from './migrate.ts';

type Where = { vm: string; source: string; target: string };

/** Where the source's QEMU sends the guest: the target's address as the gateway knows it (enrolled). */
export interface LiveRoute {
  address: string;
  port: number;
}

export const targetRoute = (ctx: CallContext, target: string): LiveRoute => {
  const r = ctx.app.nodes.signed(target);
  return { address: r.address, port: r.port };
};

/**
 * Why live migration cannot be done between these nodes for this guest, or nothing. Read-only.
 * `route` is the target's enrolled address and SSH port.
 */
export async function liveReadiness(src: KvmNode, dst: KvmNode, w: Where, state: string, route: LiveRoute): Promise<void> {
  const no = (reason: string) => oms('LiveMigrationNotPossibleError', { vm: w.vm, source: w.source, target: w.target, reason });
  if (state !== 'running') throw no(`it is ${state}; only a running guest moves live (leave live out to move it offline)`);
  for (const n of [src, dst]) if (n.uri !== DEFAULT_LIBVIRT_URI) throw no(`${n.name} uses libvirt at ${n.uri}; live moves use ${DEFAULT_LIBVIRT_URI}`);
  if (isIP(route.address) === 0) throw no(`${w.target} is enrolled by the name ${route.address}, which ${w.source} may not resolve; enroll it by address`);
  if (/^(127\.|::1$|0\.)/.test(route.address)) throw no(`${w.target} is enrolled at ${route.address}, a loopback address ${w.source} cannot reach it at`);
  const probe = await exec(src, mc.probeTcp(route.address, route.port));
  if (probe.code !== 0) throw no(`${w.source} cannot reach ${w.target} at ${route.address} (memory and disks go node to node)`);
  if (!(await test(dst, mc.exists(mc.LIBVIRT_SOCKET)))) throw no(`libvirtd on ${w.target} has no socket at ${mc.LIBVIRT_SOCKET}`);
}

/**
 * stderr of `virsh migrate --verbose` (through `2>&1`): each step moves progress on; the other
 * text is kept (bounded) for the error message.
 */
function migrateSink(onPercent: (p: number) => void): { sink: Writable; text: () => string } {
  let pending = '';
  let rest = '';
  let last = -1;
  const take = (piece: string) => {
    const p = parseMigrateStep(piece);
    if (p !== undefined) {
      if (p > last) onPercent((last = p));
    } else if (piece.trim()) rest = `${rest}${piece}\n`.slice(-4000);
  };
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const parts = (pending + chunk.toString()).split(/[\r\n]/);
      pending = parts.pop()!.slice(-4000);
      for (const part of parts) take(part);
      done();
    },
    final(done) {
      take(pending);
      pending = '';
      done();
    },
  });
  sink.on('error', () => {});
  return { sink, text: () => rest };
}

/** Each connection the source's libvirtd makes to the socket, joined to the target's libvirtd. */
function relayTo(dst: KvmNode, streams: Set<Duplex>): (s: Duplex) => void {
  return (s) => {
    streams.add(s);
    s.on('error', () => s.destroy());
    dst.handle
      .forwardOutUnix(mc.LIBVIRT_SOCKET)
      .then((d) => {
        streams.add(d);
        d.on('error', () => d.destroy());
        s.pipe(d).pipe(s);
        s.on('close', () => d.destroy());
        d.on('close', () => s.destroy());
      })
      .catch(() => s.destroy());
  };
}

export async function liveMigrate(ctx: CallContext, w: Where, s: Survey, t: TaskHandle): Promise<Record<string, unknown>> {
  const src = taskNode(ctx, w.source, t.signal);
  const dst = taskNode(ctx, w.target, t.signal);
  const route = targetRoute(ctx, w.target);
  const memory = parseDominfo(await virshRun(src, cmd.dominfo(src.uri, w.vm), { vm: w.vm })).usedMemoryKiB * 1024 || 0;
  // libvirt's percentage is of memory and disks together: progress in bytes of that sum.
  const total = s.total + memory;
  t.progress(0, total);
  const made: string[] = [];
  const socket = `/run/oms-migrate-${randomUUID()}.sock`;
  const streams = new Set<Duplex>();
  let listener: { close(): Promise<void> } | undefined;
  let started = false;
  try {
    for (const k of s.disks) {
      const info = parseQemuImgInfo((await storageRun(src, cmd.imgInfo(k.path))).stdout);
      // Checked again here: qemu-img create would overwrite a file made since the survey.
      if (await test(dst, mc.exists(k.path))) throw oms('MigrationNameTakenError', { vm: w.vm, node: w.target, source: w.source, what: `disk file ${k.path}` });
      made.push(k.path);
      await storageRun(dst, mc.createLike(k.path, info.format || 'raw', info.virtualSize));
    }
    listener = await src.handle.listenUnix(socket, relayTo(dst, streams));
    t.log(`migrating ${w.vm} live: control through the gateway, memory and disks to ${route.address}`);
    const { sink, text } = migrateSink((p) => t.progress(Math.round((p / 100) * total), total));
    started = true;
    const r = await exec(src, [...mc.migrateLive(src.uri, w.vm, socket, route.address), raw('2>&1')], { stdout: sink, timeoutMs: copyTimeoutMs(total) });
    if (r.code !== 0) throw new MigrationStep(`libvirt: ${virshMessage(text()) || `exit status ${r.code}`}`);
  } catch (e) {
    t.log(`live migration failed: ${e instanceof Error ? e.message : 'error'}; rolling back`);
    const free = freeNode(ctx, w.source);
    // A cancelled task stopped virsh; libvirt's job may still run: abort it so the guest stays on the source.
    if (started) await exec(free, mc.domjobabort(free.uri, w.vm)).catch(() => undefined);
    await closeRelay(ctx, w.source, socket, listener, streams);
    listener = undefined;
    // The definition on the target is libvirt's to undo; a guest left there was made by this move.
    const leftThere = await domState(freeNode(ctx, w.target), w.vm).then(
      () => true,
      () => false,
    );
    await rollback(ctx, w, { made, defined: leftThere && started, wasRunning: true }, t);
    throw migrationFailure(e, w);
  } finally {
    if (listener) await closeRelay(ctx, w.source, socket, listener, streams);
  }
  // From here the guest lives on the target (libvirt undefined it on the source): nothing is rolled back.
  const now = await domState(freeNode(ctx, w.target), w.vm).catch(() => 'unknown');
  if (now !== 'running') t.log(`note: ${w.vm} is ${now} on ${w.target} after the migration`);
  if (s.autostart) await virshRun(freeNode(ctx, w.target), cmd.autostart(DEFAULT_LIBVIRT_URI, w.vm, true), { vm: w.vm }).catch(() => t.log(`autostart could not be set on ${w.target}`));
  ctx.app.cache.invalidateNode(w.target);
  // libvirt undefined it on the source (--undefinesource); its disk files are still there.
  const left = await removeFromSource(ctx, w, s.disks.map((k) => k.path), t);
  t.progress(total, total);
  t.log('done');
  return { name: w.vm, node: w.target, live: true, state: now, disks: s.disks.map((k) => k.path), bytes: total, left_on_source: left };
}

/** Stops the listener, ends relayed streams, removes the socket file sshd leaves behind. */
async function closeRelay(ctx: CallContext, source: string, socket: string, listener: { close(): Promise<void> } | undefined, streams: Set<Duplex>): Promise<void> {
  await listener?.close().catch(() => undefined);
  for (const s of streams) s.destroy();
  await freeNode(ctx, source).handle.exec(cmd.removeFile(socket)).catch(() => undefined);
}
