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
import type { Command } from '../../src/nodes/command.ts';
import * as cmd from './commands.ts';
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
  const t = ctx.startTask({ kind, node: n.name, target: vm }, async (task) => {
    const tn = taskNode(ctx, n.name, task.signal);
    task.log(`${kind} ${vm}`);
    await virshRun(tn, command(tn), { vm });
    return 0;
  });
  await t.done;
}

/**
 * Forced power-off, as a task of its own. A waiting ACPI shutdown of the same guest holds the
 * guest's lock, so the call asking for this was refused before it got here: one change at a time.
 */
export async function powerOff(ctx: CallContext, n: KvmNode, vm: string): Promise<void> {
  return runPowerTask(ctx, n, vm, 'kvm.stop_vm', (tn) => cmd.power(tn.uri, 'destroy', vm));
}
