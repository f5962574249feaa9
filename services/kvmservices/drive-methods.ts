/**
 * Drives by device channel (CloudSigma's `dev_channel`): attach a file image of the images
 * directory, an ISO of the ISO directory (as a CD-ROM) or an LV of the node's volume groups (as a
 * block device) at `controller:unit` of an ide, virtio or scsi bus; detach; list. To the definition
 * always, and to the running guest too where the bus hot-plugs (virtio, scsi); IDE on a running
 * guest is refused with the reason. See drives.ts for the channels of each bus.
 */
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { fileName, lvmName } from '../../src/rpc/fields.ts';
import * as cmd from './commands.ts';
import * as dev from './device-commands.ts';
import { domState, isStopped, lockVm, onVm, serverParam, vmParam } from './common.ts';
import { channelTaken, channelText, cdromRefusal, readonlyRefusal, detachDriveXml, driveAddress, driveXml, hotplugRefusal, lvDevicePath, parseChannel, readDrives, scsiControllers, scsiControllerXml, targetOf, DRIVE_BUSES, type DriveBus, type DriveInfo, type DriveSource } from './drives.ts';
import { exec, kvmNode, storageRun, virshRun, type KvmNode } from './node.ts';
import { parseQemuImgInfo } from './parse.ts';
import { onOff } from './settings.ts';
import { EXIT as RESOLVE_EXIT, resolveImage } from '../isoservices/commands.ts';
import { lvs as lvsCommand } from '../lvmservices/commands.ts';
import { parseLvs } from '../lvmservices/parse.ts';
import { lvmOptions } from '../lvmservices/index.ts';

export const SOURCE_TYPES = ['image', 'iso', 'lv'] as const;
type SourceType = (typeof SOURCE_TYPES)[number];

const busParam = { name: 'device', schema: z.enum(DRIVE_BUSES), description: 'The bus: ide, virtio or scsi (CloudSigma\'s drive "device").' } as const;
const channelParam = {
  name: 'dev_channel',
  schema: z.string().max(7).regex(/^\d{1,3}:\d{1,3}$/, 'not controller:unit'),
  description: '"controller:unit": ide 0-1:0-1; scsi 0-7:0-6; virtio 0-170:0-5 (the place in the vd order).',
} as const;
/** A file name of the images or ISO directory, or VG/LV: checked again per source_type. */
const sourceName = z
  .string()
  .max(257)
  .regex(/^[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,127}(\/[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,127})?$/, 'not a file name or VG/LV')
  .refine((s) => !s.includes('..'), 'not a file name or VG/LV');

/** The real path of a file directly inside dir (a symlink out of it is refused), or a typed error. */
async function fileIn(n: KvmNode, dir: string, name: string, missing: () => Error): Promise<string> {
  const r = await exec(n, resolveImage(dir, name));
  if (r.code === 0) return r.stdout.split('\n')[1];
  if (r.code === RESOLVE_EXIT.noImage || r.code === RESOLVE_EXIT.noDir) throw missing();
  if (r.code === RESOLVE_EXIT.outside) throw oms('InvalidSettingsError', { what: name, reason: 'not a regular file inside its directory' });
  throw oms('NodeStorageError', { node: n.name, message: r.stderr.trim().split('\n')[0] || `exit status ${r.code}` });
}

export interface ResolvedSource {
  source: DriveSource;
  media: 'disk' | 'cdrom';
}

/**
 * What a caller's source is on the node: an image of the images directory (its format from
 * qemu-img), an ISO of the ISO directory (a CD-ROM), or an existing LV of the node's volume
 * groups (lvs is the authority: an LV is not a /dev node while inactive, and on the lab never).
 */
export async function resolveSource(n: KvmNode, type: SourceType, name: string): Promise<ResolvedSource> {
  if (type === 'lv') {
    const [vg, lv, ...rest] = name.split('/');
    if (rest.length || !lv || !lvmName.safeParse(vg).success || !lvmName.safeParse(lv).success) throw oms('InvalidSettingsError', { what: name, reason: 'an LV is named VG/LV' });
    const r = await exec(n, lvsCommand(lvmOptions(n.handle)));
    if (r.code !== 0) throw oms('LvmCommandError', { node: n.name, reason: r.stderr.trim().split('\n').filter((l) => !l.includes('WARNING')).at(-1) ?? `exit status ${r.code}` });
    const all = parseLvs(r.stdout);
    if (!all.some((l) => l.vg === vg)) throw oms('UnknownVolumeGroupError', { node: n.name, vg });
    if (!all.some((l) => l.vg === vg && l.name === lv)) throw oms('UnknownLogicalVolumeError', { node: n.name, vg, lv });
    return { source: { kind: 'block', path: lvDevicePath(vg, lv) }, media: 'disk' };
  }
  if (!fileName.safeParse(name).success) throw oms('InvalidSettingsError', { what: name, reason: `an ${type} is a file name of its directory` });
  if (type === 'iso') {
    const path = await fileIn(n, n.dirs.isos, name, () => oms('UnknownIsoImageError', { name, node: n.name }));
    return { source: { kind: 'file', path, format: 'raw' }, media: 'cdrom' };
  }
  const path = await fileIn(n, n.dirs.images, name, () => oms('UnknownImageError', { image: name, node: n.name }));
  const format = parseQemuImgInfo((await storageRun(n, cmd.imgInfo(path))).stdout).format || 'raw';
  return { source: { kind: 'file', path, format: format === 'qcow2' ? 'qcow2' : 'raw' }, media: 'disk' };
}

