import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { additionCutsPath, defaultRouteChangeCutsPath, interfaceCarriesPath, removalCutsPath, servingRoute } from './guard.ts';
import { parseLinks, parseRoutes, type Route, type SshPath } from './parse.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const routes = parseRoutes(fixture('route-extra.json'));
const links = parseLinks(fixture('link-extra.json'));
const lab: SshPath = { peer: '10.213.7.1', dev: 'eth0' };
const find = (rs: Route[], dst: string) => rs.find((r) => r.destination === dst)!;

describe('netinterfaceservices/guard', () => {
  it('the lab path is served by the connected /24, not the default route', () => {
    expect(servingRoute(routes, lab)).to.include({ destination: '10.213.7.0', prefix: 24 });
    expect(removalCutsPath(find(routes, '10.213.7.0'), routes, lab)).to.equal(true);
    expect(removalCutsPath(find(routes, '0.0.0.0'), routes, lab)).to.equal(false);
    expect(removalCutsPath(find(routes, '10.213.251.0'), routes, lab)).to.equal(false);
    expect(defaultRouteChangeCutsPath(routes, lab)).to.equal(false);
  });

  it('a gateway reached through the default route: that route is the path', () => {
    const far: SshPath = { peer: '192.0.2.10', dev: 'eth0', gateway: '10.213.7.1' };
    expect(servingRoute(routes, far)).to.include({ prefix: 0 });
    expect(defaultRouteChangeCutsPath(routes, far)).to.equal(true);
    expect(removalCutsPath(find(routes, '0.0.0.0'), routes, far)).to.equal(true);
    expect(removalCutsPath(find(routes, '10.213.7.0'), routes, far)).to.equal(false);
    expect(additionCutsPath('192.0.2.0', 24, routes, far)).to.equal(true);
  });

  it('new routes covering the peer at least as specifically take it over', () => {
    expect(additionCutsPath('10.213.7.1', 32, routes, lab)).to.equal(true);
    expect(additionCutsPath('10.213.7.0', 25, routes, lab)).to.equal(true);
    expect(additionCutsPath('10.213.0.0', 16, routes, lab)).to.equal(false);
    expect(additionCutsPath('10.213.252.0', 24, routes, lab)).to.equal(false);
  });

  it('when the kernel pick differs from `ip route get` (policy routing), any route to the peer on the SSH device counts', () => {
    const policy: SshPath = { peer: '10.213.7.1', dev: 'lxcbr0' };
    expect(servingRoute(routes, policy)).to.equal(undefined);
    expect(removalCutsPath(find(routes, '10.213.7.0'), routes, policy)).to.equal(false);
    expect(removalCutsPath({ destination: '10.213.0.0', prefix: 16, dev: 'lxcbr0', metric: 0 }, routes, policy)).to.equal(true);
    expect(defaultRouteChangeCutsPath(routes, policy)).to.equal(true);
    expect(additionCutsPath('10.213.0.0', 16, routes, policy)).to.equal(true);
  });

  it('interfaces carrying the path: the device, its bridge, the ports of its bridge', () => {
    expect(interfaceCarriesPath('eth0', links, lab)).to.equal(true);
    expect(interfaceCarriesPath('hbrcap', links, lab)).to.equal(false);
    const viaBridge: SshPath = { peer: '10.213.250.9', dev: 'hbrcap' };
    expect(interfaceCarriesPath('hbrcap', links, viaBridge)).to.equal(true);
    expect(interfaceCarriesPath('hbrcapa', links, viaBridge)).to.equal(true);
    expect(interfaceCarriesPath('lxcbr0', links, viaBridge)).to.equal(false);
    expect(interfaceCarriesPath('hbrcap', links, { peer: '10.213.250.9', dev: 'hbrcapa' })).to.equal(true);
  });

  it('a gateway connected over IPv6: IPv4 routes are not on its path, interfaces are', () => {
    const v6: SshPath = { peer: 'fd00::1', dev: 'eth0' };
    expect(removalCutsPath(find(routes, '10.213.7.0'), routes, v6)).to.equal(false);
    expect(additionCutsPath('0.0.0.0', 1, routes, v6)).to.equal(false);
    expect(defaultRouteChangeCutsPath(routes, v6)).to.equal(false);
    expect(interfaceCarriesPath('eth0', links, v6)).to.equal(true);
  });
});
