/**
 * KVM templates in a node's templates directory, and the settings dictionaries of the OMS
 * template methods. Pure: no I/O, no state.
 *
 * A template named T is either
 *  - a directory `T/` holding `template.json` (the settings below) and its disk files, as
 *    create_template_from_vm writes it; or
 *  - a bare disk image `T.qcow2` / `T.img` / `T.raw` at the top of the directory (such as a
 *    downloaded cloud image), deployed with DEFAULT_SETTINGS.
 */
import type { DomainInfo, DomainSpec } from './domain.ts';
import type { NodeInfo } from './parse.ts';
import { checkMemory, checkVcpu } from './settings.ts';

export const TEMPLATE_FILE = 'template.json';
const BARE_EXT = /^(.+)\.(qcow2|img|raw)$/;

export interface TemplateDisk {
  template_name: string;
  template_format: string;
  target_dev: string;
  target_bus: string;
}

export interface TemplateSettings {
  domain_type: string;
  virt_type: string;
  arch: string;
  memory: string;
  vcpu: string;
  boot_dev: string;
  features: string[];
  clock_offset: string;
  on_poweroff: string;
  on_reboot: string;
  on_crash: string;
  /** null: no NIC. */
  interface: { type: 'bridge'; source_bridge: string } | { type: 'network'; source_network: string } | null;
  mouse_bus: string;
  graphics: { type: 'vnc'; port: '-1'; autoport: 'yes'; keymap: string };
  disks: TemplateDisk[];
}

/** What a bare disk-image template deploys as: a small guest booting its one disk, no NIC. */
export const DEFAULT_SETTINGS: Omit<TemplateSettings, 'disks' | 'arch'> = {
  domain_type: 'kvm',
  virt_type: 'hvm',
  memory: '128',
  vcpu: '1',
  boot_dev: 'hd',
  features: ['acpi', 'apic'],
  clock_offset: 'utc',
  on_poweroff: 'destroy',
  on_reboot: 'restart',
  on_crash: 'destroy',
  interface: null,
  mouse_bus: 'ps2',
  graphics: { type: 'vnc', port: '-1', autoport: 'yes', keymap: '' },
};

export type TemplateEntry = { name: string; kind: 'dir' } | { name: string; kind: 'file'; file: string; format: string };

