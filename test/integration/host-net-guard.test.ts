/**
 * The SSH-path guard of netinterfaceservices on a lab node whose gateway path really rides a
 * bridge and the default route: each guarded method is refused with SshPathError, the node stays
 * reachable with its network unchanged (ip -j on the node), and the same call on an object off
 * the path succeeds (so the guard does not simply refuse everything). Also add_bridge/edit_bridge
 * with a gateway: the address and the default route land on the node, invalid ones are refused.
 *
 * To put the path on a bridge, omsnode3 is reshaped for the length of one describe: its lab-facing
 * eth0 becomes the port of a bridge hbrg0 (same MAC, so the lab host's neighbour entry stays
 * good), the node address moves to hbrg0 as a /32 and the node reaches the lab host through
 * `default via 10.213.7.1 dev hbrg0 onlink`, so the path is hbrg0 + the default route. Every step
 * runs inside the node's namespace through nsenter (not SSH), and after() puts eth0, its address
 * and its routes back from a snapshot taken first, whatever failed in between.
 * Objects: bridges hbrg0, hbrg8, hbrg9, veths hbrgxa/hbrgxb and hbrgya/hbrgyb, routes in
 * 10.213.232.0-10.213.235.255 and 10.213.7.0/28 (on hbrg0, only while reshaped).
 */
import { expect } from 'chai';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const PATH_BR = 'hbrg0';
const OFF_BR = 'hbrg9';
const GW_BR = 'hbrg8';
const [XA, XB, YA, YB] = ['hbrgxa', 'hbrgxb', 'hbrgya', 'hbrgyb'];

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric?: number;
  type?: string;
  flags?: string[];
}

