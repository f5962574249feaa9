/**
 * kvmservices methods beyond the OMS document, after CloudSigma / Velocity / DataCentred: clone,
 * delete with its drives, edit a stopped guest, autostart, runtime counters, disks and NICs.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { taskStarted } from '../../src/rpc/results.ts';
import { oms } from '../../src/rpc/errors.ts';
import { fileName, vmName } from '../../src/rpc/fields.ts';
import { netName } from './fields.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import * as cmd from './commands.ts';
import { cloneXml, diskXml, interfaceXml, type DiskInfo } from './domain.ts';
import { domState, inactiveDomain, isStopped, lockVm, mustBeStopped, mustNotExist, nodeInfo, onVm, serverParam, vmParam } from './common.ts';
import { kvmGuest } from '../../src/locks/guest-locks.ts';
import { diskUse } from './images.ts';
import { copyDisks, type DiskCopy, type StepReport } from './image-copy.ts';
import { inDir, kvmNode, storageRun, taskNode, test, virshRun, type KvmNode } from './node.ts';
import { diskStats, parseDominfo, parseDomstats, parseQemuImgInfo, stateName } from './parse.ts';
import { onOff } from './settings.ts';
import { macAddress } from './macs.ts';
import { macForNewNic } from './nics.ts';
import { oneNetwork } from './networks.ts';
import { chooseCloneName, clonePassword, consoleProtection, newVncPassword, withConsolePassword } from './clone-options.ts';
import { editSettings, editVm } from './edit-vm.ts';

/** Disk file a clone gets for one of the source's disks. */
export const cloneDiskName = (newVm: string, d: DiskInfo): string => `${newVm}-${d.targetDev}.${d.format === 'qcow2' ? 'qcow2' : 'img'}`;

