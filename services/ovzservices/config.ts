/**
 * A container's settings and the LXC config file that holds them. The config file on the node is
 * the one source of truth: limits are LXC keys the runtime enforces, and what LXC has no key for
 * (disk, nameserver, searchdomain, template) rides along as `# oms.<key> = <value>` comment lines,
 * so it moves with the container (migration copies the file) and dies with it (delete).
 *
 * Pure: text in, settings out, and back. Every value written was validated (numbers, IPv4,
 * host names, signal names), so a line can never carry a second key.
 */
import { IPv4, isIpv4 } from '../../src/rpc/ip.ts';

export interface CtConfig {
  readonly id: string;
  /** Host name inside the container (lxc.uts.name); the OMS vm_name. */
  readonly name: string;
  readonly vcpu: number;
  /** Percent of one CPU, OpenVZ style (100 = one full CPU, 0 = no limit). */
  readonly vcpulimit: number;
  /** MiB. */
  readonly memory: number;
  /** MiB; recorded and checked against usage, not enforced by the kernel (see README). */
  readonly disk: number;
  readonly ip_address?: string;
  readonly nameserver?: string;
  readonly searchdomain?: string;
  readonly onboot: boolean;
  readonly template?: string;
  /** Signal that makes the container's init halt (busybox init: SIGUSR1; most others SIGPWR). */
  readonly haltSignal: string;
}

/** The container's subnet on the node bridge (lxcbr0): the address is written with this prefix. */
const CT_PREFIX = 24;

/** `lxc.net.0.ipv4.address` as LXC reads it: `ADDRESS/PREFIX BROADCAST`, the broadcast address by ipaddr.js. */
const lxcIpv4 = (ip: string): string => `${ip}/${CT_PREFIX} ${IPv4.broadcastAddressFromCIDR(`${ip}/${CT_PREFIX}`).toString()}`;

/** The address of an `lxc.net.0.ipv4.address` value (`ADDRESS[/PREFIX] [BROADCAST]`), when it is one. */
function addressOf(value: string): string | undefined {
  const [cidr = '', broadcast, ...more] = value.trim().split(/\s+/);
  if (more.length || (broadcast !== undefined && !isIpv4(broadcast))) return undefined;
  if (cidr.includes('/')) return IPv4.isValidCIDRFourPartDecimal(cidr) ? cidr.slice(0, cidr.indexOf('/')) : undefined;
  return isIpv4(cidr) ? cidr : undefined;
}

export const DEFAULT_LXCPATH = '/var/lib/lxc';
/** CFS period used with cpu limits: 100 ms, so quota µs = vcpulimit × 1000. */
export const CFS_PERIOD_US = 100_000;
export const MiB = 1024 * 1024;

export const ctDir = (lxcpath: string, id: string): string => `${lxcpath}/${id}`;
export const rootfsOf = (lxcpath: string, id: string): string => `${lxcpath}/${id}/rootfs`;
export const configOf = (lxcpath: string, id: string): string => `${lxcpath}/${id}/config`;

/** `0-(n-1)`: the first n CPUs of the node. */
export const cpusetFor = (vcpu: number): string => (vcpu <= 1 ? '0' : `0-${vcpu - 1}`);

