/**
 * Every KVM guest and container of the nodes the user may see, live. One signal per row, so an
 * event re-renders that row only; `keys` changes only when guests come or go. A node is read with
 * kvmservices and ovzservices list_vms_status (state, vCPUs, memory) and their list_vms (tags,
 * names, IPs), each node on its own, so a slow node holds up only its rows. Not
 * kvmplusovzservices.list_vms: it runs one `virsh dominfo` per guest, seconds for a few hundred.
 *
 * Events: a `kvm` or `container` event patches its row's state at once from the event's own
 * `state` (no round trip before the row changes), and re-reads that node's guests (or
 * containers) once per burst, which brings new, removed and re-tagged guests. A re-read begun
 * before an event that patched a row is dropped when it answers: it may predate the change.
 */
import { signal, type Signal } from '@preact/signals';
import type { OmsEvent } from '@oms/client/browser';
import { isConnectionError } from '@oms/client/browser';
import { errorText, isOmsError, oms } from '../lib/client.ts';
import type { EventSink } from '../lib/live.ts';
import { lostSession } from '../lib/session.ts';
import { containerRows, keyOf, kvmRows, sameRow, stateWord, type GuestRow, type Kind } from './rows.ts';

interface Listed {
  name: string;
}

/** A node without libvirt or without LXC has none of those: not an error worth showing. */
const NOT_THERE = ['OpenVZNotCapable'];

/**
 * A read that found no answer is tried once more: a browser does not retry a POST whose kept-alive
 * connection the server closed just as it was sent ("Failed to fetch"), and a listing is safe to repeat.
 */
async function read<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (!isConnectionError(e, 'unreachable')) throw e;
    await new Promise((r) => setTimeout(r, 100));
    return call();
  }
}

const natural = new Intl.Collator(undefined, { numeric: true }).compare;
const DEBOUNCE_MS = 120;

export class GuestsStore implements EventSink {
  /** Every row's key, in no particular order (the view filters and sorts). */
  readonly keys = signal<string[]>([]);
  readonly nodes = signal<string[]>([]);
  /** The fleet's node list has been read. */
  readonly loaded = signal(false);
  /** Nodes whose first reading has not answered yet. */
  readonly waiting = signal<ReadonlySet<string>>(new Set());
  /** What kept a node's guests from being read, by node. */
  readonly nodeErrors = signal<Record<string, string>>({});
  readonly error = signal<string | undefined>(undefined);

  readonly #rows = new Map<string, Signal<GuestRow>>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Per `node/kind`: the number of the latest read applied, and of the last event patch (numbers from #counter). */
  readonly #applied = new Map<string, number>();
  readonly #patchedAt = new Map<string, number>();
  #counter = 0;
  #listing = 0;

  row(key: string): Signal<GuestRow> | undefined {
    return this.#rows.get(key);
  }

