/**
 * File-based disk images in the node's images directory (OMS create/delete/list_file_based_image*),
 * and create_vm_from_iso, which makes one for the new guest.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { fileName, vmName } from '../../src/rpc/fields.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import * as cmd from './commands.ts';
import { domainXml, type DiskSpec } from './domain.ts';
import { lockVmUntil, mustNotExist, nodeInfo, onNode, serverParam } from './common.ts';
import { inDir, kvmNode, storageRun, taskNode, test, virshRun, type KvmNode } from './node.ts';
import { parseDomstats, parseFindListing } from './parse.ts';
import { checkMemory, onOff } from './settings.ts';
import { decimalNumber, imageName, wholeNumber } from './fields.ts';
import { guestNetwork, guestNetworkParam, macForNewNic } from './nics.ts';

/** qcow2 for `.qcow2` names, a sparse raw file otherwise (OMS made `.img` files). */
export const formatOf = (name: string): string => (name.endsWith('.qcow2') ? 'qcow2' : 'raw');

/** Files directly in the images directory, by name. */
export async function listImages(n: KvmNode): Promise<string[]> {
  const r = await storageRun(n, cmd.listDir(n.dirs.images));
  return parseFindListing(r.stdout)
    .filter((e) => e.type === 'f')
    .map((e) => e.path)
    .sort();
}

/** Every disk path of every guest (running or not), with its guest: one domstats call. */
export async function diskUse(n: KvmNode): Promise<{ vm: string; path: string }[]> {
  const all = parseDomstats(await virshRun(n, cmd.virsh(n.uri, 'domstats', '--raw', '--block')));
  const out: { vm: string; path: string }[] = [];
  for (const [vm, f] of all) for (const [k, v] of Object.entries(f)) if (/^block\.\d+\.path$/.test(k)) out.push({ vm, path: v });
  return out;
}

/** Images of the images directory that some guest's definition uses. */
export async function usedImages(n: KvmNode): Promise<string[]> {
  const names = (await diskUse(n)).filter((u) => posix.dirname(u.path) === n.dirs.images).map((u) => posix.basename(u.path));
  return [...new Set(names)].sort();
}

/** Image size in MB as OMS sends it ("10" or 10); bounded so a typo cannot fill a node. */
const sizeMb = wholeNumber(1, 16 * 1024 * 1024);
/** Disk size in GB for create_vm_from_iso: "" when a block device is given; fractions allowed (0.1 = 102 MiB). */
const diskGb = z.union([z.literal(''), decimalNumber(16384)]);
const blockPath = z.union([
  z.literal(''),
  z
    .string()
    .max(255)
    .regex(/^\/dev\/[A-Za-z0-9_+-][A-Za-z0-9_.+-]*(\/[A-Za-z0-9_+-][A-Za-z0-9_.+-]*)*$/, 'not a block device path under /dev')
    .refine((p) => !p.split('/').includes('..'), 'not a block device path under /dev'),
]);
const osWord = z.string().max(40).regex(/^(?:[A-Za-z0-9][A-Za-z0-9_.+-]*)?$/, 'not an OS name');
const memoryMib = wholeNumber(0, 1e9);

export async function createImage(n: KvmNode, name: string, mib: number): Promise<string> {
  const path = inDir(n.dirs.images, name);
  if (!(await test(n, cmd.notExists(path)))) throw oms('ImageExistsError', { image: name, node: n.name });
  await storageRun(n, cmd.imgCreate(path, formatOf(name), mib));
  return path;
}

export interface IsoInstall {
  vm: string;
  osVariant: string;
  osType: string;
  iso: string;
  diskGb: number | '';
  blockDevice: string;
  memoryMiB: number;
  noApic: boolean;
  noAcpi: boolean;
  /** The call's choice of network for the guest's NIC; undefined: the node's default rule (nics.ts). */
  network?: string | null;
}

/**
 * The guest create_vm_from_iso defines: boots the ISO first, then the disk. Windows has no
 * virtio drivers on its install media, so its disk goes on IDE; everything else gets virtio.
 */
