import { expect } from 'chai';
import { bindArgs, resolveMethod, usageOf } from './call-args.ts';
import { CliError, EXIT } from './exit-codes.ts';
import { methods } from './methods.generated.ts';

const usageError = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(CliError);
    expect((e as CliError).exitCode).to.equal(EXIT.usage);
    return (e as Error).message;
  }
  return expect.fail('no usage error');
};

describe('oms call arguments (remote/call-args.ts)', () => {
  it('finds methods by service name or alias', () => {
    expect(resolveMethod('kvm.list_vms').name).to.equal('kvmservices.list_vms');
    expect(resolveMethod('kvmservices.list_vms').name).to.equal('kvmservices.list_vms');
    expect(usageError(() => resolveMethod('kvm.frob'))).to.match(/unknown method kvm.frob/);
    expect(usageError(() => resolveMethod('nodots'))).to.match(/service\.method/);
  });

  it('takes JSON where it parses and a string otherwise, by the declared schema', () => {
    expect(bindArgs('kvmservices.create_vm', ['n1', 'v1', '{"memory_mib":512}']).params).to.deep.equal({ server_hostname: 'n1', kvm_vm_name: 'v1', spec: { memory_mib: 512 } });
    // A name that parses as a number is still a name where the schema wants a string.
    expect(bindArgs('kvmservices.start_vm', ['n1', '123']).params).to.deep.equal({ server_hostname: 'n1', kvm_vm_name: '123' });
    expect(bindArgs('tasks.list_tasks', ['n1', 'running', '5']).params).to.deep.equal({ server_hostname: 'n1', state: 'running', limit: 5 });
    // A rest param takes the remaining arguments.
    expect(bindArgs('kvm.list_vms', ['n1', 'df', 'network']).params).to.deep.equal({ server_hostname: 'n1', stats: ['df', 'network'] });
  });

  it('wrong counts and types are usage errors listing the params, before any call', () => {
    const few = usageError(() => bindArgs('kvmservices.start_vm', ['n1']));
    expect(few).to.match(/takes 2 argument\(s\); got 1/).and.include('usage: oms call kvmservices.start_vm <server_hostname> <kvm_vm_name>');
    expect(usageError(() => bindArgs('kvmservices.start_vm', ['n1', 'v', 'x']))).to.match(/at most 2/);
    const typ = usageError(() => bindArgs('tasks.list_tasks', ['n1', 'sleeping']));
    expect(typ).to.match(/wrong argument type: state/).and.include('"running"|"succeeded"|"failed"|"cancelled"');
    expect(usageError(() => bindArgs('tasks.list_tasks', ['n1', 'running', 'many']))).to.match(/limit/);
    expect(usageError(() => bindArgs('kvmservices.start_vm', ['../etc', 'v']))).to.match(/server_hostname/);
  });

  it('usage shows required <p>, optional [p] and rest [p...] with types', () => {
    const u = usageOf('tasks.list_tasks', methods['tasks.list_tasks']!);
    expect(u).to.match(/usage: oms call tasks.list_tasks \[server_hostname\] \[state\] \[limit\]/).and.match(/limit +integer \(optional\)/);
    expect(usageOf('kvmservices.list_vms', methods['kvmservices.list_vms']!)).to.include('[stats...]');
  });
});
