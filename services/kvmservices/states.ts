/**
 * The guest state model after Velocity: STOPPED, STARTING, RUNNING, PAUSING, PAUSED, RESUMING,
 * STOPPING. Three of them can be requested (set_vm_state); the other four are reported while the
 * transition to a requestable state runs. Pure: no I/O, no state.
 *
 * Where a state comes from: libvirt's own state for the settled ones, and for a transition libvirt
 * itself names (STOPPING for "in shutdown"; a pause with a reason that is a step of a transition,
 * such as "paused (starting up)" at the end of every start: TRANSITIONAL_PAUSES); the running power
 * task of the guest (transitions.ts) for the moving ones, as libvirt reports most of a start, a
 * pause or a resume as the state it leaves.
 */

export const VM_STATES = ['STOPPED', 'STARTING', 'RUNNING', 'PAUSING', 'PAUSED', 'RESUMING', 'STOPPING'] as const;
export type VmState = (typeof VM_STATES)[number];

/** What set_vm_state accepts: the states a caller can ask for; the others belong to the hypervisor. */
export const REQUESTABLE = ['STOPPED', 'RUNNING', 'PAUSED'] as const;
export type Requestable = (typeof REQUESTABLE)[number];

/**
 * `virsh domstate` names to the model. "idle" is libvirt's blocked (a vCPU waiting), "no state"
 * a running guest libvirt has not classified: both run. pmsuspended (the guest put itself to
 * sleep, ACPI S3) holds its memory and waits for a wake-up as a paused guest does. "crashed"
 * counts as stopped, as everywhere in kvmservices (isStopped).
 */
const BY_DOMSTATE: Record<string, VmState> = {
  'no state': 'RUNNING',
  running: 'RUNNING',
  idle: 'RUNNING',
  paused: 'PAUSED',
  'in shutdown': 'STOPPING',
  'shut off': 'STOPPED',
  crashed: 'STOPPED',
  pmsuspended: 'PAUSED',
};

/** The same from domstats' `state.state` (virDomainState numbers), as list_vms_status reads it. */
const BY_NUMBER: Record<string, string> = { '0': 'no state', '1': 'running', '2': 'idle', '3': 'paused', '4': 'in shutdown', '5': 'shut off', '6': 'crashed', '7': 'pmsuspended' };

/**
 * Why a guest is paused (virDomainPausedReason): domstats' `state.reason` numbers to the words
 * `virsh domstate --reason` prints in parentheses, so both readings go through one table below.
 */
const PAUSED_REASONS: Record<string, string> = {
  '0': 'unknown',
  '1': 'user',
  '2': 'migrating',
  '3': 'saving',
  '4': 'dumping',
  '5': 'I/O error',
  '6': 'watchdog',
  '7': 'from snapshot',
  '8': 'shutting down',
  '9': 'creating snapshot',
  '10': 'crashed',
  '11': 'starting up',
  '12': 'post-copy',
  '13': 'post-copy failed',
  '14': 'api error',
};

/**
 * Pauses that are a step of a transition libvirt itself is making: the guest reads the transition,
 * not PAUSED (README, KVM guests, "States"). Every other reason reads PAUSED, because the guest's
 * vCPUs are stopped and nothing says where it goes next:
 * - "starting up": libvirt starts QEMU with its CPUs stopped and lets them run at the very end of
 *   a start; the guest is being started (seen at the end of every start_vm).
 * - "shutting down": the guest has powered off and libvirt holds it paused while it ends it.
 * - "saving": a save or managed save, which ends with the guest shut off (saved).
 * Left PAUSED, on purpose: "migrating" and "post-copy" are read the same on the node a guest
 * leaves, on the node it arrives at and while a saved guest is restored (going or coming: not
 * one transition); "creating snapshot" and "dumping" pause a running guest for as long as the
 * snapshot or dump takes, during which it runs no instruction; "from snapshot" (reverted to a
 * paused snapshot) and "user" are settled pauses; "I/O error", "watchdog", "crashed", "api error"
 * wait for someone to act.
 */
const TRANSITIONAL_PAUSES: Record<string, VmState> = { 'starting up': 'STARTING', 'shutting down': 'STOPPING', saving: 'STOPPING' };

/** undefined for a state libvirt 9 does not have. */
export const fromDomstate = (s: string, reason?: string): VmState | undefined => (s === 'paused' && reason !== undefined ? TRANSITIONAL_PAUSES[reason] : undefined) ?? BY_DOMSTATE[s];
export const domstateOfNumber = (n: string | undefined): string | undefined => BY_NUMBER[n ?? ''];
/** `virsh domstate --reason`'s words for a paused guest's domstats `state.reason`; undefined otherwise. */
export const pausedReasonOfNumber = (state: string | undefined, reason: string | undefined): string | undefined => (state === '3' ? PAUSED_REASONS[reason ?? ''] : undefined);
/** From domstats' `state.state` and `state.reason`. */
export const fromStateNumber = (n: string | undefined, reason?: string): VmState | undefined => {
  const s = domstateOfNumber(n);
  return s === undefined ? undefined : fromDomstate(s, pausedReasonOfNumber(n, reason));
};

