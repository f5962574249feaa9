/**
 * Reading `lxc-monitor -P LXCPATH -n '.*'` (LXC 5.0; captured sample in
 * fixtures/events/lxc-monitor-5.0.2.txt) and turning its state lines into container events. Pure.
 *
 *   '71301' changed state to [STARTING]
 *   '71301' changed state to [RUNNING]
 *   '71301' exited with status [0]
 *
 * The monitor reports every step, some twice (FROZEN, THAWED), and a thaw as THAWED then
 * RUNNING; what OMS publishes is the settled change: started, stopped, frozen, thawed (and
 * aborting, LXC's failed start). Only containers named as OMS names them (the numeric id,
 * containerId) are read; other LXC containers on the node are not OMS's.
 */
import type { CtInfo } from './driver.ts';
import { omsState } from './ct.ts';

export type MonitorLine = { readonly id: string; readonly state: string } | { readonly id: string; readonly exitStatus: number };

const ID = /^[1-9][0-9]{2,9}$/;
const STATE = /^'([^']*)' changed state to \[([A-Z]+)\]$/;
const EXIT = /^'([^']*)' exited with status \[(-?\d+)\]$/;

/** One line of lxc-monitor; undefined for anything else, or for a container that is not an OMS id. */
export function parseMonitorLine(line: string): MonitorLine | undefined {
  const t = line.trim();
  const s = STATE.exec(t);
  if (s) return ID.test(s[1]) ? { id: s[1], state: s[2] } : undefined;
  const x = EXIT.exec(t);
  if (x) return ID.test(x[1]) ? { id: x[1], exitStatus: Number(x[2]) } : undefined;
  return undefined;
}

/**
 * The action a state line means after the one before it for the same container (undefined: not
 * published: a repeat, a step on the way such as STARTING or STOPPING, or the RUNNING that ends
 * a thaw already told as `thawed`).
 */
export function monitorAction(previous: string | undefined, state: string): string | undefined {
  if (state === previous) return undefined;
  switch (state) {
    case 'RUNNING':
      return previous === 'THAWED' || previous === 'FROZEN' || previous === 'FREEZING' ? undefined : 'started';
    case 'STOPPED':
      return 'stopped';
    case 'FROZEN':
      return 'frozen';
    case 'THAWED':
      return 'thawed';
    case 'ABORTING':
      return 'aborting';
    default:
      return undefined;
  }
}

/** The state published in `data.state`: the OpenVZ API's words (list_vms_status), and LXC's own. */
export const stateData = (info: CtInfo | undefined): { state: string | null; lxc_state: string | null } =>
  info ? { state: omsState(info.state), lxc_state: info.state } : { state: null, lxc_state: null };

export interface CtChange {
  readonly target: string;
  readonly action: string;
}

/** What a listing action means, from one driver state (running, stopped, frozen...) to another. */
function listingAction(from: string | undefined, to: string | undefined): string | undefined {
  if (from === to) return undefined;
  if (to === undefined) return 'destroyed';
  if (to === 'running') return from === 'frozen' ? 'thawed' : 'started';
  if (to === 'stopped') return 'stopped';
  if (to === 'frozen') return 'frozen';
  return undefined;
}

/**
 * What changed between two listings (id -> driver state), in id order: a container that is new
 * is `created` (then `started` or `frozen` when it is not stopped), one that is gone `destroyed`.
 */
export function containerChanges(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): CtChange[] {
  const out: CtChange[] = [];
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort((a, b) => Number(a) - Number(b));
  for (const target of ids) {
    const from = before.get(target);
    const to = after.get(target);
    if (from === to) continue;
    if (from === undefined) {
      out.push({ target, action: 'created' });
      const then = listingAction('stopped', to);
      if (then) out.push({ target, action: then });
      continue;
    }
    const action = listingAction(from, to);
    if (action) out.push({ target, action });
  }
  return out;
}
