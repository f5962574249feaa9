/**
 * create_vm (after Velocity's VM create): a guest with BIOS or UEFI firmware, displays of a given
 * size and media in Velocity's modes, defined and left stopped; attach_medium adds a medium to an
 * existing guest in one of those modes. The XML is firmware.ts's; sources resolve as drives do.
 */
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { fileName, vmName } from '../../src/rpc/fields.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import * as cmd from './commands.ts';
import * as dev from './device-commands.ts';
import { domState, isStopped, lockVm, mustNotExist, nodeInfo, onNode, onVm, serverParam, vmParam } from './common.ts';
import { resolveSource } from './drive-methods.ts';
import { diskLetters, driveElement, readDrives, scsiControllers, scsiControllerXml, type DriveSpec } from './drives.ts';
import { createXml, FIRMWARES, MEDIA_MODES, placeMedia, type MediumSpec } from './firmware.ts';
import { wholeNumber } from './fields.ts';
import { createImage } from './images.ts';
import { kvmNode, virshRun, type KvmNode } from './node.ts';
import { checkMemory, checkVcpu, onOff } from './settings.ts';
import { writeXml } from './xml.ts';

/** Velocity spells modes and firmware in capitals (USB, EFI); either case is taken. */
const word = <T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .max(8)
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(values));

const mediumSource = z.enum(['image', 'iso']);
const medium = z.object({ source_type: mediumSource, source: fileName, mode: word(MEDIA_MODES), readonly: onOff.optional() }).strict();
const display = z.object({ width: wholeNumber(320, 7680), height: wholeNumber(200, 4320) }).strict();

export const MAX_DISPLAYS = 4;
export const MAX_MEDIA = 8;

const createSpec = z
  .object({
    firmware: word(FIRMWARES).optional(),
    cpus: z.union([z.string().max(12), z.number()]).optional(),
    /** Required, as in Velocity: a guest's size is a choice, never a default it gets by accident. */
    memory_mib: z.union([z.string().max(12), z.number()]),
    disk_mb: wholeNumber(1, 16 * 1024 * 1024).optional(),
    displays: z.array(display).max(MAX_DISPLAYS).optional(),
    media: z.array(medium).max(MAX_MEDIA).optional(),
    kvm: onOff.optional(),
  })
  .strict();

async function resolveMedia(n: KvmNode, media: z.output<typeof medium>[]): Promise<MediumSpec[]> {
  const out: MediumSpec[] = [];
  for (const m of media) {
    const r = await resolveSource(n, m.source_type, m.source);
    out.push({ mode: m.mode, source: r.source, iso: r.media === 'cdrom', readonly: m.readonly ?? false });
  }
  return out;
}

const describeMedia = (media: DriveSpec[], modes: string[]) => media.map((m, i) => ({ target_dev: m.targetDev, bus: m.bus, mode: modes[i], media: m.device, readonly: m.readonly || m.device === 'cdrom', source: m.source.path }));

