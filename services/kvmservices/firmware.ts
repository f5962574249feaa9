/**
 * The guest create_vm defines, after Velocity's VM: BIOS or UEFI firmware, displays of a given
 * size, and media attached in Velocity's modes. Built on domainXml (domain.ts), so it keeps every
 * invariant of a guest OMS writes (VNC on 127.0.0.1 only, a serial pty with a console, ...), then
 * adds what create_vm asks for. Pure: no I/O, no state.
 *
 * - Firmware `efi`: `<os firmware='efi'>` and libvirt picks the OVMF build (Debian's `ovmf`
 *   package) from the QEMU firmware descriptors; secure boot is asked off, as its builds need SMM,
 *   which not every host's KVM offers. `bios`: SeaBIOS, libvirt's default.
 * - Displays: one video device per display, virtio (virtio-vga, then virtio-gpu), each with its
 *   own `<resolution>`: the mode the guest's firmware and driver start in.
 * - Media modes (Velocity): `usb` a removable USB mass-storage disk; `block` a virtio-blk disk
 *   (Velocity's VZVirtioBlockDevice); `virtio` a disk or CD-ROM on a virtio-scsi controller.
 *   `readonly` gives `<readonly/>`; an ISO is always read-only (a CD-ROM on virtio-scsi, a
 *   read-only disk on USB and virtio-blk, which have no CD-ROM).
 * - `kvm: false` defines a `type='qemu'` guest (TCG, no hardware virtualization), as Proxmox's
 *   `kvm` option does: slow, for hosts whose KVM cannot run a guest (nested hosts).
 */
import { domainXml, type DiskSpec } from './domain.ts';
import { diskLetters, driveElement, scsiControllerElement, type DriveSource, type DriveSpec } from './drives.ts';
import { child, elements, parseXml, writeXml, x, type XmlElement } from './xml.ts';

export const FIRMWARES = ['bios', 'efi'] as const;
export const MEDIA_MODES = ['usb', 'virtio', 'block'] as const;
export type MediaMode = (typeof MEDIA_MODES)[number];

export interface DisplaySpec {
  width: number;
  height: number;
}

export interface MediumSpec {
  mode: MediaMode;
  source: DriveSource;
  /** An ISO is a CD-ROM where the mode has one (virtio-scsi); elsewhere a read-only disk. */
  iso: boolean;
  readonly: boolean;
}

export interface CreateSpec {
  name: string;
  arch: string;
  memoryMiB: number;
  vcpu: number;
  firmware: (typeof FIRMWARES)[number];
  kvm: boolean;
  /** The guest's own disk (vda, virtio), if any. */
  disk?: { path: string; format: string };
  displays: DisplaySpec[];
  media: MediumSpec[];
}

/**
 * Target names for the media: virtio-blk after the guest's own disk (vdb, ...); SCSI on
 * controller 0, unit = its sd index (sda, ...); USB after them in the sd order (libvirt names SCSI
 * and USB disks from one sd* space).
 */
export function placeMedia(media: MediumSpec[], hasDisk: boolean): DriveSpec[] {
  let vd = hasDisk ? 1 : 0;
  const scsi = media.filter((m) => m.mode === 'virtio').length;
  let sd = 0;
  let usb = scsi;
  return media.map((m) => {
    const readonly = m.readonly || m.iso;
    if (m.mode === 'block') return { bus: 'virtio', targetDev: `vd${diskLetters(vd++)}`, device: 'disk', source: m.source, readonly };
    if (m.mode === 'virtio') {
      const unit = sd++;
      return { bus: 'scsi', targetDev: `sd${diskLetters(unit)}`, device: m.iso ? 'cdrom' : 'disk', source: m.source, readonly, address: { controller: 0, bus: 0, target: 0, unit } };
    }
    return { bus: 'usb', targetDev: `sd${diskLetters(usb++)}`, device: 'disk', source: m.source, readonly, removable: true };
  });
}

/** One video device per display, the first primary; `<resolution>` is the display's size. */
export const videoElements = (displays: DisplaySpec[]): XmlElement[] =>
  displays.map((d, i) =>
    x('video', {}, x('model', { type: 'virtio', heads: '1', primary: i === 0 ? 'yes' : undefined }, x('resolution', { x: String(d.width), y: String(d.height) }))),
  );

/** The domain XML of a create_vm guest, and the drives its media became. */
export function createXml(s: CreateSpec): { xml: string; media: DriveSpec[] } {
  const disks: DiskSpec[] = s.disk ? [{ type: 'file', device: 'disk', source: s.disk.path, format: s.disk.format, targetDev: 'vda', targetBus: 'virtio' }] : [];
  const base = domainXml({
    name: s.name,
    memoryMiB: s.memoryMiB,
    vcpu: s.vcpu,
    arch: s.arch,
    bootDevs: ['hd'],
    features: ['acpi', 'apic'],
    clockOffset: 'utc',
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    disks,
    interfaces: [],
    mouseBus: 'ps2',
  });
  const d = parseXml(base);
  const doc = d.ownerDocument!;
  const add = (parent: XmlElement, el: XmlElement, before?: XmlElement | null) => parent.insertBefore(doc.importNode(el, true), before ?? null);
  if (!s.kvm) d.setAttribute('type', 'qemu');
  const os = child(d, 'os')!;
  if (s.firmware === 'efi') {
    os.setAttribute('firmware', 'efi');
    // Right after <type>, where libvirt writes it.
    add(os, x('firmware', {}, x('feature', { enabled: 'no', name: 'secure-boot' })), elements(os)[1]);
  }
  const devices = child(d, 'devices')!;
  const media = placeMedia(s.media, s.disk !== undefined);
  // Drives first, as libvirt lists them; then the controller and the displays.
  const firstOther = elements(devices).find((e) => e.tagName !== 'disk') ?? null;
  for (const m of media) add(devices, driveElement(m), firstOther);
  if (media.some((m) => m.bus === 'scsi')) add(devices, scsiControllerElement(0), firstOther);
  for (const v of videoElements(s.displays)) add(devices, v);
  return { xml: writeXml(d), media };
}
