import { expect } from 'chai';
import { vmFilter, type VmRow } from './commands.ts';
import { CliError } from './exit-codes.ts';

describe('oms vm ls --filter (remote/commands.ts vmFilter)', () => {
  const vm = (name: string, state: string, tags: string[], vm_state: string | null = null, node = 'n1'): VmRow => ({ node, name, state, vm_state, vcpus: 1, memory_mib: 64, tags });
  const rows = [vm('web1', 'running', ['web']), vm('web2', 'shutdown', ['web']), vm('db1', 'running', ['db']), vm('web3', 'running', ['web'], 'STOPPING', 'n2')];
  const names = (expr: string) => rows.filter(vmFilter(expr)).map((v) => v.name);

  it('every key:value term must hold; values are case-insensitive globs', () => {
    expect(names('state:running tag:web')).to.deep.equal(['web1', 'web3']);
    expect(names('')).to.have.length(4);
    expect(names('name:web*')).to.deep.equal(['web1', 'web2', 'web3']);
    expect(names('name:db? state:RUNNING')).to.deep.equal(['db1']);
    expect(names('node:n2')).to.deep.equal(['web3']);
    // The state model's transition names match too.
    expect(names('state:stopping')).to.deep.equal(['web3']);
    expect(names('tag:nope')).to.deep.equal([]);
  });

  it('an unknown key or a term without a colon is a usage error', () => {
    expect(() => vmFilter('colour:red')).to.throw(CliError, /unknown key "colour"/);
    expect(() => vmFilter('running')).to.throw(CliError, /key:value/);
  });
});
