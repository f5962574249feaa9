/**
 * Bulk power actions on the selected guests. Each guest's call is its own call (the gateway runs
 * each power call as a task holding that guest's lock), a few at a time; each row shows its own
 * progress (one signal per row: a guest finishing re-renders its row and the summary only).
 */
import { computed, signal, type Signal } from '@preact/signals';
import { errorText, oms } from '../lib/client.ts';
import { lostSession } from '../lib/session.ts';
import type { GuestRow } from './rows.ts';

export type ActionId = 'start' | 'shutdown' | 'force' | 'pause' | 'resume';

interface Action {
  label: string;
  /** As the row says it while it runs and when it is done. */
  doing: string;
  done: string;
  kvm: (node: string, name: string) => Promise<unknown>;
  container: (node: string, id: string) => Promise<unknown>;
}

export const ACTIONS: Record<ActionId, Action> = {
  start: {
    label: 'Start',
    doing: 'starting',
    done: 'started',
    kvm: (n, g) => oms.kvmservices.start_vm(n, g),
    container: (n, c) => oms.ovzservices.start_vm(n, c),
  },
  shutdown: {
    label: 'Shut down',
    doing: 'shutting down',
    done: 'shut down',
    // ACPI shutdown is a task of its own: followed to its end, its error (ShutdownTimeoutError) shown.
    kvm: (n, g) => oms.kvmservices.shutdown_vm.wait(n, g),
    container: (n, c) => oms.ovzservices.stop_vm(n, c),
  },
  force: {
    label: 'Force stop',
    doing: 'stopping',
    done: 'stopped',
    kvm: (n, g) => oms.kvmservices.destroy_vm(n, g),
    container: (n, c) => oms.ovzservices.force_stop_vm(n, c),
  },
  pause: {
    label: 'Pause',
    doing: 'pausing',
    done: 'paused',
    kvm: (n, g) => oms.kvmservices.pause_vm(n, g),
    container: (n, c) => oms.ovzservices.pause_vm(n, c),
  },
  resume: {
    label: 'Resume',
    doing: 'resuming',
    done: 'resumed',
    kvm: (n, g) => oms.kvmservices.resume_vm(n, g),
    container: (n, c) => oms.ovzservices.resume_vm(n, c),
  },
};

export type Progress = { action: ActionId; phase: 'waiting' | 'running' | 'done' } | { action: ActionId; phase: 'failed'; error: string };

export interface RunSummary {
  action: ActionId;
  total: number;
  done: number;
  failed: number;
}

/** Guest calls in flight at once: enough to overlap node round trips, few enough not to crowd a node. */
const AT_ONCE = 6;

export class Bulk {
  readonly selected = signal<ReadonlySet<string>>(new Set());
  readonly #progress = new Map<string, Signal<Progress | undefined>>();
  readonly runs = signal<RunSummary[]>([]);
  readonly busy = computed(() => this.runs.value.some((r) => r.done + r.failed < r.total));

  progress(key: string): Signal<Progress | undefined> {
    let s = this.#progress.get(key);
    if (!s) this.#progress.set(key, (s = signal<Progress | undefined>(undefined)));
    return s;
  }

  toggle(key: string, on = !this.selected.peek().has(key)): void {
    const next = new Set(this.selected.peek());
    if (on) next.add(key);
    else next.delete(key);
    this.selected.value = next;
  }

  set(keys: Iterable<string>): void {
    this.selected.value = new Set(keys);
  }

  /** Runs `action` on each guest; resolves when every call has answered. */
  async run(action: ActionId, rows: GuestRow[]): Promise<void> {
    if (rows.length === 0) return;
    const a = ACTIONS[action];
    const summary = signal<RunSummary>({ action, total: rows.length, done: 0, failed: 0 });
    const index = this.runs.peek().length;
    this.runs.value = [...this.runs.peek(), summary.peek()];
    const tally = (change: Partial<RunSummary>) => {
      summary.value = { ...summary.peek(), ...change };
      const all = [...this.runs.peek()];
      all[index] = summary.peek();
      this.runs.value = all;
    };
    for (const r of rows) this.progress(r.key).value = { action, phase: 'waiting' };
    const queue = [...rows];
    const worker = async () => {
      for (let r = queue.shift(); r; r = queue.shift()) {
        const p = this.progress(r.key);
        p.value = { action, phase: 'running' };
        try {
          await (r.type === 'kvm' ? a.kvm(r.node, r.id) : a.container(r.node, r.id));
          p.value = { action, phase: 'done' };
          tally({ done: summary.peek().done + 1 });
        } catch (e) {
          if (lostSession(e)) return;
          p.value = { action, phase: 'failed', error: errorText(e) };
          tally({ failed: summary.peek().failed + 1 });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(AT_ONCE, rows.length) }, worker));
  }

  clear(): void {
    this.selected.value = new Set();
    this.runs.value = [];
    this.#progress.clear();
  }
}

/** What a row says of its guest's part in a bulk action. */
export function progressText(p: Progress | undefined): string {
  if (!p) return '';
  const a = ACTIONS[p.action];
  switch (p.phase) {
    case 'waiting':
      return `${a.label}: waiting`;
    case 'running':
      return `${a.label}: ${a.doing}…`;
    case 'done':
      return `${a.label}: ${a.done}`;
    case 'failed':
      return `${a.label} failed: ${p.error}`;
  }
}

export function summaryText(r: RunSummary): string {
  const left = r.total - r.done - r.failed;
  const of = `${r.total} ${r.total === 1 ? 'guest' : 'guests'}`;
  return `${ACTIONS[r.action].label} of ${of}: ${r.done} done, ${r.failed} failed${left ? `, ${left} pending` : ''}.`;
}

export const bulk = new Bulk();