/** Templates from a two-level listing of the templates directory (parseFindListing). */
export function templatesFromListing(entries: { type: string; path: string }[]): TemplateEntry[] {
  const out = new Map<string, TemplateEntry>();
  for (const e of entries) {
    const parts = e.path.split('/');
    if (e.type === 'f' && parts.length === 2 && parts[1] === TEMPLATE_FILE) out.set(parts[0], { name: parts[0], kind: 'dir' });
  }
  for (const e of entries) {
    const m = BARE_EXT.exec(e.path);
    if (e.type === 'f' && !e.path.includes('/') && m && !out.has(m[1])) out.set(m[1], { name: m[1], kind: 'file', file: e.path, format: m[2] === 'qcow2' ? 'qcow2' : 'raw' });
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export const bareTemplateSettings = (file: string, format: string, arch: string): TemplateSettings => ({
  ...DEFAULT_SETTINGS,
  arch,
  disks: [{ template_name: file, template_format: format, target_dev: 'vda', target_bus: 'virtio' }],
});

/** The disk file a deployed guest gets for a template disk: `<vm>-<template disk file>` in the images directory. */
export const deployedDiskName = (vm: string, templateDisk: string): string => `${vm}-${templateDisk}`;

/** parse_template_for_vm's dictionary (the OMS sample's keys). */
export function templateForVm(template: string, vm: string, s: TemplateSettings, capacities: number[], emulator: string): Record<string, unknown> {
  return {
    template_name: template,
    vm_name: vm,
    domain_type: s.domain_type,
    virt_type: s.virt_type,
    memory: s.memory,
    arch: s.arch,
    vcpu: s.vcpu,
    boot_dev: s.boot_dev,
    features: s.features,
    clock_offset: s.clock_offset,
    emulator,
    on_poweroff: s.on_poweroff,
    on_reboot: s.on_reboot,
    on_crash: s.on_crash,
    interface: s.interface,
    serial: { type: 'pty', target_port: '0' },
    console: { type: 'pty', target_port: '0' },
    mouse_bus: s.mouse_bus,
    graphics: s.graphics,
    disks: s.disks.map((d, i) => ({
      template_name: d.template_name,
      template_format: d.template_format,
      template_capacity: String(capacities[i] ?? 0),
      deploy_type: 'file',
      type: 'file',
      device: 'disk',
      source_file: deployedDiskName(vm, d.template_name),
      target_dev: d.target_dev,
      target_bus: d.target_bus,
    })),
  };
}

const ACTIONS = ['destroy', 'restart', 'preserve', 'rename-restart'];
const oneOf = (allowed: readonly string[], msg: string) => (v: unknown) => (typeof v === 'string' && allowed.includes(v) ? undefined : msg);
/** The OMS document's samples say `reboot` where libvirt says `restart`. */
const action = (v: unknown): string | undefined => (v === 'reboot' ? 'restart' : typeof v === 'string' ? v : undefined);

const BRIDGE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const NETWORK = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const KEYMAP = /^[a-z]{2}(-[a-z]{2,3})?$/;
const FEATURES = ['acpi', 'apic', 'pae', 'hap', 'viridian', 'privnet'];

/** Echoes of parse_template_for_vm's own output that a client may send back unchanged. */
const ECHO_KEYS = new Set(['template_name', 'vm_name', 'emulator', 'serial', 'console', 'min_memory', 'min_vcpu', 'max_memory', 'max_vcpu']);

/**
 * deploy_template_for_vm / create_template_from_vm: applies the caller's overrides to a
 * template's settings. Returns the per-field errors (the OMS result) or the merged settings.
 */
export function mergeSettings(base: TemplateSettings, overrides: Record<string, unknown>, node: NodeInfo): { errors: Record<string, unknown>; settings: TemplateSettings } {
  const errors: Record<string, unknown> = {};
  const s: TemplateSettings = structuredClone(base);
  for (const [key, v] of Object.entries(overrides)) {
    let err: string | undefined;
    switch (key) {
      case 'memory': {
        const r = checkMemory(v, node);
        if (typeof r === 'number') s.memory = String(r);
        else err = r;
        break;
      }
      case 'vcpu': {
        const r = checkVcpu(v, node);
        if (typeof r === 'number') s.vcpu = String(r);
        else err = r;
        break;
      }
      case 'arch':
        err = v === node.arch ? undefined : `Architecture not supported by the node (${node.arch})`;
        break;
      case 'domain_type':
        err = oneOf(['kvm'], 'Domain type must be kvm')(v);
        break;
      case 'virt_type':
        err = oneOf(['hvm'], 'Virtualization type must be hvm')(v);
        break;
      case 'boot_dev':
        err = oneOf(['hd', 'cdrom', 'network'], 'Boot device must be hd, cdrom or network')(v);
        if (!err) s.boot_dev = v as string;
        break;
      case 'features':
        err = Array.isArray(v) && v.every((f) => typeof f === 'string' && FEATURES.includes(f)) ? undefined : `Features must be a list of ${FEATURES.join(', ')}`;
        if (!err) s.features = [...new Set(v as string[])];
        break;
      case 'clock_offset':
        err = oneOf(['utc', 'localtime'], 'Clock offset must be utc or localtime')(v);
        if (!err) s.clock_offset = v as string;
        break;
      case 'on_poweroff':
      case 'on_reboot':
      case 'on_crash': {
        const a = action(v);
        err = a && ACTIONS.includes(a) ? undefined : `Action must be one of ${ACTIONS.join(', ')}`;
        if (!err) s[key] = a!;
        break;
      }
      case 'interface':
        if (v === null || v === '' || (typeof v === 'object' && v !== null && Object.keys(v).length === 0)) s.interface = null;
        else if (typeof v === 'object' && (v as { type?: unknown }).type === 'bridge' && typeof (v as { source_bridge?: unknown }).source_bridge === 'string' && BRIDGE.test((v as { source_bridge: string }).source_bridge))
          s.interface = { type: 'bridge', source_bridge: (v as { source_bridge: string }).source_bridge };
        else if (typeof v === 'object' && (v as { type?: unknown }).type === 'network' && typeof (v as { source_network?: unknown }).source_network === 'string' && NETWORK.test((v as { source_network: string }).source_network))
          s.interface = { type: 'network', source_network: (v as { source_network: string }).source_network };
        else err = 'Interface must be {type: bridge, source_bridge} or {type: network, source_network} or null';
        break;
      case 'mouse_bus':
        err = oneOf(['ps2', 'usb'], 'Mouse bus must be ps2 or usb')(v);
        if (!err) s.mouse_bus = v as string;
        break;
      case 'graphics': {
        const g = v as { type?: unknown; keymap?: unknown } | null;
        if (typeof g !== 'object' || g === null || (g.type !== undefined && g.type !== 'vnc')) err = 'Graphics must be vnc';
        else if (g.keymap !== undefined && g.keymap !== '' && !(typeof g.keymap === 'string' && KEYMAP.test(g.keymap))) err = 'Keymap not correct';
        else s.graphics = { ...s.graphics, keymap: typeof g.keymap === 'string' ? g.keymap : s.graphics.keymap };
        break;
      }
      case 'disks':
        // Disks come from the template; a client may send back parse_template_for_vm's list, but not others.
        if (!Array.isArray(v) || !v.every((d) => typeof d === 'object' && d !== null && s.disks.some((t) => t.template_name === (d as { template_name?: unknown }).template_name)))
          err = 'Disks must be those of the template';
        break;
      default:
        if (!ECHO_KEYS.has(key)) err = 'Unknown setting';
    }
    if (err) errors[key] = err;
  }
  return { errors, settings: s };
}

/** The domain a template deploys as, with its disks copied to `diskPaths` (same order) and its NIC's MAC. */
export function specFromTemplate(vm: string, s: TemplateSettings, diskPaths: string[], mac?: string): DomainSpec {
  return {
    name: vm,
    memoryMiB: Number(s.memory),
    vcpu: Number(s.vcpu),
    arch: s.arch,
    bootDevs: [s.boot_dev],
    features: s.features,
    clockOffset: s.clock_offset,
    onPoweroff: s.on_poweroff,
    onReboot: action(s.on_reboot) ?? 'restart',
    onCrash: action(s.on_crash) ?? 'destroy',
    disks: s.disks.map((d, i) => ({ type: 'file', device: 'disk', source: diskPaths[i], format: d.template_format, targetDev: d.target_dev, targetBus: d.target_bus })),
    interfaces: s.interface === null ? [] : [s.interface.type === 'bridge' ? { type: 'bridge', source: s.interface.source_bridge, ...(mac ? { mac } : {}) } : { type: 'network', source: s.interface.source_network, ...(mac ? { mac } : {}) }],
    keymap: s.graphics.keymap || undefined,
    mouseBus: s.mouse_bus,
  };
}

/** A template's settings taken from a (stopped) guest; disk files are named `<template><i>.qcow2`. */
export function settingsFromVm(template: string, d: DomainInfo, fileDisks: DomainInfo['disks']): TemplateSettings {
  const nic = d.interfaces[0];
  return {
    domain_type: 'kvm',
    virt_type: d.virtType || 'hvm',
    arch: d.arch,
    memory: String(Math.floor(d.memoryKiB / 1024)),
    vcpu: String(d.vcpu),
    boot_dev: 'hd',
    features: d.features.filter((f) => FEATURES.includes(f)),
    clock_offset: d.clockOffset === 'localtime' ? 'localtime' : 'utc',
    on_poweroff: ACTIONS.includes(d.onPoweroff) ? d.onPoweroff : 'destroy',
    on_reboot: ACTIONS.includes(d.onReboot) ? d.onReboot : 'restart',
    on_crash: ACTIONS.includes(d.onCrash) ? d.onCrash : 'destroy',
    interface: !nic ? null : nic.type === 'bridge' ? { type: 'bridge', source_bridge: nic.source } : nic.type === 'network' ? { type: 'network', source_network: nic.source } : null,
    mouse_bus: d.mouseBus === 'usb' ? 'usb' : 'ps2',
    graphics: { type: 'vnc', port: '-1', autoport: 'yes', keymap: d.graphics?.keymap ?? '' },
    disks: fileDisks.map((k, i) => ({ template_name: `${template}${i + 1}.qcow2`, template_format: 'qcow2', target_dev: k.targetDev, target_bus: k.targetBus })),
  };
}

/** Reads and checks a template.json; a malformed file is an error naming the template. */
export function parseTemplateJson(text: string): TemplateSettings {
  const j = JSON.parse(text) as TemplateSettings;
  if (typeof j !== 'object' || j === null || !Array.isArray(j.disks) || typeof j.memory !== 'string' || typeof j.vcpu !== 'string') throw new Error('template.json: memory, vcpu or disks missing');
  for (const d of j.disks) if (typeof d.template_name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/.test(d.template_name) || d.template_name.includes('..')) throw new Error('template.json: bad disk file name');
  return { ...DEFAULT_SETTINGS, ...j, arch: j.arch ?? 'x86_64' };
}
