/**
 * Drives by device channel, after CloudSigma's `dev_channel` ("controller:unit"): which channels
 * a bus has, which target device a channel is, the disk XML for it, and which drives a guest's
 * XML holds, by channel. Pure: no I/O, no state.
 *
 * A channel pins a drive's place, so it keeps its name in the guest (/dev/sdc) across reboots:
 * - ide: 2 controllers x 2 units (QEMU's two IDE channels, master and slave): 0:0 hda, 0:1 hdb,
 *   1:0 hdc, 1:1 hdd. libvirt writes them as `<address type='drive' controller='0' bus='C' unit='U'/>`.
 * - scsi: a virtio-scsi controller per channel controller (index C), units 0-6 on its target 0,
 *   `<address type='drive' controller='C' bus='0' target='0' unit='U'/>`, named sd[a..] in
 *   libvirt's own order (C*7+U, as libvirt numbers SCSI disks it places itself). Controllers 0-7.
 * - virtio: virtio-blk has no controller or unit (each disk is a PCI device), so the channel is only
 *   a place in the vd[a..] order, CloudSigma's way: 6 units per controller, C*6+U, 1024 drives.
 */
import { attr, child, elements, parseXml, writeXml, x, type XmlElement } from './xml.ts';

export const DRIVE_BUSES = ['ide', 'virtio', 'scsi'] as const;
export type DriveBus = (typeof DRIVE_BUSES)[number];

export interface Channel {
  controller: number;
  unit: number;
}

/** Controllers and units per controller of each bus, and the total where the bus has one. */
export const CHANNEL_LIMITS: Record<DriveBus, { controllers: number; units: number; total?: number }> = {
  ide: { controllers: 2, units: 2 },
  scsi: { controllers: 8, units: 7 },
  virtio: { controllers: 171, units: 6, total: 1024 },
};

const TARGET_PREFIX: Record<DriveBus, string> = { ide: 'hd', scsi: 'sd', virtio: 'vd' };

/** libvirt's disk name suffix for an index: 0 a, 25 z, 26 aa, 701 zz, 702 aaa. */
export function diskLetters(index: number): string {
  let s = '';
  for (let i = index + 1; i > 0; i = Math.floor((i - 1) / 26)) s = String.fromCharCode(97 + ((i - 1) % 26)) + s;
  return s;
}

/** The inverse of diskLetters; undefined for anything else. */
export function diskIndex(letters: string): number | undefined {
  if (!/^[a-z]{1,3}$/.test(letters)) return undefined;
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 96);
  return n - 1;
}

const channelIndex = (bus: DriveBus, c: Channel): number => c.controller * CHANNEL_LIMITS[bus].units + c.unit;

/** "C:U" -> a channel of the bus, or the reason it is not one. */
export function parseChannel(bus: DriveBus, text: string): Channel | string {
  const m = /^(\d{1,3}):(\d{1,3})$/.exec(text);
  if (!m) return `dev_channel ${text} is not controller:unit`;
  const ch = { controller: Number(m[1]), unit: Number(m[2]) };
  const lim = CHANNEL_LIMITS[bus];
  if (ch.controller >= lim.controllers || ch.unit >= lim.units)
    return `dev_channel ${text} is outside ${bus}'s channels: controllers 0-${lim.controllers - 1}, units 0-${lim.units - 1}`;
  if (lim.total !== undefined && channelIndex(bus, ch) >= lim.total) return `dev_channel ${text} is outside ${bus}'s ${lim.total} drives`;
  return ch;
}

export const channelText = (c: Channel): string => `${c.controller}:${c.unit}`;

/** The target device a channel is: ide 1:0 hdc, scsi 1:0 sdh, virtio 1:0 vdg. */
export const targetOf = (bus: DriveBus, c: Channel): string => TARGET_PREFIX[bus] + diskLetters(channelIndex(bus, c));

/** Back from a target name (for drives libvirt placed itself, without an address). */
export function channelOfTarget(bus: DriveBus, dev: string): Channel | undefined {
  if (!dev.startsWith(TARGET_PREFIX[bus])) return undefined;
  const i = diskIndex(dev.slice(2));
  if (i === undefined) return undefined;
  const units = CHANNEL_LIMITS[bus].units;
  return { controller: Math.floor(i / units), unit: i % units };
}

/** The `<address type='drive'>` a channel of IDE or SCSI is; virtio-blk has none. */
export function driveAddress(bus: DriveBus, c: Channel): DriveAddress | undefined {
  if (bus === 'ide') return { controller: 0, bus: c.controller, target: 0, unit: c.unit };
  if (bus === 'scsi') return { controller: c.controller, bus: 0, target: 0, unit: c.unit };
  return undefined;
}

export interface DriveAddress {
  controller: number;
  bus: number;
  target: number;
  unit: number;
}

/**
 * Why a drive cannot be hot-plugged into (or out of) a running guest on this bus, or undefined
 * when it can. QEMU has no IDE hot-plug; virtio-blk and virtio-scsi disks and SCSI CD-ROMs plug.
 */
export function hotplugRefusal(bus: string): string | undefined {
  if (bus === 'ide') return 'IDE drives cannot be attached to or detached from a running guest (QEMU has no IDE hot-plug); stop the guest first';
  if (bus === 'sata') return 'SATA drives cannot be attached to or detached from a running guest here; stop the guest first';
  return undefined;
}

/** A read-only disk QEMU cannot give (libvirt refuses it late, with "readonly ide disks are not supported"). */
export const readonlyRefusal = (bus: string, media: string): string | undefined => (bus === 'ide' && media === 'disk' ? 'an IDE disk cannot be read-only (QEMU); use scsi or virtio, or an ISO as CD-ROM' : undefined);

