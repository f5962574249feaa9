import { expect } from 'chai';
import { shellLine } from '../../src/nodes/command.ts';
import * as cmd from './commands.ts';

describe('netinterfaceservices/commands', () => {
  it('golden command lines', () => {
    expect(shellLine(cmd.addRoute({ destination: '10.213.252.0', prefix: 24, gateway: '10.213.250.254', dev: 'hbrt1' }))).to.equal('ip route add 10.213.252.0/24 via 10.213.250.254 dev hbrt1 proto static');
    expect(shellLine(cmd.addRoute({ destination: '10.213.252.0', prefix: 25, dev: 'hbrt1', metric: 50 }))).to.equal('ip route add 10.213.252.0/25 dev hbrt1 metric 50 proto static');
    expect(shellLine(cmd.replaceRoute({ destination: '10.213.252.0', prefix: 24, gateway: '10.213.250.1', dev: 'hbrt1', metric: 0 }))).to.equal('ip route replace 10.213.252.0/24 via 10.213.250.1 dev hbrt1 metric 0 proto static');
    expect(shellLine(cmd.deleteRoute({ destination: '10.213.252.0', prefix: 24, dev: 'hbrt1', metric: 7 }))).to.equal('ip route del 10.213.252.0/24 dev hbrt1 metric 7');
    expect(shellLine(cmd.replaceDefault('10.213.7.1', 'eth0'))).to.equal('ip route replace default via 10.213.7.1 dev eth0 proto static');
    expect(shellLine(cmd.addBridge('hbrt1'))).to.equal('ip link add name hbrt1 type bridge');
    expect(shellLine(cmd.addAddr('hbrt1', '10.213.250.1', 24))).to.equal('ip addr add 10.213.250.1/24 dev hbrt1');
    expect(shellLine(cmd.setMaster('hbrv1a', 'hbrt1'))).to.equal('ip link set dev hbrv1a master hbrt1');
    expect(shellLine(cmd.noMaster('hbrv1a'))).to.equal('ip link set dev hbrv1a nomaster');
    expect(shellLine(cmd.deleteBridge('hbrt1'))).to.equal('ip link del dev hbrt1 type bridge');
    expect(shellLine(cmd.flushAddrs('hbrt1'))).to.equal('ip -4 addr flush dev hbrt1');
    expect(shellLine(cmd.showRoutes())).to.equal('ip -4 -j route show table main');
    expect(shellLine(cmd.showRoutes6())).to.equal('ip -6 -j route show table main');
    expect(shellLine(cmd.showInterfaces())).to.equal('ip -j -d addr show');
  });

  it('the SSH path script is fixed text with no caller data', () => {
    const argv = cmd.sshPath();
    expect(argv.slice(0, 2)).to.deep.equal(['sh', '-c']);
    expect(argv).to.have.length(4);
  });
});
