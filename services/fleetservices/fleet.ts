/**
 * A fleet task: one method called on every target, each call going through the same pipeline a
 * direct call takes (src/rpc/pipeline.ts) with the caller's own session or token: its permission
 * is checked per node or guest exactly as if called directly, each guest is held by that call's
 * own lock, each change is audited and cached results dropped as for a direct call. The outcomes
 * stream into the task's log (and so as `task` `log` events) as they arrive, progress counts
 * targets done of all, and tasks.cancel_task stops new calls from starting.
 */
import { call } from '../../src/rpc/pipeline.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { oms } from '../../src/rpc/errors.ts';
import { failureOf } from './targets.ts';
import { runBounded, type Failure, type Outcome } from './runner.ts';
import { scrub } from './scrub.ts';

/** Calls `service.method` with named params as the caller; the inner result (no envelope, no `{client}`). */
export async function invoke(ctx: CallContext, dotted: string, params: Record<string, unknown>, lockWait?: number): Promise<unknown> {
  // No signal: a fleet call outlives the request that started it (the task goes on), and a call
  // under way is left to finish rather than cut on the node.
  const out = await call(ctx.app, { dotted, params, bearer: ctx.secret, remote: ctx.remote, transport: 'internal', lockWait });
  if (out.service.envelope !== 'oms') return out.value;
  const inner = (out.value as { result: unknown }).result;
  return out.method.node ? (inner as { result: unknown }).result : inner;
}

export interface FleetTarget {
  /** `node` or `node/guest`, as the log and the summary name it. */
  readonly label: string;
  readonly node: string;
  readonly kind?: 'kvm' | 'ct';
  readonly guest?: string;
  /** The method and the params of its call on this target. */
  readonly method: string;
  readonly params: Record<string, unknown>;
}

export interface TargetResult {
  target: string;
  node: string;
  kind?: 'kvm' | 'ct';
  guest?: string;
  ok: boolean;
  result?: unknown;
  error?: Failure;
  ms: number;
}

export interface FleetSummary {
  total: number;
  ok: number;
  failed: number;
  not_started: number;
  results: TargetResult[];
  /** Targets never called because the task was cancelled first. */
  skipped: string[];
  /** Nodes that could not be listed while selecting guests. */
  unlisted: { node: string; error: Failure }[];
}

const LOG_RESULT_MAX = 300;

const brief = (v: unknown): string => {
  const s = JSON.stringify(v) ?? 'null';
  return s.length > LOG_RESULT_MAX ? `${s.slice(0, LOG_RESULT_MAX)}…` : s;
};

const resultOf = (o: Outcome<FleetTarget>): TargetResult => ({
  target: o.target.label,
  node: o.target.node,
  ...(o.target.kind ? { kind: o.target.kind, guest: o.target.guest } : {}),
  ok: o.ok,
  ...(o.ok ? { result: o.result } : { error: o.error }),
  ms: o.ms,
});

export interface FleetRun {
  task_id: string;
  total: number;
  targets: string[];
  /** Present when the caller asked to wait. */
  summary?: FleetSummary;
}

/** Starts the fleet task; with `wait`, answers once it ended (TaskCancelledError if it was cancelled). */
export async function runFleet(
  ctx: CallContext,
  kind: string,
  targets: readonly FleetTarget[],
  opts: { concurrency: number; wait: boolean; lockWait?: number; unlisted?: { node: string; error: Failure }[]; what: string },
): Promise<FleetRun> {
  const total = targets.length;
  const task = ctx.startTask({ kind }, async (t) => {
    t.log(`${opts.what} on ${total} target(s), ${opts.concurrency} at once: ${targets.map((x) => x.label).join(', ').slice(0, 1500)}`);
    for (const u of opts.unlisted ?? []) t.log(`unlisted ${u.node} ${u.error.name}(${u.error.code}): ${u.error.message}`);
    t.progress(0, total);
    const report = await runBounded(targets, {
      concurrency: opts.concurrency,
      signal: t.signal,
      // Only what may be kept goes on: the task's log and result outlive the answer.
      work: async (x) => scrub(await invoke(ctx, x.method, x.params, opts.lockWait)),
      failure: failureOf(ctx),
      onOutcome(o, done) {
        t.log(o.ok ? `[${done}/${total}] ok ${o.target.label} ${brief(o.result)}` : `[${done}/${total}] failed ${o.target.label} ${o.error!.name}(${o.error!.code}): ${o.error!.message}`);
        t.progress(done, total);
      },
    });
    const results = report.outcomes.map(resultOf);
    const summary: FleetSummary = {
      total,
      ok: results.filter((r) => r.ok).length,
      failed: results.filter((r) => !r.ok).length,
      not_started: report.notStarted.length,
      results,
      skipped: report.notStarted.map((x) => x.label),
      unlisted: opts.unlisted ?? [],
    };
    t.log(`${report.cancelled ? 'cancelled' : 'done'}: ${summary.ok} ok, ${summary.failed} failed${summary.not_started ? `, ${summary.not_started} not started` : ''}`);
    // The task then ends `cancelled`; what was done is in its log, line by line.
    if (report.cancelled) throw oms('TaskCancelledError', { task: t.id });
    return summary;
  });
  const run: FleetRun = { task_id: task.id, total, targets: targets.map((x) => x.label) };
  if (opts.wait) run.summary = await task.done;
  return run;
}
