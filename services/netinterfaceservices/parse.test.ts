import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseAddrs, parseLinks, parseRoutes, parseSshPath, toOmsRoute } from './parse.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('netinterfaceservices/parse', () => {
  it('reads the lab node route table into the OMS shape', () => {
    expect(parseRoutes(fixture('route-omsnode1.json')).map(toOmsRoute)).to.deep.equal([
      { destination: 'default', netmask: '0.0.0.0', router: '10.213.7.1', flags: 'UG', metrics: '0', count: '0', use: '0', interface: 'eth0' },
      { destination: '10.213.7.0', netmask: '255.255.255.0', router: '*', flags: 'U', metrics: '0', count: '0', use: '0', interface: 'eth0' },
      { destination: '10.213.101.0', netmask: '255.255.255.0', router: '*', flags: 'U', metrics: '0', count: '0', use: '0', interface: 'lxcbr0' },
      { destination: '10.213.201.0', netmask: '255.255.255.0', router: '10.213.101.254', flags: 'UG', metrics: '50', count: '0', use: '0', interface: 'lxcbr0' },
    ]);
  });

  it('agrees with `route -n` captured at the same moment (host and reject routes included)', () => {
    const rows = parseRoutes(fixture('route-extra.json')).map(toOmsRoute);
    const golden = fixture('route-n-extra.txt')
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.trim().split(/\s+/));
    expect(rows).to.have.length(golden.length);
    rows.forEach((r, i) => {
      const [dst, gw, mask, flags, metric, , , iface] = golden[i];
      expect(r.destination === 'default' ? '0.0.0.0' : r.destination).to.equal(dst);
      expect(r.router === '*' ? '0.0.0.0' : r.router).to.equal(gw);
      expect([r.netmask, r.flags, r.metrics, r.interface]).to.deep.equal([mask, flags, metric, iface]);
    });
  });

  it('keeps what the service compares: protocol, metric, reject type', () => {
    const routes = parseRoutes(fixture('route-extra.json'));
    expect(routes.find((r) => r.destination === '10.213.250.0')).to.deep.equal({ destination: '10.213.250.0', prefix: 24, gateway: undefined, dev: 'hbrcap', protocol: 'kernel', metric: 0, type: undefined });
    expect(routes.find((r) => r.destination === '10.213.252.5')).to.include({ prefix: 32, metric: 7, protocol: 'static' });
    expect(routes.find((r) => r.destination === '10.213.253.0')).to.include({ type: 'unreachable', dev: undefined });
  });

  it('finds bridges and their members', () => {
    const base = parseLinks(fixture('link-omsnode1.json'));
    expect([...base.bridges]).to.deep.equal([['lxcbr0', ['labp1a']]]);
    expect(base.names).to.include.members(['lo', 'eth0', 'lxcbr0', 'labp1a', 'labp1b']);
    const extra = parseLinks(fixture('link-extra.json'));
    expect([...extra.bridges]).to.deep.equal([
      ['lxcbr0', ['labp1a']],
      ['hbrcap', ['hbrcapa']],
    ]);
    expect(extra.masters.get('hbrcapa')).to.equal('hbrcap');
    expect(extra.masters.has('hbrcapb')).to.equal(false);
  });

  it('reads IPv4 addresses of an interface', () => {
    expect([...parseAddrs(fixture('addr-lxcbr0.json'))]).to.deep.equal([['lxcbr0', [{ address: '10.213.101.1', prefix: 24 }]]]);
    expect(parseAddrs(fixture('addr-hbrcap.json')).get('hbrcap')).to.deep.equal([{ address: '10.213.250.1', prefix: 24 }]);
  });

  it('reads the SSH path: peer line, then ip route get', () => {
    expect(parseSshPath(`10.213.7.1\n${fixture('route-get-omsnode1.json')}`)).to.deep.equal({ peer: '10.213.7.1', dev: 'eth0', gateway: undefined });
    expect(() => parseSshPath('\n[]')).to.throw();
    expect(() => parseSshPath('10.213.7.1\nnot json')).to.throw(/unreadable/);
  });
});
