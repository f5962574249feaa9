import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseDomstats } from './parse.ts';
import { domstateOfNumber, fromDomstate, fromStateNumber, plan, POWER_TASKS, reported, transitionOf } from './states.ts';

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
});
