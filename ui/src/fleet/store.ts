/**
 * The fleet: one row per signed node, fed by list calls and patched by events. Each row is a
 * signal of its own, so an event re-renders that row only. Nothing is polled: the list is taken
 * when the event stream (re)starts or asks for it (resync, a node enrolled or removed); a node's
 * figures when it connects; its guest and container counts when a kvm or container event names it.
 */
import { signal, type Signal } from '@preact/signals';
import type { OmsEvent } from '@oms/client/browser';
import { errorText, isOmsError, oms } from '../lib/client.ts';
import { lostSession } from '../lib/session.ts';

export type NodeStatus = 'checking' | 'connected' | 'unreachable' | 'host-key mismatch' | 'authentication failed';

export interface Count {
  total: number;
  running: number;
}

export interface NodeRow {
  name: string;
  address?: string;
  tags: string[];
  status: NodeStatus;
  /** Why it is not connected, as the gateway said it. */
  note?: string;
  cpuPercent?: number;
  cpuModel?: string;
  memUsedBytes?: number;
  memTotalBytes?: number;
  /** Disk filesystems together, as `get_stats` df reads them. */
  diskUsedBytes?: number;
  diskTotalBytes?: number;
  /** null: the node cannot say (no libvirt or LXC there, or no permission). */
  guests?: Count | null;
  containers?: Count | null;
  /** When its figures were read. */
  readAt?: number;
}

/** A row of funcservices.list_signed (typed `unknown` by the client: its declaration has no result schema). */
interface Listed {
  name: string;
  status: number;
  tags?: ({ tag: string; level?: number } | string)[];
  address?: string;
}

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** list_vms_status of kvm ([{name: {...}}]) and of containers ({id: {...}}) as counts. */
function countOf(result: unknown): Count {
  const byName = (Array.isArray(result) ? result[0] : result) as Record<string, { state?: string }> | undefined;
  const all = Object.values(byName ?? {});
  return { total: all.length, running: all.filter((g) => g?.state === 'running').length };
}

const reasonStatus: Record<string, NodeStatus> = { unreachable: 'unreachable', host_key_mismatch: 'host-key mismatch', auth_failure: 'authentication failed' };

function statusOfError(e: unknown): NodeStatus {
  if (isOmsError(e, 'HostKeyMismatchError')) return 'host-key mismatch';
  return 'unreachable';
}

const natural = new Intl.Collator(undefined, { numeric: true }).compare;

export class FleetStore {
  /** Node names in display order. */
  readonly names = signal<string[]>([]);
  readonly loaded = signal(false);
  readonly error = signal<string | undefined>(undefined);
  readonly #rows = new Map<string, Signal<NodeRow>>();
  readonly #pending = new Map<string, ReturnType<typeof setTimeout>>();
  #listing = 0;

  row(name: string): Signal<NodeRow> | undefined {
    return this.#rows.get(name);
  }

  #patch(name: string, change: Partial<NodeRow>): void {
    const r = this.#rows.get(name);
    if (r) r.value = { ...r.value, ...change };
  }

  async relist(): Promise<void> {
    const mine = ++this.#listing;
    try {
      const listed = (await oms.funcservices.list_signed()) as Listed[];
      if (mine !== this.#listing) return; // a newer list is on its way
      const names = listed.map((n) => n.name).sort(natural);
      for (const n of listed) {
        const r = this.#rows.get(n.name);
        const base = { name: n.name, address: n.address, tags: (n.tags ?? []).map((t) => (typeof t === 'string' ? t : t.tag)) };
        if (r) r.value = { ...r.value, ...base };
        else this.#rows.set(n.name, signal<NodeRow>({ ...base, status: n.status === 1 ? 'connected' : 'checking' }));
      }
      for (const name of [...this.#rows.keys()]) if (!names.includes(name)) this.#rows.delete(name);
      this.names.value = names;
      this.error.value = undefined;
      this.loaded.value = true;
      for (const name of names) void this.refresh(name);
    } catch (e) {
      if (!lostSession(e)) this.error.value = errorText(e);
    }
  }

  /** A node's figures and counts, read once (on listing, on connecting). */
  async refresh(name: string): Promise<void> {
    const [stats] = await Promise.allSettled([oms.statsservices.get_stats(name, ['cpu_load', 'memory', 'df']), this.#counts(name, 'kvm'), this.#counts(name, 'containers')]);
    if (stats.status === 'rejected') {
      if (lostSession(stats.reason)) return;
      return this.#patch(name, { status: statusOfError(stats.reason), note: errorText(stats.reason) });
    }
    const s = stats.value as { cpu?: { percentage?: string; cpu_type?: string }; memory?: { total?: string; used?: string }; df?: { total?: string; used?: string } };
    const kib = (v: unknown) => (num(v) === undefined ? undefined : num(v)! * 1024);
    this.#patch(name, {
      status: 'connected',
      note: undefined,
      cpuPercent: num(s.cpu?.percentage),
      cpuModel: s.cpu?.cpu_type,
      memUsedBytes: kib(s.memory?.used),
      memTotalBytes: kib(s.memory?.total),
      diskUsedBytes: kib(s.df?.used),
      diskTotalBytes: kib(s.df?.total),
      readAt: Date.now(),
    });
  }

  async #counts(name: string, kind: 'kvm' | 'containers'): Promise<void> {
    try {
      const r = kind === 'kvm' ? await oms.kvmservices.list_vms_status(name) : await oms.ovzservices.list_vms_status(name);
      this.#patch(name, kind === 'kvm' ? { guests: countOf(r) } : { containers: countOf(r) });
    } catch (e) {
      if (lostSession(e)) return;
      this.#patch(name, kind === 'kvm' ? { guests: null } : { containers: null });
    }
  }

  /** Runs `work` once for a burst of events about the same thing. */
  #soon(key: string, work: () => void): void {
    clearTimeout(this.#pending.get(key));
    this.#pending.set(
      key,
      setTimeout(() => {
        this.#pending.delete(key);
        work();
      }, 150),
    );
  }

  apply(ev: OmsEvent): void {
    const node = ev.node;
    if (ev.type === 'node') {
      if (ev.action === 'enrolled' || ev.action === 'removed') return this.#soon('list', () => void this.relist());
      if (!node || !this.#rows.has(node)) return;
      if (ev.action === 'connected') {
        this.#patch(node, { status: 'connected', note: undefined });
        return this.#soon(`refresh:${node}`, () => void this.refresh(node));
      }
      if (ev.action === 'disconnected') {
        const d = (ev.data ?? {}) as { reason?: string; message?: string };
        return this.#patch(node, { status: reasonStatus[d.reason ?? ''] ?? 'unreachable', note: d.message });
      }
      return;
    }
    if (!node || !this.#rows.has(node)) return;
    if (ev.type === 'kvm') return this.#soon(`kvm:${node}`, () => void this.#counts(node, 'kvm'));
    if (ev.type === 'container') return this.#soon(`ct:${node}`, () => void this.#counts(node, 'containers'));
    if (ev.type === 'inventory' && (ev.data as { service?: string } | undefined)?.service === 'tagservices') this.#soon('list', () => void this.relist());
  }

  /** Stops pending work (logout). */
  clear(): void {
    for (const t of this.#pending.values()) clearTimeout(t);
    this.#pending.clear();
    this.#rows.clear();
    this.names.value = [];
    this.loaded.value = false;
    this.#listing++;
  }
}

export const fleet = new FleetStore();