/** The drives of the definition, and of the running guest when it runs. */
async function drivesOf(n: KvmNode, vm: string): Promise<{ running: boolean; config: DriveInfo[]; live: DriveInfo[]; configXml: string; liveXml: string }> {
  const running = !isStopped(await domState(n, vm));
  const configXml = await virshRun(n, cmd.dumpxml(n.uri, vm, true), { vm });
  const liveXml = running ? await virshRun(n, cmd.dumpxml(n.uri, vm), { vm }) : '';
  return { running, config: readDrives(configXml), live: running ? readDrives(liveXml) : [], configXml, liveXml };
}

function channelOrRefuse(vm: string, bus: DriveBus, text: string) {
  const ch = parseChannel(bus, text);
  if (typeof ch === 'string') throw oms('InvalidSettingsError', { what: vm, reason: ch });
  return ch;
}

export const driveMethods: MethodDecl[] = [
  method({
    name: 'attach_drive',
    description:
      'Attaches a drive at dev_channel "controller:unit" of bus device (ide, virtio, scsi), after CloudSigma\'s drives: source_type image (a file of the images directory), iso (a file of the ISO directory, as a read-only CD-ROM; not on virtio) or lv (VG/LV of the node, as a block device), optionally read-only. To the definition, and to the running guest too (virtio and scsi hot-plug; IDE on a running guest is refused, VmStateError). A taken channel is refused (DriveChannelInUseError). Returns {target_dev, device, dev_channel, media, source, live}.',
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, busParam, channelParam, { name: 'source_type', schema: z.enum(SOURCE_TYPES) }, { name: 'source', schema: sourceName }, { name: 'readonly', schema: onOff, optional: true }] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, device: bus, dev_channel, source_type, source, readonly }) {
      const n = kvmNode(ctx, server_hostname);
      const ch = channelOrRefuse(vm, bus, dev_channel);
      const g = await drivesOf(n, vm);
      const media = source_type === 'iso' ? 'cdrom' : 'disk';
      if (media === 'cdrom' && cdromRefusal(bus)) throw oms('InvalidSettingsError', { what: vm, reason: cdromRefusal(bus)! });
      if (readonly && readonlyRefusal(bus, media)) throw oms('InvalidSettingsError', { what: vm, reason: readonlyRefusal(bus, media)! });
      if (g.running && hotplugRefusal(bus)) throw oms('VmStateError', { vm, node: n.name, state: 'running', reason: hotplugRefusal(bus)! });
      const taken = channelTaken(g.config, bus, ch) ?? channelTaken(g.live, bus, ch);
      if (taken) throw oms('DriveChannelInUseError', { vm, node: n.name, reason: taken });
      const src = await resolveSource(n, source_type, source);
      const where = { config: true, live: g.running };
      if (bus === 'scsi') {
        // Each channel controller is a virtio-scsi controller; libvirt would add an lsilogic one itself.
        const w = { config: !scsiControllers(g.configXml).includes(ch.controller), live: g.running && !scsiControllers(g.liveXml).includes(ch.controller) };
        if (w.config || w.live) await virshRun(n, dev.attachDevice(n.uri, vm, w), { vm, input: scsiControllerXml(ch.controller) });
      }
      const targetDev = targetOf(bus, ch);
      await virshRun(n, dev.attachDevice(n.uri, vm, where), { vm, input: driveXml({ bus, targetDev, device: src.media, source: src.source, readonly: readonly ?? false, address: driveAddress(bus, ch) }) });
      return { target_dev: targetDev, device: bus, dev_channel: channelText(ch), media: src.media, source: src.source.path, live: g.running };
    },
  }),
  method({
    name: 'detach_drive',
    description:
      'Detaches the drive at dev_channel of bus device from the definition, and from the running guest where the bus hot-plugs (IDE on a running guest is refused, VmStateError). Its file or LV stays. A virtio-blk disk leaves a running guest only when the guest OS releases it (PCI hot-unplug): live is then "pending" until it does. Returns {target_dev, source, live: "detached" | "pending" | "not running"}.',
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, busParam, channelParam] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, device: bus, dev_channel }) {
      const n = kvmNode(ctx, server_hostname);
      const ch = channelOrRefuse(vm, bus, dev_channel);
      const g = await drivesOf(n, vm);
      const at = (list: DriveInfo[]) => list.find((d) => d.device === bus && d.dev_channel === channelText(ch));
      const inConfig = at(g.config);
      const inLive = at(g.live);
      const d = inConfig ?? inLive;
      if (!d) throw oms('UnknownDeviceError', { vm, node: n.name, kind: `${bus} drive at`, device: channelText(ch) });
      if (inLive && hotplugRefusal(bus)) throw oms('VmStateError', { vm, node: n.name, state: 'running', reason: hotplugRefusal(bus)! });
      await virshRun(n, dev.detachDevice(n.uri, vm, { config: inConfig !== undefined, live: inLive !== undefined }), { vm, input: detachDriveXml(d) });
      let live = 'not running';
      if (inLive) {
        // virsh reports success once the request is sent; whether the device left is in the live XML.
        const still = readDrives(await virshRun(n, cmd.dumpxml(n.uri, vm), { vm })).some((k) => k.target_dev === d.target_dev);
        live = still ? 'pending' : 'detached';
      }
      return { target_dev: d.target_dev, source: d.source, live };
    },
  }),
  method({
    name: 'list_drives',
    description:
      "A guest's drives as its definition holds them, with their channel: [{target_dev, device (bus), dev_channel (\"C:U\" on ide, scsi, virtio; '' otherwise), media (disk, cdrom), type (file, block), source, format, readonly, removable, live}] (live: the running guest has it).",
    auth: 'session',
    permission: onVm('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, vmParam] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm }) {
      const g = await drivesOf(kvmNode(ctx, server_hostname), vm);
      return g.config.map((d) => ({ ...d, live: g.live.some((k) => k.target_dev === d.target_dev && k.source === d.source) }));
    },
  }),
];
