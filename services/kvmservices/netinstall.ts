/**
 * create_vm_from_location: a network install, as DataCentred's compute agent creates a host
 * (POST /hosts/:hostname with memory, disks, networks, install, location, cmdline, console).
 *
 * What virt-install does for --location, done the same way: the node (never the gateway) fetches
 * the tree's kernel and initrd; the guest is defined once in its final form (boots from its first
 * disk, on_reboot restart) and then started with the install form of the same domain (same name
 * and UUID: kernel, initrd and cmdline; on_poweroff/on_reboot destroy), which libvirt runs as the
 * live definition while the persistent one stays the final form. When the installer reboots at its
 * end, the guest stops; its next start boots from disk. The kernel and initrd are read by QEMU
 * when it starts, so they are removed from the images directory right after the start.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { vmName } from '../../src/rpc/fields.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import type { TaskHandle } from '../../src/tasks/tasks.ts';
import * as cmd from './commands.ts';
import { domainXml, type DiskSpec, type DomainSpec, type InterfaceSpec } from './domain.ts';
import { lockVmUntil, mustNotExist, nodeInfo, onNode, serverParam } from './common.ts';
import { netName, wholeNumber } from './fields.ts';
import { candidates, fetchedFiles, fetchFailure, fetchKernel, installLocation, kernelCmdline, parseFetched, readTreeinfo, TREE_EXIT, treeinfoImages, withConsole, type InstallLocation, type TreeFetch } from './install-tree.ts';
import { exec, inDir, kvmNode, storageRun, taskNode, test, virshRun, type KvmNode, type VirtType } from './node.ts';
import { parseNetList } from './parse.ts';
import { checkMemory, onOff } from './settings.ts';

export const MAX_DISKS = 8;
export const MAX_NETWORKS = 8;

/** A disk size in GB as DataCentred takes it (a number, or digits as OMS clients send); fractions allowed (0.1 = 102 MiB). */
const diskSize = z
  .union([z.number(), z.string().regex(/^\d{1,9}(\.\d{1,6})?$/).transform(Number)], { error: 'a disk size in GB (a number such as 8 or 0.5)' })
  .pipe(z.number().positive('a disk size in GB above 0').max(16384, 'at most 16384 GB per disk'));
const disks = z.array(diskSize).min(1, 'at least one disk').max(MAX_DISKS, `at most ${MAX_DISKS} disks`);
/** libvirt network names or host bridge names, one NIC each, in order. */
const networks = z.array(netName).max(MAX_NETWORKS, `at most ${MAX_NETWORKS} networks`);

/** sda, sdb, ... for disk i. */
export const scsiTarget = (i: number): string => `sd${String.fromCharCode(97 + i)}`;
export const installDiskName = (vm: string, i: number): string => `${vm}-${scsiTarget(i)}.qcow2`;

export interface NetInstall {
  vm: string;
  memoryMiB: number;
  diskGb: number[];
  networks: string[];
  location: InstallLocation;
  cmdline: string;
  console: boolean;
  /** libvirt's domain type (the node setting guestVirtType): 'qemu' runs the install under TCG. */
  virtType: VirtType;
}

/** The final definition and the install boot of the same guest (same name and UUID). */
export function netInstallSpecs(p: NetInstall, arch: string, uuid: string, diskPaths: string[], nics: InterfaceSpec[], boot: { kernel: string; initrd: string }): { final: DomainSpec; install: DomainSpec } {
  const diskSpecs: DiskSpec[] = diskPaths.map((source, i) => ({ type: 'file', device: 'disk', source, format: 'qcow2', targetDev: scsiTarget(i), targetBus: 'scsi' }));
  const final: DomainSpec = {
    name: p.vm,
    uuid,
    memoryMiB: p.memoryMiB,
    vcpu: 1,
    arch,
    bootDevs: ['hd'],
    features: ['acpi', 'apic'],
    clockOffset: 'utc',
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    disks: diskSpecs,
    interfaces: nics,
    mouseBus: 'ps2',
    scsiController: true,
    virtType: p.virtType,
  };
  // The installer's reboot at its end must stop the guest, not boot the installer again.
  const install: DomainSpec = { ...final, bootDevs: [], onReboot: 'destroy', directBoot: { ...boot, cmdline: withConsole(p.cmdline, p.console) } };
  return { final, install };
}

/** Each name as a libvirt network of the node, else as a host bridge; UnknownNetworkError otherwise. */
async function resolveNetworks(n: KvmNode, names: string[]): Promise<InterfaceSpec[]> {
  if (names.length === 0) return [];
  const defined = new Set(parseNetList(await virshRun(n, cmd.netList(n.uri))).map((r) => r.name));
  const out: InterfaceSpec[] = [];
  for (const name of names) {
    if (defined.has(name)) out.push({ type: 'network', source: name });
    else if (name.length <= 15 && (await test(n, cmd.isBridge(name)))) out.push({ type: 'bridge', source: name });
    else throw oms('UnknownNetworkError', { network: name, node: n.name });
  }
  return out;
}

