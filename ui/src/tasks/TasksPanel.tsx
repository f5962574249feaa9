/**
 * The tasks panel, reachable from every screen: a header button (with the number running) opens
 * it. Each task shows its kind, target, state, a progress bar with bytes (or steps) and percent,
 * its log on demand, and Cancel while it runs. Everything follows the task events; nothing polls.
 */
import type { Signal } from '@preact/signals';
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import type { TaskRow } from '@oms/client/browser';
import { bytes, clock } from '../lib/format.ts';
import { listen } from '../lib/live.ts';
import { tasks } from './store.ts';
import './tasks.css';

/** "1.2 GiB of 4.0 GiB" for byte counts, "3 of 5" for steps (a total under 1 KiB is not bytes). */
export function progressText(p: TaskRow['progress']): string {
  if (!p) return '';
  const of = p.total >= 1024 ? `${bytes(p.done)} of ${bytes(p.total)}` : p.total > 0 ? `${p.done} of ${p.total}` : `${p.done}`;
  return `${of}, ${p.percent} %`;
}

export function TaskLog({ id }: { id: string }) {
  const lines = tasks.log(id).value;
  return (
    <pre class="task-log" role="log" tabIndex={0} aria-label="Task log">
      {lines.length ? lines.map((l) => `${clock(l.at)}  ${l.line}`).join('\n') : '(no log lines)'}
    </pre>
  );
}

function TaskItem({ row }: { row: Signal<TaskRow> }) {
  const t = row.value;
  const open = useSignal(false);
  const problem = useSignal<string | undefined>(undefined);
  const label = `${t.kind}${t.target ? ` ${t.target}` : ''}${t.node ? ` on ${t.node}` : ''}`;
  return (
    <li class={`task task-${t.state}`} aria-label={label}>
      <div class="task-head">
        <span class="task-kind">{t.kind}</span>
        <span class="task-target">
          {t.target ?? ''}
          {t.node ? ` on ${t.node}` : ''}
        </span>
        <span class="task-state">{t.state}</span>
        <span class="task-time">{clock(t.created_at)}</span>
      </div>
      {t.progress ? (
        <div class="task-progress">
          <progress max={100} value={t.progress.percent} aria-label={`Progress of ${label}`} />
          <span>{progressText(t.progress)}</span>
        </div>
      ) : null}
      {t.error ? (
        <p class="error">
          {t.error.name}: {t.error.message}
        </p>
      ) : null}
      <div class="task-actions">
        <button type="button" aria-expanded={open.value} onClick={() => (open.value = !open.value)}>
          {open.value ? 'Hide log' : 'Show log'}
        </button>
        {t.state === 'running' ? (
          <button
            type="button"
            onClick={async () => {
              problem.value = await tasks.cancel(t.id);
            }}
          >
            Cancel
          </button>
        ) : null}
      </div>
      {problem.value ? (
        <p role="alert" class="error">
          {problem.value}
        </p>
      ) : null}
      {open.value ? <TaskLog id={t.id} /> : null}
    </li>
  );
}

function Panel({ onClose }: { onClose: () => void }) {
  const ids = tasks.ids.value;
  return (
    <aside
      id="tasks-panel"
      class="tasks-panel"
      aria-labelledby="tasks-title"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <div class="tasks-top">
        <h2 id="tasks-title">Tasks</h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      {tasks.error.value ? (
        <p role="alert" class="error">
          {tasks.error.value}
        </p>
      ) : null}
      {!tasks.loaded.value ? <p>Loading tasks…</p> : ids.length === 0 ? <p>No tasks yet.</p> : null}
      <ul class="task-list">
        {ids.map((id) => {
          const r = tasks.row(id);
          return r ? <TaskItem key={id} row={r} /> : null;
        })}
      </ul>
    </aside>
  );
}

/** The header button and, when open, the panel. It follows the task events while the shell is shown. */
export function TasksButton() {
  const open = useSignal(false);
  useEffect(() => {
    const leave = listen(tasks);
    return () => {
      leave();
      tasks.clear();
    };
  }, []);
  const running = tasks.running;
  return (
    <>
      <button type="button" class="tasks-button" aria-expanded={open.value} aria-controls="tasks-panel" onClick={() => (open.value = !open.value)}>
        Tasks{running ? ` (${running} running)` : ''}
      </button>
      {open.value ? (
        <Panel
          onClose={() => {
            open.value = false;
            // Back to the button that opened it, for a keyboard user.
            document.querySelector<HTMLButtonElement>('.tasks-button')?.focus();
          }}
        />
      ) : null}
    </>
  );
}
