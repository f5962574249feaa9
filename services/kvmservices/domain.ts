/**
 * libvirt domain XML: reading what a node's libvirt says about a guest, and writing the XML for a
 * guest OMS defines. Pure: no I/O, no state.
 *
 * Invariants of every guest OMS writes: `type='kvm'` (or `type='qemu'`, emulation, where the node
 * setting guestVirtType or create_vm's `kvm: false` asks for it); VNC with autoport listening on 127.0.0.1
 * only (reached through the gateway's SSH tunnel, never from the network); a serial pty with a
 * console on it; NICs only on a named bridge or libvirt network, never a host device.
 */
import { attr, child, elements, parseXml, removeElement, serializeXml, setText, textOf, writeXml, x, type XmlElement } from './xml.ts';

export interface DiskInfo {
  /** `file` or `block`. */
  type: string;
  /** `disk` or `cdrom`. */
  device: string;
  /** File or block device path; '' for an empty CD-ROM drive. */
  source: string;
  format: string;
  targetDev: string;
  targetBus: string;
}

export interface InterfaceInfo {
  /** `bridge` or `network`. */
  type: string;
  /** Bridge or network name. */
  source: string;
  mac: string;
  model: string;
  /** Host-side device (vnet0) while running. */
  targetDev: string;
}

export interface DomainInfo {
  name: string;
  uuid: string;
  domainType: string;
  virtType: string;
  arch: string;
  memoryKiB: number;
  currentMemoryKiB: number;
  vcpu: number;
  bootDevs: string[];
  features: string[];
  clockOffset: string;
  onPoweroff: string;
  onReboot: string;
  onCrash: string;
  emulator: string;
  disks: DiskInfo[];
  interfaces: InterfaceInfo[];
  graphics?: { type: string; port: string; autoport: string; listen: string; keymap: string };
  mouseBus: string;
  hasSerial: boolean;
  hasConsole: boolean;
  /** Direct kernel boot: '' when the guest boots through its firmware (bootDevs). */
  kernel: string;
  initrd: string;
  cmdline: string;
  controllers: { type: string; model: string }[];
}

const UNIT_KIB: Record<string, number> = { b: 1 / 1024, bytes: 1 / 1024, k: 1, kib: 1, kb: 1000 / 1024, m: 1024, mib: 1024, mb: 1e6 / 1024, g: 1048576, gib: 1048576, gb: 1e9 / 1024 };

function kib(el: XmlElement | undefined): number {
  if (!el) return 0;
  const unit = (attr(el, 'unit') ?? 'KiB').toLowerCase();
  return Math.round(Number(textOf(el)) * (UNIT_KIB[unit] ?? 1));
}

