/**
 * Runs one piece of work per target with bounded concurrency: each outcome is told as it arrives,
 * a failure is that target's outcome and never stops the others, and once `signal` is aborted
 * nothing new starts while the running ones finish (they are not torn down half-way: a power
 * verb interrupted on the node is worse than one that completes). Pure of OMS: no database, no
 * node; fleet.ts gives it the calls.
 */

export interface Failure {
  readonly name: string;
  readonly code: number;
  readonly message: string;
}

export interface Outcome<T> {
  readonly target: T;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: Failure;
  readonly ms: number;
}

export interface RunReport<T> {
  readonly outcomes: Outcome<T>[];
  /** Targets never started because the run was cancelled first. */
  readonly notStarted: T[];
  readonly cancelled: boolean;
}

export interface RunOptions<T> {
  readonly concurrency: number;
  readonly signal?: AbortSignal;
  readonly work: (target: T) => Promise<unknown>;
  /** A thrown value as a typed failure (OmsError name, code, message). */
  readonly failure: (e: unknown) => Failure;
  /** Told each outcome as it arrives, with how many are done of all. */
  readonly onOutcome?: (o: Outcome<T>, done: number, total: number) => void;
}

export async function runBounded<T>(targets: readonly T[], o: RunOptions<T>): Promise<RunReport<T>> {
  const outcomes: Outcome<T>[] = [];
  const notStarted: T[] = [];
  let next = 0;
  const total = targets.length;
  const lane = async (): Promise<void> => {
    while (next < targets.length) {
      if (o.signal?.aborted) return;
      const target = targets[next++];
      const t0 = Date.now();
      let out: Outcome<T>;
      try {
        out = { target, ok: true, result: await o.work(target), ms: Date.now() - t0 };
      } catch (e) {
        out = { target, ok: false, error: o.failure(e), ms: Date.now() - t0 };
      }
      outcomes.push(out);
      o.onOutcome?.(out, outcomes.length, total);
    }
  };
  const lanes = Math.max(1, Math.min(o.concurrency, targets.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  notStarted.push(...targets.slice(next));
  return { outcomes, notStarted, cancelled: !!o.signal?.aborted };
}
