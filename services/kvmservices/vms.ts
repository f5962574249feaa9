/**
 * kvmservices guest methods: the OMS listings, settings, power and delete, plus the power-state
 * model the OMS document lacks (pause/resume, ACPI shutdown with a window, forced stop, reboot,
 * reset). Requesting the state a guest is already in is success, not an error.
 */
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { poolList } from '../../src/fleet/pools.ts';
import * as cmd from './commands.ts';
import { canSeeVm, domState, inactiveDomain, isStopped, lockVm, lockVmUntil, nodeInfo, onNode, onVm, serverParam, sleep, vmParam } from './common.ts';
import { kvmNode, taskNode, virshRead, virshRun, type KvmNode } from './node.ts';
import { isActiveState, parseDomstats, stateName, virshMessage } from './parse.ts';
import { wholeNumber } from './fields.ts';
import { runningPowerTasks, powerOff, runPowerTask } from './transitions.ts';
import { fromStateNumber, reported, type PowerTask } from './states.ts';
import { checkVmSettings, MIN_MEMORY_MIB, MIN_VCPU, settingValue, systemMinMax } from './settings.ts';

export const listStats = ['cpu', 'memory', 'df', 'network'] as const;
type ListStat = (typeof listStats)[number];

/** Task kind of shutdown_vm: while one runs, the guest reads STOPPING (states.ts POWER_TASKS). */
export const SHUTDOWN_TASK = 'kvm.shutdown_vm' satisfies PowerTask;
const DEFAULT_SHUTDOWN_WINDOW_S = 60;
/** ACPI power-button presses are repeated this often: a guest may miss one while booting. */
const ACPI_REPEAT_MS = 5000;
const POLL_MS = 1000;

function statsOf(f: Record<string, string>, wanted: readonly ListStat[]): Record<string, unknown> {
  const n = (k: string) => (f[k] === undefined ? 0 : Number(f[k]));
  const out: Record<string, unknown> = {};
  for (const s of wanted) {
    if (s === 'cpu') out.cpu = { vcpus: n('vcpu.current'), cpu_time_ns: n('cpu.time') };
    if (s === 'memory') out.memory = { current_kib: n('balloon.current'), maximum_kib: n('balloon.maximum'), ...(f['balloon.rss'] ? { rss_kib: n('balloon.rss') } : {}) };
    if (s === 'df')
      out.df = Array.from({ length: n('block.count') }, (_, i) => ({
        dev: f[`block.${i}.name`] ?? '',
        path: f[`block.${i}.path`] ?? '',
        capacity: n(`block.${i}.capacity`),
        allocation: n(`block.${i}.allocation`),
        physical: n(`block.${i}.physical`),
      }));
    if (s === 'network')
      out.network = Array.from({ length: n('net.count') }, (_, i) => ({
        dev: f[`net.${i}.name`] ?? '',
        rx_bytes: n(`net.${i}.rx.bytes`),
        tx_bytes: n(`net.${i}.tx.bytes`),
      }));
  }
  return out;
}

/**
 * One power verb, treating "already in that state" as done. Returns 0 as the OMS methods do.
 * start, suspend, resume and the forced stop run as power tasks (transitions.ts), so the guest
 * reads STARTING, PAUSING, RESUMING or STOPPING while libvirt works on them.
 */
async function powerTo(ctx: CallContext, n: KvmNode, vm: string, verb: cmd.PowerVerb): Promise<0> {
  const state = await domState(n, vm);
  const stopped = isStopped(state);
  const skip =
    (verb === 'start' && !stopped) ||
    ((verb === 'destroy' || verb === 'shutdown') && stopped) ||
    (verb === 'suspend' && state === 'paused') ||
    (verb === 'resume' && state === 'running');
  if (skip) return 0;
  if ((verb === 'suspend' || verb === 'reboot' || verb === 'reset') && stopped) throw oms('VmStateError', { vm, node: n.name, state, reason: `cannot ${verb} a guest that is not running` });
  if (verb === 'resume' && stopped) throw oms('VmStateError', { vm, node: n.name, state, reason: 'cannot resume a guest that is not running; start it' });
  const task = POWER_TASK_OF[verb];
  if (verb === 'destroy') await powerOff(ctx, n, vm);
  else if (task) await runPowerTask(ctx, n, vm, task, (tn) => cmd.power(tn.uri, verb, vm));
  else await virshRun(n, cmd.power(n.uri, verb, vm), { vm });
  return 0;
}

