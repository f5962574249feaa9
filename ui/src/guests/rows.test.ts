import { expect } from 'chai';
import { compareRows, containerRows, kvmRows, parseSort, sameRow, sortParam, stateWord } from './rows.ts';

describe('guest list rows', () => {
  it('KVM rows from list_vms_status and list_vms: state, vCPUs, memory, tags', () => {
    const status = [
      {
        web1: { nrVirtCpu: 2, state: 'running', maxMem: '1048576', memory: '1048576', cpuTime: '1', vm_state: 'RUNNING' },
        web2: { nrVirtCpu: 1, state: 'shutdown', maxMem: '65536', memory: '65536', cpuTime: '0', vm_state: 'STOPPED' },
        web3: { nrVirtCpu: 1, state: 'running', maxMem: '65536', vm_state: 'STOPPING' },
      },
    ];
    const listed = [{ status: 1, tags: ['prod'], stats: {}, name: 'web1', id: 'web1' }];
    const rows = kvmRows('n1', status, listed);
    expect(rows.map((r) => [r.key, r.state, r.vcpus, r.memKiB, r.tags])).to.deep.equal([
      ['n1/kvm/web1', 'running', 2, 1048576, ['prod']],
      ['n1/kvm/web2', 'stopped', 1, 65536, []],
      ['n1/kvm/web3', 'stopping', 1, 65536, []],
    ]);
  });

  it('container rows: name and IP from list_vms, tags as objects', () => {
    const status = { '101': { nrVirtCpu: 1, state: 'paused', maxMem: '262144', memory: '100' } };
    const listed = [{ status: 0, tags: [{ tag: 'db', level: 3 }], stats: {}, network: { ip: '10.1.1.5', name: 'eth0' }, name: 'ct-a', id: '101' }];
    const [r] = containerRows('n2', status, listed);
    expect(r).to.deep.include({ key: 'n2/container/101', name: 'ct-a', id: '101', type: 'container', state: 'paused', vcpus: 1, memKiB: 262144 });
    expect(r.ips).to.deep.equal(['10.1.1.5']);
    expect(r.tags).to.deep.equal(['db']);
  });

  it('one state vocabulary for list words, get_vm_state words and LXC words', () => {
    expect(['shutdown', 'STOPPED', 'shut off', 'RUNNING', 'PAUSED', 'FROZEN', 'STARTING', 'crashed'].map(stateWord)).to.deep.equal([
      'stopped',
      'stopped',
      'stopped',
      'running',
      'paused',
      'paused',
      'starting',
      'crashed',
    ]);
  });

  it('sameRow sees a changed state or tag', () => {
    const [a] = kvmRows('n', [{ g: { state: 'running', nrVirtCpu: 1 } }], []);
    expect(sameRow(a, { ...a })).to.equal(true);
    expect(sameRow(a, { ...a, state: 'stopped' })).to.equal(false);
    expect(sameRow(a, { ...a, tags: ['x'] })).to.equal(false);
  });

  it('sorts naturally by a column, numbers as numbers, ties by name', () => {
    const rows = kvmRows('n', [{ g10: { state: 'running', nrVirtCpu: 4 }, g2: { state: 'shutdown', nrVirtCpu: 1 }, g1: { state: 'running', nrVirtCpu: 1 } }], []);
    expect(rows.sort(compareRows({ by: 'name', dir: 'asc' })).map((r) => r.name)).to.deep.equal(['g1', 'g2', 'g10']);
    expect(rows.sort(compareRows({ by: 'vcpus', dir: 'desc' })).map((r) => r.name)).to.deep.equal(['g10', 'g1', 'g2']);
    expect(rows.sort(compareRows({ by: 'state', dir: 'asc' })).map((r) => r.name)).to.deep.equal(['g1', 'g10', 'g2']);
  });

  it('the sort travels in the address as sort=[-]column', () => {
    expect(parseSort('-memory')).to.deep.equal({ by: 'memory', dir: 'desc' });
    expect(parseSort('bogus')).to.deep.equal({ by: 'name', dir: 'asc' });
    expect(parseSort(null)).to.deep.equal({ by: 'name', dir: 'asc' });
    expect(sortParam({ by: 'name', dir: 'asc' })).to.equal(undefined);
    expect(sortParam({ by: 'state', dir: 'desc' })).to.equal('-state');
  });
});
