/**
 * save_network_config on a real lab node: routes, the default gateway and bridges changed through
 * the gateway's methods are written as ifupdown files; read back from the node and parsed
 * (ifupdown.ts), they are the node's live state; and Debian's own ifupdown, run on those files in
 * a fresh network namespace, brings that same state up (and `ifdown -a` takes it down again).
 * Objects: bridge hbrq1 with port hbrqa (veth to hbrqb), routes 10.213.236.0-10.213.238.255 and a
 * default route via 10.213.7.5 on omsnode3 (put back after), files in /tmp/oms-netpersist-omsnode3
 * (node-private /tmp; lab nodes share the host's /etc).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { readConfigFiles } from '../../services/netinterfaceservices/ifupdown.ts';
import type { NetConfig } from '../../services/netinterfaceservices/persist.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const BR = 'hbrq1';
const PA = 'hbrqa';
const PB = 'hbrqb';
const NEW_GW = '10.213.7.5';

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric?: number;
  type?: string;
}
interface Dump {
  routes: IpRoute[];
  links: { ifname: string; master?: string; linkinfo?: { info_kind?: string } }[];
  addrs: { ifname: string; addr_info?: { family: string; local: string; prefixlen: number }[] }[];
}

/**
 * What a saved configuration must hold, computed here from raw `ip -j` output (not by persist.ts):
 * the routes an administrator or OMS made (proto static or boot: no dhcp, kernel or reject
 * routes), and every bridge with its ports and IPv4 addresses.
 */
function expected(d: Dump) {
  const routes = d.routes
    .filter((r) => !r.type && (r.protocol === undefined || r.protocol === 'static' || r.protocol === 'boot'))
    .map((r) => `${r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32`} via ${r.gateway ?? '-'} dev ${r.dev} metric ${r.metric ?? 0}`)
    .sort();
  const bridges = d.links
    .filter((l) => l.linkinfo?.info_kind === 'bridge')
    .map((b) => ({
      name: b.ifname,
      members: d.links.filter((l) => l.master === b.ifname).map((l) => l.ifname).sort(),
      addresses: (d.addrs.find((a) => a.ifname === b.ifname)?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`).sort(),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { routes, bridges };
}