export function readDomain(xml: string): DomainInfo {
  const d = parseXml(xml);
  if (d.tagName !== 'domain') throw new Error(`expected <domain>, got <${d.tagName}>`);
  const os = child(d, 'os');
  const devices = child(d, 'devices');
  const gfx = child(devices, 'graphics');
  const mouse = elements(devices, 'input').find((i) => attr(i, 'type') === 'mouse');
  return {
    name: textOf(child(d, 'name')),
    uuid: textOf(child(d, 'uuid')),
    domainType: attr(d, 'type') ?? '',
    virtType: textOf(child(os, 'type')),
    arch: attr(child(os, 'type'), 'arch') ?? '',
    memoryKiB: kib(child(d, 'memory')),
    currentMemoryKiB: kib(child(d, 'currentMemory') ?? child(d, 'memory')),
    vcpu: Number(textOf(child(d, 'vcpu')) || 1),
    bootDevs: elements(os, 'boot').map((b) => attr(b, 'dev') ?? ''),
    features: elements(child(d, 'features')).map((f) => f.tagName),
    clockOffset: attr(child(d, 'clock'), 'offset') ?? '',
    onPoweroff: textOf(child(d, 'on_poweroff')),
    onReboot: textOf(child(d, 'on_reboot')),
    onCrash: textOf(child(d, 'on_crash')),
    emulator: textOf(child(devices, 'emulator')),
    disks: elements(devices, 'disk').map((k) => {
      const src = child(k, 'source');
      return {
        type: attr(k, 'type') ?? '',
        device: attr(k, 'device') ?? 'disk',
        source: attr(src, 'file') ?? attr(src, 'dev') ?? '',
        format: attr(child(k, 'driver'), 'type') ?? '',
        targetDev: attr(child(k, 'target'), 'dev') ?? '',
        targetBus: attr(child(k, 'target'), 'bus') ?? '',
      };
    }),
    interfaces: elements(devices, 'interface').map((n) => {
      const src = child(n, 'source');
      return {
        type: attr(n, 'type') ?? '',
        // A running guest's NIC on a network also names the network's bridge: the network is its source.
        source: attr(src, 'network') ?? attr(src, 'bridge') ?? '',
        mac: attr(child(n, 'mac'), 'address') ?? '',
        model: attr(child(n, 'model'), 'type') ?? '',
        targetDev: attr(child(n, 'target'), 'dev') ?? '',
      };
    }),
    graphics: gfx && {
      type: attr(gfx, 'type') ?? '',
      port: attr(gfx, 'port') ?? '-1',
      autoport: attr(gfx, 'autoport') ?? 'no',
      listen: attr(gfx, 'listen') ?? attr(child(gfx, 'listen'), 'address') ?? '',
      keymap: attr(gfx, 'keymap') ?? '',
    },
    mouseBus: attr(mouse, 'bus') ?? '',
    hasSerial: elements(devices, 'serial').length > 0,
    hasConsole: elements(devices, 'console').length > 0,
    kernel: textOf(child(os, 'kernel')),
    initrd: textOf(child(os, 'initrd')),
    cmdline: textOf(child(os, 'cmdline')),
    controllers: elements(devices, 'controller').map((c) => ({ type: attr(c, 'type') ?? '', model: attr(c, 'model') ?? '' })),
  };
}

export interface DiskSpec {
  type: 'file' | 'block';
  device: 'disk' | 'cdrom';
  source: string;
  /** Driver format for file disks (qcow2, raw); block devices are raw. */
  format: string;
  targetDev: string;
  targetBus: string;
}

export interface InterfaceSpec {
  type: 'bridge' | 'network';
  source: string;
  mac?: string;
  model?: string;
}

export interface DomainSpec {
  name: string;
  /** Fixed UUID: a network install's install boot and final definition are one domain. */
  uuid?: string;
  memoryMiB: number;
  vcpu: number;
  arch: string;
  bootDevs: string[];
  features: string[];
  clockOffset: string;
  onPoweroff: string;
  onReboot: string;
  onCrash: string;
  disks: DiskSpec[];
  interfaces: InterfaceSpec[];
  keymap?: string;
  mouseBus: string;
  /** Recorded in the domain's metadata (create_vm_from_iso's os_type/os_variant). */
  os?: { type: string; variant: string };
  /** Direct kernel boot (a network install's install boot): paths on the node and the command line. */
  directBoot?: { kernel: string; initrd: string; cmdline: string };
  /** Disks on bus scsi get a virtio-scsi controller, so they appear as sdX as on physical machines. */
  scsiController?: boolean;
  /** libvirt's domain type: 'kvm' (the default, hardware virtualization) or 'qemu' (TCG emulation). */
  virtType?: 'kvm' | 'qemu';
}

export const OMS_METADATA_NS = 'https://opennode.example/oms/1';

