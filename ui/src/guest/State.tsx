/** The guest's state and the actions that apply to it (and only those), delete with a confirmation. */
import { useSignal } from '@preact/signals';
import { oms } from '../lib/client.ts';
import { Failed, type Run } from './run.tsx';
import type { GuestStore, VmState } from './store.ts';

/** The actions each state allows. Transitions allow none but cancelling the call under way. */
const ACTIONS: Record<string, string[]> = {
  STOPPED: ['Start', 'Delete'],
  RUNNING: ['Shut down', 'Force stop', 'Pause'],
  PAUSED: ['Resume', 'Force stop'],
};

export function StateSection({ g, run, busy }: { g: GuestStore; run: Run; busy?: string }) {
  const s = g.state.value;
  const confirming = useSignal(false);
  const state: VmState | null = s.value?.state ?? null;
  const acts = state ? (ACTIONS[state] ?? []) : [];
  const call: Record<string, () => Promise<unknown>> = {
    Start: () => oms.kvmservices.start_vm(g.node, g.name),
    'Shut down': () => oms.kvmservices.shutdown_vm(g.node, g.name),
    'Force stop': () => oms.kvmservices.stop_vm(g.node, g.name),
    Pause: () => oms.kvmservices.pause_vm(g.node, g.name),
    Resume: () => oms.kvmservices.resume_vm(g.node, g.name),
  };
  return (
    <section aria-labelledby="g-state" class="card">
      <h2 id="g-state">State</h2>
      <p class="vm-state" role="status" aria-label="Guest state">
        <span class={`dot state-${(state ?? 'unknown').toLowerCase()}`} aria-hidden="true" />
        {g.gone.value ? 'NOT DEFINED' : (state ?? (s.error ? 'unknown' : '…'))}
      </p>
      <Failed p={s} />
      <div class="actions">
        {acts.map((a) =>
          a === 'Delete' ? (
            <button key={a} type="button" class="danger" disabled={!!busy} onClick={() => (confirming.value = true)}>
              Delete…
            </button>
          ) : (
            <button key={a} type="button" disabled={!!busy} onClick={() => void run(a, call[a])}>
              {a}
            </button>
          ),
        )}
        {state && !ACTIONS[state] && s.value?.task_id ? (
          <button type="button" disabled={!!busy} onClick={() => void run('Cancel', () => oms.tasks.cancel_task(s.value!.task_id!))}>
            Cancel {state.toLowerCase()}
          </button>
        ) : null}
      </div>
      {confirming.value && state === 'STOPPED' ? (
        <div class="confirm" role="group" aria-labelledby="g-del-q">
          <p id="g-del-q">
            Delete guest <strong>{g.name}</strong> on {g.node}? Its definition is removed; its disk images stay.
          </p>
          <button
            type="button"
            class="danger"
            onClick={async () => {
              confirming.value = false;
              if (await run('Delete', () => oms.kvmservices.delete_vm(g.node, g.name))) g.gone.value = true;
            }}
          >
            Delete guest
          </button>
          <button type="button" onClick={() => (confirming.value = false)}>
            Keep it
          </button>
        </div>
      ) : null}
    </section>
  );
}
