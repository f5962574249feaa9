/** One admin action at a time per form: busy while it runs, then what happened in words. */
import { useState } from 'preact/hooks';
import { errorText } from '../lib/client.ts';
import { lostSession } from '../lib/session.ts';

export interface Outcome {
  ok: boolean;
  text: string;
}

export function useCall(): { busy: boolean; outcome?: Outcome; run: (work: () => Promise<unknown>, done: string) => Promise<boolean>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const run = async (work: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setOutcome(undefined);
    try {
      await work();
      setOutcome({ ok: true, text: done });
      return true;
    } catch (e) {
      if (!lostSession(e)) setOutcome({ ok: false, text: errorText(e) });
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, outcome, run, clear: () => setOutcome(undefined) };
}

/** The outcome under a form: an alert for a refusal, a status line for success. */
export function OutcomeLine({ outcome }: { outcome?: Outcome }) {
  if (!outcome) return null;
  return outcome.ok ? (
    <p role="status" class="adm-ok">
      {outcome.text}
    </p>
  ) : (
    <p role="alert" class="error">
      {outcome.text}
    </p>
  );
}

/** Seconds since the epoch as a local date and time. */
export const when = (s: number | null | undefined) => (s ? new Date(s * 1000).toLocaleString() : '—');