/**
 * Task kinds of the power operations, and the state a guest reads while one runs. Every verb
 * that moves a guest between requestable states runs as such a task (transitions.ts), so the
 * transition is a row in the database for its whole duration, whichever method started it.
 */
export const POWER_TASKS = {
  'kvm.start_vm': 'STARTING',
  'kvm.pause_vm': 'PAUSING',
  'kvm.resume_vm': 'RESUMING',
  /** ACPI shutdown (shutdown_vm, set_vm_state STOPPED), which waits for the guest to go down. */
  'kvm.shutdown_vm': 'STOPPING',
  /** Forced power-off (stop_vm, destroy_vm, set_vm_state STOPPED with force). */
  'kvm.stop_vm': 'STOPPING',
} as const satisfies Record<string, VmState>;
export type PowerTask = keyof typeof POWER_TASKS;

export const transitionOf = (kind: string): VmState | undefined => (POWER_TASKS as Record<string, VmState>)[kind];

/** A guest's state as reported: the transition under way, else what libvirt says. */
export const reported = (libvirt: VmState | undefined, running: PowerTask | undefined): VmState | undefined => (running ? POWER_TASKS[running] : libvirt);

/** One step towards a requested state; each is one power task. */
export type Step = { task: 'kvm.start_vm'; paused: boolean } | { task: 'kvm.pause_vm' } | { task: 'kvm.resume_vm' } | { task: 'kvm.shutdown_vm' } | { task: 'kvm.stop_vm' };

export type Plan = { steps: Step[] } | { refuse: string };

/**
 * What set_vm_state does to go from libvirt's state (a `virsh domstate` name) to the target.
 * Already there: no step at all, so nothing is asked of libvirt. Decisions (README, KVM guests):
 * - STOPPED -> PAUSED starts the guest paused (`virsh start --paused`): it gets its memory and
 *   devices but runs no instruction, which is what PAUSED is.
 * - PAUSED -> STOPPED without force resumes the guest and presses the ACPI button (the shutdown
 *   task does both): a guest whose vCPUs are stopped cannot hear the button, and a clean
 *   shutdown is what "without force" asks for. With force it is powered off as it is.
 * - A pmsuspended guest (asleep by its own ACPI S3) reads PAUSED; libvirt cannot resume it
 *   (only a wake-up event can), so RUNNING and a graceful stop are refused; force powers it off.
 * - "in shutdown" (the guest is going down by itself) reads STOPPING: STOPPED waits for it (the
 *   ACPI button again is harmless) or powers it off with force; RUNNING and PAUSED are refused.
 * - A pause that is a step of libvirt's own transition (paused: starting up, shutting down,
 *   saving) is left to libvirt: only a forced stop is done; anything else is refused, to be asked
 *   again in a moment. Resuming it, or pressing the ACPI button of a guest being saved, would cut
 *   into what libvirt is doing.
 */
export function plan(domstate: string, target: Requestable, force: boolean, reason?: string): Plan {
  const now = fromDomstate(domstate, reason);
  if (now === undefined) return { refuse: `libvirt reports an unknown state "${domstate}"` };
  if (domstate === 'paused' && now !== 'PAUSED') {
    if (target === 'STOPPED' && force) return { steps: [{ task: 'kvm.stop_vm' }] };
    return { refuse: `libvirt holds the guest paused (${reason}) on its way to ${now === 'STARTING' ? 'RUNNING' : 'STOPPED'}; ask again in a moment${target === 'STOPPED' ? ', or stop it with force' : ''}` };
  }
  if (now === target) return { steps: [] };
  if (target === 'STOPPED') {
    if (force) return { steps: [{ task: 'kvm.stop_vm' }] };
    if (domstate === 'pmsuspended') return { refuse: 'a guest suspended by its own power management cannot hear the ACPI button; stop it with force' };
    return { steps: [{ task: 'kvm.shutdown_vm' }] };
  }
  if (now === 'STOPPING') return { refuse: `the guest is shutting down; ask for ${target} once it is STOPPED` };
  if (domstate === 'pmsuspended') return { refuse: 'a guest suspended by its own power management wakes on its own input only (libvirt cannot resume it)' };
  if (target === 'RUNNING') return { steps: [now === 'STOPPED' ? { task: 'kvm.start_vm', paused: false } : { task: 'kvm.resume_vm' }] };
  // target PAUSED
  return { steps: [now === 'STOPPED' ? { task: 'kvm.start_vm', paused: true } : { task: 'kvm.pause_vm' }] };
}
