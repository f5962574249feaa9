/**
 * A guest list row from the list calls' answers (typed `unknown` by the client: those declarations
 * have no result schema), states in one vocabulary, and the sort order. Pure, tested beside.
 */
import type { Filterable } from './filter.ts';

export type Kind = 'kvm' | 'container';

export interface GuestRow extends Filterable {
  /** `node/type/id`: unique across the fleet. */
  key: string;
  vcpus?: number;
  /** Memory the guest is given (KiB). */
  memKiB?: number;
}

export const keyOf = (node: string, type: Kind, id: string): string => `${node}/${type}/${id}`;

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

const tagNames = (tags: unknown): string[] =>
  Array.isArray(tags) ? tags.map((t) => (typeof t === 'string' ? t : String((t as { tag?: unknown })?.tag ?? ''))).filter(Boolean) : [];

/**
 * One vocabulary for every state word the API uses: list_vms_status's (running, shutdown, paused,
 * crashed, ...), get_vm_state's / the kvm events' (RUNNING, STOPPED, STOPPING, ...), LXC's (STOPPED, FROZEN).
 */
export function stateWord(s: unknown): string {
  const w = String(s ?? '').toLowerCase();
  if (w === 'shutdown' || w === 'shut off' || w === 'shutoff' || w === 'stopped' || w === '') return 'stopped';
  if (w === 'in shutdown') return 'stopping';
  if (w === 'frozen' || w === 'pmsuspended' || w === 'suspended') return 'paused';
  if (w === 'thawed' || w === 'idle' || w === 'blocked') return 'running';
  return w;
}

/** The object of the list_vms_status answers: `[{name: {...}}]` (kvm) or `{id: {...}}` (containers). */
function byId(status: unknown): Record<string, Record<string, unknown>> {
  const o = Array.isArray(status) ? status[0] : status;
  return o && typeof o === 'object' ? (o as Record<string, Record<string, unknown>>) : {};
}

/** A node's KVM guests from kvmservices.list_vms_status (state, vCPUs, memory) and list_vms (tags). */
export function kvmRows(node: string, status: unknown, listed: unknown): GuestRow[] {
  const tags = new Map<string, string[]>();
  for (const g of Array.isArray(listed) ? listed : []) tags.set(String((g as { name?: unknown }).name), tagNames((g as { tags?: unknown }).tags));
  return Object.entries(byId(status)).map(([name, s]) => ({
    key: keyOf(node, 'kvm', name),
    node,
    type: 'kvm',
    id: name,
    name,
    // vm_state names a transition while a power call runs (STARTING, STOPPING).
    state: stateWord(typeof s.vm_state === 'string' && /ING$/.test(s.vm_state) ? s.vm_state : s.state),
    vcpus: num(s.nrVirtCpu),
    memKiB: num(s.maxMem),
    ips: [],
    tags: tags.get(name) ?? [],
  }));
}

/** A node's containers from ovzservices.list_vms_status (state, vCPUs, memory) and list_vms (name, IP, tags). */
export function containerRows(node: string, status: unknown, listed: unknown): GuestRow[] {
  const more = new Map<string, { name?: string; ip?: string; tags: string[] }>();
  for (const c of Array.isArray(listed) ? (listed as Record<string, unknown>[]) : []) {
    const ip = (c.network as { ip?: string } | undefined)?.ip;
    more.set(String(c.id), { name: typeof c.name === 'string' ? c.name : undefined, ip, tags: tagNames(c.tags) });
  }
  return Object.entries(byId(status)).map(([id, s]) => {
    const m = more.get(id);
    return {
      key: keyOf(node, 'container', id),
      node,
      type: 'container',
      id,
      name: m?.name || id,
      state: stateWord(s.state),
      vcpus: num(s.nrVirtCpu),
      memKiB: num(s.maxMem),
      ips: m?.ip ? [m.ip] : [],
      tags: m?.tags ?? [],
    };
  });
}

/** True when nothing a person sees differs (a re-read that changed nothing re-renders nothing). */
export function sameRow(a: GuestRow, b: GuestRow): boolean {
  return (
    a.name === b.name &&
    a.state === b.state &&
    a.vcpus === b.vcpus &&
    a.memKiB === b.memKiB &&
    a.ips.join() === b.ips.join() &&
    a.tags.join() === b.tags.join()
  );
}

export type SortColumn = 'name' | 'type' | 'node' | 'state' | 'vcpus' | 'memory' | 'ips' | 'tags';
export interface Sort {
  by: SortColumn;
  dir: 'asc' | 'desc';
}

const natural = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' }).compare;

function field(r: GuestRow, by: SortColumn): string | number {
  switch (by) {
    case 'vcpus':
      return r.vcpus ?? -1;
    case 'memory':
      return r.memKiB ?? -1;
    case 'ips':
      return r.ips.join(' ');
    case 'tags':
      return r.tags.join(' ');
    default:
      return r[by];
  }
}

/** The order of the list: the column, then name and node so equal rows keep one order. */
export function compareRows(s: Sort): (a: GuestRow, b: GuestRow) => number {
  const sign = s.dir === 'asc' ? 1 : -1;
  return (a, b) => {
    const x = field(a, s.by);
    const y = field(b, s.by);
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : natural(String(x), String(y));
    return c !== 0 ? sign * c : natural(a.name, b.name) || natural(a.node, b.node) || natural(a.key, b.key);
  };
}

export const SORT_COLUMNS: SortColumn[] = ['name', 'type', 'node', 'state', 'vcpus', 'memory', 'ips', 'tags'];

/** The sort from the address (`sort=state` or `sort=-memory`), name ascending by default. */
export function parseSort(v: string | null): Sort {
  const desc = v?.startsWith('-') ?? false;
  const by = (desc ? v!.slice(1) : v) as SortColumn;
  return SORT_COLUMNS.includes(by) ? { by, dir: desc ? 'desc' : 'asc' } : { by: 'name', dir: 'asc' };
}

export const sortParam = (s: Sort): string | undefined => (s.by === 'name' && s.dir === 'asc' ? undefined : `${s.dir === 'desc' ? '-' : ''}${s.by}`);