export function isoGuestSpec(p: IsoInstall, arch: string, diskPath: string, isoPath: string, nic?: { network: string; mac: string }) {
  const windows = /^win/i.test(p.osType);
  const disk: DiskSpec = p.blockDevice
    ? { type: 'block', device: 'disk', source: p.blockDevice, format: 'raw', targetDev: windows ? 'hda' : 'vda', targetBus: windows ? 'ide' : 'virtio' }
    : { type: 'file', device: 'disk', source: diskPath, format: 'qcow2', targetDev: windows ? 'hda' : 'vda', targetBus: windows ? 'ide' : 'virtio' };
  const cdrom: DiskSpec = { type: 'file', device: 'cdrom', source: isoPath, format: 'raw', targetDev: windows ? 'hdc' : 'sda', targetBus: windows ? 'ide' : 'sata' };
  return {
    name: p.vm,
    memoryMiB: p.memoryMiB,
    vcpu: 1,
    arch,
    bootDevs: ['cdrom', 'hd'],
    features: [...(p.noAcpi ? [] : ['acpi']), ...(p.noApic ? [] : ['apic'])],
    clockOffset: windows ? 'localtime' : 'utc',
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    disks: [disk, cdrom],
    interfaces: nic ? [{ type: 'network' as const, source: nic.network, mac: nic.mac }] : [],
    mouseBus: 'ps2',
    os: { type: p.osType, variant: p.osVariant },
  };
}