/** The verbs that move a guest between requestable states; reboot and reset keep it RUNNING. */
const POWER_TASK_OF: Partial<Record<cmd.PowerVerb, 'kvm.start_vm' | 'kvm.pause_vm' | 'kvm.resume_vm'>> = { start: 'kvm.start_vm', suspend: 'kvm.pause_vm', resume: 'kvm.resume_vm' };

/**
 * ACPI shutdown as a task: presses the power button, again every few seconds, until the guest is
 * off or the window has passed. A guest that ignores ACPI (no OS, or one that does not listen)
 * stays running and the task fails with ShutdownTimeoutError.
 */
export function startShutdown(ctx: CallContext, n0: KvmNode, vm: string, windowS: number): { id: string; done: Promise<0> } {
  return ctx.startTask({ kind: SHUTDOWN_TASK, node: n0.name, target: vm }, async (task) => {
    const n = taskNode(ctx, n0.name, task.signal);
    const deadline = Date.now() + windowS * 1000;
    let lastPress = 0;
    for (;;) {
      const state = await domState(n, vm);
      if (isStopped(state)) return 0 as const;
      if (Date.now() >= deadline) throw oms('ShutdownTimeoutError', { vm, node: n.name, seconds: windowS, state });
      if (Date.now() - lastPress >= ACPI_REPEAT_MS) {
        if (state === 'paused') await virshRun(n, cmd.power(n.uri, 'resume', vm), { vm });
        task.log(`ACPI shutdown request to ${vm}`);
        const r = await n.handle.exec(cmd.power(n.uri, 'shutdown', vm), { okExitCodes: [0, 1] });
        // "domain is not running": it went off between our look and the request; the loop sees it.
        if (r.code !== 0 && !/not running/.test(r.stderr)) throw oms('LibvirtError', { node: n.name, message: virshMessage(r.stderr) });
        lastPress = Date.now();
      }
      task.progress(Math.min(windowS, windowS - (deadline - Date.now()) / 1000), windowS);
      await sleep(POLL_MS, task.signal);
    }
  });
}

const power = (name: string, verb: cmd.PowerVerb, description: string): MethodDecl =>
  method({
    name,
    description,
    auth: 'session',
    permission: onVm('vm.state'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam] as const,
    run: (ctx, { server_hostname, kvm_vm_name }) => powerTo(ctx, kvmNode(ctx, server_hostname), kvm_vm_name, verb),
  });

