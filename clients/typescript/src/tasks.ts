/**
 * Following a task to its end: tasks.task_status read every `pollMs`, and, when the client talks
 * over /ws, the gateway's `task.updated` pushes in between (they carry the same row), so progress
 * arrives as the gateway writes it. Resolves with the final row when the task succeeded; rejects
 * with the task's own error as an OmsError (TaskCancelledError when it was cancelled).
 */
import { OmsConnectionError, OmsError } from './errors.js';
import type { TaskRow, WaitOptions } from './types.js';

export interface TaskSource {
  status(id: string, opts: WaitOptions): Promise<TaskRow>;
  /** Pushed rows of this task while following it; returns the function that stops listening. */
  pushes(id: string, fn: (row: TaskRow) => void): Promise<() => void>;
  cancel(id: string): Promise<unknown>;
}

export function followTask(src: TaskSource, id: string, opts: WaitOptions = {}): Promise<TaskRow> {
  return new Promise<TaskRow>((resolve, reject) => {
    let done = false;
    let last = '';
    let timer: ReturnType<typeof setTimeout> | undefined;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    let stopPushes: (() => void) | undefined;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      stopPushes?.();
      opts.signal?.removeEventListener('abort', onAbort);
      f();
    };
    const seen = (row: TaskRow) => {
      if (done || row.id !== id) return;
      if (row.progress) {
        const key = `${row.progress.done}/${row.progress.total}`;
        if (key !== last) {
          last = key;
          opts.onProgress?.(row.progress, row);
        }
      }
      if (row.state === 'succeeded') finish(() => resolve(row));
      else if (row.state === 'failed' || row.state === 'cancelled')
        finish(() => reject(row.error ? new OmsError(row.error.name, row.error.message) : new OmsError('TaskCancelledError', `Task ${id} was cancelled`)));
    };
    const onAbort = () => {
      if (opts.cancelOnAbort) src.cancel(id).catch(() => undefined);
      finish(() => reject(new OmsConnectionError('aborted', `stopped following task ${id}`)));
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.waitTimeoutMs !== undefined)
      deadline = setTimeout(() => finish(() => reject(new OmsConnectionError('timeout', `task ${id} still running after ${opts.waitTimeoutMs} ms`))), opts.waitTimeoutMs);
    const poll = async () => {
      try {
        seen(await src.status(id, opts));
      } catch (e) {
        // An unknown task or a lost session will not heal: give up. A dropped connection may.
        if (e instanceof OmsError) return finish(() => reject(e));
      }
      if (!done) timer = setTimeout(poll, opts.pollMs ?? 1000);
    };
    // Listen first, then read: a task that ends between the two is still seen.
    src
      .pushes(id, seen)
      .then((stop) => (done ? stop() : (stopPushes = stop)))
      .catch(() => undefined)
      .finally(() => void poll());
  });
}