/** create_vm_from_iso's work (run as a task): disk, definition, first boot; undone on failure. */
export async function installFromIso(ctx: CallContext, n: KvmNode, p: IsoInstall, signal: AbortSignal, log: (line: string) => void = () => {}): Promise<0> {
  await mustNotExist(n, p.vm);
  const isoPath = inDir(n.dirs.isos, p.iso);
  if (!(await test(n, ['test', '-f', isoPath]))) throw oms('UnknownIsoImageError', { name: p.iso, node: n.name });
  if (p.blockDevice && !(await test(n, cmd.isBlockDevice(p.blockDevice)))) throw oms('NotBlockDeviceError', { path: p.blockDevice, node: n.name });
  // Before the disk is made, so a wrong network name leaves nothing behind.
  const net = await guestNetwork(n, p.network, true);
  const nic = net.network === null ? undefined : { network: net.network, mac: await macForNewNic(n) };
  const said = nic ? `NIC ${nic.mac} on libvirt network ${nic.network}: ${net.reason}` : `no NIC: ${net.reason}`;
  log(said);
  ctx.log.info({ node: n.name, vm: p.vm, network: net.network }, said);
  const info = await nodeInfo(n);
  let diskPath = '';
  if (!p.blockDevice) diskPath = await createImage(n, `${p.vm}.qcow2`, Math.max(1, Math.round(Number(p.diskGb) * 1024)));
  let defined = false;
  try {
    signal.throwIfAborted();
    await virshRun(n, cmd.defineStdin(n.uri), { input: domainXml({ ...isoGuestSpec(p, info.arch, diskPath, isoPath, nic), virtType: n.virtType }) });
    defined = true;
    await virshRun(n, cmd.power(n.uri, 'start', p.vm), { vm: p.vm });
    return 0;
  } catch (e) {
    // Leave nothing half-made behind; the original error is what the caller needs.
    if (defined) await n.handle.exec(cmd.undefine(n.uri, p.vm), { okExitCodes: [0, 1] }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: undefine failed'));
    if (diskPath) await n.handle.exec(cmd.removeFile(diskPath), { okExitCodes: [0, 1] }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: rm failed'));
    throw e;
  }
}

const listImagesDecl = (name: string): MethodDecl =>
  method({
    name,
    description: 'File-based disk images in the node\'s images directory' + (name.endsWith('_image') ? ' (the OMS query example\'s spelling of list_file_based_images).' : '.'),
    auth: 'session',
    permission: onNode('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam] as const,
    run: (ctx, { server_hostname }) => listImages(kvmNode(ctx, server_hostname)),
  });

const usedImagesDecl = (name: string): MethodDecl =>
  method({
    name,
    description: 'Images of the images directory that guest definitions use' + (name.endsWith('_image_used') ? ' (the OMS query example\'s spelling of list_file_based_images_used).' : '.'),
    auth: 'session',
    permission: onNode('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam] as const,
    run: (ctx, { server_hostname }) => usedImages(kvmNode(ctx, server_hostname)),
  });

export const imageMethods: MethodDecl[] = [
  method({
    name: 'create_file_based_image',
    description: 'Creates a disk image of the given size (MB) in the images directory: qcow2 for a .qcow2 name, sparse raw otherwise. 0.',
    auth: 'session',
    permission: onNode('vm.create'),
    mutates: true,
    lock: { none: 'makes a new image file, which no guest uses yet' },
    node: 'server_hostname',
    params: [serverParam, { name: 'diskimage_name', schema: imageName }, { name: 'diskimage_size_megabytes', schema: sizeMb }] as const,
    async run(ctx, { server_hostname, diskimage_name, diskimage_size_megabytes }) {
      await createImage(kvmNode(ctx, server_hostname), diskimage_name, diskimage_size_megabytes);
      return 0;
    },
  }),
  method({
    name: 'delete_file_based_image',
    description: 'Deletes a disk image of the images directory that no guest uses; [exit status, stdout, stderr] of the removal as OMS returned it.',
    auth: 'session',
    permission: onNode('vm.delete'),
    mutates: true,
    lock: { none: 'removes an image file only when no guest definition uses it' },
    node: 'server_hostname',
    params: [serverParam, { name: 'diskimage_name', schema: fileName }] as const,
    async run(ctx, { server_hostname, diskimage_name }) {
      const n = kvmNode(ctx, server_hostname);
      const path = inDir(n.dirs.images, diskimage_name);
      if (!(await test(n, ['test', '-f', path]))) throw oms('UnknownImageError', { image: diskimage_name, node: n.name });
      const user = (await diskUse(n)).find((u) => u.path === path);
      if (user) throw oms('ImageInUseError', { image: diskimage_name, node: n.name, vm: user.vm });
      const r = await storageRun(n, cmd.removeFile(path));
      return [r.code, r.stdout, r.stderr];
    },
  }),
  listImagesDecl('list_file_based_images'),
  listImagesDecl('list_file_based_image'),
  usedImagesDecl('list_file_based_images_used'),
  usedImagesDecl('list_file_based_image_used'),
  method({
    name: 'create_vm_from_iso',
    description:
      'Installs a guest from an ISO of the node\'s ISO directory (a task; this call waits for it): a new qcow2 disk of file_based_disk_size GB in the images directory (<vm>.qcow2), or the block device at block_device_based_disk_path; memory_size MiB; no APIC/ACPI when noapic_on_off/noacpi_on_off say yes; one virtio NIC with a new 52:54:00 MAC on the libvirt network `network` (\'\' or null: no NIC; left out: the node\'s defaultGuestNetwork setting, else libvirt\'s `default` network when it is active, else no NIC; the task log says which). A named network must exist (UnknownNetworkError) and be active (NetworkInactiveError). The guest boots the ISO and is left running. 0.',
    auth: 'session',
    permission: onNode('vm.create'),
    mutates: true,
    // The new guest's name, held until the install task ends.
    lock: lockVmUntil('install'),
    node: 'server_hostname',
    params: [
      serverParam,
      { name: 'kvm_vm_name', schema: vmName },
      { name: 'os_variant', schema: osWord },
      { name: 'os_type', schema: osWord },
      { name: 'cdrom_iso', schema: fileName },
      { name: 'file_based_disk_size', schema: diskGb },
      { name: 'block_device_based_disk_path', schema: blockPath },
      { name: 'memory_size', schema: memoryMib },
      { name: 'noapic_on_off', schema: onOff, optional: true },
      { name: 'noacpi_on_off', schema: onOff, optional: true },
      { name: 'network', schema: guestNetworkParam, optional: true, description: "libvirt network of the guest's NIC; '' or null: none; left out: the node's default" },
    ] as const,
    async run(ctx, p) {
      const n = kvmNode(ctx, p.server_hostname);
      if ((p.file_based_disk_size === '') === (p.block_device_based_disk_path === ''))
        throw oms('InvalidSettingsError', { what: p.kvm_vm_name, reason: 'give either file_based_disk_size or block_device_based_disk_path' });
      const mem = checkMemory(p.memory_size, await nodeInfo(n));
      if (typeof mem === 'string') throw oms('InvalidSettingsError', { what: p.kvm_vm_name, reason: mem });
      const install: IsoInstall = {
        vm: p.kvm_vm_name,
        osVariant: p.os_variant,
        osType: p.os_type,
        iso: p.cdrom_iso,
        diskGb: p.file_based_disk_size,
        blockDevice: p.block_device_based_disk_path,
        memoryMiB: mem,
        noApic: p.noapic_on_off ?? false,
        noAcpi: p.noacpi_on_off ?? false,
        network: p.network,
      };
      const task = ctx.startTask({ kind: 'kvm.create_vm_from_iso', node: n.name, target: p.kvm_vm_name }, (t) =>
        installFromIso(ctx, taskNode(ctx, n.name, t.signal), install, t.signal, t.log),
      );
      return task.done;
    },
  }),
];
