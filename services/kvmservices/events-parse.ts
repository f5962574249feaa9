/**
 * Reading `virsh event --all --loop --timestamp`, one line per libvirt domain event (captured
 * samples in fixtures/events/). Pure.
 *
 *   2026-11-29 11:58:05.253+0000: event 'lifecycle' for domain 'evn-capture2': Started Booted
 *   2026-11-29 11:58:07.736+0000: event 'reboot' for domain 'evn-capture2'
 *   2026-11-29 11:58:10.259+0000: event 'device-added' for domain 'evn-capture2': ua-evnusb
 *   2026-11-29 11:57:24.159+0000: event 'metadata-change' for domain 'evn-capture': type element, uri http://...
 *
 * Older libvirt prints the domain name without quotes (`for domain evn-capture: Started Booted`);
 * both forms are read. Anything else the reader prints (`error: ...`, `events received: N`) is
 * not an event.
 */
import { fromStateNumber, type VmState } from './states.ts';
import { parseDomstats } from './parse.ts';

export interface DomainEvent {
  /** libvirt's own time of the event (ms since the epoch), when the line carries one. */
  readonly time?: number;
  /** libvirt's event name: lifecycle, reboot, device-added, metadata-change, ... */
  readonly event: string;
  readonly domain: string;
  /** What follows the domain name, when anything does. */
  readonly detail?: string;
}

const STAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)(\d\d): /;
// The quoted name ends at the quote that the detail's colon or the line's end follows.
const EVENT = /^event '([a-z0-9-]+)' for domain (?:'(.+?)'|([^\s':]+))(?=:|$)(?:: (.*))?$/;

/** One line of the reader's output; undefined for anything that is not a domain event. */
export function parseEventLine(line: string): DomainEvent | undefined {
  let rest = line.trimEnd();
  let time: number | undefined;
  const stamp = STAMP.exec(rest);
  if (stamp) {
    const t = Date.parse(`${stamp[1]}T${stamp[2]}${stamp[3]}:${stamp[4]}`);
    if (Number.isFinite(t)) time = t;
    rest = rest.slice(stamp[0].length);
  }
  const m = EVENT.exec(rest);
  if (!m) return undefined;
  const domain = m[2] ?? m[3];
  return { ...(time !== undefined ? { time } : {}), event: m[1], domain, ...(m[4] !== undefined && m[4] !== '' ? { detail: m[4] } : {}) };
}

/** An error the reader printed (it ends after one, e.g. when it cannot connect or libvirtd went away). */
export const readerError = (line: string): string | undefined => /^error: (.*)$/.exec(line.trim())?.[1];

/**
 * libvirt's lifecycle event names (virDomainEventType as virsh prints it) to the actions OMS
 * publishes. The detail after the name (Booted, Destroyed, Finished after guest request ...) is
 * the reason.
 */
const LIFECYCLE: Record<string, string> = {
  Defined: 'defined',
  Undefined: 'undefined',
  Started: 'started',
  Suspended: 'suspended',
  Resumed: 'resumed',
  Stopped: 'stopped',
  Shutdown: 'shutdown',
  PMSuspended: 'pmsuspended',
  Crashed: 'crashed',
};

/** Actions of the other events; those not listed keep libvirt's name. */
const RENAMED: Record<string, string> = { 'metadata-change': 'metadata-changed' };

export interface KvmAction {
  readonly action: string;
  /** Details of the event: `reason` for lifecycle events, `device` (alias), `metadata_type` and `uri`, or libvirt's `detail`. */
  readonly data: Record<string, string>;
}

/** What a domain event means for OMS: the action published and its details. */
export function actionOf(e: DomainEvent): KvmAction {
  const detail = e.detail ?? '';
  switch (e.event) {
    case 'lifecycle': {
      const sp = detail.indexOf(' ');
      const name = sp < 0 ? detail : detail.slice(0, sp);
      const reason = sp < 0 ? '' : detail.slice(sp + 1);
      return { action: LIFECYCLE[name] ?? (name ? name.toLowerCase() : 'lifecycle'), data: reason ? { reason } : {} };
    }
    case 'device-added':
    case 'device-removed':
    case 'device-removal-failed':
      return { action: e.event, data: detail ? { device: detail } : {} };
    case 'metadata-change': {
      const m = /^type (\S+), uri (.*)$/.exec(detail);
      if (!m) return { action: RENAMED[e.event], data: detail ? { detail } : {} };
      return { action: RENAMED[e.event], data: { metadata_type: m[1], ...(m[2] !== '<null>' ? { uri: m[2] } : {}) } };
    }
    default:
      return { action: RENAMED[e.event] ?? e.event, data: detail ? { detail } : {} };
  }
}

/** The words of the state listing (all guests, defined and running): a fixed read, for the resident virsh. */
export const STATE_LISTING = ['domstats', '--raw', '--nowait', '--state'] as const;

/** Every guest's state in the model of states.ts (get_vm_state), from the state listing. */
export function parseStates(stdout: string): Map<string, VmState> {
  const out = new Map<string, VmState>();
  for (const [name, f] of parseDomstats(stdout)) {
    const s = fromStateNumber(f['state.state']);
    if (s) out.set(name, s);
  }
  return out;
}

/**
 * The action that tells a change found by a listing (after a reconnect, or on the slow resync
 * timer) rather than by an event: from one state to another, `undefined` for a guest that is
 * gone, `defined` for one that is new. A new guest that is not stopped gets its state's action
 * too (changesOf).
 */
export function actionOfState(from: VmState | undefined, to: VmState | undefined): string | undefined {
  if (from === to) return undefined;
  if (to === undefined) return 'undefined';
  switch (to) {
    case 'RUNNING':
      return from === 'PAUSED' || from === 'RESUMING' ? 'resumed' : 'started';
    case 'PAUSED':
      return 'suspended';
    case 'STOPPED':
      return 'stopped';
    case 'STOPPING':
      return 'shutdown';
    default:
      return undefined;
  }
}

export interface StateChange {
  readonly target: string;
  readonly action: string;
  /** The state now; null for a guest that is gone. */
  readonly state: VmState | null;
}

/** What changed between two listings, in name order; a new running guest is `defined`, then `started`. */
export function changesOf(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, VmState>): StateChange[] {
  const out: StateChange[] = [];
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  for (const target of names) {
    const from = before.get(target) as VmState | undefined;
    const to = after.get(target);
    if (from === to) continue;
    if (from === undefined) {
      out.push({ target, action: 'defined', state: to ?? null });
      const then = actionOfState('STOPPED', to);
      if (then) out.push({ target, action: then, state: to ?? null });
      continue;
    }
    const action = actionOfState(from, to);
    if (action) out.push({ target, action, state: to ?? null });
  }
  return out;
}
