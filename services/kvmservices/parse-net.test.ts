import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseAddrSubnets, parseDomifaddr, parseNameList, parseNeighbours, parseProcessStart, parseRouteSubnets, virshMessage } from './parse.ts';

/** Captured on a lab node: see fixtures/README.md. */
const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('kvmservices readers: guest addresses, node routes, process start', () => {
  it('domifaddr rows, with and without the header', () => {
    const want = [{ dev: 'vnet11', mac: '52:54:00:9b:23:71', family: 'ipv4', address: '192.168.213.136', prefix: 24 }];
    expect(parseDomifaddr(fx('domifaddr-lease-full.out'))).to.deep.equal(want);
    expect(parseDomifaddr(fx('domifaddr-lease-q.out'))).to.deep.equal([{ dev: 'vnet15', mac: '52:54:00:0b:53:47', family: 'ipv4', address: '192.168.213.139', prefix: 24 }]);
    expect(parseDomifaddr('')).to.deep.equal([]);
    expect(parseDomifaddr(' vnet0 52:54:00:00:00:01 ipv6 fe80::5054:ff:fe00:1/64\n')).to.deep.equal([{ dev: 'vnet0', mac: '52:54:00:00:00:01', family: 'ipv6', address: 'fe80::5054:ff:fe00:1', prefix: 64 }]);
  });

  it('why an address source did not answer, as libvirt says it', () => {
    expect(virshMessage(fx('domifaddr-arp.err'))).to.equal('internal error: wrong nlmsg len');
    expect(virshMessage(fx('domifaddr-agent.err'))).to.equal('argument unsupported: QEMU guest agent is not configured');
  });

  it('the neighbour table: complete entries only', () => {
    expect(parseNeighbours(fx('ip-neigh.json'))).to.deep.equal([{ address: '10.213.7.1', dev: 'eth0', mac: '32:bf:62:25:c8:1d', state: ['REACHABLE'] }]);
    expect(parseNeighbours(fx('ip-neigh-guest.json'))[0]).to.deep.equal({ address: '192.168.213.139', dev: 'kn-probe0', mac: '52:54:00:0b:53:47', state: ['REACHABLE'] });
    expect(parseNeighbours('[{"dst":"10.0.0.9","dev":"br0","state":["FAILED"]},{"dst":"10.0.0.8","dev":"br0","lladdr":"52:54:00:AA:00:01","state":["INCOMPLETE"]}]')).to.deep.equal([]);
    expect(parseNeighbours('')).to.deep.equal([]);
  });

  it('subnets the node already has: routes and interface addresses', () => {
    expect(parseRouteSubnets(fx('ip-route-4.json'))).to.deep.equal([
      { subnet: '10.213.7.0/24', dev: 'eth0' },
      { subnet: '10.213.101.0/24', dev: 'lxcbr0' },
      { subnet: '10.213.201.0/24', dev: 'lxcbr0' },
    ]);
    expect(parseAddrSubnets(fx('ip-addr-4.json'))).to.deep.equal([
      { subnet: '127.0.0.1/8', dev: 'lo' },
      { subnet: '10.213.7.11/24', dev: 'eth0' },
      { subnet: '10.213.101.1/24', dev: 'lxcbr0' },
    ]);
  });

  it('a QEMU process start time from /proc (ps said 09:36:39 UTC)', () => {
    const s = parseProcessStart(fx('proc-stat.out'), fx('proc-pid-stat-qemu.out'));
    expect(s.comm).to.equal('qemu-system-x86');
    expect(new Date(s.startedAt * 1000).toISOString()).to.equal('2026-11-29T09:36:39.460Z');
    // A command name with spaces and parentheses does not shift the fields.
    const odd = fx('proc-pid-stat-qemu.out').replace('(qemu-system-x86)', '(a) b (c)');
    expect(parseProcessStart(fx('proc-stat.out'), odd)).to.deep.equal({ startedAt: s.startedAt, comm: 'a) b (c' });
    expect(() => parseProcessStart('cpu 1 2 3\n', fx('proc-pid-stat-qemu.out'))).to.throw(/unreadable/);
  });

  it('guest names', () => {
    expect(parseNameList('kn-a\nkvmt-b\n\n')).to.deep.equal(['kn-a', 'kvmt-b']);
  });
});
