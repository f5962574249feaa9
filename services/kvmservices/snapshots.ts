/**
 * kvmservices snapshots, as Proxmox, virsh and Kimchi operators use them daily: internal qcow2
 * snapshots through libvirt. A snapshot of a running guest holds its memory state too, so a
 * revert resumes it where it was; one of a stopped guest holds the disks only. Create, revert and
 * delete are tasks on the guest (one at a time per guest); a guest with a raw or block disk is
 * refused before libvirt is asked, naming the disk.
 */
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { taskStarted } from '../../src/rpc/results.ts';
import { oms } from '../../src/rpc/errors.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import * as snap from './snapshot-commands.ts';
import { domState, inactiveDomain, lockVmUntil, onVm, serverParam, vmParam } from './common.ts';
import { snapshotDescription, snapshotName } from './fields.ts';
import { exec, kvmNode, taskNode, type KvmNode } from './node.ts';
import { isNoDomain, virshMessage } from './parse.ts';
import { isNoCurrentSnapshot, isNoSnapshot, parseSnapshotNames, parseSnapshotXml, snapshotBlocker, type SnapshotInfo } from './snapshot-parse.ts';
import type { Command } from '../../src/nodes/command.ts';

/** Saving or loading a large guest's memory takes a while; the task's signal stops it sooner. */
const SNAPSHOT_TIMEOUT_MS = 60 * 60_000;

/** virsh for one guest's snapshots: unknown guest and unknown snapshot become their typed errors. */
async function snapRun(n: KvmNode, cmd: Command, vm: string, snapshot?: string, timeoutMs?: number): Promise<string> {
  const r = await exec(n, cmd, { timeoutMs });
  if (r.code === 0) return r.stdout;
  if (snapshot !== undefined && isNoSnapshot(r.stderr)) throw oms('UnknownSnapshotError', { vm, node: n.name, snapshot });
  if (isNoDomain(r.stderr)) throw oms('UnknownVmError', { vm, node: n.name });
  throw oms('LibvirtError', { node: n.name, message: virshMessage(r.stderr) });
}

async function currentSnapshot(n: KvmNode, vm: string): Promise<string | null> {
  const r = await exec(n, snap.snapshotCurrent(n.uri, vm));
  if (r.code === 0) return r.stdout.trim() || null;
  if (isNoCurrentSnapshot(r.stderr)) return null;
  if (isNoDomain(r.stderr)) throw oms('UnknownVmError', { vm, node: n.name });
  throw oms('LibvirtError', { node: n.name, message: virshMessage(r.stderr) });
}

export type SnapshotRow = SnapshotInfo & { current: boolean };

/** Every snapshot of the guest, parents before children. */
export async function listSnapshots(n: KvmNode, vm: string): Promise<SnapshotRow[]> {
  const names = parseSnapshotNames(await snapRun(n, snap.snapshotNames(n.uri, vm), vm));
  const current = names.length ? await currentSnapshot(n, vm) : null;
  const out: SnapshotRow[] = [];
  // One at a time: a guest has a handful of snapshots, and the node's channels are shared.
  for (const name of names) out.push({ ...parseSnapshotXml(await snapRun(n, snap.snapshotXml(n.uri, vm, name), vm, name)), current: name === current });
  return out;
}

async function oneSnapshot(n: KvmNode, vm: string, name: string): Promise<SnapshotRow> {
  const info = parseSnapshotXml(await snapRun(n, snap.snapshotXml(n.uri, vm, name), vm, name));
  return { ...info, current: (await currentSnapshot(n, vm)) === name };
}

/** Refuses (SnapshotUnsupportedError) a guest whose disks cannot hold an internal snapshot. */
async function mustSnapshot(n: KvmNode, vm: string): Promise<void> {
  const blocker = snapshotBlocker((await inactiveDomain(n, vm)).disks);
  if (blocker) throw oms('SnapshotUnsupportedError', { vm, node: n.name, ...blocker });
}

async function mustHave(n: KvmNode, vm: string, name: string): Promise<void> {
  if (!parseSnapshotNames(await snapRun(n, snap.snapshotNames(n.uri, vm), vm)).includes(name)) throw oms('UnknownSnapshotError', { vm, node: n.name, snapshot: name });
}

function startSnapshotTask<T>(ctx: CallContext, node: string, vm: string, kind: string, work: (n: KvmNode, h: { log(line: string): void; progress(d: number, t: number): void }) => Promise<T>): { task_id: string } {
  const t = ctx.startTask({ kind, node, target: vm }, async (h) => {
    h.progress(0, 1);
    const result = await work(taskNode(ctx, node, h.signal), h);
    h.progress(1, 1);
    h.log('done');
    return result;
  });
  return { task_id: t.id };
}

