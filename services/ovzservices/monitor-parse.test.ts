import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { containerChanges, monitorAction, parseMonitorLine, stateData } from './monitor-parse.ts';

const lines = readFileSync(new URL('./fixtures/events/lxc-monitor-5.0.2.txt', import.meta.url), 'utf8').split('\n').filter((l) => l !== '');

/** What the watcher publishes from a monitor's lines: the settled changes, in order. */
function actions(input: string[]): string[] {
  const last = new Map<string, string>();
  const out: string[] = [];
  for (const l of input) {
    const m = parseMonitorLine(l);
    if (!m || !('state' in m)) continue;
    const a = monitorAction(last.get(m.id), m.state);
    last.set(m.id, m.state);
    if (a) out.push(`${m.id} ${a}`);
  }
  return out;
}

describe('ovzservices monitor-parse: lxc-monitor (LXC 5.0.2, captured on a lab node)', () => {
  it('reads state lines and exit lines', () => {
    expect(parseMonitorLine(lines[0])).to.deep.equal({ id: '71301', state: 'STARTING' });
    expect(parseMonitorLine("'71301' exited with status [0]")).to.deep.equal({ id: '71301', exitStatus: 0 });
  });

  it('publishes start, freeze, thaw, stop, start and kill once each, skipping steps and repeats', () => {
    // The capture: lxc-start, lxc-freeze, lxc-unfreeze, lxc-stop -t 5, lxc-start, lxc-stop -k.
    expect(actions(lines)).to.deep.equal(['71301 started', '71301 frozen', '71301 thawed', '71301 stopped', '71301 started', '71301 stopped']);
  });

  it('leaves out containers that are not named by an OMS container id', () => {
    expect(parseMonitorLine("'web' changed state to [RUNNING]")).to.equal(undefined);
    expect(parseMonitorLine("'0123' changed state to [RUNNING]")).to.equal(undefined);
    expect(parseMonitorLine('lxc-monitor: some message')).to.equal(undefined);
  });

  it("gives the state in list_vms_status's words and LXC's", () => {
    expect(stateData({ id: '101', state: 'frozen', cpuTimeNs: 0, memoryBytes: 0 })).to.deep.equal({ state: 'paused', lxc_state: 'frozen' });
    expect(stateData(undefined)).to.deep.equal({ state: null, lxc_state: null });
  });

  it('tells what changed between two listings', () => {
    const before = new Map([
      ['101', 'running'],
      ['102', 'stopped'],
      ['103', 'frozen'],
      ['104', 'running'],
    ]);
    const after = new Map([
      ['102', 'running'],
      ['103', 'running'],
      ['104', 'running'],
      ['105', 'running'],
      ['106', 'stopped'],
    ]);
    expect(containerChanges(before, after)).to.deep.equal([
      { target: '101', action: 'destroyed' },
      { target: '102', action: 'started' },
      { target: '103', action: 'thawed' },
      { target: '105', action: 'created' },
      { target: '105', action: 'started' },
      { target: '106', action: 'created' },
    ]);
  });
});
