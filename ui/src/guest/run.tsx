/** One call at a time from the guest view's buttons, with what came of it. */
import { useSignal } from '@preact/signals';
import { errorText } from '../lib/client.ts';
import { lostSession } from '../lib/session.ts';
import type { Part } from './store.ts';

/** A button running one call, showing its error beside the view's other messages. */
export type Run = (what: string, work: () => Promise<unknown>) => Promise<boolean>;

export function useRunner(after: () => void): { run: Run; busy: string | undefined; problem: string | undefined; done: string | undefined } {
  const busy = useSignal<string | undefined>(undefined);
  const problem = useSignal<string | undefined>(undefined);
  const done = useSignal<string | undefined>(undefined);
  const run: Run = async (what, work) => {
    busy.value = what;
    problem.value = undefined;
    done.value = undefined;
    try {
      await work();
      done.value = `${what}: done.`;
      return true;
    } catch (e) {
      if (!lostSession(e)) problem.value = `${what} failed. ${errorText(e)}`;
      return false;
    } finally {
      busy.value = undefined;
      after();
    }
  };
  return { run, busy: busy.value, problem: problem.value, done: done.value };
}

export function Failed<T>({ p }: { p: Part<T> }) {
  return p.error ? <p class="error">{p.error}</p> : null;
}
