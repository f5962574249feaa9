/**
 * Tasks: long operations with a row, a log and progress. A task holds its target (node + guest)
 * while it runs: a second operation on the same target is refused with TaskConflictError rather
 * than interleaved. A task started by a call that holds guests (src/locks) takes that hold over,
 * so the guests stay held for the task's whole life and are given back when it ends. Rows
 * outlive the process: on start, tasks left running by a gateway that died are marked failed
 * with the reason, never left running forever.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { isOmsError, oms, type OmsError } from '../rpc/errors.ts';
import { internal } from '../rpc/internal.ts';
import type { Logger } from '../log.ts';
import type { GuestLocks, LockHold } from '../locks/guest-locks.ts';
import type { EventSink } from '../events/types.ts';

export interface TaskScope {
  kind: string;
  node?: string;
  target?: string;
  user?: string;
  /** The starting call's guest hold: the task holds those guests until it ends. */
  lock?: LockHold;
}

/** What a running task's work function is given. */
export interface TaskHandle {
  readonly id: string;
  /** Aborted by cancel_task; work must stop and clean up. */
  readonly signal: AbortSignal;
  log(line: string): void;
  progress(done: number, total: number): void;
}

export interface TaskRow {
  id: string;
  kind: string;
  node: string | null;
  target: string | null;
  user: string | null;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  progress: { done: number; total: number; percent: number } | null;
  created_at: number;
  finished_at: number | null;
  error: { name: string; message: string } | null;
  result: unknown;
}

interface Raw {
  id: string;
  kind: string;
  node: string | null;
  target: string | null;
  user_name: string | null;
  state: TaskRow['state'];
  progress_done: number | null;
  progress_total: number | null;
  created_at: number;
  finished_at: number | null;
  error_name: string | null;
  error_message: string | null;
  result: string | null;
}

const toRow = (r: Raw): TaskRow => ({
  id: r.id,
  kind: r.kind,
  node: r.node,
  target: r.target,
  user: r.user_name,
  state: r.state,
  progress:
    r.progress_total !== null && r.progress_done !== null
      ? { done: r.progress_done, total: r.progress_total, percent: r.progress_total > 0 ? Math.min(100, Math.round((r.progress_done / r.progress_total) * 1000) / 10) : 0 }
      : null,
  created_at: r.created_at,
  finished_at: r.finished_at,
  error: r.error_name ? { name: r.error_name, message: r.error_message ?? '' } : null,
  result: r.result === null ? null : JSON.parse(r.result),
});

/** Progress writes are throttled: a copy loop may report thousands of times a second. */
const PROGRESS_WRITE_MS = 250;

