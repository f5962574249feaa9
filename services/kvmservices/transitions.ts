/**
 * Power transitions in flight, kept where every gateway process sees them: the tasks table. Each
 * verb that moves a guest between STOPPED, RUNNING and PAUSED runs as a task of its own kind
 * (states.ts POWER_TASKS) for exactly as long as libvirt works on it, so while `virsh start` runs
 * the guest reads STARTING, while an ACPI shutdown waits for the guest it reads STOPPING. The
 * row is keyed by node and guest (`target`), finished when the call ends (success or not), and a
 * row a dead gateway left running is marked failed at start-up (Tasks.recoverInterrupted), so a
 * guest never stays "STARTING" forever. A second task on the same guest meanwhile is refused
 * (TaskConflictError), as for every other task.
 */
import type { CallContext } from '../../src/rpc/context.ts';
import { isOmsError } from '../../src/rpc/errors.ts';
import type { Command } from '../../src/nodes/command.ts';
import * as cmd from './commands.ts';
import { sleep } from './common.ts';
import { taskNode, virshRun, type KvmNode } from './node.ts';
import { transitionOf, type PowerTask } from './states.ts';

export interface RunningPower {
  kind: PowerTask;
  task_id: string;
}

/** The node's guests with a power task running: guest -> that task. One query for a whole listing. */
export function runningPowerTasks(ctx: CallContext, node: string): Map<string, RunningPower> {
  const out = new Map<string, RunningPower>();
  for (const t of ctx.app.tasks.list({ node, state: 'running', limit: 1000 }))
    if (t.target && transitionOf(t.kind)) out.set(t.target, { kind: t.kind as PowerTask, task_id: t.id });
  return out;
}

/**
 * Runs one power verb as a task of that kind and waits for it: the OMS power methods answer
 * when the verb is done. The work runs on the task's own node handle, so a caller that goes
 * away does not cut a `virsh start` in half.
 */
export async function runPowerTask(ctx: CallContext, n: KvmNode, vm: string, kind: Exclude<PowerTask, 'kvm.shutdown_vm'>, command: (n: KvmNode) => Command): Promise<void> {
  const t = ctx.app.tasks.start({ kind, node: n.name, target: vm, user: ctx.principal?.userName }, async (task) => {
    const tn = taskNode(ctx, n.name, task.signal);
    task.log(`${kind} ${vm}`);
    await virshRun(tn, command(tn), { vm });
    return 0;
  });
  await t.done;
}

/** How long a forced stop waits for an overruled ACPI shutdown task to notice the guest is off. */
const OVERRULE_WAIT_MS = 10_000;

/**
 * Forced power-off. While an ACPI shutdown task runs on the guest (it may wait minutes for a
 * guest that does not listen), the power-off is done under that task's STOPPING rather than
 * refused: the task sees the guest off at its next look and ends as succeeded, since the guest
 * did stop, and a caller waiting on it (set_vm_state STOPPED without force) is answered too.
 * This call returns once that task has ended, so the guest reads STOPPED when it answers.
 */
export async function powerOff(ctx: CallContext, n: KvmNode, vm: string): Promise<void> {
  const shutdown = ctx.app.tasks.list({ node: n.name, state: 'running', limit: 1000 }).find((t) => t.target === vm && t.kind === 'kvm.shutdown_vm');
  if (!shutdown) return runPowerTask(ctx, n, vm, 'kvm.stop_vm', (tn) => cmd.power(tn.uri, 'destroy', vm));
  try {
    await virshRun(n, cmd.power(n.uri, 'destroy', vm), { vm });
  } catch (e) {
    // "domain is not running": it went down by itself between the looks; that is the goal.
    if (!(isOmsError(e) && e.omsName === 'LibvirtError' && /not running/.test(String(e.vars.message)))) throw e;
  }
  // The guest is off; the task notices within its poll interval. Past the wait it is left to do so.
  const end = Date.now() + OVERRULE_WAIT_MS;
  while (ctx.app.tasks.get(shutdown.id)?.state === 'running' && Date.now() < end) await sleep(100);
}