/** What a CD-ROM cannot sit on: virtio-blk is a disk only. */
export const cdromRefusal = (bus: string): string | undefined => (bus === 'virtio' ? 'virtio (virtio-blk) holds disks only; a CD-ROM goes on ide or scsi' : undefined);

export type DriveSource = { kind: 'file'; path: string; format: string } | { kind: 'block'; path: string };

export interface DriveSpec {
  /** The guest-side bus: ide, scsi and virtio by channel; usb for removable media. */
  bus: DriveBus | 'usb';
  targetDev: string;
  device: 'disk' | 'cdrom';
  source: DriveSource;
  readonly: boolean;
  address?: DriveAddress;
  /** USB sticks: the guest sees removable media. */
  removable?: boolean;
}

/** A drive as a `<disk>` element: for attach-device, and for the devices of a guest OMS defines. */
export function driveElement(d: DriveSpec): XmlElement {
  const a = d.address;
  return x(
    'disk',
    { type: d.source.kind, device: d.device },
    x('driver', { name: 'qemu', type: d.source.kind === 'file' ? d.source.format : 'raw' }),
    x('source', d.source.kind === 'file' ? { file: d.source.path } : { dev: d.source.path }),
    x('target', { dev: d.targetDev, bus: d.bus, removable: d.removable ? 'on' : undefined }),
    // A CD-ROM is read-only by nature; a disk only when asked.
    (d.readonly || d.device === 'cdrom') && x('readonly'),
    a && x('address', { type: 'drive', controller: String(a.controller), bus: String(a.bus), target: String(a.target), unit: String(a.unit) }),
  );
}

export const driveXml = (d: DriveSpec): string => writeXml(driveElement(d));

/** A virtio-scsi controller: each SCSI channel controller is one. */
export const scsiControllerElement = (index: number): XmlElement => x('controller', { type: 'scsi', index: String(index), model: 'virtio-scsi' });
export const scsiControllerXml = (index: number): string => writeXml(scsiControllerElement(index));

/** A drive as a guest's XML holds it, with its channel where its bus has channels. */
export interface DriveInfo {
  target_dev: string;
  /** The bus: ide, scsi, virtio, sata, usb, ... */
  device: string;
  /** "C:U" on ide, scsi and virtio; '' on other buses. */
  dev_channel: string;
  media: string;
  /** file or block */
  type: string;
  source: string;
  format: string;
  readonly: boolean;
  removable: boolean;
}

const num = (el: XmlElement | undefined, name: string): number => Number(attr(el, name) ?? '0');

function channelOf(bus: string, dev: string, addr: XmlElement | undefined): Channel | undefined {
  if (bus !== 'ide' && bus !== 'scsi' && bus !== 'virtio') return undefined;
  if (addr && attr(addr, 'type') === 'drive') {
    if (bus === 'ide') return { controller: num(addr, 'bus'), unit: num(addr, 'unit') };
    if (bus === 'scsi' && num(addr, 'target') === 0 && num(addr, 'bus') === 0) return { controller: num(addr, 'controller'), unit: num(addr, 'unit') };
  }
  return channelOfTarget(bus, dev);
}

/** Every `<disk>` of a domain's XML. */
export function readDrives(domainXml: string): DriveInfo[] {
  const devices = child(parseXml(domainXml), 'devices');
  return elements(devices, 'disk').map((k) => {
    const target = child(k, 'target');
    const bus = attr(target, 'bus') ?? '';
    const dev = attr(target, 'dev') ?? '';
    const src = child(k, 'source');
    const ch = channelOf(bus, dev, child(k, 'address'));
    return {
      target_dev: dev,
      device: bus,
      dev_channel: ch ? channelText(ch) : '',
      media: attr(k, 'device') ?? 'disk',
      type: attr(k, 'type') ?? '',
      source: attr(src, 'file') ?? attr(src, 'dev') ?? '',
      format: attr(child(k, 'driver'), 'type') ?? '',
      readonly: child(k, 'readonly') !== undefined,
      removable: attr(target, 'removable') === 'on',
    };
  });
}

/** Indexes of the SCSI controllers a domain's XML has. */
export const scsiControllers = (domainXml: string): number[] =>
  elements(child(parseXml(domainXml), 'devices'), 'controller')
    .filter((c) => attr(c, 'type') === 'scsi')
    .map((c) => Number(attr(c, 'index') ?? '0'));

/**
 * Why a channel cannot take a new drive in a guest whose drives are `drives`, or undefined when
 * it is free: its target name is used (on any bus: sata and usb disks are sd* too), or a drive
 * on the same bus sits on that channel under another name.
 */
export function channelTaken(drives: DriveInfo[], bus: DriveBus, c: Channel): string | undefined {
  const dev = targetOf(bus, c);
  const hit = drives.find((d) => d.target_dev === dev) ?? drives.find((d) => d.device === bus && d.dev_channel === channelText(c));
  if (!hit) return undefined;
  return `${bus} channel ${channelText(c)} (${dev}) is taken by ${hit.target_dev} (${hit.device}${hit.source ? `, ${hit.source}` : ', empty'})`;
}

/** `VG/LV` as the block device path of the LV. */
export const lvDevicePath = (vg: string, lv: string): string => `/dev/${vg}/${lv}`;

/** The XML detach-device needs for a drive read from the guest: libvirt finds it by its target. */
export const detachDriveXml = (d: DriveInfo): string =>
  writeXml(
    x(
      'disk',
      { type: d.type || 'file', device: d.media },
      d.source ? x('source', d.type === 'block' ? { dev: d.source } : { file: d.source }) : undefined,
      x('target', { dev: d.target_dev, bus: d.device }),
    ),
  );