async function createVm(ctx: CallContext, server: string, vm: string, spec: z.output<typeof createSpec>) {
  const n = kvmNode(ctx, server);
  await mustNotExist(n, vm);
  const firmware = spec.firmware ?? 'bios';
  const info = await nodeInfo(n);
  const cpus = checkVcpu(spec.cpus ?? 1, info);
  const mem = checkMemory(spec.memory_mib, info);
  const bad = [typeof cpus === 'string' ? `cpus: ${cpus}` : '', typeof mem === 'string' ? `memory_mib: ${mem}` : ''].filter(Boolean);
  if (bad.length) throw oms('InvalidSettingsError', { what: vm, reason: bad.join('; ') });
  const media = await resolveMedia(n, spec.media ?? []);
  const diskPath = spec.disk_mb === undefined ? undefined : await createImage(n, `${vm}.qcow2`, spec.disk_mb);
  try {
    const { xml, media: placed } = createXml({
      name: vm,
      arch: info.arch,
      memoryMiB: mem as number,
      vcpu: cpus as number,
      firmware,
      // The call's own choice, else the node's (guestVirtType).
      kvm: spec.kvm ?? n.virtType === 'kvm',
      disk: diskPath ? { path: diskPath, format: 'qcow2' } : undefined,
      displays: spec.displays ?? [],
      media,
    });
    await virshRun(n, cmd.defineStdin(n.uri), { input: xml });
    return { name: vm, firmware, disk: diskPath ?? null, media: describeMedia(placed, media.map((m) => m.mode)) };
  } catch (e) {
    if (diskPath) await n.handle.exec(cmd.removeFile(diskPath), { okExitCodes: [0, 1] }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: rm failed'));
    throw e;
  }
}

/** The first free place for a medium of that mode in a guest with these drives and SCSI controllers. */
function placeOne(m: MediumSpec, taken: Set<string>): DriveSpec | undefined {
  const free = (prefix: string, from = 0, upto = 26) => {
    for (let i = from; i < upto; i++) if (!taken.has(`${prefix}${diskLetters(i)}`)) return i;
    return undefined;
  };
  // placeMedia names a lone medium as it would in a new guest; only the index changes here.
  const [p] = placeMedia([m], false);
  if (m.mode === 'block') {
    const i = free('vd');
    return i === undefined ? undefined : { ...p, targetDev: `vd${diskLetters(i)}` };
  }
  if (m.mode === 'virtio') {
    const i = free('sd', 0, 7);
    return i === undefined ? undefined : { ...p, targetDev: `sd${diskLetters(i)}`, address: { controller: 0, bus: 0, target: 0, unit: i } };
  }
  const i = free('sd', 7);
  return i === undefined ? undefined : { ...p, targetDev: `sd${diskLetters(i)}` };
}

export const createMethods: MethodDecl[] = [
  method({
    name: 'create_vm',
    description:
      'Defines a guest (left stopped) after Velocity\'s VM: spec {memory_mib (required; OVMF wants 128 or more), firmware: bios | efi (UEFI, OVMF), cpus (default 1), disk_mb (a new qcow2 <vm>.qcow2 as vda), displays: [{width, height}] (one virtio video device each, at that resolution; up to 4), media: [{source_type: image | iso, source, mode: usb | virtio | block, readonly}] (up to 8; usb: removable USB disk, block: virtio-blk, virtio: on virtio-scsi; an ISO is always read-only), kvm (true: KVM; false: TCG emulation, for hosts whose KVM cannot run the firmware; default: the node setting guestVirtType, kvm unless set to qemu)}. Returns {name, firmware, disk, media: [{target_dev, bus, mode, media, readonly, source}]}.',
    auth: 'session',
    permission: onNode('vm.create'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, { name: 'kvm_vm_name', schema: vmName }, { name: 'spec', schema: createSpec }] as const,
    run: (ctx, { server_hostname, kvm_vm_name, spec }) => createVm(ctx, server_hostname, kvm_vm_name, spec),
  }),
  method({
    name: 'attach_medium',
    description:
      'Attaches a medium in a Velocity mode to a guest: source_type image (images directory) or iso (ISO directory, always read-only), mode usb (removable USB disk, sdh..), block (virtio-blk, first free vd*) or virtio (virtio-scsi controller 0, first free unit, sda-sdg), optionally read-only. To the definition, and to the running guest (all three modes hot-plug). Returns {target_dev, bus, mode, media, readonly, source, live}.',
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'source_type', schema: mediumSource }, { name: 'source', schema: fileName }, { name: 'mode', schema: word(MEDIA_MODES) }, { name: 'readonly', schema: onOff, optional: true }] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, source_type, source, mode, readonly }) {
      const n = kvmNode(ctx, server_hostname);
      const running = !isStopped(await domState(n, vm));
      const configXml = await virshRun(n, cmd.dumpxml(n.uri, vm, true), { vm });
      const liveXml = running ? await virshRun(n, cmd.dumpxml(n.uri, vm), { vm }) : '';
      const taken = new Set([...readDrives(configXml), ...(running ? readDrives(liveXml) : [])].map((d) => d.target_dev));
      const [m] = await resolveMedia(n, [{ source_type, source, mode, readonly }]);
      const d = placeOne(m, taken);
      if (!d) throw oms('DriveChannelInUseError', { vm, node: n.name, reason: `no free place for a ${mode} medium` });
      if (d.bus === 'scsi') {
        const w = { config: !scsiControllers(configXml).includes(0), live: running && !scsiControllers(liveXml).includes(0) };
        if (w.config || w.live) await virshRun(n, dev.attachDevice(n.uri, vm, w), { vm, input: scsiControllerXml(0) });
      }
      await virshRun(n, dev.attachDevice(n.uri, vm, { config: true, live: running }), { vm, input: writeXml(driveElement(d)) });
      return { ...describeMedia([d], [mode])[0], live: running };
    },
  }),
];