  /** All rows' signals (the view reads each, so a change of state re-filters). */
  all(): Signal<GuestRow>[] {
    return this.keys.value.map((k) => this.#rows.get(k)!).filter(Boolean);
  }

  async relist(): Promise<void> {
    const mine = ++this.#listing;
    try {
      const listed = (await read(() => oms.funcservices.list_signed())) as Listed[];
      if (mine !== this.#listing) return;
      const names = listed.map((n) => n.name).sort(natural);
      const gone = this.nodes.peek().filter((n) => !names.includes(n));
      for (const n of gone) this.#replace(n, 'kvm', []), this.#replace(n, 'container', []);
      this.nodes.value = names;
      this.waiting.value = new Set(names);
      this.error.value = undefined;
      this.loaded.value = true;
      await Promise.all(names.map((n) => this.readNode(n)));
    } catch (e) {
      if (!lostSession(e)) this.error.value = errorText(e);
    }
  }

  /** A node's guests and containers, read afresh. */
  async readNode(node: string): Promise<void> {
    await Promise.all([this.#read(node, 'kvm'), this.#read(node, 'container')]);
    if (this.waiting.peek().has(node)) {
      const w = new Set(this.waiting.peek());
      w.delete(node);
      this.waiting.value = w;
    }
  }

  async #read(node: string, kind: Kind): Promise<void> {
    const k = `${node}/${kind}`;
    const gen = ++this.#counter;
    let rows: GuestRow[];
    let problem: string | undefined;
    try {
      if (kind === 'kvm') {
        const [status, listed] = await Promise.all([read(() => oms.kvmservices.list_vms_status(node)), read(() => oms.kvmservices.list_vms(node))]);
        rows = kvmRows(node, status, listed);
      } else {
        // Most nodes have no containers: their names, IPs and tags are asked for only when there are some.
        const status = await read(() => oms.ovzservices.list_vms_status(node));
        const none = Object.keys((Array.isArray(status) ? status[0] : status) ?? {}).length === 0;
        rows = containerRows(node, status, none ? [] : await read(() => oms.ovzservices.list_vms(node)));
      }
    } catch (e) {
      if (lostSession(e)) return;
      if (isOmsError(e) && NOT_THERE.includes(e.omsName)) rows = [];
      else {
        // Unreachable or refused: its rows stay as last read, and the node's problem is shown.
        problem = errorText(e);
        rows = [];
      }
    }
    // An answer older than one applied already, or begun before an event patched a row, is stale.
    if (gen < (this.#applied.get(k) ?? 0) || gen < (this.#patchedAt.get(k) ?? 0)) return;
    if (!this.nodes.peek().includes(node)) return;
    this.#applied.set(k, gen);
    this.#noteError(`${node}${kind === 'kvm' ? '' : ' (containers)'}`, problem);
    if (problem === undefined) this.#replace(node, kind, rows);
  }

  #noteError(where: string, problem: string | undefined): void {
    const cur = this.nodeErrors.peek();
    if (cur[where] === problem) return;
    const next = { ...cur };
    if (problem === undefined) delete next[where];
    else next[where] = problem;
    this.nodeErrors.value = next;
  }

  /** The node's rows of that kind become `rows`: changed ones are patched, new ones added, missing ones dropped. */
  #replace(node: string, kind: Kind, rows: GuestRow[]): void {
    const prefix = `${node}/${kind}/`;
    const fresh = new Set(rows.map((r) => r.key));
    let changedSet = false;
    for (const r of rows) {
      const cur = this.#rows.get(r.key);
      if (!cur) {
        this.#rows.set(r.key, signal(r));
        changedSet = true;
      } else if (!sameRow(cur.peek(), r)) cur.value = r;
    }
    for (const key of [...this.#rows.keys()]) {
      if (key.startsWith(prefix) && !fresh.has(key)) {
        this.#rows.delete(key);
        changedSet = true;
      }
    }
    if (changedSet) this.keys.value = [...this.#rows.keys()];
  }

  #soon(key: string, work: () => void): void {
    clearTimeout(this.#timers.get(key));
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        work();
      }, DEBOUNCE_MS),
    );
  }

  apply(ev: OmsEvent): void {
    const node = ev.node;
    if (ev.type === 'node') {
      if (ev.action === 'enrolled' || ev.action === 'removed') return this.#soon('list', () => void this.relist());
      if (node && ev.action === 'connected' && this.nodes.peek().includes(node)) this.#soon(`node:${node}`, () => void this.readNode(node));
      return;
    }
    if (ev.type === 'inventory') {
      // Tags changed: the rows of the node named (or of all) show them after a re-read.
      if ((ev.data as { service?: string } | undefined)?.service !== 'tagservices') return;
      if (node && this.nodes.peek().includes(node)) return this.#soon(`node:${node}`, () => void this.readNode(node));
      return this.#soon('list', () => void this.relist());
    }
    if (ev.type !== 'kvm' && ev.type !== 'container') return;
    if (!node || !this.nodes.peek().includes(node)) return;
    const kind: Kind = ev.type === 'kvm' ? 'kvm' : 'container';
    const state = (ev.data as { state?: unknown } | undefined)?.state;
    const row = ev.target ? this.#rows.get(keyOf(node, kind, ev.target)) : undefined;
    if (row && typeof state === 'string' && state) {
      const word = stateWord(state);
      if (row.peek().state !== word) row.value = { ...row.peek(), state: word };
      this.#patchedAt.set(`${node}/${kind}`, ++this.#counter);
    }
    this.#soon(`${node}/${kind}`, () => void this.#read(node, kind));
  }

  /** Forgets everything (the screen is left, or logout). */
  clear(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#rows.clear();
    this.#applied.clear();
    this.#patchedAt.clear();
    this.keys.value = [];
    this.nodes.value = [];
    this.nodeErrors.value = {};
    this.waiting.value = new Set();
    this.loaded.value = false;
    this.#listing++;
  }
}

export const guests = new GuestsStore();