/** The same view of a parsed configuration. */
function described(c: NetConfig) {
  const routes = [
    ...c.bridges.flatMap((b) => [...b.routes, ...(b.gateway ? [{ destination: '0.0.0.0', prefix: 0, gateway: b.gateway, dev: b.name, metric: 0 }] : [])]),
    ...c.routed.flatMap((i) => i.routes),
  ]
    .map((r) => `${r.destination}/${r.prefix} via ${r.gateway ?? '-'} dev ${r.dev} metric ${r.metric}`)
    .sort();
  const bridges = c.bridges
    .map((b) => ({ name: b.name, members: [...b.members].sort(), addresses: b.addresses.map((a) => `${a.address}/${a.prefix}`).sort() }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { routes, bridges };
}

const j = async (node: LabNode, argv: string[]) => {
  const r = await nodeExec(node, argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout || '[]');
};
const dumpNode = async (node: LabNode): Promise<Dump> => ({
  routes: await j(node, ['ip', '-4', '-j', 'route', 'show', 'table', 'main']),
  links: await j(node, ['ip', '-j', '-d', 'link', 'show']),
  addrs: await j(node, ['ip', '-4', '-j', 'addr', 'show']),
});

/**
 * Runs Debian's ifup -a on `files` (oms-*) in a fresh network + mount namespace of this host:
 * /etc/network is a private copy holding a distribution-like interfaces file that sources
 * interfaces.d first (as Debian's does) and `distro` (the stanzas of the interfaces OMS does not
 * own), /run and /sys are fresh so ifupdown's state and bridge-utils' hook see this namespace.
 * `links` are made first as veth pairs (the hardware). Returns the namespace's state after
 * `ifup -a`, and after `ifdown -a`.
 */
function applyInFreshNamespace(files: Record<string, string>, distro: string, links: string[]): Promise<{ up: Dump; down: Dump; log: string }> {
  const root = mkdtempSync(join(tmpdir(), 'oms-netpersist-'));
  const etc = join(root, 'network');
  for (const d of ['interfaces.d', 'if-pre-up.d', 'if-up.d', 'if-down.d', 'if-post-down.d']) mkdirSync(join(etc, d), { recursive: true });
  symlinkSync('/lib/bridge-utils/ifupdown.sh', join(etc, 'if-pre-up.d', 'bridge'));
  symlinkSync('/lib/bridge-utils/ifupdown.sh', join(etc, 'if-post-down.d', 'bridge'));
  writeFileSync(join(etc, 'interfaces'), `source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n\n${distro}`);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(etc, 'interfaces.d', name), content);
  const script = [
    'set -e',
    'mount --make-rprivate /',
    'mount --bind "$1" /etc/network',
    'mount -t tmpfs tmpfs /run',
    'mount -t sysfs sysfs /sys',
    'ip link set lo up',
    'shift; n=0',
    'for l in "$@"; do n=$((n+1)); ip link add "$l" type veth peer name "hwpeer$n"; ip link set "hwpeer$n" up; done',
    'dump() { ip -4 -j route show table main; echo; ip -j -d link show; echo; ip -4 -j addr show; echo; }',
    'ifup -a >&2',
    'dump',
    'ifdown -a >&2',
    'dump',
  ].join('\n');
  return new Promise((resolve, reject) => {
    execFile('unshare', ['-n', '-m', 'sh', '-c', script, 'oms-apply', etc, ...links], { timeout: 60_000 }, (err, stdout, stderr) => {
      rmSync(root, { recursive: true, force: true });
      if (err) return reject(new Error(`ifupdown in a fresh namespace failed: ${err.message}\n${stderr}`));
      const parts = stdout.split('\n\n').filter((p) => p.trim() !== '').map((p) => JSON.parse(p));
      const [ur, ul, ua, dr, dl, da] = parts;
      resolve({ up: { routes: ur, links: ul, addrs: ua }, down: { routes: dr, links: dl, addrs: da }, log: stderr });
    });
  });
}

describe('netinterfaceservices: saved network configuration is the live state (lab)', function () {
  this.timeout(180_000);
  let e: Env;
  let node: LabNode;
  let ok: (method: string, params: unknown[]) => Promise<any>;
  let originalDefault: IpRoute;
  let saved: { files: Record<string, string>; live: Dump } | undefined;
  const dir = () => `/tmp/oms-netpersist-${node.name}`;

  const cleanup = async () => {
    for (const argv of [
      ['ip', 'link', 'del', 'dev', BR],
      ['ip', 'link', 'del', 'dev', PA],
      ['ip', 'route', 'del', '10.213.238.0/24', 'dev', 'eth0'],
      ['ip', 'route', 'del', '10.213.236.128/25', 'dev', 'eth0'],
      ['rm', '-rf', '--', dir()],
    ]) {
      await nodeExec(node, argv).catch(() => undefined); // absent is fine: this is a sweep
    }
    if (originalDefault?.gateway) await nodeExec(node, ['ip', 'route', 'replace', 'default', 'via', originalDefault.gateway, 'dev', originalDefault.dev!]);
  };

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '20' });
    node = e.lab.nodes[2];
    await enroll(e, [node]);
    ok = async (m, params) => (await e.ok('netinterfaceservices', m, [e.sid, 0, node.name, ...params])).result;
    originalDefault = (await j(node, ['ip', '-j', 'route', 'show', 'default']))[0];
    expect(originalDefault, 'the lab node has a default route').to.include({ dev: 'eth0' });
    await cleanup();
    expect((await nodeExec(node, ['mkdir', '-p', '--', dir()])).code).to.equal(0);
    await e.ok('funcservices', 'set_node_settings', [e.sid, 0, node.name, { networkConfigDir: dir() }]);
  });
  after(async () => {
    if (node) await cleanup();
    await e?.call('funcservices', 'set_node_settings', [e.sid, 0, node.name, { networkConfigDir: '/etc/network/interfaces.d' }]).catch(() => undefined);
    await e?.stop();
  });

  it('routes on eth0 and the default gateway are saved with the bridges; read back, the files are the live state', async () => {
    // Changed through the gateway's own methods: a bridge with a port and a route, a static route
    // and a connected route on eth0 (not a bridge), and the default gateway.
    expect(await ok('add_bridge', [BR, '10.213.236.1', '255.255.255.128', ''])).to.equal(0);
    expect((await nodeExec(node, ['ip', 'link', 'add', PA, 'type', 'veth', 'peer', 'name', PB])).code).to.equal(0);
    expect(await ok('add_bridge_member', [BR, PA])).to.equal(0);
    expect(await ok('add_static_route', ['10.213.237.0', '255.255.255.0', '10.213.236.126', BR])).to.equal(0);
    expect(await ok('add_static_route', ['10.213.238.0', '255.255.255.0', NEW_GW, 'eth0'])).to.equal(0);
    expect(await ok('add_static_route', ['10.213.236.128', '255.255.255.128', '0.0.0.0', 'eth0'])).to.equal(0);
    expect(await ok('edit_static_gateway', [NEW_GW, 'eth0'])).to.equal(0);
    expect(await ok('get_default_gateway', ['eth0'])).to.equal(NEW_GW);

    // Others may change the node meanwhile: save until the live state is the same before and after.
    for (let attempt = 0; ; attempt++) {
      const before = await dumpNode(node);
      const result = await ok('save_network_config', []);
      const after = await dumpNode(node);
      if (JSON.stringify(expected(before)) === JSON.stringify(expected(after)) || attempt === 2) {
        const names = (await nodeExec(node, ['ls', '-A', '--', dir()])).stdout.split('\n').filter(Boolean).sort();
        expect(names).to.deep.equal([...result.written].sort());
        const files: Record<string, string> = {};
        for (const name of names) files[name] = (await nodeExec(node, ['cat', '--', `${dir()}/${name}`])).stdout;
        saved = { files, live: after };
        break;
      }
    }
    const { files, live } = saved!;
    expect(files).to.have.property('oms-eth0');
    expect(files).to.have.property(`oms-${BR}`);

    const parsed = readConfigFiles(files);
    const want = expected(live);
    expect(want.routes).to.include.members([
      `0.0.0.0/0 via ${NEW_GW} dev eth0 metric 0`,
      `10.213.238.0/24 via ${NEW_GW} dev eth0 metric 0`,
      '10.213.236.128/25 via - dev eth0 metric 0',
      `10.213.237.0/24 via 10.213.236.126 dev ${BR} metric 0`,
    ]);
    expect(want.bridges).to.deep.include({ name: BR, members: [PA], addresses: ['10.213.236.1/25'] });
    expect(described(parsed)).to.deep.equal(want);

    // And the listing methods agree with what was saved.
    const eth0 = parsed.routed.find((i) => i.name === 'eth0')!;
    expect(eth0.routes.find((r) => r.prefix === 0)?.gateway).to.equal(await ok('get_default_gateway', ['eth0']));
    const bridges = (await ok('list_bridges', [])) as { bridge: string; members: string[] }[];
    expect(bridges.map((b) => ({ name: b.bridge, members: [...b.members].sort() })).sort((a, b) => a.name.localeCompare(b.name))).to.deep.equal(
      described(parsed).bridges.map(({ name, members }) => ({ name, members })),
    );
    const table = (await ok('show_routing_table', [])) as { destination: string; router: string; interface: string }[];
    for (const r of eth0.routes) {
      const row = { destination: r.prefix ? r.destination : 'default', router: r.gateway ?? '*', interface: 'eth0' };
      expect(table.some((t) => t.destination === row.destination && t.router === row.router && t.interface === row.interface), JSON.stringify(row)).to.equal(true);
    }
  });

  it("Debian's ifupdown brings the saved files up as the same state on a fresh namespace, and down again", async function () {
    if (!saved) this.skip(); // the save above failed, and says why
    const { files, live } = saved!;
    const parsed = readConfigFiles(files);
    const addrsOf = (name: string) => (live.addrs.find((a) => a.ifname === name)?.addr_info ?? []).filter((a) => a.family === 'inet');
    // The distribution's own stanzas for the interfaces OMS does not own, as installed: eth0
    // static with its ORIGINAL gateway (which the saved default route must win over, not clash with).
    const distro = parsed.routed
      .map((i) => {
        const [first, ...more] = addrsOf(i.name);
        const lines = [`allow-hotplug ${i.name}`, `iface ${i.name} inet ${first ? 'static' : 'manual'}`];
        if (first) lines.push(`    address ${first.local}/${first.prefixlen}`);
        if (i.name === 'eth0') lines.push(`    gateway ${originalDefault.gateway}`);
        for (const a of more) lines.push(`    up ip addr add ${a.local}/${a.prefixlen} dev ${i.name}`);
        return lines.join('\n') + '\n';
      })
      .join('\n');
    const hardware = [...parsed.routed.map((i) => i.name), ...parsed.bridges.flatMap((b) => b.members)];
    const { up, down, log } = await applyInFreshNamespace(files, distro, hardware);
    expect(log).to.not.match(/failed to bring up/);

    const got = expected(up);
    const want = expected(live);
    expect(got.routes, log).to.deep.equal(want.routes);
    expect(got.bridges, log).to.deep.equal(want.bridges);
    // The saved default route replaced the distribution's gateway instead of failing on it.
    expect(up.routes.filter((r) => r.dst === 'default' && r.dev === 'eth0').map((r) => r.gateway)).to.deep.equal([NEW_GW]);

    // ifdown -a removes every route the files added, and the bridges.
    expect(expected(down).routes, log).to.deep.equal([]);
    expect(expected(down).bridges).to.deep.equal([]);
  });
});