async function cloneWork(ctx: CallContext, n: KvmNode, vm: string, newName: string, task: StepReport, vncPassword?: string): Promise<{ name: string; disks: string[] }> {
  await mustBeStopped(n, vm, 'a guest is cloned while stopped, so its disks are consistent');
  await mustNotExist(n, newName);
  const xml = await virshRun(n, cmd.dumpxml(n.uri, vm, true), { vm });
  const d = await inactiveDomain(n, vm);
  const disks = d.disks.filter((k) => k.device === 'disk' && k.source);
  const blockDisk = disks.find((k) => k.type !== 'file');
  if (blockDisk) throw oms('InvalidSettingsError', { what: vm, reason: `disk ${blockDisk.targetDev} is a block device; only file disks are copied` });
  const made: string[] = [];
  const newDisks: Record<string, string> = {};
  const copies: DiskCopy[] = [];
  for (const k of disks) {
    const dest = inDir(n.dirs.images, cloneDiskName(newName, k));
    if (!(await test(n, cmd.notExists(dest)))) throw oms('ImageExistsError', { image: posix.basename(dest), node: n.name });
    newDisks[k.targetDev] = dest;
    copies.push({ label: k.targetDev, from: k.source, to: dest, format: k.format === 'qcow2' ? 'qcow2' : 'raw' });
  }
  try {
    // Each disk in turn, a full copy: the clone does not depend on the source's files afterwards.
    await copyDisks(n, copies, task, (to) => made.push(to));
    task.log(`defining guest ${newName}`);
    // On stdin, never on a command line; the consoles get the new password or none (clone-options.ts).
    await virshRun(n, cmd.defineStdin(n.uri), { input: withConsolePassword(cloneXml(xml, newName, newDisks), vncPassword) });
    task.log('done');
    return { name: newName, disks: made };
  } catch (e) {
    task.log(`not finished; removing ${made.length} partial cop${made.length === 1 ? 'y' : 'ies'}`);
    for (const p of made) await n.handle.exec(cmd.removeFile(p), { okExitCodes: [0, 1] }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: rm failed'));
    throw e;
  }
}

const recurseMode = z.enum(['none', 'all_drives', 'disks', 'cdroms']);
const targetDev = z.string().regex(/^(vd|sd|hd)[a-z]{1,2}$/, 'not a disk target (vda, sdb, hdc, ...)');
const mac = macAddress;

export const manageMethods: MethodDecl[] = [
  method({
    name: 'clone_vm',
    description:
      "Copies a stopped guest (a task): every file disk is copied in turn to <name>-<target>.qcow2|img in the images directory; CD-ROMs are shared; new UUID and MACs. new_name may be left out (or null): the first free <source>-clone-N is taken. The clone never gets the source's VNC/SPICE password: if the source has one, or random_vnc_password is set, the clone gets a fresh 8-character password, returned here once as vnc_password (the gateway keeps no copy); otherwise it has none (vnc_password null). Returns {task_id, name, vnc_password}; the task's result is {name, disks}.",
    auth: 'session',
    permission: onVm('vm.create'),
    mutates: true,
    // The source's disks are read for the copy: nothing may start or change it meanwhile; the new
    // name is held so no second clone, deploy or install makes the same guest.
    lock: {
      summary: 'the source guest kvm_vm_name and the new guest new_name (or the name chosen for it) on server_hostname, until the clone task ends',
      guests: (p) => (p.new_name == null ? [kvmGuest(p.server_hostname, p.kvm_vm_name)] : [kvmGuest(p.server_hostname, p.kvm_vm_name), kvmGuest(p.server_hostname, p.new_name)]),
    },
    node: 'server_hostname',
    result: taskStarted.extend({ name: z.string(), vnc_password: z.string().nullable() }),
    params: [serverParam, vmParam, { name: 'new_name', schema: vmName.nullable(), optional: true }, { name: 'random_vnc_password', schema: onOff, optional: true }] as const,
    async run(ctx, { server_hostname, kvm_vm_name, new_name, random_vnc_password }) {
      const n = kvmNode(ctx, server_hostname);
      // Checked before the task too, so the obvious refusals are immediate errors.
      await mustBeStopped(n, kvm_vm_name, 'a guest is cloned while stopped, so its disks are consistent');
      const name = new_name ?? (await chooseCloneName(n, kvm_vm_name));
      // A chosen name is known only now: held like a given one, so no second clone takes it too.
      if (new_name == null) await ctx.lockGuests([kvmGuest(server_hostname, name)]);
      await mustNotExist(n, name);
      const source = consoleProtection(await virshRun(n, cmd.dumpxmlSecure(n.uri, kvm_vm_name), { vm: kvm_vm_name }));
      const password = clonePassword(source, random_vnc_password) ? newVncPassword() : undefined;
      const t = ctx.startTask({ kind: 'kvm.clone_vm', node: n.name, target: kvm_vm_name }, (h) => cloneWork(ctx, taskNode(ctx, n.name, h.signal), kvm_vm_name, name, h, password));
      return { task_id: t.id, name, vnc_password: password ?? null };
    },
  }),
  method({
    name: 'delete_vm_recursive',
    description:
      'Deletes a guest and, by recurse, its drives: all_drives, disks (writable disks), cdroms (ISO files), none. Only files in the node\'s images and ISO directories are removed, never one another guest uses. A running guest is refused unless force is set (then it is powered off). Returns {deleted, kept: [{path, reason}]}.',
    auth: 'session',
    permission: onVm('vm.delete'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'recurse', schema: recurseMode }, { name: 'force', schema: onOff, optional: true }] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, recurse, force }) {
      const n = kvmNode(ctx, server_hostname);
      const state = await domState(n, vm);
      if (!isStopped(state) && !force) throw oms('VmStateError', { vm, node: n.name, state, reason: 'refusing to delete a running guest without force' });
      const d = await inactiveDomain(n, vm);
      const wanted = d.disks.filter((k) => k.source && (recurse === 'all_drives' || (recurse === 'disks' && k.device === 'disk') || (recurse === 'cdroms' && k.device === 'cdrom')));
      const others = (await diskUse(n)).filter((u) => u.vm !== vm);
      const deleted: string[] = [];
      const kept: { path: string; reason: string }[] = [];
      const remove: string[] = [];
      for (const k of wanted) {
        const user = others.find((u) => u.path === k.source);
        const dir = posix.dirname(k.source);
        if (k.type !== 'file') kept.push({ path: k.source, reason: 'not a file' });
        else if (dir !== n.dirs.images && dir !== n.dirs.isos) kept.push({ path: k.source, reason: 'outside the images and ISO directories' });
        else if (user) kept.push({ path: k.source, reason: `used by ${user.vm}` });
        else if (!remove.includes(k.source)) remove.push(k.source);
      }
      // The removal runs as a task (row, log, progress) even though this call waits for it: the
      // caller keeps the documented {deleted, kept}; the task is found by list_tasks (kind, target).
      const task = ctx.startTask({ kind: 'kvm.delete_vm_recursive', node: n.name, target: vm }, async (h) => {
        const tn = taskNode(ctx, n.name, h.signal);
        const steps = (isStopped(state) ? 0 : 1) + 1 + remove.length;
        let step = 0;
        h.progress(0, steps);
        for (const k of kept) h.log(`keeping ${k.path}: ${k.reason}`);
        if (!isStopped(state)) {
          h.log(`powering off ${vm} (it was ${state}, force given)`);
          await virshRun(tn, cmd.power(tn.uri, 'destroy', vm), { vm });
          h.progress(++step, steps);
        }
        h.log(`undefining guest ${vm}`);
        await virshRun(tn, cmd.undefine(tn.uri, vm), { vm });
        h.progress(++step, steps);
        for (const [i, p] of remove.entries()) {
          h.log(`deleting drive ${i + 1}/${remove.length}: ${p}`);
          await storageRun(tn, cmd.removeFile(p));
          deleted.push(p);
          h.progress(++step, steps);
        }
        h.log('done');
        return { deleted, kept };
      });
      return task.done;
    },
  }),
  method({
    name: 'edit_vm',
    description:
      "Changes a guest's cpus, memory (MiB), name, meta ({key: value}, kept in its libvirt definition; replaces the whole meta, {} clears it) and tags (a list; replaces its tags in the gateway's tag store, [] clears them). A running guest takes meta and tags, and cpus and memory up to the maximum it was started with; anything else (a rename, more than that maximum) is refused with VmStateError naming the field, nothing changed. Invalid values: InvalidSettingsError naming them, nothing changed. 0.",
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    // A rename also holds the new name, so nothing makes a guest of that name meanwhile.
    lock: {
      summary: 'the KVM guest kvm_vm_name on server_hostname, and settings.name when it renames',
      guests: (p) => [kvmGuest(p.server_hostname, p.kvm_vm_name), ...(p.settings.name !== undefined && p.settings.name !== p.kvm_vm_name ? [kvmGuest(p.server_hostname, p.settings.name)] : [])],
    },
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'settings', schema: editSettings }] as const,
    run: (ctx, { server_hostname, kvm_vm_name, settings }) => editVm(ctx, server_hostname, kvm_vm_name, settings),
  }),
  method({
    name: 'set_autostart',
    description: 'Whether libvirt starts the guest when the node boots. 0.',
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'on_off', schema: onOff }] as const,
    async run(ctx, { server_hostname, kvm_vm_name, on_off }) {
      const n = kvmNode(ctx, server_hostname);
      await virshRun(n, cmd.autostart(n.uri, kvm_vm_name, on_off), { vm: kvm_vm_name });
      return 0;
    },
  }),
  method({
    name: 'vm_runtime_info',
    description: 'A guest\'s state, autostart, vCPUs, CPU time (ns), memory (KiB), per disk {dev, path, rd_reqs, rd_bytes, wr_reqs, wr_bytes, fl_reqs, capacity, allocation, physical} (as get_vm_runtime) and per-NIC I/O counters (libvirt domstats).',
    auth: 'session',
    permission: onVm('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, vmParam] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm }) {
      const n = kvmNode(ctx, server_hostname);
      const [stats, info] = await Promise.all([virshRun(n, cmd.domstatsFull(n.uri, vm), { vm }), virshRun(n, cmd.dominfo(n.uri, vm), { vm })]);
      const f = parseDomstats(stats).get(vm) ?? {};
      const num = (k: string) => (f[k] === undefined ? 0 : Number(f[k]));
      return {
        state: stateName(f['state.state']),
        autostart: parseDominfo(info).autostart,
        vcpus: num('vcpu.current'),
        cpu_time_ns: num('cpu.time'),
        memory: { current_kib: num('balloon.current'), maximum_kib: num('balloon.maximum'), rss_kib: num('balloon.rss') },
        disks: diskStats(f),
        interfaces: Array.from({ length: num('net.count') }, (_, i) => ({
          dev: f[`net.${i}.name`] ?? '',
          rx_bytes: num(`net.${i}.rx.bytes`),
          rx_packets: num(`net.${i}.rx.pkts`),
          tx_bytes: num(`net.${i}.tx.bytes`),
          tx_packets: num(`net.${i}.tx.pkts`),
        })),
      };
    },
  }),
  method({
    name: 'attach_disk',
    description: 'Attaches a disk image of the images directory as target_dev (vdb, sdb, ...; bus virtio for vd*, sata for sd*, ide for hd*); to the definition, and to the running guest too when it runs. 0.',
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'diskimage_name', schema: fileName }, { name: 'target_dev', schema: targetDev }] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, diskimage_name, target_dev }) {
      const n = kvmNode(ctx, server_hostname);
      const path = inDir(n.dirs.images, diskimage_name);
      if (!(await test(n, ['test', '-f', path]))) throw oms('UnknownImageError', { image: diskimage_name, node: n.name });
      const format = parseQemuImgInfo((await storageRun(n, cmd.imgInfo(path))).stdout).format || 'raw';
      const bus = target_dev.startsWith('vd') ? 'virtio' : target_dev.startsWith('sd') ? 'sata' : 'ide';
      const live = !isStopped(await domState(n, vm));
      await virshRun(n, cmd.attachDeviceStdin(n.uri, vm, live), { vm, input: diskXml({ type: 'file', device: 'disk', source: path, format, targetDev: target_dev, targetBus: bus }) });
      return 0;
    },
  }),
  method({
    name: 'detach_disk',
    description: 'Detaches the disk at target_dev from the definition (and from the running guest, which must agree: a guest OS has to release it). The image file stays. 0.',
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'target_dev', schema: targetDev }] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, target_dev }) {
      const n = kvmNode(ctx, server_hostname);
      const d = (await inactiveDomain(n, vm)).disks.find((k) => k.targetDev === target_dev);
      if (!d) throw oms('UnknownDeviceError', { vm, node: n.name, kind: 'disk', device: target_dev });
      const live = !isStopped(await domState(n, vm));
      const spec = { type: d.type === 'block' ? 'block' : 'file', device: d.device === 'cdrom' ? 'cdrom' : 'disk', source: d.source, format: d.format, targetDev: d.targetDev, targetBus: d.targetBus } as const;
      await virshRun(n, cmd.detachDeviceStdin(n.uri, vm, live), { vm, input: diskXml(spec) });
      return 0;
    },
  }),
  method({
    name: 'attach_nic',
    description:
      'Adds a virtio NIC to the definition and, when it runs, to the guest: type "bridge" joins the host Linux bridge `source` (UnknownBridgeError when there is none), "network" the libvirt network `source`, "nat" the libvirt NAT network `source` (UnknownNetworkError when absent; InvalidSettingsError when its forward mode is not nat). mac: a unicast MAC (multicast and broadcast refused) no other guest on the node has (MacInUseError), or left out for a new one in 52:54:00. Returns {mac}.',
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'type', schema: z.enum(['bridge', 'network', 'nat']) }, { name: 'source', schema: netName }, { name: 'mac', schema: mac, optional: true }] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, type, source, mac: m }) {
      const n = kvmNode(ctx, server_hostname);
      const live = !isStopped(await domState(n, vm));
      if (type === 'bridge') {
        if (!(await test(n, cmd.isBridge(source)))) throw oms('UnknownBridgeError', { bridge: source, node: n.name });
      } else {
        const net = await oneNetwork(n, source);
        if (type === 'nat' && net.forward !== 'nat') throw oms('InvalidSettingsError', { what: `NIC of ${vm}`, reason: `libvirt network ${source} is not a NAT network (forward mode ${net.forward || 'none'})` });
      }
      const chosen = await macForNewNic(n, m);
      // A NAT NIC is a NIC on a libvirt network whose forward mode is nat: the same XML.
      await virshRun(n, cmd.attachDeviceStdin(n.uri, vm, live), { vm, input: interfaceXml({ type: type === 'bridge' ? 'bridge' : 'network', source, mac: chosen }) });
      return { mac: chosen };
    },
  }),
  method({
    name: 'detach_nic',
    description: 'Removes the NIC with that MAC from the definition (and from the running guest). 0.',
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'mac', schema: mac }] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, mac: m }) {
      const n = kvmNode(ctx, server_hostname);
      const nic = (await inactiveDomain(n, vm)).interfaces.find((i) => i.mac === m);
      if (!nic) throw oms('UnknownDeviceError', { vm, node: n.name, kind: 'NIC', device: m });
      const live = !isStopped(await domState(n, vm));
      await virshRun(n, cmd.detachDeviceStdin(n.uri, vm, live), { vm, input: interfaceXml({ type: nic.type === 'network' ? 'network' : 'bridge', source: nic.source, mac: nic.mac, model: nic.model || undefined }) });
      return 0;
    },
  }),
];
