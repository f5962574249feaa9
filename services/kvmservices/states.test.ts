import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseDomstateReason, parseDomstats } from './parse.ts';
import { domstateOfNumber, fromDomstate, fromStateNumber, pausedReasonOfNumber, plan, POWER_TASKS, reported, transitionOf } from './states.ts';

const fx = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');

describe('kvmservices state model (Velocity)', () => {
  it('maps every libvirt state, by domstate name and by domstats number, to the same model state', () => {
    const table: [string, string, string][] = [
      ['0', 'no state', 'RUNNING'],
      ['1', 'running', 'RUNNING'],
      ['2', 'idle', 'RUNNING'],
      ['3', 'paused', 'PAUSED'],
      ['4', 'in shutdown', 'STOPPING'],
      ['5', 'shut off', 'STOPPED'],
      ['6', 'crashed', 'STOPPED'],
      ['7', 'pmsuspended', 'PAUSED'],
    ];
    for (const [n, name, model] of table) {
      expect(domstateOfNumber(n), n).to.equal(name);
      expect(fromDomstate(name), name).to.equal(model);
      expect(fromStateNumber(n), n).to.equal(model);
    }
    expect(fromDomstate('dancing')).to.equal(undefined);
    expect(fromStateNumber('8')).to.equal(undefined);
    expect(fromStateNumber(undefined)).to.equal(undefined);
  });

  it('reads captured domstats of running, paused and stopped guests', () => {
    expect(fromStateNumber(parseDomstats(fx('domstats-running.out')).get('kvmt-fx')!['state.state'])).to.equal('RUNNING');
    expect(fromStateNumber(parseDomstats(fx('domstats-paused.out')).get('kvmt-fx')!['state.state'])).to.equal('PAUSED');
    const inactive = [...parseDomstats(fx('domstats-inactive.out')).values()].map((f) => fromStateNumber(f['state.state']));
    expect(inactive).to.not.be.empty;
    expect(new Set(inactive)).to.deep.equal(new Set(['STOPPED']));
  });

  it('the end of a start reads STARTING, not PAUSED: libvirt\'s "paused (starting up)", captured during a real start_vm', () => {
    // virsh domstate --reason and domstats --state read in a loop on a lab node while a guest started.
    const byName = parseDomstateReason(fx('domstate-starting-up.out'));
    expect(byName).to.deep.equal({ state: 'paused', reason: 'starting up' });
    expect(fromDomstate(byName.state, byName.reason)).to.equal('STARTING');
    const f = parseDomstats(fx('domstats-starting-up.out')).get('kf-start')!;
    expect([f['state.state'], f['state.reason']]).to.deep.equal(['3', '11']);
    expect(pausedReasonOfNumber(f['state.state'], f['state.reason'])).to.equal('starting up');
    expect(fromStateNumber(f['state.state'], f['state.reason'])).to.equal('STARTING');
    // A pause asked for by a user stays PAUSED, by either reading.
    const user = parseDomstateReason(fx('domstate-paused.out'));
    expect(fromDomstate(user.state, user.reason)).to.equal('PAUSED');
    const p = parseDomstats(fx('domstats-paused.out')).get('kvmt-fx')!;
    expect(fromStateNumber(p['state.state'], p['state.reason'])).to.equal('PAUSED');
  });

  it('maps each pause reason: the steps of libvirt\'s own transitions to them, every other to PAUSED', () => {
    const table: [string, string, string][] = [
      ['0', 'unknown', 'PAUSED'],
      ['1', 'user', 'PAUSED'],
      ['2', 'migrating', 'PAUSED'],
      ['3', 'saving', 'STOPPING'],
      ['4', 'dumping', 'PAUSED'],
      ['5', 'I/O error', 'PAUSED'],
      ['6', 'watchdog', 'PAUSED'],
      ['7', 'from snapshot', 'PAUSED'],
      ['8', 'shutting down', 'STOPPING'],
      ['9', 'creating snapshot', 'PAUSED'],
      ['10', 'crashed', 'PAUSED'],
      ['11', 'starting up', 'STARTING'],
      ['12', 'post-copy', 'PAUSED'],
      ['13', 'post-copy failed', 'PAUSED'],
      ['14', 'api error', 'PAUSED'],
    ];
    for (const [n, words, model] of table) {
      expect(pausedReasonOfNumber('3', n), n).to.equal(words);
      expect(fromStateNumber('3', n), n).to.equal(model);
      expect(fromDomstate('paused', words), words).to.equal(model);
    }
    // A reason libvirt adds later, or none, is a plain pause; reasons of other states change nothing.
    expect(fromStateNumber('3', '99')).to.equal('PAUSED');
    expect(fromDomstate('paused', 'something new')).to.equal('PAUSED');
    expect(fromStateNumber('3', undefined)).to.equal('PAUSED');
    expect(fromStateNumber('1', '11')).to.equal('RUNNING');
    expect(fromDomstate('running', 'starting up')).to.equal('RUNNING');
    expect(fromDomstate('shut off', 'saved')).to.equal('STOPPED');
  });

  it('parseDomstateReason: the reason is the last parenthesised part; none without --reason', () => {
    expect(parseDomstateReason('shut off (destroyed)\n\n')).to.deep.equal({ state: 'shut off', reason: 'destroyed' });
    expect(parseDomstateReason('paused (I/O error)\n')).to.deep.equal({ state: 'paused', reason: 'I/O error' });
    expect(parseDomstateReason('in shutdown (user)\n')).to.deep.equal({ state: 'in shutdown', reason: 'user' });
    expect(parseDomstateReason('running\n\n')).to.deep.equal({ state: 'running' });
  });

  it('a running power task names the transition, whatever libvirt shows meanwhile', () => {
    expect(reported('STOPPED', 'kvm.start_vm')).to.equal('STARTING');
    expect(reported('RUNNING', 'kvm.start_vm')).to.equal('STARTING');
    expect(reported('RUNNING', 'kvm.pause_vm')).to.equal('PAUSING');
    expect(reported('PAUSED', 'kvm.resume_vm')).to.equal('RESUMING');
    expect(reported('RUNNING', 'kvm.shutdown_vm')).to.equal('STOPPING');
    expect(reported('PAUSED', 'kvm.stop_vm')).to.equal('STOPPING');
    expect(reported('PAUSED', undefined)).to.equal('PAUSED');
    expect(transitionOf('kvm.clone_vm')).to.equal(undefined);
    expect(Object.keys(POWER_TASKS).sort()).to.deep.equal(['kvm.pause_vm', 'kvm.resume_vm', 'kvm.shutdown_vm', 'kvm.start_vm', 'kvm.stop_vm']);
  });

  it('plan: the current state is no step at all', () => {
    expect(plan('running', 'RUNNING', false)).to.deep.equal({ steps: [] });
    expect(plan('idle', 'RUNNING', true)).to.deep.equal({ steps: [] });
    expect(plan('paused', 'PAUSED', false)).to.deep.equal({ steps: [] });
    expect(plan('pmsuspended', 'PAUSED', false)).to.deep.equal({ steps: [] });
    expect(plan('shut off', 'STOPPED', false)).to.deep.equal({ steps: [] });
    expect(plan('shut off', 'STOPPED', true)).to.deep.equal({ steps: [] });
    expect(plan('crashed', 'STOPPED', true)).to.deep.equal({ steps: [] });
  });

  it('plan: one step for each move, force only changes a stop', () => {
    expect(plan('shut off', 'RUNNING', false)).to.deep.equal({ steps: [{ task: 'kvm.start_vm', paused: false }] });
    expect(plan('shut off', 'PAUSED', false)).to.deep.equal({ steps: [{ task: 'kvm.start_vm', paused: true }] });
    expect(plan('running', 'PAUSED', true)).to.deep.equal({ steps: [{ task: 'kvm.pause_vm' }] });
    expect(plan('paused', 'RUNNING', false)).to.deep.equal({ steps: [{ task: 'kvm.resume_vm' }] });
    expect(plan('running', 'STOPPED', false)).to.deep.equal({ steps: [{ task: 'kvm.shutdown_vm' }] });
    expect(plan('running', 'STOPPED', true)).to.deep.equal({ steps: [{ task: 'kvm.stop_vm' }] });
    // Paused: a graceful stop goes through the ACPI shutdown (which resumes first); force powers off.
    expect(plan('paused', 'STOPPED', false)).to.deep.equal({ steps: [{ task: 'kvm.shutdown_vm' }] });
    expect(plan('paused', 'STOPPED', true)).to.deep.equal({ steps: [{ task: 'kvm.stop_vm' }] });
    expect(plan('in shutdown', 'STOPPED', false)).to.deep.equal({ steps: [{ task: 'kvm.shutdown_vm' }] });
    expect(plan('in shutdown', 'STOPPED', true)).to.deep.equal({ steps: [{ task: 'kvm.stop_vm' }] });
    expect(plan('pmsuspended', 'STOPPED', true)).to.deep.equal({ steps: [{ task: 'kvm.stop_vm' }] });
  });

  it('plan: refuses what libvirt cannot do, saying why', () => {
    expect(plan('pmsuspended', 'RUNNING', false)).to.have.property('refuse').that.matches(/power management/);
    expect(plan('pmsuspended', 'STOPPED', false)).to.have.property('refuse').that.matches(/with force/);
    expect(plan('in shutdown', 'RUNNING', true)).to.have.property('refuse').that.matches(/shutting down/);
    expect(plan('in shutdown', 'PAUSED', false)).to.have.property('refuse').that.matches(/shutting down/);
    expect(plan('dancing', 'RUNNING', false)).to.have.property('refuse').that.matches(/unknown state "dancing"/);
  });

  it('plan: a pause that is a step of libvirt\'s own transition is left to libvirt, except a forced stop', () => {
    for (const target of ['RUNNING', 'PAUSED', 'STOPPED'] as const) {
      expect(plan('paused', target, false, 'starting up'), target).to.have.property('refuse').that.matches(/paused \(starting up\) on its way to RUNNING; ask again in a moment/);
      expect(plan('paused', target, false, 'saving'), target).to.have.property('refuse').that.matches(/paused \(saving\) on its way to STOPPED/);
    }
    expect(plan('paused', 'STOPPED', false, 'shutting down')).to.have.property('refuse').that.matches(/or stop it with force/);
    for (const reason of ['starting up', 'shutting down', 'saving']) expect(plan('paused', 'STOPPED', true, reason), reason).to.deep.equal({ steps: [{ task: 'kvm.stop_vm' }] });
    // Other pauses are PAUSED as before.
    expect(plan('paused', 'RUNNING', false, 'user')).to.deep.equal({ steps: [{ task: 'kvm.resume_vm' }] });
    expect(plan('paused', 'PAUSED', false, 'creating snapshot')).to.deep.equal({ steps: [] });
  });
});
