/**
 * netinterfaceservices on a real lab node: every change is checked against the node's own
 * `ip -j route` / `ip -j link` / `bridge -j link`; changes that would cut the gateway's SSH path
 * are refused unless forced; hostile input is refused before anything runs.
 * Objects: bridges hbrt1 and hbrs1, veth hbrv1a/hbrv1b, routes in 10.213.246.0-10.213.253.255,
 * the directory /tmp/oms-netcfg-<node> (node-private /tmp: lab nodes share the host's /etc, so
 * save_network_config never writes to /etc/network/interfaces.d here); all removed after.
 */
import { expect } from 'chai';
import { IPv4 } from '../../src/rpc/ip.ts';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const BR = 'hbrt1';
const VA = 'hbrv1a';
const VB = 'hbrv1b';
/** The bridge save_network_config persists and then forgets. */
const SB = 'hbrs1';

/** The lab numbers node i at 10.213.7.(10+i), with its own subnets 10.213.(100+i) and 10.213.(200+i) (test/lab/lab.sh). */
const labIndex = (node: LabNode): number => IPv4.parse(node.address).octets[3] - 10;

const ipj = async (node: LabNode, argv: string[]): Promise<any[]> => JSON.parse((await nodeExec(node, ['ip', '-j', ...argv])).stdout || '[]');

