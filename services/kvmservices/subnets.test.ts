import { expect } from 'chai';
import { natAddressing, overlapping, prefixOf } from './subnets.ts';

describe('kvmservices NAT network addressing', () => {
  it('a gateway address with its subnet, netmask and a default DHCP range', () => {
    expect(natAddressing('192.168.213.1/24')).to.deep.equal({
      address: '192.168.213.1',
      prefix: 24,
      netmask: '255.255.255.0',
      subnet: '192.168.213.0/24',
      dhcp: { start: '192.168.213.2', end: '192.168.213.254' },
    });
    // A gateway at the top of the subnet: the range is below it.
    expect((natAddressing('10.99.0.254/24') as { dhcp: unknown }).dhcp).to.deep.equal({ start: '10.99.0.1', end: '10.99.0.253' });
    expect((natAddressing('172.16.5.9/16') as { subnet: string }).subnet).to.equal('172.16.0.0/16');
  });

  it('an explicit DHCP range inside the subnet', () => {
    expect((natAddressing('192.168.213.1/24', { start: '192.168.213.100', end: '192.168.213.150' }) as { dhcp: unknown }).dhcp).to.deep.equal({ start: '192.168.213.100', end: '192.168.213.150' });
  });

  it('refuses what is no gateway address or no range of it', () => {
    const refusals: [string, { start: string; end: string } | undefined, RegExp][] = [
      ['192.168.213.1', undefined, /not an IPv4 address with a prefix/],
      ['192.168.213.0/24', undefined, /network address/],
      ['192.168.213.255/24', undefined, /broadcast address/],
      ['192.168.213.1/31', undefined, /outside \/8..\/30/],
      ['10.0.0.1/7', undefined, /outside/],
      ['127.0.0.1/8', undefined, /loopback/],
      ['169.254.1.1/16', undefined, /link-local/],
      ['224.0.0.1/24', undefined, /multicast/],
      ['0.1.2.3/24', undefined, /0\.0\.0\.0\/8/],
      ['010.0.0.1/24', undefined, /not an IPv4 address/],
      ['10.1/24', undefined, /not an IPv4 address/],
      ['fd00::1/64', undefined, /not an IPv4 address/],
      ['192.168.213.1/24', { start: '192.168.214.10', end: '192.168.214.20' }, /not a host address of 192\.168\.213\.0\/24/],
      ['192.168.213.1/24', { start: '192.168.213.0', end: '192.168.213.20' }, /DHCP start 192\.168\.213\.0 is not a host address/],
      ['192.168.213.1/24', { start: '192.168.213.10', end: '192.168.213.255' }, /DHCP end/],
      ['192.168.213.1/24', { start: '192.168.213.50', end: '192.168.213.20' }, /after its end/],
      ['192.168.213.1/24', { start: '192.168.213.1', end: '192.168.213.20' }, /holds the gateway address/],
      ['192.168.213.1/24', { start: 'x', end: '192.168.213.20' }, /DHCP start x is not an IPv4 address/],
    ];
    for (const [cidr, dhcp, why] of refusals) expect(natAddressing(cidr, dhcp), `${cidr} ${JSON.stringify(dhcp)}`).to.be.a('string').and.match(why);
  });

  it('overlaps with routes, interface subnets and other networks', () => {
    const taken = [
      { subnet: '10.213.7.0/24', what: 'route via eth0' },
      { subnet: '10.213.201.0/24', what: 'route via lxcbr0' },
      { subnet: '10.213.7.1', what: 'host route' },
      { subnet: '192.168.122.0/24', what: 'libvirt network default' },
    ];
    expect(overlapping('192.168.213.0/24', taken)).to.equal(undefined);
    expect(overlapping('10.213.201.0/24', taken)?.what).to.equal('route via lxcbr0');
    expect(overlapping('10.213.201.128/25', taken)?.what).to.equal('route via lxcbr0');
    expect(overlapping('10.0.0.0/8', taken)?.what).to.equal('route via eth0');
    expect(overlapping('192.168.0.0/16', taken)?.what).to.equal('libvirt network default');
    expect(overlapping('10.213.7.0/30', [{ subnet: '10.213.7.1', what: 'host route' }])?.what).to.equal('host route');
    expect(overlapping('192.168.213.0/24', [{ subnet: 'garbage', what: 'x' }])).to.equal(undefined);
  });

  it('prefix of a dotted netmask', () => {
    expect(prefixOf('255.255.255.0')).to.equal(24);
    expect(prefixOf('255.255.0.255')).to.equal(undefined);
    expect(prefixOf('x')).to.equal(undefined);
  });
});