export class Tasks {
  /** Cancellation handles of tasks running in this process; the rows are the truth, this only reaches them. */
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly onEvent: (row: TaskRow) => void = () => {},
    private readonly locks?: GuestLocks,
    /** Live events: created, progress (as throttled for the row), log line, finished. */
    private readonly sink?: EventSink,
  ) {}

  /** One task event; target is the task id, data.guest what it acts on (permission filtering reads both). */
  private tell(row: TaskRow, action: 'created' | 'progress' | 'log' | 'finished', extra: Record<string, unknown> = {}): void {
    if (!this.sink) return;
    const outcome = row.state === 'succeeded' ? 'ok' : row.state;
    this.sink.publish({
      type: 'task',
      ...(row.node ? { node: row.node } : {}),
      target: row.id,
      action,
      data: {
        kind: row.kind,
        ...(row.target ? { guest: row.target } : {}),
        ...(row.user ? { user: row.user } : {}),
        state: row.state,
        ...(action === 'finished' ? { outcome, ...(row.error ? { error: row.error } : {}) } : {}),
        ...(row.progress && action !== 'log' ? { progress: row.progress } : {}),
        ...extra,
      },
    });
  }

  /** Marks tasks a previous process left running as failed; returns how many. */
  recoverInterrupted(): number {
    return this.db
      .prepare("UPDATE tasks SET state = 'failed', finished_at = ?, error_name = 'TaskInterruptedError', error_message = 'the gateway stopped while the task ran' WHERE state = 'running'")
      .run(Date.now()).changes;
  }

  /**
   * Starts work as a task. Returns the task id at once and a promise of the result, so a method
   * can answer with the id (new API) or await the result (synchronous OMS contract).
   */
  start<T>(scope: TaskScope, work: (task: TaskHandle) => Promise<T>): { id: string; done: Promise<T> } {
    const id = randomUUID();
    const controller = new AbortController();
    this.db.transaction(() => {
      if (scope.node && scope.target) {
        const busy = this.db.prepare("SELECT id, kind FROM tasks WHERE node = ? AND target = ? AND state = 'running'").get(scope.node, scope.target) as { id: string; kind: string } | undefined;
        if (busy) throw oms('TaskConflictError', { target: `${scope.node}/${scope.target}`, operation: `task ${busy.id} (${busy.kind})` });
      }
      this.db
        .prepare("INSERT INTO tasks (id, kind, node, target, user_name, state, created_at) VALUES (?, ?, ?, ?, ?, 'running', ?)")
        .run(id, scope.kind, scope.node ?? null, scope.target ?? null, scope.user ?? null, Date.now());
      // In the same transaction: there is no moment where the guests are held by nobody.
      if (scope.lock && this.locks) this.locks.adopt(scope.lock.id, id, scope.kind);
    })();
    if (scope.lock && this.locks) scope.lock.taskId = id;
    this.running.set(id, controller);
    if (this.sink) this.tell(this.get(id)!, 'created');
    let seq = 0;
    let lastProgressWrite = 0;
    /** The newest progress a throttle held back; written at the next step so no step hides it. */
    let pending: { done: number; total: number } | undefined;
    const writeProgress = (done: number, total: number) => {
      lastProgressWrite = Date.now();
      pending = undefined;
      this.db.prepare('UPDATE tasks SET progress_done = ?, progress_total = ? WHERE id = ?').run(Math.round(done), Math.round(total), id);
      const row = this.get(id)!;
      this.onEvent(row);
      this.tell(row, 'progress');
    };
    const flushProgress = () => {
      if (pending) writeProgress(pending.done, pending.total);
    };
    const handle: TaskHandle = {
      id,
      signal: controller.signal,
      log: (line) => {
        // A new step starts from where the last one ended (a disk copied, say), even when that
        // came faster than the throttle: progress and log read the same story.
        flushProgress();
        const kept = line.slice(0, 2000);
        this.db.prepare('INSERT INTO task_log (task_id, seq, at, line) VALUES (?, ?, ?, ?)').run(id, ++seq, Date.now(), kept);
        if (this.sink) this.tell(this.get(id)!, 'log', { line: kept, line_seq: seq });
      },
      progress: (done, total) => {
        // The last step (done reaching a known total) is always written; total 0 means not known yet.
        if (Date.now() - lastProgressWrite < PROGRESS_WRITE_MS && !(total > 0 && done >= total)) {
          pending = { done, total };
          return;
        }
        writeProgress(done, total);
      },
    };
    const done = (async () => {
      try {
        const result = await work(handle);
        flushProgress();
        this.finish(id, 'succeeded', undefined, result);
        return result;
      } catch (e) {
        // Where a failed task got to is worth keeping too.
        flushProgress();
        const err: OmsError = controller.signal.aborted ? oms('TaskCancelledError', { task: id }) : isOmsError(e) ? e : internal(e, this.log);
        this.finish(id, controller.signal.aborted ? 'cancelled' : 'failed', err);
        throw err;
      } finally {
        this.running.delete(id);
      }
    })();
    // The caller may not await (fire-and-forget API); the outcome is in the row either way.
    done.catch(() => {});
    return { id, done };
  }

  private finish(id: string, state: TaskRow['state'], err?: OmsError, result?: unknown): void {
    this.db
      .prepare('UPDATE tasks SET state = ?, finished_at = ?, error_name = ?, error_message = ?, result = ? WHERE id = ?')
      .run(state, Date.now(), err?.omsName ?? null, err?.message ?? null, result === undefined ? null : JSON.stringify(result), id);
    // After the row says finished: a waiter woken now sees the task over.
    this.locks?.releaseTask(id);
    const row = this.get(id);
    if (row) {
      this.onEvent(row);
      this.tell(row, 'finished');
    }
  }

  get(id: string): TaskRow | undefined {
    const r = this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as Raw | undefined;
    return r && toRow(r);
  }

  require(id: string): TaskRow {
    const t = this.get(id);
    if (!t) throw oms('UnknownTaskError', { task: id });
    return t;
  }

  list(filter: { node?: string; state?: string; limit: number }): TaskRow[] {
    return (
      this.db
        .prepare('SELECT * FROM tasks WHERE (@node IS NULL OR node = @node) AND (@state IS NULL OR state = @state) ORDER BY created_at DESC LIMIT @limit')
        .all({ node: filter.node ?? null, state: filter.state ?? null, limit: filter.limit }) as Raw[]
    ).map(toRow);
  }

  logOf(id: string, after = 0): { seq: number; at: number; line: string }[] {
    return this.db.prepare('SELECT seq, at, line FROM task_log WHERE task_id = ? AND seq > ? ORDER BY seq').all(id, after) as { seq: number; at: number; line: string }[];
  }

  /** Asks a running task to stop; false when it is not running in this process. */
  cancel(id: string): boolean {
    const c = this.running.get(id);
    if (!c) return false;
    c.abort(oms('TaskCancelledError', { task: id }));
    return true;
  }
}