const run = async (node: LabNode, argv: string[]) => {
  const r = await nodeExec(node, argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const ipj = async (node: LabNode, argv: string[]): Promise<any[]> => JSON.parse((await run(node, ['ip', '-j', ...argv])) || '[]');

/** The parts of the node's network these tests touch, as comparable data. */
async function snapshot(node: LabNode) {
  const mine = (name?: string) => name === 'eth0' || (name ?? '').startsWith('hbrg');
  const routes = (await ipj(node, ['-4', 'route', 'show', 'table', 'main'])) as IpRoute[];
  const links = (await ipj(node, ['-d', 'link', 'show'])) as { ifname: string; master?: string; flags: string[]; address: string }[];
  const addrs = (await ipj(node, ['-4', 'addr', 'show'])) as { ifname: string; addr_info: { local: string; prefixlen: number }[] }[];
  return {
    // Without flags: linkdown comes and goes with the carrier of port-less bridges on its own.
    routes: routes.filter((r) => mine(r.dev)).map(({ flags: _, ...r }) => JSON.stringify(r)).sort(),
    links: links.filter((l) => mine(l.ifname)).map((l) => `${l.ifname} master=${l.master ?? '-'} up=${l.flags.includes('UP')} mac=${l.address}`).sort(),
    addrs: addrs.filter((a) => mine(a.ifname)).flatMap((a) => a.addr_info.map((i) => `${a.ifname} ${i.local}/${i.prefixlen}`)).sort(),
  };
}

describe('netinterfaceservices: the SSH-path guard on a node whose path rides a bridge and the default route (lab)', function () {
  this.timeout(180_000);
  let e: Env;
  let node: LabNode;
  let S: (method: string, params: unknown[]) => Promise<any>;
  let ok: (method: string, params: unknown[]) => Promise<any>;
  let peer: string;
  let orig: { routes: IpRoute[]; address: string; prefix: number; mac: string } | undefined;

  /** Sweeps this file's objects and puts eth0 back as it was (address, routes); safe to run in any state. */
  const restore = async () => {
    for (const argv of [
      ['ip', 'link', 'set', 'dev', 'eth0', 'nomaster'],
      ['ip', 'link', 'set', 'dev', 'eth0', 'up'],
      ...(orig ? [['ip', 'addr', 'add', `${orig.address}/${orig.prefix}`, 'dev', 'eth0']] : []),
      ['ip', 'link', 'del', 'dev', PATH_BR],
      ['ip', 'link', 'del', 'dev', OFF_BR],
      ['ip', 'link', 'del', 'dev', GW_BR],
      ['ip', 'link', 'del', 'dev', XA],
      ['ip', 'link', 'del', 'dev', YA],
    ]) {
      await nodeExec(node, argv).catch(() => undefined); // absent or done already is fine: a sweep
    }
    if (!orig) return;
    // eth0's routes (default included) as they were: lost with its address, or changed by a test.
    for (const r of orig.routes.filter((x) => x.dev === 'eth0' && x.protocol !== 'kernel' && !x.type)) {
      const argv = ['ip', 'route', 'replace', r.dst, ...(r.gateway ? ['via', r.gateway] : []), 'dev', 'eth0', ...(r.metric ? ['metric', String(r.metric)] : []), ...(r.protocol ? ['proto', r.protocol] : [])];
      await nodeExec(node, argv);
    }
  };

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '20' });
    node = e.lab.nodes[2];
    await enroll(e, [node]);
    S = (m, params) => e.call('netinterfaceservices', m, [e.sid, 0, node.name, ...params]);
    ok = async (m, params) => (await e.ok('netinterfaceservices', m, [e.sid, 0, node.name, ...params])).result;
    const addr = (await ipj(node, ['-4', 'addr', 'show', 'dev', 'eth0']))[0].addr_info.find((a: any) => a.local === node.address);
    const mac = (await ipj(node, ['link', 'show', 'dev', 'eth0']))[0].address;
    orig = { routes: await ipj(node, ['-4', 'route', 'show', 'table', 'main']), address: addr.local, prefix: addr.prefixlen, mac };
    peer = (await ipj(node, ['route', 'show', 'default']))[0].gateway; // the lab host, 10.213.7.1
    await restore(); // leftovers of an earlier run
    for (const [a, b] of [[XA, XB], [YA, YB]]) await run(node, ['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
  });
  after(async () => {
    if (node) await restore();
    if (node && orig) {
      // Reachable over SSH again, as before: the gateway's own path is eth0's connected route.
      expect((await ipj(node, ['route', 'get', peer]))[0].dev).to.equal('eth0');
      expect((await ipj(node, ['-4', 'addr', 'show', 'dev', 'eth0']))[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).to.include(`${orig.address}/${orig.prefix}`);
    }
    await e?.stop();
  });

  const refused = async (method: string, params: unknown[]) => {
    const before = await snapshot(node);
    const r = await S(method, params);
    expect(r.error, `${method} ${JSON.stringify(params)}`).to.include({ code: 806 });
    expect(r.error.message).to.match(/^SshPathError: Refused: .* carries the gateway's SSH connection to node omsnode3; pass force = true/);
    expect(await snapshot(node), `${method}: the node's network changed`).to.deep.equal(before);
    // Still reachable through the gateway's own connection.
    expect((await S('list_bridges', [])).error).to.equal(null);
  };

  describe('plain lab shape: the path is eth0 and its connected /24, the default route is off it', () => {
    it('add_bridge with a gateway: the address, the bridge and the default route land on the node; invalid gateways are refused', async () => {
      expect(await ok('add_bridge', [GW_BR, '10.213.234.1', '255.255.255.0', '10.213.234.254'])).to.equal(0);
      expect((await ipj(node, ['-4', 'addr', 'show', 'dev', GW_BR]))[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).to.deep.equal(['10.213.234.1/24']);
      expect((await ipj(node, ['route', 'show', 'default'])).map(({ flags: _, ...r }) => r)).to.deep.equal([{ dst: 'default', gateway: '10.213.234.254', dev: GW_BR, protocol: 'static' }]);
      expect(await ok('get_default_gateway', [GW_BR])).to.equal('10.213.234.254');
      expect(await ok('get_default_gateway', ['eth0'])).to.equal('');

      const before = await snapshot(node);
      for (const [ip, mask, gw, why] of [
        ['10.213.232.1', '255.255.255.0', '10.213.233.1', /not in 10\.213\.232\.0\/24/],
        ['10.213.232.1', '255.255.255.0', '10.213.232.1', /own address/],
        ['10.213.232.1', '255.255.255.0', '224.0.0.1', /multicast/],
      ] as const) {
        const r = await S('add_bridge', ['hbrg7', ip, mask, gw]);
        expect(r.error?.code, `${ip} ${gw}`).to.equal(5);
        expect(r.error.message).to.match(why);
      }
      expect(await snapshot(node)).to.deep.equal(before);
      expect((await ipj(node, ['link', 'show'])).map((l) => l.ifname)).to.not.include('hbrg7');
    });

    it('edit_bridge with a gateway: the new address replaces the old and the default route moves; invalid ones change nothing', async () => {
      expect(await ok('edit_bridge', [GW_BR, '10.213.233.1', '255.255.255.128', '10.213.233.126'])).to.equal(0);
      expect((await ipj(node, ['-4', 'addr', 'show', 'dev', GW_BR]))[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).to.deep.equal(['10.213.233.1/25']);
      expect((await ipj(node, ['route', 'show', 'default'])).map((r) => `${r.gateway} ${r.dev}`)).to.deep.equal([`10.213.233.126 ${GW_BR}`]);
      // '' and '0.0.0.0': the default route through the bridge stays (its gateway is still in the
      // subnet), though replacing the addresses made the kernel drop it.
      expect(await ok('edit_bridge', [GW_BR, '10.213.233.2', '255.255.255.128', ''])).to.equal(0);
      expect((await ipj(node, ['route', 'show', 'default'])).map((r) => `${r.gateway} ${r.dev}`)).to.deep.equal([`10.213.233.126 ${GW_BR}`]);
      expect(await ok('edit_bridge', [GW_BR, '10.213.233.1', '255.255.255.128', '0.0.0.0'])).to.equal(0);
      expect((await ipj(node, ['route', 'show', 'default'])).map((r) => `${r.gateway} ${r.dev}`)).to.deep.equal([`10.213.233.126 ${GW_BR}`]);
      expect((await ipj(node, ['-4', 'addr', 'show', 'dev', GW_BR]))[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).to.deep.equal(['10.213.233.1/25']);

      const before = await snapshot(node);
      for (const [ip, mask, gw] of [
        ['10.213.233.1', '255.255.255.128', '10.213.233.200'], // outside the /25
        ['10.213.233.1', '255.255.255.128', '10.213.233.1'], // the bridge itself
        ['10.213.233.1', '255.255.255.128', '127.0.0.1'],
        ['10.213.233.0', '255.255.255.128', '10.213.233.126'], // network address
      ]) {
        expect((await S('edit_bridge', [GW_BR, ip, mask, gw])).error?.code, `${ip} ${gw}`).to.equal(5);
      }
      expect((await S('edit_bridge', ['hbrg7', '10.213.233.1', '255.255.255.128', '10.213.233.126'])).error.message).to.match(/^UnknownInterfaceError/);
      expect(await snapshot(node)).to.deep.equal(before);
      // Put the default route back on eth0 (edit_static_gateway: allowed, the path is not on it).
      expect(await ok('edit_static_gateway', [peer, 'eth0'])).to.equal(0);
      expect((await ipj(node, ['route', 'show', 'default'])).map((r) => `${r.gateway} ${r.dev}`)).to.deep.equal([`${peer} eth0`]);
    });

    it('add_bridge_member: the SSH interface is refused, another interface is added', async () => {
      await refused('add_bridge_member', [GW_BR, 'eth0']);
      expect((await ipj(node, ['link', 'show', 'dev', 'eth0']))[0].master).to.equal(undefined);
      expect(await ok('add_bridge_member', [GW_BR, YA])).to.equal(0);
      expect((await ipj(node, ['link', 'show', 'dev', YA]))[0].master).to.equal(GW_BR);
      expect(await ok('delete_bridge', [GW_BR])).to.equal(0);
    });
  });

  describe('reshaped: eth0 is a port of hbrg0, the node address a /32 on hbrg0, the path the default route', () => {
    before(async () => {
      const o = orig!;
      // One script, run through nsenter: the SSH connections see one short pause, not a cut.
      await run(node, [
        'sh',
        '-c',
        [
          'set -e',
          'ip link add "$1" type bridge forward_delay 0 stp_state 0',
          'ip link set dev "$1" address "$2"',
          'ip link set dev eth0 master "$1"',
          'ip link set dev "$1" up',
          'ip addr add "$3/32" dev "$1"',
          'ip addr del "$3/$4" dev eth0',
          'ip route replace default via "$5" dev "$1" onlink',
        ].join('\n'),
        'oms-test-reshape',
        PATH_BR,
        o.mac,
        o.address,
        String(o.prefix),
        peer,
      ]);
      // The gateway's path now: the default route through hbrg0.
      expect((await ipj(node, ['route', 'get', peer]))[0]).to.include({ dev: PATH_BR, gateway: peer });
      expect((await ipj(node, ['-4', 'route', 'show', 'table', 'main'])).filter((r) => r.dev === 'eth0')).to.deep.equal([]);
      expect(await ok('list_bridges', [])).to.deep.include({ bridge: PATH_BR, members: ['eth0'] });
      // A bridge off the path, with a port, for the calls that must succeed.
      expect(await ok('add_bridge', [OFF_BR, '10.213.235.1', '255.255.255.0', ''])).to.equal(0);
      expect(await ok('add_bridge_member', [OFF_BR, XA])).to.equal(0);
    });
    after(restore);

    it('delete_bridge: refused for the bridge carrying the path, done for another', async () => {
      await refused('delete_bridge', [PATH_BR]);
      expect(await ok('delete_bridge', [OFF_BR])).to.equal(0);
      expect((await ipj(node, ['link', 'show'])).map((l) => l.ifname)).to.not.include(OFF_BR);
      expect(await ok('add_bridge', [OFF_BR, '10.213.235.1', '255.255.255.0', ''])).to.equal(0);
      expect(await ok('add_bridge_member', [OFF_BR, XA])).to.equal(0);
    });

    it('delete_bridge_member: refused for the port carrying the path, done for another', async () => {
      await refused('delete_bridge_member', [PATH_BR, 'eth0']);
      expect(await ok('delete_bridge_member', [OFF_BR, XA])).to.equal(0);
      expect((await ipj(node, ['link', 'show', 'dev', XA]))[0].master).to.equal(undefined);
      expect(await ok('add_bridge_member', [OFF_BR, XA])).to.equal(0);
    });

    it('edit_bridge: refused for the bridge carrying the path, and with a gateway anywhere; done for another without one', async () => {
      await refused('edit_bridge', [PATH_BR, '10.213.232.1', '255.255.255.0', '']);
      // A gateway would replace the default route, which is the path.
      await refused('edit_bridge', [OFF_BR, '10.213.235.1', '255.255.255.0', '10.213.235.254']);
      // A subnet covering the lab host would take the path over.
      await refused('edit_bridge', [OFF_BR, '10.213.7.2', '255.255.255.252', '']);
      expect(await ok('edit_bridge', [OFF_BR, '10.213.235.2', '255.255.255.0', ''])).to.equal(0);
      expect((await ipj(node, ['-4', 'addr', 'show', 'dev', OFF_BR]))[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).to.deep.equal(['10.213.235.2/24']);
    });

    it('add_bridge: refused with a gateway or a subnet over the path; done without', async () => {
      await refused('add_bridge', ['hbrg7', '10.213.232.1', '255.255.255.0', '10.213.232.254']);
      await refused('add_bridge', ['hbrg7', '10.213.7.2', '255.255.255.252', '']);
      expect(await ok('add_bridge', ['hbrg7', '10.213.232.1', '255.255.255.0', ''])).to.equal(0);
      expect(await ok('delete_bridge', ['hbrg7'])).to.equal(0);
    });

    it('edit_static_gateway: refused while the default route is the path', async () => {
      await refused('edit_static_gateway', ['10.213.235.254', OFF_BR]);
      await refused('edit_static_gateway', [peer, PATH_BR]);
      expect((await ipj(node, ['route', 'show', 'default'])).map((r) => `${r.gateway} ${r.dev}`)).to.deep.equal([`${peer} ${PATH_BR}`]);
      // (Done when the default route is off the path: the plain-shape edit_bridge test above.)
    });

    it('add_static_route: refused over the path, done elsewhere', async () => {
      // Anything covering the lab host beats the default route.
      await refused('add_static_route', ['10.213.7.0', '255.255.255.240', '0.0.0.0', OFF_BR]);
      await refused('add_static_route', ['10.0.0.0', '255.0.0.0', '10.213.235.254', OFF_BR]);
      expect(await ok('add_static_route', ['10.213.232.0', '255.255.255.0', '10.213.235.254', OFF_BR])).to.equal(0);
      expect(await ipj(node, ['-4', 'route', 'show', 'exact', '10.213.232.0/24'])).to.have.length(1);
    });

    it('delete_static_route and edit_static_route: refused for the static route that is the path, done for another', async () => {
      // Forced on purpose: a directly connected route on hbrg0 that now carries the path.
      expect(await ok('add_static_route', ['10.213.7.0', '255.255.255.240', '0.0.0.0', PATH_BR, true])).to.equal(0);
      expect((await ipj(node, ['route', 'get', peer]))[0]).to.include({ dev: PATH_BR }).and.not.have.property('gateway');
      await refused('delete_static_route', ['10.213.7.0', '255.255.255.240', '0.0.0.0', PATH_BR]);
      await refused('edit_static_route', ['10.213.7.0', '255.255.255.240', '0.0.0.0', PATH_BR, '10.213.7.0', '255.255.255.248', '0.0.0.0']);
      await refused('edit_static_route', ['10.213.7.0', '255.255.255.240', '0.0.0.0', PATH_BR, '10.213.233.0', '255.255.255.0', '0.0.0.0']);
      expect(await ok('edit_static_route', ['10.213.232.0', '255.255.255.0', '10.213.235.254', OFF_BR, '10.213.233.0', '255.255.255.0', '10.213.235.253'])).to.equal(0);
      expect((await ipj(node, ['-4', 'route', 'show', 'exact', '10.213.233.0/24'])).map(({ flags: _, ...r }) => r)).to.deep.equal([{ dst: '10.213.233.0/24', gateway: '10.213.235.253', dev: OFF_BR, protocol: 'static' }]);
      expect(await ok('delete_static_route', ['10.213.233.0', '255.255.255.0', '10.213.235.253', OFF_BR])).to.equal(0);
      expect(await ipj(node, ['-4', 'route', 'show', 'exact', '10.213.233.0/24'])).to.deep.equal([]);
      // Forced: the path falls back to the default route and the node stays reachable.
      expect(await ok('delete_static_route', ['10.213.7.0', '255.255.255.240', '0.0.0.0', PATH_BR, true])).to.equal(0);
      expect((await ipj(node, ['route', 'get', peer]))[0]).to.include({ dev: PATH_BR, gateway: peer });
      expect((await S('list_bridges', [])).error).to.equal(null);
    });
  });
});