/** The XML OMS defines a guest with. */
export function domainXml(s: DomainSpec): string {
  const doc = x(
    'domain',
    { type: s.virtType ?? 'kvm' },
    x('name', {}, s.name),
    s.uuid !== undefined && x('uuid', {}, s.uuid),
    s.os && x('metadata', {}, x('oms:os', { 'xmlns:oms': OMS_METADATA_NS, type: s.os.type, variant: s.os.variant })),
    x('memory', { unit: 'MiB' }, String(s.memoryMiB)),
    x('vcpu', {}, String(s.vcpu)),
    x(
      'os',
      {},
      x('type', { arch: s.arch }, 'hvm'),
      s.directBoot && x('kernel', {}, s.directBoot.kernel),
      s.directBoot && x('initrd', {}, s.directBoot.initrd),
      s.directBoot && x('cmdline', {}, s.directBoot.cmdline),
      ...s.bootDevs.map((dev) => x('boot', { dev })),
    ),
    s.features.length > 0 && x('features', {}, ...s.features.map((f) => x(f))),
    x('clock', { offset: s.clockOffset }),
    x('on_poweroff', {}, s.onPoweroff),
    x('on_reboot', {}, s.onReboot),
    x('on_crash', {}, s.onCrash),
    x(
      'devices',
      {},
      s.scsiController && x('controller', { type: 'scsi', index: '0', model: 'virtio-scsi' }),
      ...s.disks.map((d) =>
        x(
          'disk',
          { type: d.type, device: d.device },
          x('driver', { name: 'qemu', type: d.type === 'block' ? 'raw' : d.format }),
          d.source ? x('source', d.type === 'block' ? { dev: d.source } : { file: d.source }) : undefined,
          x('target', { dev: d.targetDev, bus: d.targetBus }),
          d.device === 'cdrom' && x('readonly'),
        ),
      ),
      ...s.interfaces.map((n) =>
        x('interface', { type: n.type }, n.mac ? x('mac', { address: n.mac }) : undefined, x('source', n.type === 'bridge' ? { bridge: n.source } : { network: n.source }), x('model', { type: n.model ?? 'virtio' })),
      ),
      x('serial', { type: 'pty' }, x('target', { port: '0' })),
      x('console', { type: 'pty' }, x('target', { type: 'serial', port: '0' })),
      x('input', { type: 'mouse', bus: s.mouseBus }),
      x('graphics', { type: 'vnc', port: '-1', autoport: 'yes', listen: '127.0.0.1', keymap: s.keymap || undefined }, x('listen', { type: 'address', address: '127.0.0.1' })),
    ),
  );
  return writeXml(doc);
}

/** Device XML for attach-device: a disk or a NIC. */
export const diskXml = (d: DiskSpec): string =>
  writeXml(
    x(
      'disk',
      { type: d.type, device: d.device },
      x('driver', { name: 'qemu', type: d.type === 'block' ? 'raw' : d.format }),
      x('source', d.type === 'block' ? { dev: d.source } : { file: d.source }),
      x('target', { dev: d.targetDev, bus: d.targetBus }),
      d.device === 'cdrom' && x('readonly'),
    ),
  );

export const interfaceXml = (n: InterfaceSpec): string =>
  writeXml(x('interface', { type: n.type }, n.mac ? x('mac', { address: n.mac }) : undefined, x('source', n.type === 'bridge' ? { bridge: n.source } : { network: n.source }), x('model', { type: n.model ?? 'virtio' })));

/**
 * The XML of a copy of a guest (clone): new name, no uuid (libvirt makes one), no MAC addresses
 * (libvirt makes new ones), no fixed VNC port, runtime-only elements dropped, and each writable
 * disk's source replaced by `newDisks[targetDev]`. CD-ROMs keep their source: they are shared.
 * Everything else (description, title, metadata of any namespace, comments) is written back by the
 * library exactly as libvirt gave it.
 */
export function cloneXml(inactiveXml: string, newName: string, newDisks: Record<string, string>): string {
  const d = parseXml(inactiveXml);
  for (const c of elements(d)) if (c.tagName === 'uuid' || c.tagName === 'id') removeElement(c);
  d.removeAttribute('id');
  const name = child(d, 'name');
  if (!name) throw new Error('domain XML without <name>');
  setText(name, newName);
  for (const dev of elements(child(d, 'devices'))) {
    if (dev.tagName === 'disk' && attr(dev, 'device') !== 'cdrom') {
      const target = attr(child(dev, 'target'), 'dev') ?? '';
      const src = child(dev, 'source');
      if (src && newDisks[target]) {
        if (src.hasAttribute('file')) src.setAttribute('file', newDisks[target]);
        else throw new Error(`disk ${target} is not file-based`);
      }
    }
    if (dev.tagName === 'interface') for (const c of elements(dev)) if (c.tagName === 'mac' || c.tagName === 'target' || c.tagName === 'alias') removeElement(c);
    if (dev.tagName === 'graphics' && attr(dev, 'autoport') === 'yes') dev.setAttribute('port', '-1');
  }
  return serializeXml(d);
}