const shown = (l: InstallLocation): string => (l.kind === 'url' ? l.url : l.path);

/** Runs the tree script; its exit codes become the install-tree errors. */
async function treeScript(n: KvmNode, argv: ReturnType<typeof readTreeinfo>, l: InstallLocation, signal?: AbortSignal) {
  const r = await exec(n, argv, { timeoutMs: 1900 * 1000, signal });
  if (r.code === 0) return r;
  const location = shown(l);
  if (r.code === TREE_EXIT.outside) throw oms('InstallTreePathError', { path: location, node: n.name, dir: n.dirs.isos });
  if (r.code === TREE_EXIT.noTree) throw oms('InstallTreeError', { location, node: n.name, reason: 'no such directory on the node' });
  if (r.code === TREE_EXIT.noDir) throw oms('NodeStorageError', { node: n.name, message: `no directory ${n.dirs.isos} or ${n.dirs.images}` });
  if (r.code === TREE_EXIT.tooLarge) throw oms('InstallTreeError', { location, node: n.name, reason: 'a file of the tree is larger than the limit' });
  if (r.code === TREE_EXIT.fetchFailed) throw oms('InstallTreeError', { location, node: n.name, reason: fetchFailure(r.stderr) });
  return r;
}

/** Fetches the tree's kernel and initrd into the images directory (files named by fetchedFiles). */
async function fetchTree(n: KvmNode, p: NetInstall, arch: string, token: string, task: TaskHandle) {
  const f: TreeFetch = { location: p.location, isoDir: n.dirs.isos, imagesDir: n.dirs.images, token };
  const location = shown(p.location);
  const info = await treeScript(n, readTreeinfo(f), p.location, task.signal);
  let fromTreeinfo: { kernel: string; initrd: string } | undefined;
  if (info.code === 0) {
    try {
      fromTreeinfo = treeinfoImages(info.stdout, arch);
    } catch (e) {
      throw oms('InstallTreeError', { location, node: n.name, reason: (e as Error).message });
    }
  } else if (info.code !== TREE_EXIT.notFound) throw oms('InstallTreeError', { location, node: n.name, reason: `exit status ${info.code}` });
  const pairs = candidates(fromTreeinfo);
  task.log(fromTreeinfo ? `.treeinfo names ${fromTreeinfo.kernel} and ${fromTreeinfo.initrd}` : `no .treeinfo: trying ${pairs.length} known layouts`);
  const r = await treeScript(n, fetchKernel(f, pairs), p.location, task.signal);
  if (r.code === TREE_EXIT.notFound)
    throw oms('InstallTreeError', { location, node: n.name, reason: `no kernel and initrd in any known layout (${pairs.map((c) => c.kernel).join(', ')})` });
  if (r.code !== 0) throw oms('InstallTreeError', { location, node: n.name, reason: `exit status ${r.code}` });
  const got = parseFetched(r.stdout);
  const pair = pairs[got.index];
  task.log(`fetched ${pair.kernel} (${got.kernelBytes} bytes) and ${pair.initrd} (${got.initrdBytes} bytes), layout ${pair.name}`);
  return { layout: pair.name, tree: { kernel: pair.kernel, initrd: pair.initrd }, files: fetchedFiles(n.dirs.images, token) };
}

