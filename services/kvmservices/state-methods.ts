/**
 * The Velocity state calls: get_vm_state reads a guest's state in the model of states.ts (a
 * transition while one runs), set_vm_state asks for STOPPED, RUNNING or PAUSED and returns when
 * the guest is there. Asking for the state the guest is in is success, with nothing asked of
 * libvirt beyond reading that state.
 */
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import * as cmd from './commands.ts';
import { domStateReason, lockVm, onVm, serverParam, vmParam } from './common.ts';
import { wholeNumber } from './fields.ts';
import { kvmNode, type KvmNode } from './node.ts';
import { onOff } from './settings.ts';
import { fromDomstate, plan, REQUESTABLE, reported, type Step } from './states.ts';
import { powerOff, runningPowerTasks, runPowerTask } from './transitions.ts';
import { startShutdown } from './vms.ts';

const DEFAULT_STOP_WINDOW_S = 60;

async function step(ctx: CallContext, n: KvmNode, vm: string, s: Step, windowS: number): Promise<void> {
  switch (s.task) {
    case 'kvm.start_vm':
      return runPowerTask(ctx, n, vm, s.task, (tn) => (s.paused ? cmd.startPaused(tn.uri, vm) : cmd.power(tn.uri, 'start', vm)));
    case 'kvm.pause_vm':
      return runPowerTask(ctx, n, vm, s.task, (tn) => cmd.power(tn.uri, 'suspend', vm));
    case 'kvm.resume_vm':
      return runPowerTask(ctx, n, vm, s.task, (tn) => cmd.power(tn.uri, 'resume', vm));
    case 'kvm.stop_vm':
      return powerOff(ctx, n, vm);
    case 'kvm.shutdown_vm':
      await startShutdown(ctx, n, vm, windowS).done;
  }
}

export const stateMethods: MethodDecl[] = [
  method({
    name: 'get_vm_state',
    description:
      "A guest's state after Velocity: {name, state, task_id}. state is STOPPED, RUNNING or PAUSED when settled, and STARTING, PAUSING, RESUMING or STOPPING while a power call on it runs (start, pause, resume, ACPI shutdown or forced stop, whichever method asked); task_id is that call's task then, else null.",
    auth: 'session',
    permission: onVm('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, vmParam] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm }) {
      const n = kvmNode(ctx, server_hostname);
      // Transitions first, then libvirt (as list_vms_status, for the same reason).
      const moving = runningPowerTasks(ctx, n.name).get(vm);
      const now = await domStateReason(n, vm);
      const libvirt = fromDomstate(now.state, now.reason);
      return { name: vm, state: reported(libvirt, moving?.kind) ?? null, task_id: moving?.task_id ?? null };
    },
  }),
  method({
    name: 'set_vm_state',
    description: `Asks for a guest's state (Velocity): STOPPED, RUNNING or PAUSED; the others are the hypervisor's. Returns {name, state} once the guest is there; the state it is in already is success with nothing done. STOPPED presses the ACPI power button and waits up to window_seconds (default ${DEFAULT_STOP_WINDOW_S}) for the guest to go down (ShutdownTimeoutError if it does not; a paused guest is resumed first, as a stopped CPU cannot hear the button); with force it is powered off at once (while an ACPI shutdown of it is waiting, that task holds the guest: cancel it with tasks.cancel_task first). PAUSED from STOPPED starts the guest paused. A guest asleep by its own power management (pmsuspended, read as PAUSED) can only be stopped with force.`,
    auth: 'session',
    permission: onVm('vm.state'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'state', schema: z.enum(REQUESTABLE) }, { name: 'force', schema: onOff, optional: true }, { name: 'window_seconds', schema: wholeNumber(1, 3600), optional: true }] as const,
    async run(ctx, { server_hostname, kvm_vm_name: vm, state, force, window_seconds }) {
      const n = kvmNode(ctx, server_hostname);
      // A transition under way holds the guest's lock, so the pipeline has refused this call already
      // (TaskConflictError naming it); a forced stop included: cancel the waiting ACPI shutdown
      // (tasks.cancel_task) first. Checked again here for a task of another gateway's lock lease.
      const moving = runningPowerTasks(ctx, n.name).get(vm);
      if (moving) throw oms('TaskConflictError', { target: `${n.name}/${vm}`, operation: `task ${moving.task_id} (${moving.kind})` });
      const now = await domStateReason(n, vm);
      const p = plan(now.state, state, force ?? false, now.reason);
      if ('refuse' in p) throw oms('VmStateError', { vm, node: n.name, state: now.state, reason: p.refuse });
      for (const s of p.steps) await step(ctx, n, vm, s, window_seconds ?? DEFAULT_STOP_WINDOW_S);
      return { name: vm, state };
    },
  }),
];