const snapParam = { name: 'snapshot_name', schema: snapshotName } as const;

export const snapshotMethods: MethodDecl[] = [
  method({
    name: 'list_snapshots',
    description:
      "A guest's snapshots, parents before children: name, description, state it was taken in (running, paused, shutoff), creation_time (Unix seconds), parent, memory (whether the running guest's memory is in it), disks ({name, snapshot: internal|no}) and current (the one the guest last was at).",
    auth: 'session',
    permission: onVm('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, vmParam] as const,
    run: (ctx, { server_hostname, kvm_vm_name }) => listSnapshots(kvmNode(ctx, server_hostname), kvm_vm_name),
  }),
  method({
    name: 'create_snapshot',
    description:
      "Takes an internal snapshot named snapshot_name (a task): of every qcow2 disk, and of the memory state too when the guest runs, so a revert resumes it running. description: free text up to 1024 characters. A guest with a raw or block-device disk is refused (SnapshotUnsupportedError naming the disk); an existing name, SnapshotExistsError. Returns {task_id}; the task's result is the snapshot as list_snapshots shows it.",
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVmUntil('snapshot'),
    node: 'server_hostname',
    result: taskStarted,
    params: [serverParam, vmParam, snapParam, { name: 'description', schema: snapshotDescription, optional: true }] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, snapshot_name: name, description }) {
      const n = kvmNode(ctx, server_hostname);
      // Refusals before the task: they are immediate errors, and nothing on the node changes.
      await mustSnapshot(n, vm);
      if (parseSnapshotNames(await snapRun(n, snap.snapshotNames(n.uri, vm), vm)).includes(name)) throw oms('SnapshotExistsError', { vm, node: n.name, snapshot: name });
      return startSnapshotTask(ctx, n.name, vm, 'kvm.snapshot.create', async (tn, h) => {
        await mustSnapshot(tn, vm);
        const state = await domState(tn, vm);
        h.log(`taking snapshot ${name} of ${vm} (${state}: ${state === 'running' || state === 'paused' ? 'disks and memory state' : 'disks only'})`);
        await snapRun(tn, snap.snapshotCreate(tn.uri, vm, name, description), vm, undefined, SNAPSHOT_TIMEOUT_MS);
        const made = await oneSnapshot(tn, vm, name);
        h.log(`snapshot ${name} taken: state ${made.state}, memory ${made.memory ? 'included' : 'not included'}`);
        return made;
      });
    },
  }),
  method({
    name: 'revert_snapshot',
    description:
      'Puts the guest back to the snapshot (a task): its disks, and its memory and running state when the snapshot holds them; a snapshot taken while stopped leaves the guest stopped. Unknown name: UnknownSnapshotError. Returns {task_id}; the task\'s result is {snapshot, state} with the guest\'s state after.',
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVmUntil('snapshot'),
    node: 'server_hostname',
    result: taskStarted,
    params: [serverParam, vmParam, snapParam] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, snapshot_name: name }) {
      const n = kvmNode(ctx, server_hostname);
      await mustHave(n, vm, name);
      return startSnapshotTask(ctx, n.name, vm, 'kvm.snapshot.revert', async (tn, h) => {
        h.log(`reverting ${vm} to snapshot ${name} (it is ${await domState(tn, vm)})`);
        await snapRun(tn, snap.snapshotRevert(tn.uri, vm, name), vm, name, SNAPSHOT_TIMEOUT_MS);
        const state = await domState(tn, vm);
        h.log(`reverted; ${vm} is ${state}`);
        return { snapshot: name, state };
      });
    },
  }),
  method({
    name: 'delete_snapshot',
    description: "Deletes one snapshot (a task): its data leaves the guest's qcow2 files; its children stay and take its parent. Unknown name: UnknownSnapshotError. Returns {task_id}; the task's result is {deleted: name}.",
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVmUntil('snapshot'),
    node: 'server_hostname',
    result: taskStarted,
    params: [serverParam, vmParam, snapParam] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, snapshot_name: name }) {
      const n = kvmNode(ctx, server_hostname);
      await mustHave(n, vm, name);
      return startSnapshotTask(ctx, n.name, vm, 'kvm.snapshot.delete', async (tn, h) => {
        h.log(`deleting snapshot ${name} of ${vm}`);
        await snapRun(tn, snap.snapshotDelete(tn.uri, vm, name), vm, name, SNAPSHOT_TIMEOUT_MS);
        return { deleted: name };
      });
    },
  }),
];