describe('netinterfaceservices on the lab', function () {
  this.timeout(120_000);
  let e: Env;
  let node: LabNode;
  let S: (method: string, params: unknown[]) => Promise<any>;
  let ok: (method: string, params: unknown[]) => Promise<any>;
  let originalDefault: any;
  const cfgDir = () => `/tmp/oms-netcfg-${node.name}`;

  const cleanup = async () => {
    for (const argv of [
      ['ip', 'link', 'del', 'dev', BR],
      ['ip', 'link', 'del', 'dev', VA],
      ['ip', 'link', 'del', 'dev', SB],
      ['rm', '-rf', '--', cfgDir(), `${cfgDir()}-missing`],
      ['ip', 'route', 'del', '10.213.7.1/32', 'dev', 'eth0', 'proto', 'static'],
    ]) {
      await nodeExec(node, argv).catch(() => undefined); // absent is fine: this is a sweep
    }
    if (originalDefault) {
      await nodeExec(node, ['ip', 'route', 'replace', 'default', 'via', originalDefault.gateway, 'dev', originalDefault.dev]).catch(() => undefined);
    }
  };

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '20' });
    node = e.lab.nodes[1];
    await enroll(e, [node]);
    S = (m, params) => e.call('netinterfaceservices', m, [e.sid, 0, node.name, ...params]);
    ok = async (m, params) => (await e.ok('netinterfaceservices', m, [e.sid, 0, node.name, ...params])).result;
    originalDefault = (await ipj(node, ['route', 'show', 'default']))[0];
    await cleanup();
  });
  after(async () => {
    if (node) await cleanup();
    await e?.stop();
  });

  it('show_routing_table is the node routing table in the OMS shape', async () => {
    const r = await S('show_routing_table', []);
    expect(r.error).to.equal(null);
    expect(r.result.type).to.equal('func');
    expect(r.result.result.client).to.equal(node.name);
    const table = r.result.result.result as any[];
    const real = await ipj(node, ['-4', 'route', 'show', 'table', 'main']);
    expect(table).to.have.length(real.length);
    for (const row of table) expect(Object.keys(row).sort()).to.deep.equal(['count', 'destination', 'flags', 'interface', 'metrics', 'netmask', 'router', 'use']);
    const i = labIndex(node);
    expect(table).to.deep.include({ destination: 'default', netmask: '0.0.0.0', router: originalDefault.gateway, flags: 'UG', metrics: '0', count: '0', use: '0', interface: 'eth0' });
    expect(table).to.deep.include({ destination: '10.213.7.0', netmask: '255.255.255.0', router: '*', flags: 'U', metrics: '0', count: '0', use: '0', interface: 'eth0' });
    expect(table).to.deep.include({ destination: `10.213.${200 + i}.0`, netmask: '255.255.255.0', router: `10.213.${100 + i}.254`, flags: 'UG', metrics: '50', count: '0', use: '0', interface: 'lxcbr0' });
  });

  it('bridges: add, members, edit, delete — each checked on the node', async () => {
    const i = labIndex(node);
    expect(await ok('list_bridges', [])).to.deep.include({ bridge: 'lxcbr0', members: [`labp${i}a`] });

    expect(await ok('add_bridge', [BR, '10.213.250.1', '255.255.255.0', ''])).to.equal(0);
    const link = (await ipj(node, ['-d', 'link', 'show', 'dev', BR]))[0];
    expect(link.linkinfo.info_kind).to.equal('bridge');
    expect(link.flags).to.include('UP');
    const addrs = (await ipj(node, ['-4', 'addr', 'show', 'dev', BR]))[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    expect(addrs).to.deep.equal(['10.213.250.1/24']);
    expect((await S('add_bridge', [BR, '10.213.250.1', '255.255.255.0', ''])).error.message).to.match(/^BridgeExistsError/);

    expect((await nodeExec(node, ['ip', 'link', 'add', VA, 'type', 'veth', 'peer', 'name', VB])).code).to.equal(0);
    expect(await ok('add_bridge_member', [BR, VA])).to.equal(0);
    const ports = JSON.parse((await nodeExec(node, ['bridge', '-j', 'link'])).stdout) as any[];
    expect(ports.find((p) => p.ifname === VA)?.master).to.equal(BR);
    expect(await ok('list_bridges', [])).to.deep.include({ bridge: BR, members: [VA] });
    expect((await S('add_bridge_member', [BR, VA])).error.message).to.match(/^BridgeMemberError: .*member already/);
    expect((await S('add_bridge_member', ['lxcbr0', VA])).error.message).to.match(/^BridgeMemberError: .*member of hbrt1/);
    expect((await S('add_bridge_member', [BR, 'nosuchif0'])).error.message).to.match(/^UnknownInterfaceError/);
    expect((await S('add_bridge_member', ['eth0', VB])).error.message).to.match(/^NotABridgeError/);

    expect(await ok('delete_bridge_member', [BR, VA])).to.equal(0);
    expect((await ipj(node, ['link', 'show', 'dev', VA]))[0].master).to.equal(undefined);
    expect((await S('delete_bridge_member', [BR, VA])).error.message).to.match(/^BridgeMemberError: .*not a member/);

    expect(await ok('edit_bridge', [BR, '10.213.251.1', '255.255.255.128', '0.0.0.0'])).to.equal(0);
    const edited = (await ipj(node, ['-4', 'addr', 'show', 'dev', BR]))[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    expect(edited).to.deep.equal(['10.213.251.1/25']);
    expect(await ok('edit_bridge', [BR, '10.213.250.1', '255.255.255.0', ''])).to.equal(0);
    expect((await nodeExec(node, ['ip', 'link', 'set', 'dev', VA, 'master', BR])).code).to.equal(0);
    expect(await ok('delete_bridge', [BR])).to.equal(0);
    expect((await ipj(node, ['link', 'show'])).map((l) => l.ifname)).to.not.include(BR);
    expect((await ipj(node, ['link', 'show', 'dev', VA]))[0].master).to.equal(undefined);
    expect((await S('delete_bridge', [BR])).error.message).to.match(/^UnknownInterfaceError/);
    // Only bridges can be deleted: eth0 is not one.
    expect((await S('delete_bridge', ['eth0'])).error.message).to.match(/^NotABridgeError/);
    expect((await nodeExec(node, ['ip', 'link', 'del', 'dev', VA])).code).to.equal(0);
  });

  it('static routes: add, edit (same and new destination), delete — each checked on the node', async () => {
    await ok('add_bridge', [BR, '10.213.250.1', '255.255.255.0', '']);
    const routeTo = async (dst: string) => ipj(node, ['-4', 'route', 'show', 'exact', dst]);

    expect(await ok('add_static_route', ['10.213.252.0', '255.255.255.0', '10.213.250.254', BR])).to.equal(0);
    expect(await routeTo('10.213.252.0/24')).to.deep.equal([{ dst: '10.213.252.0/24', gateway: '10.213.250.254', dev: BR, protocol: 'static', flags: [] }]);
    expect((await S('add_static_route', ['10.213.252.0', '255.255.255.0', '10.213.250.253', BR])).error.message).to.match(/^RouteExistsError/);
    expect((await S('add_static_route', ['10.213.253.0', '255.255.255.0', '0.0.0.0', 'nosuchif0'])).error.message).to.match(/^UnknownInterfaceError/);
    // A gateway the node cannot reach on that interface: iproute2's refusal, typed.
    expect((await S('add_static_route', ['10.213.253.0', '255.255.255.0', '10.213.99.1', BR])).error.message).to.match(/^NetworkChangeError: .*(gateway|Nexthop|unreachable)/i);

    expect(await ok('edit_static_route', ['10.213.252.0', '255.255.255.0', '10.213.250.254', BR, '10.213.252.0', '255.255.255.0', '10.213.250.253'])).to.equal(0);
    expect((await routeTo('10.213.252.0/24'))[0].gateway).to.equal('10.213.250.253');
    expect(await ok('edit_static_route', ['10.213.252.0', '255.255.255.0', '10.213.250.253', BR, '10.213.253.0', '255.255.255.128', '0.0.0.0'])).to.equal(0);
    expect(await routeTo('10.213.252.0/24')).to.deep.equal([]);
    expect(await routeTo('10.213.253.0/25')).to.deep.equal([{ dst: '10.213.253.0/25', dev: BR, protocol: 'static', scope: 'link', flags: [] }]);
    // The persistence rendering reads the same live state.
    const config = await ok('get_network_config', []);
    expect(config.directory).to.equal('/etc/network/interfaces.d');
    expect(config.files[`oms-${BR}`]).to.include(`iface ${BR} inet static\n    address 10.213.250.1/24\n`).and.include(`    up ip route add 10.213.253.0/25 dev ${BR} proto static\n`);
    const table = await ok('show_routing_table', []);
    expect(table).to.deep.include({ destination: '10.213.253.0', netmask: '255.255.255.128', router: '*', flags: 'U', metrics: '0', count: '0', use: '0', interface: BR });

    expect((await S('delete_static_route', ['10.213.253.0', '255.255.255.128', '10.213.250.1', BR])).error.message).to.match(/^UnknownRouteError/);
    expect((await S('delete_static_route', ['10.213.250.0', '255.255.255.0', '0.0.0.0', BR])).error.message).to.match(/^NotStaticRouteError/);
    expect(await ok('delete_static_route', ['10.213.253.0', '255.255.255.128', '0.0.0.0', BR])).to.equal(0);
    expect(await routeTo('10.213.253.0/25')).to.deep.equal([]);
  });

  it('default gateway: read per interface, changed, restored', async () => {
    expect(await ok('get_default_gateway', ['eth0'])).to.equal(originalDefault.gateway);
    expect(await ok('get_default_gateway', [BR])).to.equal('');
    expect((await S('get_default_gateway', ['nosuchif0'])).error.message).to.match(/^UnknownInterfaceError/);
    // The lab's SSH path is the connected 10.213.7.0/24 route, so the default route may change.
    expect(await ok('edit_static_gateway', ['10.213.250.254', BR])).to.equal(0);
    expect((await ipj(node, ['route', 'show', 'default']))[0]).to.include({ gateway: '10.213.250.254', dev: BR });
    expect(await ok('get_default_gateway', [BR])).to.equal('10.213.250.254');
    expect(await ok('edit_static_gateway', [originalDefault.gateway, originalDefault.dev])).to.equal(0);
    expect((await ipj(node, ['route', 'show', 'default']))[0]).to.include({ gateway: originalDefault.gateway, dev: originalDefault.dev });
  });

  it('save_network_config writes the rendered files into networkConfigDir and removes those of deleted bridges', async () => {
    const dir = cfgDir();
    const setDir = async (d: string) => (await e.ok('funcservices', 'set_node_settings', [e.sid, 0, node.name, { networkConfigDir: d }])).result;
    const cat = async (path: string) => {
      const r = await nodeExec(node, ['cat', '--', path]);
      expect(r.code, `cat ${path}: ${r.stderr}`).to.equal(0);
      return r.stdout;
    };
    const ls = async () => (await nodeExec(node, ['ls', '-A', '--', dir])).stdout.split('\n').filter(Boolean).sort();
    expect((await nodeExec(node, ['mkdir', '-p', '--', dir])).code).to.equal(0);
    // Not written by OMS: every save must leave both alone, the oms-* one included.
    const others: Record<string, string> = { 'interfaces.local': 'auto eth9\niface eth9 inet manual\n', 'oms-handmade': 'auto hbrs9\n' };
    for (const [name, content] of Object.entries(others)) expect((await nodeExec(node, ['tee', '--', `${dir}/${name}`], { input: content })).code).to.equal(0);
    try {
      expect(await setDir(dir)).to.include({ networkConfigDir: dir });
      expect(await ok('add_bridge', [SB, '10.213.246.1', '255.255.255.0', ''])).to.equal(0);
      expect(await ok('add_static_route', ['10.213.247.0', '255.255.255.0', '10.213.246.254', SB])).to.equal(0);

      const config = await ok('get_network_config', []);
      expect(config.directory).to.equal(dir);
      const saved = await ok('save_network_config', []);
      expect(saved).to.deep.equal({ directory: dir, written: Object.keys(config.files), removed: [] });
      expect(saved.written).to.include(`oms-${SB}`).and.include('oms-lxcbr0');
      for (const name of saved.written) expect(await cat(`${dir}/${name}`), name).to.equal(config.files[name]);
      const file = await cat(`${dir}/oms-${SB}`);
      expect(file).to.include(`iface ${SB} inet static\n    address 10.213.246.1/24\n`).and.include(`    up ip route add 10.213.247.0/24 via 10.213.246.254 dev ${SB} proto static\n`);
      expect((await nodeExec(node, ['stat', '-c', '%a', '--', `${dir}/oms-${SB}`])).stdout.trim()).to.equal('644');
      // No temp files left behind.
      expect(await ls()).to.deep.equal([...saved.written, ...Object.keys(others)].sort());

      expect(await ok('delete_bridge', [SB])).to.equal(0);
      const again = await ok('save_network_config', []);
      expect(again.removed).to.deep.equal([`oms-${SB}`]);
      expect(again.written).to.deep.equal(saved.written.filter((n: string) => n !== `oms-${SB}`));
      expect(await ls()).to.deep.equal([...again.written, ...Object.keys(others)].sort());
      for (const [name, content] of Object.entries(others)) expect(await cat(`${dir}/${name}`), name).to.equal(content);

      const missing = `${dir}-missing`;
      await setDir(missing);
      const r = await S('save_network_config', []);
      expect(r.error).to.include({ code: 809 });
      expect(r.error.message).to.equal(`NetworkConfigDirectoryError: The network configuration directory ${missing} is missing on node ${node.name}`);
      expect((await nodeExec(node, ['ls', '-d', '--', missing])).code).to.not.equal(0);

      for (const bad of ['relative/dir', '/tmp/../etc', '/tmp/$(id)', '/a b']) {
        expect((await e.call('funcservices', 'set_node_settings', [e.sid, 0, node.name, { networkConfigDir: bad }])).error?.code, bad).to.equal(5);
      }
    } finally {
      await setDir('/etc/network/interfaces.d');
    }
    expect((await ok('get_network_config', [])).directory).to.equal('/etc/network/interfaces.d');
  });

  it("changes on the gateway's SSH path are refused unless forced", async () => {
    const peer = (await ipj(node, ['route', 'show', 'default']))[0].gateway as string; // the lab host, 10.213.7.1
    const before = await ipj(node, ['-4', 'route', 'show', 'table', 'main']);
    // A host route to the gateway's address would take over the SSH path.
    const add = await S('add_static_route', [peer, '255.255.255.255', '0.0.0.0', BR]);
    expect(add.error).to.include({ code: 806 });
    expect(add.error.message).to.match(/^SshPathError: .*force/);
    expect(await ipj(node, ['-4', 'route', 'show', 'table', 'main'])).to.deep.equal(before);
    // The same host route on the SSH device itself is harmless, so it may be forced in ...
    expect(await ok('add_static_route', [peer, '255.255.255.255', '0.0.0.0', 'eth0', true])).to.equal(0);
    expect((await ipj(node, ['route', 'get', peer]))[0].dev).to.equal('eth0');
    // ... and now it is the route the SSH connection uses: deleting or editing it is refused.
    expect((await S('delete_static_route', [peer, '255.255.255.255', '0.0.0.0', 'eth0'])).error.message).to.match(/^SshPathError/);
    expect((await S('edit_static_route', [peer, '255.255.255.255', '0.0.0.0', 'eth0', '10.213.254.0', '255.255.255.0', '0.0.0.0'])).error.message).to.match(/^SshPathError/);
    expect(await ipj(node, ['-4', 'route', 'show', 'exact', `${peer}/32`])).to.have.length(1);
    expect(await ok('delete_static_route', [peer, '255.255.255.255', '0.0.0.0', 'eth0', true])).to.equal(0);
    expect(await ipj(node, ['-4', 'route', 'show', 'exact', `${peer}/32`])).to.deep.equal([]);
    // Enslaving the SSH interface to a bridge would move its address function.
    expect((await S('add_bridge_member', [BR, 'eth0'])).error.message).to.match(/^SshPathError/);
    expect((await ipj(node, ['link', 'show', 'dev', 'eth0']))[0].master).to.equal(undefined);
    // The connected route of the SSH subnet is not a static route.
    expect((await S('delete_static_route', ['10.213.7.0', '255.255.255.0', '0.0.0.0', 'eth0', true])).error.message).to.match(/^NotStaticRouteError/);
    // A bridge whose subnet covers the gateway's address would take over the SSH path.
    expect((await S('add_bridge', ['hbrt2', '10.213.7.2', '255.255.255.252', ''])).error.message).to.match(/^SshPathError/);
    expect((await S('edit_bridge', [BR, '10.213.7.2', '255.255.255.248', ''])).error.message).to.match(/^SshPathError/);
    expect(await ipj(node, ['-4', 'route', 'show', 'table', 'main'])).to.deep.equal(before);
  });

  it('hostile or invalid input is refused before anything runs', async () => {
    const before = await canary(node);
    const links = (await ipj(node, ['link', 'show'])).map((l) => l.ifname).sort();
    const routes = await ipj(node, ['-4', 'route', 'show', 'table', 'main']);
    const names = ['hbr;id', 'hbr$(id)', 'hbr`id`', '../hbr', '-hbr', 'hbr\nx', 'hbrх', 'hbr' + 'x'.repeat(20), '', 'hbr x', "hbr'"];
    for (const bad of names) {
      expect((await S('add_bridge', [bad, '10.213.250.1', '255.255.255.0', ''])).error?.code, JSON.stringify(bad)).to.equal(5);
      expect((await S('delete_bridge', [bad])).error?.code, JSON.stringify(bad)).to.equal(5);
      expect((await S('add_static_route', ['10.213.252.0', '255.255.255.0', '0.0.0.0', bad])).error?.code, JSON.stringify(bad)).to.equal(5);
    }
    const addresses: [string, string, string][] = [
      ['10.213.252.0', '255.0.255.0', '0.0.0.0'], // non-contiguous netmask
      ['10.213.252.0', '255.255.255.256', '0.0.0.0'], // out of range
      ['10.213.252.1', '255.255.255.0', '0.0.0.0'], // host bits set
      ['10.213.252.0', '255.255.255.0', '127.0.0.1'], // loopback gateway
      ['10.213.252.0', '255.255.255.0', '224.0.0.1'], // multicast gateway
      ['0.0.0.0', '0.0.0.0', '10.213.250.254'], // the default route is edit_static_gateway's
      ['10.213.252.0', '255.255.255.0', '10.213.250.254; id'],
      ['10.213.252.0 ', '255.255.255.0', '0.0.0.0'],
      ['010.213.252.0', '255.255.255.0', '0.0.0.0'],
    ];
    for (const [d, m, g] of addresses) expect((await S('add_static_route', [d, m, g, 'eth0'])).error?.code, `${d} ${m} ${g}`).to.equal(5);
    for (const [ip, mask, gw] of [
      ['10.213.250.0', '255.255.255.0', ''], // network address
      ['10.213.250.255', '255.255.255.0', ''], // broadcast address
      ['10.213.250.1', '255.255.255.0', '10.213.251.1'], // gateway outside the subnet
      ['10.213.250.1', '255.255.255.0', '10.213.250.1'], // gateway = own address
      ['10.213.250.1', '0.0.0.0', ''],
    ]) {
      expect((await S('add_bridge', ['hbrt3', ip, mask, gw])).error?.code, `${ip} ${mask} ${gw}`).to.equal(5);
    }
    expect((await S('edit_static_gateway', ['0.0.0.0', 'eth0'])).error?.code).to.equal(5);
    expect((await S('add_bridge_member', [BR, 'eth0', 'yes'])).error?.code).to.equal(5);
    expect(await canary(node)).to.equal(before);
    expect((await ipj(node, ['link', 'show'])).map((l) => l.ifname).sort()).to.deep.equal(links);
    expect(await ipj(node, ['-4', 'route', 'show', 'table', 'main'])).to.deep.equal(routes);
  });

  it('an Operator (node.view, no node.admin) may read but not change the network', async () => {
    const password = 'Hostt-operator-pw-7431!';
    await e.ok('userservices', 'add_user', [e.sid, 0, 'hosttop', password, [{ path: '/', role: 'Operator' }]]);
    const auth = await e.call('authservices', 'authenticate', ['hosttop', password]);
    const sid = auth.result.result as string;
    const read = await e.call('netinterfaceservices', 'list_bridges', [sid, 0, node.name]);
    expect(read.error).to.equal(null);
    const links = (await ipj(node, ['link', 'show'])).map((l) => l.ifname).sort();
    const denied = await e.call('netinterfaceservices', 'add_bridge', [sid, 0, node.name, 'hbrt4', '10.213.250.1', '255.255.255.0', '']);
    expect(denied.error).to.include({ code: 6 });
    expect((await e.call('netinterfaceservices', 'delete_bridge', [sid, 0, node.name, 'lxcbr0'])).error).to.include({ code: 6 });
    expect((await e.call('netinterfaceservices', 'save_network_config', [sid, 0, node.name])).error).to.include({ code: 6 });
    expect((await ipj(node, ['link', 'show'])).map((l) => l.ifname).sort()).to.deep.equal(links);
  });
});
