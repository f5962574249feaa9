import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseAddrs, parseInterfaces, parseLinks, parseRoutes, parseRoutes6, parseSshPath, toListedRoute, toOmsRoute } from './parse.ts';

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
    expect(parseSshPath(`fd13:7:1::9\n${fixture('route-get-omsnode1.json')}`)).to.include({ peer: 'fd13:7:1::9' });
    expect(parseSshPath(`fe80::1%eth0\n${fixture('route-get-omsnode1.json')}`)).to.include({ peer: 'fe80::1%eth0' });
    // The guard parses the peer as an address: a peer that is none is no path it can judge.
    expect(() => parseSshPath(`10.213.7\n${fixture('route-get-omsnode1.json')}`)).to.throw(/could not tell/);
  });

  // Captured on omsnode1 with a bridge ipa6cap (port ipa6va of the veth pair ipa6va/ipa6vb)
  // carrying 10.213.240.1/24, fd13:7:1::1/64 and fd13:7:2::1/64 (nodad), static, multipath,
  // unreachable, host and default IPv6 routes; `ip -6 route` / `ip addr` text beside them.
  describe('IPv6 (captured)', () => {
    const routes6 = parseRoutes6(fixture('route6-ipa6cap.json'));

    it('reads every IPv6 route of the main table, as `ip -6 route` lists them', () => {
      const text = fixture('route6-ipa6cap.txt').split('\n').filter((l) => l !== '' && !l.startsWith('\t'));
      expect(routes6).to.have.length(text.length);
      expect(routes6.map((r) => `${r.destination}/${r.prefix}`)).to.deep.equal(
        text.map((l) => {
          const dst = l.replace(/^unreachable /, '').split(' ')[0];
          return dst === 'default' ? '::/0' : dst.includes('/') ? dst : `${dst}/128`;
        }),
      );
    });

    it('keeps gateway, device, protocol, metric, reject type and every hop of a multipath route', () => {
      const at = (dst: string) => routes6.find((r) => `${r.destination}/${r.prefix}` === dst)!;
      expect(at('fd13:7:100::/48')).to.deep.equal({ destination: 'fd13:7:100::', prefix: 48, gateway: 'fd13:7:1::fe', dev: 'ipa6cap', protocol: 'static', metric: 1024, type: undefined });
      expect(at('fd13:7:200::/48')).to.include({ gateway: 'fd13:7:1::fd', protocol: undefined, metric: 50 });
      expect(at('fd13:7:300::/48')).to.include({ type: 'unreachable', dev: 'lo', gateway: undefined });
      expect(at('fd13:7:400::/48').nexthops).to.deep.equal([
        { gateway: 'fd13:7:1::fd', dev: 'ipa6cap' },
        { gateway: 'fd13:7:1::fe', dev: 'ipa6cap' },
      ]);
      expect(at('fd13:7:400::/48')).to.include({ gateway: 'fd13:7:1::fd', dev: 'ipa6cap' });
      expect(at('fd13:7:500::5/128')).to.include({ protocol: 'static', gateway: undefined });
      expect(at('::/0')).to.include({ gateway: 'fd13:7:1::fe', dev: 'ipa6cap', protocol: 'static', metric: 2048 });
      expect(routes6.filter((r) => r.destination === 'fe80::' && r.prefix === 64).map((r) => r.dev)).to.deep.equal(['eth0', 'labp1b', 'labp1a', 'lxcbr0', 'ipa6vb', 'ipa6va', 'ipa6cap']);
    });

    it('the two families never mix: IPv6 output gives no IPv4 routes and the other way round', () => {
      expect(parseRoutes(fixture('route6-ipa6cap.json'))).to.deep.equal([]);
      expect(parseRoutes6(fixture('route-extra.json'))).to.deep.equal([]);
    });

    it('list_routes rows: null for what a route has not, nexthops only on multipath routes', () => {
      const rows = routes6.map((r) => toListedRoute(r, 'inet6'));
      expect(rows.find((r) => r.destination === '::')).to.deep.equal({ family: 'inet6', destination: '::', prefix: 0, gateway: 'fd13:7:1::fe', interface: 'ipa6cap', metric: 2048, protocol: 'static', type: 'unicast' });
      expect(rows.find((r) => r.destination === 'fd13:7:300::')).to.include({ type: 'unreachable', gateway: null, protocol: null });
      expect(rows.find((r) => r.destination === 'fd13:7:400::')!.nexthops).to.deep.equal([
        { gateway: 'fd13:7:1::fd', interface: 'ipa6cap' },
        { gateway: 'fd13:7:1::fe', interface: 'ipa6cap' },
      ]);
      expect(rows.filter((r) => 'nexthops' in r)).to.have.length(1);
      expect(toListedRoute(parseRoutes(fixture('route-omsnode1.json'))[0], 'inet')).to.deep.equal({ family: 'inet', destination: '0.0.0.0', prefix: 0, gateway: '10.213.7.1', interface: 'eth0', metric: 0, protocol: null, type: 'unicast' });
    });

    it('reads interfaces with kind, bridge, state and addresses of both families, as `ip addr` shows them', () => {
      const ifs = parseInterfaces(fixture('addr-ipa6cap.json'));
      expect(ifs.map((i) => i.interface)).to.deep.equal(['lo', 'eth0', 'lxcbr0', 'labp1b', 'labp1a', 'ipa6cap', 'ipa6vb', 'ipa6va']);
      const br = ifs.find((i) => i.interface === 'ipa6cap')!;
      expect(br).to.deep.include({ kind: 'bridge', master: null, state: 'UP', mac: '4e:7f:22:ac:1b:7c', mtu: 1500 });
      expect(br.addresses).to.deep.equal([
        { family: 'inet', address: '10.213.240.1', prefix: 24, scope: 'global', flags: [] },
        { family: 'inet6', address: 'fd13:7:2::1', prefix: 64, scope: 'global', flags: ['nodad'] },
        { family: 'inet6', address: 'fd13:7:1::1', prefix: 64, scope: 'global', flags: [] },
        { family: 'inet6', address: 'fe80::4c7f:22ff:feac:1b7c', prefix: 64, scope: 'link', flags: [] },
      ]);
      expect(ifs.find((i) => i.interface === 'ipa6va')).to.deep.include({ kind: 'veth', master: 'ipa6cap' });
      expect(ifs.find((i) => i.interface === 'lo')).to.deep.include({
        kind: 'loopback',
        addresses: [
          { family: 'inet', address: '127.0.0.1', prefix: 8, scope: 'host', flags: [] },
          { family: 'inet6', address: '::1', prefix: 128, scope: 'host', flags: [] },
        ],
      });
      // Every address `ip addr` prints (text form) is in the listing, and nothing else.
      const text = [...fixture('addr-ipa6cap.txt').matchAll(/^\s+inet6? (\S+)/gm)].map((m) => m[1]).sort();
      expect(ifs.flatMap((i) => i.addresses.map((a) => `${a.address}/${a.prefix}`)).sort()).to.deep.equal(text);
    });

    it('the bridges and their ports read from the same output', () => {
      expect([...parseLinks(fixture('addr-ipa6cap.json')).bridges]).to.deep.equal([
        ['lxcbr0', ['labp1a']],
        ['ipa6cap', ['ipa6va']],
      ]);
      // persist.ts still sees only the IPv4 addresses.
      expect(parseAddrs(fixture('addr-ipa6cap.json')).get('ipa6cap')).to.deep.equal([{ address: '10.213.240.1', prefix: 24 }]);
    });
  });
});