/** The work of create_vm_from_location (a task); everything made is undone on failure. */
export async function netInstall(ctx: CallContext, n: KvmNode, p: NetInstall, task: TaskHandle) {
  await mustNotExist(n, p.vm);
  const nics = await resolveNetworks(n, p.networks);
  const diskPaths = p.diskGb.map((_, i) => inDir(n.dirs.images, installDiskName(p.vm, i)));
  for (const [i, path] of diskPaths.entries()) if (!(await test(n, cmd.notExists(path)))) throw oms('ImageExistsError', { image: installDiskName(p.vm, i), node: n.name });
  const { arch } = await nodeInfo(n);
  const steps = p.diskGb.length + 3;
  task.progress(0, steps);
  task.log(`fetching the kernel and initrd of ${shown(p.location)} on ${n.name}`);
  const boot = await fetchTree(n, p, arch, randomBytes(8).toString('hex'), task);
  task.progress(1, steps);
  const made: string[] = [];
  let defined = false;
  try {
    for (const [i, gb] of p.diskGb.entries()) {
      task.signal.throwIfAborted();
      const mib = Math.max(1, Math.round(gb * 1024));
      // notExists was checked above; qemu-img would overwrite, so check again right before.
      if (!(await test(n, cmd.notExists(diskPaths[i])))) throw oms('ImageExistsError', { image: installDiskName(p.vm, i), node: n.name });
      made.push(diskPaths[i]);
      await storageRun(n, cmd.imgCreate(diskPaths[i], 'qcow2', mib));
      task.log(`disk ${scsiTarget(i)}: ${diskPaths[i]} (qcow2, ${mib} MiB)`);
      task.progress(2 + i, steps);
    }
    const specs = netInstallSpecs(p, arch, randomUUID(), diskPaths, nics, boot.files);
    await virshRun(n, cmd.defineStdin(n.uri), { input: domainXml(specs.final) });
    defined = true;
    task.log('defined: boots from disk sda');
    task.signal.throwIfAborted();
    await virshRun(n, cmd.createStdin(n.uri), { input: domainXml(specs.install) });
    task.log(`install boot started: cmdline ${JSON.stringify(specs.install.directBoot?.cmdline)}`);
    task.progress(steps, steps);
    return { name: p.vm, layout: boot.layout, kernel: boot.tree.kernel, initrd: boot.tree.initrd, disks: diskPaths.map((path, i) => ({ target: scsiTarget(i), path, size_gb: p.diskGb[i] })), interfaces: nics.map((x) => ({ type: x.type, source: x.source })) };
  } catch (e) {
    if (defined) {
      await n.handle.exec(cmd.power(n.uri, 'destroy', p.vm), { okExitCodes: [0, 1] }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: destroy failed'));
      await n.handle.exec(cmd.undefine(n.uri, p.vm), { okExitCodes: [0, 1] }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: undefine failed'));
    }
    for (const path of made) await n.handle.exec(cmd.removeFile(path), { okExitCodes: [0, 1] }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: rm failed'));
    throw e;
  } finally {
    // QEMU has read them at start; unused (failure) they must not linger either.
    await n.handle.exec([...cmd.removeFile(boot.files.kernel), boot.files.initrd], { okExitCodes: [0, 1] }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: rm of kernel/initrd failed'));
  }
}

const memory = wholeNumber(16, 16 * 1024 * 1024);

export const netInstallMethods: MethodDecl[] = [
  method({
    name: 'create_vm_from_location',
    description:
      'Network install (DataCentred\'s create with install): the node fetches the kernel and initrd of the install tree at location (an http, https or ftp URL, or a directory inside the node\'s ISO directory; layouts: .treeinfo, Debian/Ubuntu installer and install images, casper, images/pxeboot, SUSE) and the guest boots them with cmdline (console: adds console=ttyS0, the installer\'s output goes to the serial console). memory MiB; disks: sizes in GB (1-8), qcow2 files <vm>-sda.qcow2... on virtio-scsi (sda, sdb... as on physical machines); networks: libvirt networks or host bridges, one NIC each (0-8). The installer\'s reboot stops the guest (on_reboot destroy during the install); its persistent definition boots from disk sda. The guest is a KVM guest, or runs under QEMU\'s emulator (TCG, libvirt domain type qemu) when the node setting guestVirtType is \'qemu\' (funcservices.set_node_settings). A task; this call waits and returns {name, layout, kernel, initrd, disks: [{target, path, size_gb}], interfaces}.',
    auth: 'session',
    permission: onNode('vm.create'),
    mutates: true,
    // The new guest's name: no second install, clone or deploy makes the same guest meanwhile.
    lock: lockVmUntil('network install'),
    node: 'server_hostname',
    params: [
      serverParam,
      { name: 'kvm_vm_name', schema: vmName },
      { name: 'memory', schema: memory, description: 'MiB' },
      { name: 'disks', schema: disks, description: 'disk sizes in GB, one qcow2 disk each on virtio-scsi (sda, sdb, ...)' },
      { name: 'networks', schema: networks, description: 'libvirt network or host bridge names, one NIC each' },
      { name: 'location', schema: installLocation, description: 'http/https/ftp URL of the install tree, or its directory inside the node\'s ISO directory' },
      { name: 'cmdline', schema: kernelCmdline, optional: true, description: 'kernel command line of the install boot' },
      { name: 'console', schema: onOff, optional: true, description: 'installer output on the serial console (console=ttyS0)' },
    ] as const,
    async run(ctx, p) {
      const n = kvmNode(ctx, p.server_hostname);
      // The obvious refusals are immediate errors, before any task or fetch.
      await mustNotExist(n, p.kvm_vm_name);
      const mem = checkMemory(p.memory, await nodeInfo(n));
      if (typeof mem === 'string') throw oms('InvalidSettingsError', { what: p.kvm_vm_name, reason: mem });
      await resolveNetworks(n, p.networks);
      const install: NetInstall = { vm: p.kvm_vm_name, memoryMiB: mem, diskGb: p.disks, networks: p.networks, location: p.location, cmdline: p.cmdline ?? '', console: p.console ?? false, virtType: n.virtType };
      const task = ctx.startTask({ kind: 'kvm.create_vm_from_location', node: n.name, target: p.kvm_vm_name }, (t) =>
        netInstall(ctx, taskNode(ctx, n.name, t.signal), install, t),
      );
      return task.done;
    },
  }),
];
