/**
 * netinterfaceservices.list_interfaces and list_routes on a real lab node: IPv6 addresses and
 * routes put on the node with `ip` inside it show up in the listings through the gateway, and go
 * when they go; the OMS-shaped show_routing_table stays IPv4.
 * Objects: bridge ipa6t0 with port ipa6ta (veth peer ipa6tb), fd13:7:a::/64 on the bridge, the
 * route fd13:7:b::/48 via fd13:7:a::fe, the unreachable route fd13:7:c::/48; all removed after.
 * Only these objects, lo and eth0 are compared whole: other tests make interfaces on the same node.
 */
import { expect } from 'chai';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const BR = 'ipa6t0';
const PA = 'ipa6ta';
const PB = 'ipa6tb';
const ADDR = 'fd13:7:a::1';
const ROUTE = 'fd13:7:b::';
const REJECT = 'fd13:7:c::';

const ipj = async (node: LabNode, argv: string[]): Promise<any[]> => JSON.parse((await nodeExec(node, ['ip', '-j', ...argv])).stdout || '[]');

describe('netinterfaceservices: IPv6 addresses and routes in the structured listings (lab)', function () {
  this.timeout(120_000);
  let e: Env;
  let node: LabNode;
  let ok: (method: string, params: unknown[]) => Promise<any>;

  const cleanup = async () => {
    for (const argv of [
      ['ip', '-6', 'route', 'del', 'unreachable', `${REJECT}/48`],
      ['ip', 'link', 'del', 'dev', BR],
      ['ip', 'link', 'del', 'dev', PA],
    ]) {
      await nodeExec(node, argv).catch(() => undefined); // absent is fine: this is a sweep
    }
  };

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '20' });
    node = e.lab.nodes[0];
    await enroll(e, [node]);
    ok = async (m, params) => (await e.ok('netinterfaceservices', m, [e.sid, 0, node.name, ...params])).result;
    await cleanup();
    for (const argv of [
      ['ip', 'link', 'add', BR, 'type', 'bridge'],
      ['ip', 'link', 'add', PA, 'type', 'veth', 'peer', 'name', PB],
      ['ip', 'link', 'set', 'dev', PA, 'master', BR],
      ['ip', 'link', 'set', 'dev', PA, 'up'],
      ['ip', 'link', 'set', 'dev', PB, 'up'],
      ['ip', 'link', 'set', 'dev', BR, 'up'],
    ]) {
      await nodeExec(node, argv);
    }
  });
  after(async () => {
    if (node) await cleanup();
    await e?.stop();
  });

  const mine = (name: string) => name === BR || name === PA || name === PB || name === 'lo' || name === 'eth0';
  /** `IFACE ADDRESS/PREFIX` of every address `ip -j addr` shows on the compared interfaces. */
  const onNode = async () => (await ipj(node, ['addr', 'show'])).filter((l) => mine(l.ifname)).flatMap((l) => l.addr_info.map((a: any) => `${l.ifname} ${a.family} ${a.local}/${a.prefixlen}`)).sort();
  const listed = (ifs: any[]) => ifs.filter((i) => mine(i.interface)).flatMap((i) => i.addresses.map((a: any) => `${i.interface} ${a.family} ${a.address}/${a.prefix}`)).sort();
  /** IPv6 routes through the bridge or to the test's own networks, as `DEST/PREFIX via GW dev DEV metric M proto P type T`. */
  const ours6 = (rows: { destination: string; prefix: number; gateway: string | null; interface: string | null; metric: number; protocol: string | null; type: string }[]) =>
    rows.filter((r) => r.interface === BR || r.destination.startsWith('fd13:7:')).map((r) => `${r.destination}/${r.prefix} via ${r.gateway} dev ${r.interface} metric ${r.metric} proto ${r.protocol} type ${r.type}`).sort();

  it('list_interfaces: an IPv6 address added on the node is listed with its bridge, and gone once removed', async () => {
    await nodeExec(node, ['ip', '-6', 'addr', 'add', `${ADDR}/64`, 'dev', BR, 'nodad']);
    const ifs = await ok('list_interfaces', []);
    const br = ifs.find((i: any) => i.interface === BR);
    expect(br).to.deep.include({ kind: 'bridge', master: null, mtu: 1500 });
    expect(br.addresses).to.deep.include({ family: 'inet6', address: ADDR, prefix: 64, scope: 'global', flags: ['nodad'] });
    expect(ifs.find((i: any) => i.interface === PA)).to.deep.include({ kind: 'veth', master: BR });
    expect(ifs.find((i: any) => i.interface === 'lo').addresses).to.deep.include({ family: 'inet6', address: '::1', prefix: 128, scope: 'host', flags: [] });
    expect(ifs.find((i: any) => i.interface === 'eth0').addresses).to.deep.include({ family: 'inet', address: node.address, prefix: 24, scope: 'global', flags: [] });
    // Every address of both families the node shows on these interfaces, and no other.
    expect(listed(ifs)).to.deep.equal(await onNode());
    expect(listed(ifs).filter((a) => a.includes(' inet6 fe80::'))).to.not.be.empty;

    await nodeExec(node, ['ip', '-6', 'addr', 'del', `${ADDR}/64`, 'dev', BR]);
    const after = await ok('list_interfaces', []);
    expect(after.find((i: any) => i.interface === BR).addresses.map((a: any) => a.address)).to.not.include(ADDR);
    expect(listed(after)).to.deep.equal(await onNode());
  });

  it('list_routes: IPv6 routes added on the node are listed beside the IPv4 table, and gone once removed; show_routing_table stays IPv4', async () => {
    await nodeExec(node, ['ip', '-6', 'addr', 'add', `${ADDR}/64`, 'dev', BR, 'nodad']);
    await nodeExec(node, ['ip', '-6', 'route', 'add', `${ROUTE}/48`, 'via', 'fd13:7:a::fe', 'dev', BR, 'metric', '77', 'proto', 'static']);
    await nodeExec(node, ['ip', '-6', 'route', 'add', 'unreachable', `${REJECT}/48`]);
    const rows = await ok('list_routes', []);
    expect(rows).to.deep.include({ family: 'inet6', destination: ROUTE, prefix: 48, gateway: 'fd13:7:a::fe', interface: BR, metric: 77, protocol: 'static', type: 'unicast' });
    expect(rows).to.deep.include({ family: 'inet6', destination: 'fd13:7:a::', prefix: 64, gateway: null, interface: BR, metric: 256, protocol: 'kernel', type: 'unicast' });
    expect(rows.find((r: any) => r.destination === REJECT)).to.include({ family: 'inet6', type: 'unreachable', gateway: null });
    const v4default = (await ipj(node, ['-4', 'route', 'show', 'default']))[0];
    expect(rows).to.deep.include({ family: 'inet', destination: '0.0.0.0', prefix: 0, gateway: v4default.gateway, interface: v4default.dev, metric: v4default.metric ?? 0, protocol: v4default.protocol ?? null, type: 'unicast' });
    // IPv4 rows first, then IPv6: the order of the two tables.
    const families = rows.map((r: any) => r.family);
    expect(families.indexOf('inet6')).to.be.greaterThan(families.lastIndexOf('inet'));
    // The test's IPv6 routes as the node has them.
    const real = (await ipj(node, ['-6', 'route', 'show', 'table', 'main'])).map((r: any) => {
      const [dst, len] = r.dst.split('/');
      return { destination: dst, prefix: Number(len ?? 128), gateway: r.gateway ?? null, interface: r.dev ?? null, metric: r.metric, protocol: r.protocol ?? null, type: r.type ?? 'unicast' };
    });
    expect(ours6(rows.filter((r: any) => r.family === 'inet6'))).to.deep.equal(ours6(real)).and.to.have.length.greaterThan(3);

    // show_routing_table: the OMS shape, no IPv6 row.
    const table = await ok('show_routing_table', []);
    for (const row of table) expect(Object.keys(row).sort()).to.deep.equal(['count', 'destination', 'flags', 'interface', 'metrics', 'netmask', 'router', 'use']);
    expect(table.filter((r: any) => r.destination.includes(':') || r.router.includes(':'))).to.deep.equal([]);
    expect(table.map((r: any) => r.destination)).to.include('default');

    await nodeExec(node, ['ip', '-6', 'route', 'del', `${ROUTE}/48`, 'via', 'fd13:7:a::fe', 'dev', BR]);
    await nodeExec(node, ['ip', '-6', 'route', 'del', 'unreachable', `${REJECT}/48`]);
    const after = await ok('list_routes', []);
    expect(after.filter((r: any) => r.destination === ROUTE || r.destination === REJECT)).to.deep.equal([]);
  });
});