/** Number of CPUs in a cpuset list such as `0-2,5`. */
export function cpusetCount(list: string): number {
  let n = 0;
  for (const part of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return NaN;
    n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  return n;
}

/** The cgroup keys for the limits, by hierarchy; also what lxc-cgroup sets live. */
export function cgroupLimits(c: Pick<CtConfig, 'vcpu' | 'vcpulimit' | 'memory'>, cgroup: 'v1' | 'v2'): [string, string][] {
  const quota = c.vcpulimit > 0 ? String(c.vcpulimit * 1000) : undefined;
  return cgroup === 'v1'
    ? [
        ['cpuset.cpus', cpusetFor(c.vcpu)],
        ['cpu.cfs_period_us', String(CFS_PERIOD_US)],
        ['cpu.cfs_quota_us', quota ?? '-1'],
        ['memory.limit_in_bytes', String(c.memory * MiB)],
      ]
    : [
        ['cpuset.cpus', cpusetFor(c.vcpu)],
        ['cpu.max', `${quota ?? 'max'} ${CFS_PERIOD_US}`],
        ['memory.max', String(c.memory * MiB)],
      ];
}

export function renderConfig(c: CtConfig, lxcpath: string, cgroup: 'v1' | 'v2'): string {
  const prefix = cgroup === 'v1' ? 'lxc.cgroup.' : 'lxc.cgroup2.';
  const lines = [
    `# OMS container ${c.id}: written by ovzservices; change it with update_vm_settings.`,
    `lxc.uts.name = ${c.name}`,
    `lxc.rootfs.path = dir:${rootfsOf(lxcpath, c.id)}`,
    `lxc.signal.halt = ${c.haltSignal}`,
    'lxc.autodev = 1',
    'lxc.tty.max = 1',
    'lxc.pty.max = 16',
    'lxc.cap.drop = sys_module mac_admin mac_override sys_time',
    'lxc.mount.auto = cgroup:mixed proc:mixed sys:ro',
    // Keeps the container's cgroup below the caller's (the node's) instead of the root.
    'lxc.cgroup.relative = 1',
    `lxc.start.auto = ${c.onboot ? 1 : 0}`,
    'lxc.net.0.type = veth',
    'lxc.net.0.link = lxcbr0',
    'lxc.net.0.flags = up',
    'lxc.net.0.name = eth0',
    ...(c.ip_address ? [`lxc.net.0.ipv4.address = ${lxcIpv4(c.ip_address)}`, 'lxc.net.0.ipv4.gateway = auto'] : []),
    ...cgroupLimits(c, cgroup).map(([k, v]) => `${prefix}${k} = ${v}`),
    `# oms.disk = ${c.disk}`,
    ...(c.nameserver ? [`# oms.nameserver = ${c.nameserver}`] : []),
    ...(c.searchdomain ? [`# oms.searchdomain = ${c.searchdomain}`] : []),
    ...(c.template ? [`# oms.template = ${c.template}`] : []),
  ];
  return lines.join('\n') + '\n';
}

/** key = value lines of an LXC config, `# oms.x = y` comments included under `oms.x`. Last one wins. */
export function configKeys(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    const oms = /^#\s*(oms\.[a-z_]+)\s*=\s*(.*)$/.exec(line);
    if (oms) {
      out.set(oms[1], oms[2].trim());
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return out;
}

const num = (s: string | undefined): number | undefined => (s !== undefined && /^-?\d+$/.test(s) ? Number(s) : undefined);

/**
 * Settings from a config file. Containers OMS did not write (lxc-create -t busybox) read as
 * unlimited: vcpu = all node CPUs, memory = node memory, vcpulimit 0.
 */
export function parseConfig(id: string, text: string, defaults: { cpus: number; memoryMiB: number }): CtConfig {
  const k = configKeys(text);
  const get = (name: string) => k.get(`lxc.cgroup.${name}`) ?? k.get(`lxc.cgroup2.${name}`);
  const cpus = get('cpuset.cpus');
  const vcpu = cpus !== undefined && Number.isFinite(cpusetCount(cpus)) ? cpusetCount(cpus) : defaults.cpus;
  let vcpulimit = 0;
  const quotaV1 = num(get('cpu.cfs_quota_us'));
  const periodV1 = num(get('cpu.cfs_period_us')) ?? CFS_PERIOD_US;
  if (quotaV1 !== undefined && quotaV1 > 0) vcpulimit = Math.round((quotaV1 * 100) / periodV1);
  const max = /^(\d+)\s+(\d+)$/.exec(get('cpu.max') ?? '');
  if (max) vcpulimit = Math.round((Number(max[1]) * 100) / Number(max[2]));
  const memBytes = num(get('memory.limit_in_bytes')) ?? num(get('memory.max'));
  const ip = addressOf(k.get('lxc.net.0.ipv4.address') ?? '');
  return {
    id,
    name: k.get('lxc.uts.name') ?? id,
    vcpu,
    vcpulimit,
    memory: memBytes !== undefined ? Math.floor(memBytes / MiB) : defaults.memoryMiB,
    disk: num(k.get('oms.disk')) ?? 0,
    ...(ip ? { ip_address: ip } : {}),
    ...(k.get('oms.nameserver') ? { nameserver: k.get('oms.nameserver') } : {}),
    ...(k.get('oms.searchdomain') ? { searchdomain: k.get('oms.searchdomain') } : {}),
    onboot: k.get('lxc.start.auto') === '1',
    ...(k.get('oms.template') ? { template: k.get('oms.template') } : {}),
    haltSignal: /^SIG[A-Z0-9+]{2,12}$/.test(k.get('lxc.signal.halt') ?? '') ? k.get('lxc.signal.halt')! : 'SIGPWR',
  };
}

/** /etc/resolv.conf text for the container; empty when neither is set. */
export function resolvConf(c: Pick<CtConfig, 'nameserver' | 'searchdomain'>): string {
  return [...(c.searchdomain ? [`search ${c.searchdomain}`] : []), ...(c.nameserver ? [`nameserver ${c.nameserver}`] : [])].map((l) => l + '\n').join('');
}

/** Keys whose every form OMS owns, so a stale v1 key cannot survive a v2 render or an address removal. */
const OWNED_PREFIXES = ['oms.', '#header', 'lxc.net.0.', 'lxc.cgroup.cpuset.', 'lxc.cgroup.cpu.', 'lxc.cgroup.memory.', 'lxc.cgroup2.cpuset.', 'lxc.cgroup2.cpu.', 'lxc.cgroup2.memory.'];

const keyOf = (line: string): string | undefined => {
  const t = line.trim();
  if (t.startsWith('#')) return /^#\s*(oms\.[a-z_]+)\s*=/.exec(t)?.[1] ?? (t.startsWith('# OMS container ') ? '#header' : undefined);
  const eq = t.indexOf('=');
  return eq > 0 ? t.slice(0, eq).trim() : undefined;
};

/**
 * The rendered config, keeping the lines of `base` (the current file) that OMS does not own:
 * a container made by other means (lxc-create -t busybox, with its mount entries and includes)
 * keeps them through update_vm_settings and migration. For a container OMS made, every line is
 * owned and the result is exactly `rendered`.
 */
export function mergeConfig(base: string, rendered: string): string {
  const owned = new Set(rendered.split('\n').map(keyOf).filter((k): k is string => k !== undefined));
  const kept = base.split('\n').filter((line) => {
    const k = keyOf(line);
    if (k === undefined) return false; // blank lines and plain comments: the rendered file has its own
    return !owned.has(k) && !OWNED_PREFIXES.some((p) => k.startsWith(p));
  });
  return rendered + (kept.length ? `# kept from the container's previous config\n${kept.join('\n')}\n` : '');
}
