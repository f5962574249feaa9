/**
 * The tasks panel's store: the newest tasks the caller may see, listed once and then patched by the
 * task events (created, progress, log, finished), one signal per task so a progress event
 * re-renders one row. A task's log is read (tasks.task_log) when it is opened and then grows from
 * the log events; a line an event brings twice (the list and the event crossing) is kept once.
 */
import { signal, type Signal } from '@preact/signals';
import type { OmsEvent, TaskRow } from '@oms/client/browser';
import { errorText, oms } from '../lib/client.ts';
import { lostSession } from '../lib/session.ts';

export interface LogLine {
  seq: number;
  at: number;
  line: string;
}

/** How many tasks the panel keeps. */
const KEEP = 50;

type EvData = {
  kind?: string;
  guest?: string;
  user?: string;
  state?: TaskRow['state'];
  progress?: TaskRow['progress'];
  error?: TaskRow['error'];
  line?: string;
  line_seq?: number;
};

export class TasksStore {
  /** Task ids, newest first. */
  readonly ids = signal<string[]>([]);
  readonly loaded = signal(false);
  readonly error = signal<string | undefined>(undefined);
  readonly #rows = new Map<string, Signal<TaskRow>>();
  readonly #logs = new Map<string, Signal<LogLine[]>>();
  #listing = 0;

  row(id: string): Signal<TaskRow> | undefined {
    return this.#rows.get(id);
  }

  /** How many are running now. */
  get running(): number {
    return this.ids.value.filter((id) => this.#rows.get(id)?.value.state === 'running').length;
  }

  async relist(): Promise<void> {
    const mine = ++this.#listing;
    try {
      const rows = await oms.tasks.list_tasks(undefined, undefined, KEEP);
      if (mine !== this.#listing) return;
      for (const r of rows) {
        const s = this.#rows.get(r.id);
        if (s) s.value = r;
        else this.#rows.set(r.id, signal(r));
      }
      this.ids.value = rows.map((r) => r.id);
      for (const id of [...this.#rows.keys()]) if (!this.ids.value.includes(id)) this.#rows.delete(id);
      this.error.value = undefined;
      this.loaded.value = true;
    } catch (e) {
      if (!lostSession(e)) this.error.value = errorText(e);
    }
  }

  apply(ev: OmsEvent): void {
    if (ev.type !== 'task' || !ev.target) return;
    const id = ev.target;
    const d = (ev.data ?? {}) as EvData;
    let r = this.#rows.get(id);
    if (!r) {
      // A task born after the list: its row from the event, the rest filled when it ends.
      r = signal<TaskRow>({ id, kind: d.kind ?? '', node: ev.node ?? null, target: d.guest ?? null, user: d.user ?? null, state: d.state ?? 'running', progress: d.progress ?? null, created_at: ev.time, finished_at: null, error: null, result: null });
      this.#rows.set(id, r);
      const ids = [id, ...this.ids.value];
      for (const gone of ids.slice(KEEP)) this.#rows.delete(gone);
      this.ids.value = ids.slice(0, KEEP);
    }
    const change: Partial<TaskRow> = {};
    if (d.state) change.state = d.state;
    if (d.progress) change.progress = d.progress;
    if (ev.action === 'finished') {
      change.finished_at = ev.time;
      change.error = d.error ?? null;
    }
    r.value = { ...r.value, ...change };
    if (ev.action === 'log' && d.line !== undefined && d.line_seq !== undefined) {
      const log = this.#logs.get(id);
      if (log && !log.value.some((l) => l.seq === d.line_seq)) log.value = [...log.value, { seq: d.line_seq, at: ev.time, line: d.line }];
    }
  }

  /** A task's log: read once, then followed from the events. */
  log(id: string): Signal<LogLine[]> {
    let s = this.#logs.get(id);
    if (s) return s;
    s = signal<LogLine[]>([]);
    this.#logs.set(id, s);
    const held = s;
    void oms.tasks.task_log(id).then(
      (lines) => {
        const read = lines as LogLine[];
        const seen = new Set(read.map((l) => l.seq));
        held.value = [...read, ...held.value.filter((l) => !seen.has(l.seq))].sort((a, b) => a.seq - b.seq);
      },
      (e) => {
        if (!lostSession(e)) held.value = [{ seq: 0, at: Date.now(), line: `(the log could not be read: ${errorText(e)})` }];
      },
    );
    return s;
  }

  async cancel(id: string): Promise<string | undefined> {
    try {
      const r = await oms.tasks.cancel_task(id);
      return r === 1 ? undefined : 'The task was no longer running.';
    } catch (e) {
      return lostSession(e) ? undefined : errorText(e);
    }
  }

  clear(): void {
    this.#listing++;
    this.#rows.clear();
    this.#logs.clear();
    this.ids.value = [];
    this.loaded.value = false;
  }
}

export const tasks = new TasksStore();
