/**
 * Container settings as OMS clients send them: a dictionary of strings. Each field is checked on
 * its own; a wrong one gets the OMS document's message under its key and the others still apply
 * (update_vm_settings), or nothing is done (deploy, create_template). Values that pass are plain
 * numbers, IPv4 addresses, DNS names or yes/no, so nothing else can reach a node.
 */
import { isIpv4, specialIpv4 } from '../../src/rpc/ip.ts';
import type { CtConfig } from './config.ts';
import type { NodeFacts } from './driver.ts';

/** The OMS document's wording (update_vm_settings sample response), plus searchdomain/unknown keys. */
export const MESSAGES = {
  memory: 'Memory size not correct',
  vcpu: 'Virtual CPU count not correct',
  vcpulimit: 'Virtual CPU limit not correct',
  disk: 'Disk size not correct',
  ip_address: 'IP address not correct',
  nameserver: 'Nameserver address not correct',
  password: 'Password can not be zero length',
  onboot: 'Onboot configuration has to be yes or no',
  searchdomain: 'Search domain not correct',
  unknown: 'Unknown setting',
} as const;

export type Range = readonly [min: number, max: number];
export interface Bounds {
  readonly vcpu: Range;
  readonly vcpulimit: Range;
  readonly memory: Range;
  readonly disk: Range;
}

/** Smallest memory limit we set: below this LXC's own monitor and init cannot live. */
export const MIN_MEMORY_MIB = 16;
export const MIN_DISK_MIB = 64;

/** What a node allows; `diskUsedMiB`: a container's current usage is its floor and is free to it. */
export function nodeBounds(f: NodeFacts, diskUsedMiB = 0): Bounds {
  return {
    vcpu: [1, f.cpus],
    vcpulimit: [0, 100 * f.cpus],
    memory: [MIN_MEMORY_MIB, Math.floor(f.memTotalKiB / 1024)],
    disk: [Math.max(MIN_DISK_MIB, diskUsedMiB), diskUsedMiB + Math.floor(f.diskFreeKiB / 1024)],
  };
}

/** Narrows node bounds by a template's own min_/max_ values (never widens them). */
export function narrow(b: Bounds, t: Partial<Record<`min_${keyof Bounds}` | `max_${keyof Bounds}`, number>>): Bounds {
  const one = (k: keyof Bounds): Range => [Math.max(b[k][0], t[`min_${k}`] ?? b[k][0]), Math.min(b[k][1], t[`max_${k}`] ?? b[k][1])];
  return { vcpu: one('vcpu'), vcpulimit: one('vcpulimit'), memory: one('memory'), disk: one('disk') };
}

export type SettingsInput = Readonly<Record<string, string | number>>;

export type Changes = Partial<Pick<CtConfig, 'vcpu' | 'vcpulimit' | 'memory' | 'disk' | 'ip_address' | 'nameserver' | 'searchdomain' | 'onboot'>>;

export interface Checked {
  readonly changes: Changes;
  /** Root password to set; a secret: never logged, never in a result. */
  readonly password?: string;
  readonly errors: Record<string, string>;
}

/** Keys a client may echo back from parse_* results; they are not settings and are ignored. */
const ECHOED = new Set(['vm_id', 'vm_name', 'template_name', 'domain_type', 'name', 'id', 'state', 'status', 'halt_signal']);

const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const int = (v: string | number): number | undefined => {
  const s = typeof v === 'number' ? String(v) : v;
  return /^\d{1,9}$/.test(s) ? Number(s) : undefined;
};
const within = (n: number | undefined, [min, max]: Range): n is number => n !== undefined && n >= min && n <= max;

/** A usable IPv4 host address: not 0.x, loopback, multicast/reserved, or broadcast (src/rpc/ip.ts decides, as for routes). */
const hostAddress = (v: string | number): string | undefined => (typeof v === 'string' && isIpv4(v) && specialIpv4(v) === undefined ? v : undefined);

export function checkSettings(input: SettingsInput, bounds: Bounds): Checked {
  const changes: { -readonly [K in keyof Changes]: Changes[K] } = {};
  const errors: Record<string, string> = {};
  let password: string | undefined;
  for (const [key, value] of Object.entries(input)) {
    switch (key) {
      case 'vcpu':
      case 'vcpulimit':
      case 'memory':
      case 'disk': {
        const n = int(value);
        if (within(n, bounds[key])) changes[key] = n;
        else errors[key] = MESSAGES[key];
        break;
      }
      case 'ip_address':
      case 'nameserver': {
        const ip = hostAddress(value);
        if (ip) changes[key] = ip;
        else errors[key] = MESSAGES[key];
        break;
      }
      case 'searchdomain':
        if (typeof value === 'string' && DOMAIN.test(value)) changes.searchdomain = value;
        else errors.searchdomain = MESSAGES.searchdomain;
        break;
      case 'onboot':
        if (value === 'yes' || value === 'no') changes.onboot = value === 'yes';
        else errors.onboot = MESSAGES.onboot;
        break;
      case 'password':
      case 'passwd':
        // chpasswd reads `user:password` lines: a newline or NUL would smuggle a second line.
        if (typeof value === 'string' && value.length > 0 && value.length <= 256 && !/[\0\n\r]/.test(value)) password = value;
        else errors[key] = MESSAGES.password;
        break;
      default:
        if (!ECHOED.has(key) && !/^(min|max)_[a-z]+$/.test(key)) errors[key] = MESSAGES.unknown;
    }
  }
  return { changes, ...(password !== undefined ? { password } : {}), errors };
}

/** Settings as OMS shows them: strings, with the bounds beside each limit. */
export function showSettings(c: CtConfig, b: Bounds): Record<string, string> {
  return {
    vm_id: c.id,
    vcpu: String(c.vcpu),
    min_vcpu: String(b.vcpu[0]),
    max_vcpu: String(b.vcpu[1]),
    vcpulimit: String(c.vcpulimit),
    min_vcpulimit: String(b.vcpulimit[0]),
    max_vcpulimit: String(b.vcpulimit[1]),
    memory: String(c.memory),
    min_memory: String(b.memory[0]),
    max_memory: String(b.memory[1]),
    disk: String(c.disk),
    min_disk: String(b.disk[0]),
    max_disk: String(b.disk[1]),
    ip_address: c.ip_address ?? '',
    nameserver: c.nameserver ?? '',
    searchdomain: c.searchdomain ?? '',
    onboot: c.onboot ? 'yes' : 'no',
  };
}
