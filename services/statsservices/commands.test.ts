import { expect } from 'chai';
import {
  addrCommand,
  dfCommand,
  isStatName,
  linkSpeedCommand,
  procSnapshotCommand,
  routeCommand,
  secondSampleCommand,
  statNames,
  type StatName,
} from './commands.ts';

const HEAD = ['head', '-v', '-c', '1000000', '--'];

describe('statsservices commands', () => {
  it('knows exactly the OMS stats names and nothing that merely looks like one', () => {
    expect(statNames).to.deep.equal(['cpu_load', 'memory', 'df', 'uptime', 'kernel', 'network', 'bandwidth', 'swap', 'iowait', 'osrelease']);
    for (const bad of ['memory; id', 'mеmory', 'Memory', 'cpu', '', 'memory\n', '__proto__']) expect(isStatName(bad), JSON.stringify(bad)).to.equal(false);
  });

  it('reads every file all stats need in one head, each once, in a fixed order', () => {
    expect(procSnapshotCommand(statNames)).to.deep.equal([
      ...HEAD,
      '/proc/stat',
      '/proc/meminfo',
      '/proc/cpuinfo',
      '/proc/uptime',
      '/proc/swaps',
      '/proc/net/dev',
      '/proc/sys/kernel/osrelease',
      '/etc/os-release',
      '/usr/lib/os-release',
    ]);
    expect(procSnapshotCommand(['osrelease', 'kernel', 'iowait', 'cpu_load'])).to.deep.equal([
      ...HEAD,
      '/proc/stat',
      '/proc/cpuinfo',
      '/proc/sys/kernel/osrelease',
      '/etc/os-release',
      '/usr/lib/os-release',
    ]);
    expect(procSnapshotCommand(['kernel'])).to.deep.equal([...HEAD, '/proc/sys/kernel/osrelease']);
  });

  it('runs no head when no requested stat reads a file', () => {
    expect(procSnapshotCommand(['df', 'network'])).to.equal(undefined);
    expect(procSnapshotCommand([])).to.equal(undefined);
  });

  it('samples only the changing counters the second time, with the link speed alongside', () => {
    expect(secondSampleCommand(['cpu_load', 'memory'])).to.deep.equal([...HEAD, '/proc/stat']);
    expect(secondSampleCommand(['iowait', 'bandwidth'], 'vmbr0')).to.deep.equal([...HEAD, '/proc/stat', '/proc/net/dev', '/sys/class/net/vmbr0/speed']);
    expect(secondSampleCommand(['bandwidth'], 'eth0')).to.deep.equal([...HEAD, '/proc/net/dev', '/sys/class/net/eth0/speed']);
    // Without an interface there is no rate to measure.
    expect(secondSampleCommand(['bandwidth'])).to.equal(undefined);
    expect(secondSampleCommand(['memory', 'df', 'uptime', 'kernel', 'network', 'swap', 'osrelease'] as StatName[], 'eth0')).to.equal(undefined);
  });

  it('builds df and iproute2 commands as fixed argv', () => {
    expect(dfCommand()).to.deep.equal(['df', '-P', '-k', '-T', '-l']);
    expect(routeCommand()).to.deep.equal(['ip', '-j', 'route', 'show', 'default']);
    expect(addrCommand()).to.deep.equal(['ip', '-j', 'addr', 'show']);
  });

  it('reads a link speed only for a plain interface name', () => {
    expect(linkSpeedCommand('vmbr0')).to.deep.equal(['cat', '--', '/sys/class/net/vmbr0/speed']);
    expect(linkSpeedCommand('enp3s0f1.100')).to.deep.equal(['cat', '--', '/sys/class/net/enp3s0f1.100/speed']);
    expect(linkSpeedCommand('a23456789012345')[2]).to.equal('/sys/class/net/a23456789012345/speed');
    for (const bad of ['', '.', '..', '../../etc', 'a/b', '-eth0', 'eth0;id', 'eth 0', '$(id)', 'eth0\n', 'a234567890123456', 'eth0:1']) {
      expect(() => linkSpeedCommand(bad), JSON.stringify(bad)).to.throw(/not an interface name/);
      expect(() => secondSampleCommand(['bandwidth'], bad), JSON.stringify(bad)).to.throw(/not an interface name/);
    }
  });
});