export const vmMethods: MethodDecl[] = [
  method({
    name: 'list_vms',
    description: `KVM guests of a node: status 1 (running or paused) or 0, tags, pools (its resource pool as a list: [] or one), and the stats named in further params (${listStats.join(', ')}).`,
    auth: 'session',
    permission: onNode('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, { name: 'stats', schema: z.enum(listStats), rest: true }] as const,
    async run(ctx, { server_hostname, stats }) {
      const n = kvmNode(ctx, server_hostname);
      const wanted = [...new Set(stats)];
      const full = wanted.includes('df') || wanted.includes('network');
      const all = parseDomstats(await virshRead(n, full ? cmd.DOMSTATS_FULL : cmd.DOMSTATS_ALL));
      const pools = ctx.app.pools.ofNode(server_hostname);
      return [...all]
        .filter(([name]) => canSeeVm(ctx, server_hostname, name))
        .map(([name, f]) => ({
          status: isActiveState(f['state.state']) ? 1 : 0,
          tags: ctx.app.tags.ofVm(server_hostname, name).map((t) => t.tag),
          pools: poolList(pools, 'kvm', name),
          stats: statsOf(f, wanted),
          name,
          id: name,
        }));
    },
  }),
  method({
    name: 'list_vms_status',
    description:
      'KVM guests of a node with state (the OMS names: running, paused, shutdown, crashed), vCPUs, memory (KiB) and CPU time (ns): a list holding one dictionary by guest name. Beside the OMS fields, vm_state is the state model of get_vm_state (STOPPED, STARTING, RUNNING, PAUSING, PAUSED, RESUMING, STOPPING), naming a transition while it runs.',
    auth: 'session',
    permission: onNode('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam] as const,
    async run(ctx, { server_hostname }) {
      const n = kvmNode(ctx, server_hostname);
      // The running transitions are taken before libvirt is asked: libvirt's answer may come after
      // a transition ended (a stopped QEMU holds domstats too), and an old "running" read beside a
      // task list from after the pause finished would say RUNNING, a state the guest was never in
      // during this call. Taken first, a transition running then is reported.
      const moving = runningPowerTasks(ctx, server_hostname);
      const all = parseDomstats(await virshRead(n, cmd.DOMSTATS_ALL));
      const out: Record<string, unknown> = {};
      for (const [name, f] of all) {
        if (!canSeeVm(ctx, server_hostname, name)) continue;
        const state = stateName(f['state.state']);
        out[name] = {
          nrVirtCpu: Number(f['vcpu.current'] ?? 0),
          // The OMS field keeps the values OMS clients know (a guest being shut down is running
          // until it is off); the transition is told in a field of its own.
          state,
          maxMem: f['balloon.maximum'] ?? '0',
          cpuTime: f['cpu.time'] ?? '0',
          memory: f['balloon.current'] ?? f['balloon.maximum'] ?? '0',
          vm_state: reported(fromStateNumber(f['state.state'], f['state.reason']), moving.get(name)?.kind) ?? null,
        };
      }
      return [out];
    },
  }),
  method({
    name: 'parse_system_min_max',
    description: "Bounds for a guest's settings from the node's own CPUs and memory (MiB).",
    auth: 'session',
    permission: onNode('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam] as const,
    run: async (ctx, { server_hostname }) => systemMinMax(await nodeInfo(kvmNode(ctx, server_hostname))),
  }),
  method({
    name: 'parse_vm_settings',
    description: "A guest's vCPUs and memory (MiB) as defined (what it boots with), with the node's bounds.",
    auth: 'session',
    permission: onVm('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, vmParam] as const,
    async run(ctx, { server_hostname, kvm_vm_name }) {
      const n = kvmNode(ctx, server_hostname);
      const [d, info] = await Promise.all([inactiveDomain(n, kvm_vm_name), nodeInfo(n)]);
      const sys = systemMinMax(info);
      return { vcpu: String(d.vcpu), max_memory: sys.max_memory, max_vcpu: sys.max_vcpu, min_vcpu: sys.min_vcpu, memory: String(Math.floor(d.memoryKiB / 1024)), min_memory: sys.min_memory };
    },
  }),
  method({
    name: 'update_vm_settings',
    description: `Sets a guest's vcpu (${MIN_VCPU}..node CPUs) and memory (MiB, ${MIN_MEMORY_MIB}..node memory) in its definition (a running guest gets them at its next boot). Valid fields are applied; the result holds an error message for each invalid one ({} when all applied).`,
    auth: 'session',
    permission: onVm('vm.config'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'kvm_vm_settings_dictionary', schema: z.record(z.string().regex(/^[a-z_]{1,32}$/, 'not a setting name'), settingValue) }] as const,
    async run(ctx, { server_hostname, kvm_vm_name, kvm_vm_settings_dictionary }) {
      const n = kvmNode(ctx, server_hostname);
      const [d, info] = await Promise.all([inactiveDomain(n, kvm_vm_name), nodeInfo(n)]);
      const { apply, errors } = checkVmSettings(kvm_vm_settings_dictionary, info);
      const vm = kvm_vm_name;
      if (apply.vcpu !== undefined) {
        // Growing: raise the maximum first; shrinking: the maximum takes the current count with it.
        await virshRun(n, cmd.setVcpusMax(n.uri, vm, apply.vcpu), { vm });
        await virshRun(n, cmd.setVcpus(n.uri, vm, apply.vcpu), { vm });
      }
      if (apply.memory !== undefined) {
        const grow = apply.memory * 1024 > d.memoryKiB;
        if (grow) await virshRun(n, cmd.setMaxMem(n.uri, vm, apply.memory), { vm });
        await virshRun(n, cmd.setMem(n.uri, vm, apply.memory), { vm });
        if (!grow) await virshRun(n, cmd.setMaxMem(n.uri, vm, apply.memory), { vm });
      }
      return errors;
    },
  }),
  power('start_vm', 'start', 'Starts a guest; 0 (also when it is running already).'),
  power('stop_vm', 'destroy', 'Stops a guest at once (power off, as OMS did); 0 (also when it is stopped already). For a clean ACPI shutdown use shutdown_vm.'),
  power('destroy_vm', 'destroy', 'Forced power off, the same as stop_vm under its libvirt name; 0.'),
  power('pause_vm', 'suspend', 'Pauses a running guest (its vCPUs stop, memory stays); 0, also when paused already.'),
  power('resume_vm', 'resume', 'Resumes a paused guest; 0, also when it is running already.'),
  power('reboot_vm', 'reboot', 'Asks the guest OS to reboot (ACPI); 0. A guest without an OS that listens does not react: see reset_vm.'),
  power('reset_vm', 'reset', 'Hard reset of a running guest, as the reset button; 0.'),
  method({
    name: 'shutdown_vm',
    description: `ACPI shutdown as a task: the power button is pressed, again every ${ACPI_REPEAT_MS / 1000} s, for a window of window_seconds (default ${DEFAULT_SHUTDOWN_WINDOW_S}). Meanwhile the guest reads STOPPING (get_vm_state, vm_state of list_vms_status); a guest that ignores it stays running and the task fails with ShutdownTimeoutError. Returns {task_id}; a stopped guest is success at once (task_id null).`,
    auth: 'session',
    permission: onVm('vm.state'),
    mutates: true,
    lock: lockVmUntil('shutdown'),
    node: 'server_hostname',
    // task_id null: the guest was stopped already, nothing to follow.
    result: z.object({ task_id: z.string().nullable() }),
    params: [serverParam, vmParam, { name: 'window_seconds', schema: wholeNumber(1, 3600), optional: true }] as const,
    async run(ctx, { server_hostname, kvm_vm_name, window_seconds }) {
      const n = kvmNode(ctx, server_hostname);
      if (isStopped(await domState(n, kvm_vm_name))) return { task_id: null };
      return { task_id: startShutdown(ctx, n, kvm_vm_name, window_seconds ?? DEFAULT_SHUTDOWN_WINDOW_S).id };
    },
  }),
  method({
    name: 'delete_vm',
    description: "Stops (power off) and undefines a guest; its disk images stay (see delete_file_based_image, delete_vm_recursive). 0.",
    auth: 'session',
    permission: onVm('vm.delete'),
    mutates: true,
    lock: lockVm,
    node: 'server_hostname',
    params: [serverParam, vmParam] as const,
    async run(ctx, { server_hostname, kvm_vm_name }) {
      const n = kvmNode(ctx, server_hostname);
      await powerTo(ctx, n, kvm_vm_name, 'destroy');
      await virshRun(n, cmd.undefine(n.uri, kvm_vm_name), { vm: kvm_vm_name });
      return 0;
    },
  }),
];
