/**
 * Guest NICs and libvirt networks on a real lab node, through the gateway process, checked with
 * virsh and ip on the node and on the guest's serial console: a NIC by default on new guests
 * (create_vm_from_iso, deploy_template_for_vm), NAT networks (create_network, get_network),
 * attach_nic with explicit and generated MACs, and get_vm_runtime of a guest that really took a
 * DHCP lease on a NAT network. Everything made here is named kn-*; hostile input is refused and
 * the node's canary stays as it was.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';
import { buildInitramfs, findKernel, kernelBootDomain } from './dhcp-guest.ts';

const IMAGES = '/var/lib/oms-node/images';
const NAT = { forward: 'nat', ip: '192.168.213.1/24', dhcp: { start: '192.168.213.100', end: '192.168.213.150' } };
const NAT2 = { forward: 'nat', ip: '192.168.214.1/24', dhcp: { start: '192.168.214.100', end: '192.168.214.150' } };

const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);
const names = (out: string) => out.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('kn-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function cleanAll(node: LabNode): Promise<void> {
  for (const vm of names((await virsh(node, 'list', '--all', '--name')).stdout)) {
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', '--managed-save', vm);
  }
  await nodeExec(node, ['find', IMAGES, '-maxdepth', '1', '-name', 'kn-*', '-delete']);
  for (const net of names((await virsh(node, 'net-list', '--all', '--name')).stdout)) {
    await virsh(node, 'net-destroy', net);
    await virsh(node, 'net-undefine', net);
  }
}

/**
 * `virsh domiflist`: [target, type, source, model, mac] rows, of the definition (inactive: what
 * OMS wrote) or of the running guest (where libvirt shows a NIC on a bridged network as `bridge`).
 */
const ifList = async (node: LabNode, vm: string, inactive = true) =>
  (await virsh(node, 'domiflist', ...(inactive ? ['--inactive'] : []), vm)).stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 5 && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(f[4]));

describe('kvmservices NICs, NAT networks and runtime facts on the lab', function () {
  this.timeout(180_000);
  let e: Env;
  let node: LabNode;
  let canaryBefore: string;
  const ok = (method: string, params: unknown[]) => e.ok('kvmservices', method, [e.sid, 0, node.name, ...params]).then((r) => r.result);
  const call = (method: string, params: unknown[]) => e.call('kvmservices', method, [e.sid, 0, node.name, ...params]);
  const err = async (method: string, params: unknown[]) => (await call(method, params)).error;
  const setting = (v: string | null) => e.ok('funcservices', 'set_node_settings', [e.sid, 0, node.name, { defaultGuestNetwork: v }]).then((r) => r.result);
  /** create_vm_from_iso with the lab ISO and a 20 MB disk; `rest` are the optional trailing params. */
  const iso = (vm: string, ...rest: unknown[]) => call('create_vm_from_iso', [vm, 'generic', 'linux', 'lab.iso', '0.02', '', '64', ...rest]);

  before(async () => {
    e = await startEnv();
    node = e.lab.nodes[2];
    await cleanAll(node);
    await enroll(e, [node]);
    canaryBefore = await canary(node);
  });
  after(async () => {
    if (node) {
      await cleanAll(node);
      rmSync(join(node.stateDir, 'node', 'images', 'kn-initrd.gz'), { force: true });
    }
    if (e && node) await setting(null).catch(() => {});
    await e?.stop();
  });

  it('create_network makes a NAT network with its own bridge and DHCP range; get_network reads one network', async () => {
    const made = await ok('create_network', ['kn-nat', 'kn-nat0', NAT]);
    expect(made).to.deep.include({ name: 'kn-nat', active: true, autostart: true, persistent: true, forward: 'nat', bridge: 'kn-nat0' });
    expect(made.ip).to.deep.equal({ address: '192.168.213.1', netmask: '255.255.255.0', prefix: 24 });
    expect(made.dhcp).to.deep.equal(NAT.dhcp);
    const xml = (await virsh(node, 'net-dumpxml', 'kn-nat')).stdout;
    expect(xml).to.include("<forward mode='nat'");
    expect(xml).to.include("<ip address='192.168.213.1' netmask='255.255.255.0'>");
    expect(xml).to.include("<range start='192.168.213.100' end='192.168.213.150'/>");
    expect((await virsh(node, 'net-info', 'kn-nat')).stdout).to.match(/Active:\s+yes[\s\S]*Bridge:\s+kn-nat0/);
    // libvirt made the bridge with the gateway address, and runs dnsmasq for it, inside the node.
    expect((await nodeExec(node, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'kn-nat0'])).stdout).to.include('inet 192.168.213.1/24');
    expect((await nodeExec(node, ['test', '-f', '/var/lib/libvirt/dnsmasq/kn-nat.conf'])).code).to.equal(0);
    expect(await ok('get_network', ['kn-nat'])).to.deep.equal(made);
    expect((await ok('list_networks', [])).find((n: any) => n.name === 'kn-nat')).to.deep.equal(made);
    expect((await err('get_network', ['kn-nope'])).message).to.equal(`UnknownNetworkError: Unknown libvirt network kn-nope on ${node.name}`);
    // Without a range, DHCP hands out every address after the gateway's.
    const second = await ok('create_network', ['kn-nat2', 'kn-nat2br', { forward: 'nat', ip: '192.168.214.1/24' }]);
    expect(second.dhcp).to.deep.equal({ start: '192.168.214.2', end: '192.168.214.254' });
    await ok('delete_network', ['kn-nat2']);
    expect((await virsh(node, 'net-info', 'kn-nat2')).code).to.not.equal(0);
    await ok('create_network', ['kn-nat2', 'kn-nat2br', NAT2]);
  });

  it('overlapping, malformed and hostile networks are refused and nothing is defined', async () => {
    const i = Number(node.name.replace(/\D/g, ''));
    const refusals: [unknown[], RegExp][] = [
      [['kn-bad', 'kn-bad0', { forward: 'nat', ip: `10.213.${100 + i}.77/24` }], new RegExp(`^NetworkOverlapError: Subnet 10\\.213\\.${100 + i}\\.0/24 overlaps the route to 10\\.213\\.${100 + i}\\.0/24 via lxcbr0 on ${node.name}$`)],
      [['kn-bad', 'kn-bad0', { forward: 'nat', ip: `10.213.${200 + i}.1/25` }], /^NetworkOverlapError: .* overlaps the route to 10\.213\.\d+\.0\/24 via lxcbr0/],
      [['kn-bad', 'kn-bad0', { forward: 'nat', ip: '192.168.213.129/25' }], /^NetworkOverlapError: Subnet 192\.168\.213\.128\/25 overlaps libvirt network kn-nat on /],
      [['kn-bad', 'kn-bad0', { forward: 'nat', ip: '10.213.7.200/16' }], /^NetworkOverlapError: Subnet 10\.213\.0\.0\/16 overlaps /],
      [['kn-bad', 'lxcbr0', { forward: 'nat', ip: '192.168.215.1/24' }], new RegExp(`^BridgeExistsError: Interface lxcbr0 already exists on node ${node.name}$`)],
      [['kn-bad', 'kn-nat2br', { forward: 'nat', ip: '192.168.215.1/24' }], /^(BridgeExistsError|InvalidSettingsError): .*kn-nat2br/],
      [['kn-nat', 'kn-bad0', { forward: 'nat', ip: '192.168.215.1/24' }], /^NetworkExistsError/],
    ];
    for (const [params, why] of refusals) expect((await err('create_network', params)).message, JSON.stringify(params)).to.match(why);
    const invalid: unknown[][] = [
      ['kn-bad', 'kn-bad0', { forward: 'nat' }],
      ['kn-bad', 'kn-bad0', { forward: 'nat', ip: '192.168.215.0/24' }],
      ['kn-bad', 'kn-bad0', { forward: 'nat', ip: '192.168.215.1/31' }],
      ['kn-bad', 'kn-bad0', { forward: 'nat', ip: '192.168.215.1/24', dhcp: { start: '192.168.216.2', end: '192.168.216.9' } }],
      ['kn-bad', 'kn-bad0', { forward: 'nat', ip: '192.168.215.1/24', dhcp: { start: '192.168.215.9', end: '192.168.215.2' } }],
      ['kn-bad', 'kn-bad0', { forward: 'nat', ip: '192.168.215.1/24; touch /var/lib/oms-node/canary/pwned' }],
      ['kn-bad', 'kn-bad0', { forward: 'nat', ip: '192.168.215.1/24', ovs: true }],
      ['kn-bad', 'lxcbr0', { ip: '192.168.215.1/24' }],
      ['kn-bad', 'kn-bad0', { forward: 'route', ip: '192.168.215.1/24' }],
      ['kn-bad;x', 'kn-bad0', NAT],
      ['kn-bad', 'kn-bad0$(id)', NAT],
    ];
    for (const params of invalid) expect((await err('create_network', params)).code, JSON.stringify(params)).to.equal(5);
    expect(names((await virsh(node, 'net-list', '--all', '--name')).stdout).sort()).to.deep.equal(['kn-nat', 'kn-nat2']);
    expect((await nodeExec(node, ['test', '-e', '/sys/class/net/kn-bad0'])).code).to.not.equal(0);
    expect(await canary(node)).to.equal(canaryBefore);
  });

  it('create_vm_from_iso gives the guest a NIC on the node\'s defaultGuestNetwork; the trailing param chooses another or none', async () => {
    expect(await setting('kn-nat')).to.deep.include({ defaultGuestNetwork: 'kn-nat' });
    expect((await iso('kn-d1')).error).to.equal(null);
    const [nic] = await ifList(node, 'kn-d1');
    expect(nic.slice(1, 4)).to.deep.equal(['network', 'kn-nat', 'virtio']);
    expect(nic[4]).to.match(/^52:54:00:/);
    expect((await virsh(node, 'domstate', 'kn-d1')).stdout.trim()).to.equal('running');
    // The task log says which rule chose the network.
    const task = (await e.ok('tasks', 'list_tasks', [e.sid, 0, node.name])).find((t: any) => t.kind === 'kvm.create_vm_from_iso' && t.target === 'kn-d1');
    const log = (await e.ok('tasks', 'task_log', [e.sid, 0, task.id])).map((l: any) => l.line).join('\n');
    expect(log).to.include(`NIC ${nic[4]} on libvirt network kn-nat: the node setting defaultGuestNetwork`);

    expect((await iso('kn-d2', '', '', '')).error).to.equal(null);
    expect(await ifList(node, 'kn-d2')).to.deep.equal([]);
    expect((await iso('kn-d3', 'no', 'no', 'lab')).error).to.equal(null);
    expect((await ifList(node, 'kn-d3')).map((f) => f[2])).to.deep.equal(['lab']);

    // A named network that does not exist: refused before anything is made.
    expect((await iso('kn-d4', '', '', 'kn-nope')).error.message).to.equal(`UnknownNetworkError: Unknown libvirt network kn-nope on ${node.name}`);
    expect(await setting('kn-nope')).to.deep.include({ defaultGuestNetwork: 'kn-nope' });
    expect((await iso('kn-d4')).error.message).to.equal(`UnknownNetworkError: Unknown libvirt network kn-nope on ${node.name}`);
    expect((await virsh(node, 'dominfo', 'kn-d4')).code).to.not.equal(0);
    expect((await nodeExec(node, ['test', '-e', `${IMAGES}/kn-d4.qcow2`])).code).to.not.equal(0);
    // An inactive network cannot take a guest that starts at once.
    await virsh(node, 'net-destroy', 'kn-nat2');
    expect((await iso('kn-d4', '', '', 'kn-nat2')).error.message).to.match(new RegExp(`^NetworkInactiveError: libvirt network kn-nat2 on ${node.name} is not active`));
    await virsh(node, 'net-start', 'kn-nat2');
    expect((await virsh(node, 'dominfo', 'kn-d4')).code).to.not.equal(0);

    // Unset: libvirt's `default` network only when it is active; on the lab it is defined but not
    // started, so the guest gets no NIC rather than failing.
    expect((await setting(null)).defaultGuestNetwork).to.equal(null);
    expect((await virsh(node, 'net-info', 'default')).stdout).to.match(/Active:\s+no/);
    expect((await iso('kn-d5')).error).to.equal(null);
    expect(await ifList(node, 'kn-d5')).to.deep.equal([]);
    expect((await e.call('funcservices', 'set_node_settings', [e.sid, 0, node.name, { defaultGuestNetwork: '../x' }])).error.code).to.equal(5);
    expect((await iso('kn-d6', '', '', 'a;b')).error.code).to.equal(5);
    expect(await canary(node)).to.equal(canaryBefore);
  });

  it('deploy_template_for_vm: a bare template gets the default NIC; the trailing param chooses another or none', async () => {
    await setting('kn-nat');
    const deploy = (vm: string, ...rest: unknown[]) => ok('deploy_template_for_vm', ['lab-template', vm, ...rest]);
    expect(await deploy('kn-t1')).to.deep.equal({});
    expect((await ifList(node, 'kn-t1')).map((f) => f[2])).to.deep.equal(['kn-nat']);
    expect(await deploy('kn-t2', {}, 'lab')).to.deep.equal({});
    expect((await ifList(node, 'kn-t2')).map((f) => f[2])).to.deep.equal(['lab']);
    expect(await deploy('kn-t3', {}, '')).to.deep.equal({});
    expect(await ifList(node, 'kn-t3')).to.deep.equal([]);
    // The OMS settings dictionary's own interface still wins.
    expect(await deploy('kn-t4', { interface: { type: 'bridge', source_bridge: 'lxcbr0' } }, 'kn-nat')).to.deep.equal({});
    expect((await ifList(node, 'kn-t4')).map((f) => f.slice(1, 3))).to.deep.equal([['bridge', 'lxcbr0']]);
    expect((await err('deploy_template_for_vm', ['lab-template', 'kn-t5', {}, 'kn-nope'])).message).to.equal(`UnknownNetworkError: Unknown libvirt network kn-nope on ${node.name}`);
    expect((await nodeExec(node, ['test', '-e', `${IMAGES}/kn-t5-lab-template.qcow2`])).code).to.not.equal(0);
    // Every NIC made here has its own MAC.
    const macs = (await Promise.all(['kn-d1', 'kn-d3', 'kn-t1', 'kn-t2', 'kn-t4'].map((vm) => ifList(node, vm)))).flat().map((f) => f[4]);
    expect(new Set(macs).size).to.equal(macs.length);
  });

  it('attach_nic: bridge, network and NAT NICs with explicit or generated MACs; bad MACs and sources refused', async () => {
    const a = await ok('attach_nic', ['kn-d2', 'nat', 'kn-nat', '52:54:00:AA:BB:01']);
    expect(a).to.deep.equal({ mac: '52:54:00:aa:bb:01' });
    const b = await ok('attach_nic', ['kn-d2', 'bridge', 'lxcbr0']);
    expect(b.mac).to.match(/^52:54:00:/);
    const c = await ok('attach_nic', ['kn-d2', 'network', 'lab', '02:00:00:00:0a:01']);
    // In the definition and, hot-plugged, in the running guest.
    expect((await ifList(node, 'kn-d2', false)).map((f) => f[4])).to.deep.equal([a.mac, b.mac, c.mac]);
    expect((await ifList(node, 'kn-d2')).map((f) => [f[1], f[2], f[4]])).to.deep.equal([
      ['network', 'kn-nat', a.mac],
      ['bridge', 'lxcbr0', b.mac],
      ['network', 'lab', c.mac],
    ]);
    expect((await virsh(node, 'dumpxml', '--inactive', 'kn-d2')).stdout).to.include("<mac address='52:54:00:aa:bb:01'/>");
    const d1Mac = (await ifList(node, 'kn-d1'))[0][4];
    expect((await err('attach_nic', ['kn-d2', 'nat', 'kn-nat', '52:54:00:aa:bb:01'])).message).to.equal(`MacInUseError: MAC address 52:54:00:aa:bb:01 is already used by VM kn-d2 on ${node.name}`);
    expect((await err('attach_nic', ['kn-d2', 'network', 'kn-nat', d1Mac.toUpperCase()])).message).to.equal(`MacInUseError: MAC address ${d1Mac} is already used by VM kn-d1 on ${node.name}`);
    expect((await err('attach_nic', ['kn-d2', 'nat', 'lab'])).message).to.equal(`InvalidSettingsError: Invalid settings for NIC of kn-d2: libvirt network lab is not a NAT network (forward mode bridge)`);
    expect((await err('attach_nic', ['kn-d2', 'network', 'kn-nope'])).message).to.equal(`UnknownNetworkError: Unknown libvirt network kn-nope on ${node.name}`);
    expect((await err('attach_nic', ['kn-d2', 'bridge', 'kn-nobr0'])).message).to.equal(`UnknownBridgeError: No bridge kn-nobr0 on ${node.name}`);
    for (const bad of ['01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00', '52:54:00:aa:bb', '52-54-00-aa-bb-02', '52:54:00:aa:bb:0g', '52:54:00:aa:bb:02;id'])
      expect((await err('attach_nic', ['kn-d2', 'nat', 'kn-nat', bad])).code, bad).to.equal(5);
    expect((await err('attach_nic', ['kn-d2', 'vhostuser', 'kn-nat'])).code).to.equal(5);
    expect(await ifList(node, 'kn-d2')).to.have.length(3);
    // From the definition; the running guest (no OS) never acknowledges the unplug.
    await ok('detach_nic', ['kn-d2', a.mac]);
    expect((await ifList(node, 'kn-d2')).map((f) => f[4])).to.not.include(a.mac);
    expect(await canary(node)).to.equal(canaryBefore);
  });

  it('get_vm_runtime of a guest on the NAT networks: started_at, traffic, addresses from the lease table and ARP, block stats', async () => {
    const k = findKernel();
    buildInitramfs(k, join(node.stateDir, 'node', 'images', 'kn-initrd.gz'));
    expect((await call('create_vm_from_iso', ['kn-rt', 'generic', 'linux', 'lab.iso', '0.02', '', '128', '', '', 'kn-nat'])).error).to.equal(null);
    await ok('stop_vm', ['kn-rt']);
    const eth1 = await ok('attach_nic', ['kn-rt', 'nat', 'kn-nat2', '52:54:00:6b:6e:02']);
    const eth0 = (await ifList(node, 'kn-rt'))[0][4];
    // Test set-up on the node (OMS has no direct kernel boot): the guest boots our kernel.
    const xml = kernelBootDomain((await virsh(node, 'dumpxml', '--inactive', 'kn-rt')).stdout, k.kernel, `${IMAGES}/kn-initrd.gz`, 'kn_static=192.168.214.50/24,192.168.214.1');
    writeFileSync(join(node.stateDir, 'node', 'images', 'kn-rt.xml'), xml);
    const defined = await virsh(node, 'define', `${IMAGES}/kn-rt.xml`);
    expect(defined.code, defined.stderr).to.equal(0);

    const stopped = await ok('get_vm_runtime', ['kn-rt']);
    expect(stopped).to.deep.equal({ state: 'shutdown', started_at: null, nics: [], ip_sources: [], disks: [] });
    const t0 = Date.now();
    await ok('start_vm', ['kn-rt']);
    const t1 = Date.now();

    // The guest prints the address it configured on its serial console.
    const pty = (await virsh(node, 'ttyconsole', 'kn-rt')).stdout.trim();
    let console = '';
    for (let i = 0; i < 20 && !/kn-ip 192\.168\.213\.\d+/.test(console); i++) console += (await nodeExec(node, ['timeout', '3', 'cat', pty], { timeoutMs: 10_000 })).stdout;
    const guestIp = /kn-ip (192\.168\.213\.\d+)/.exec(console)?.[1];
    expect(guestIp, `serial console: ${console.slice(-500)}`).to.be.a('string');

    let r: any;
    for (let i = 0; i < 30; i++) {
      r = await ok('get_vm_runtime', ['kn-rt']);
      if (r.nics.every((n: any) => n.ips.length > 0)) break;
      await sleep(1000);
    }
    expect(r.state).to.equal('running');
    const started = Date.parse(r.started_at);
    expect(started).to.be.within(t0 - 2000, t1 + 1000);
    expect(r.nics.map((n: any) => [n.mac, n.type, n.source, n.model])).to.deep.equal([
      [eth0, 'network', 'kn-nat', 'virtio'],
      [eth1.mac, 'network', 'kn-nat2', 'virtio'],
    ]);
    // eth0's address is the one dnsmasq leased and the guest configured; eth1's (static) only ARP knows.
    expect(r.nics[0].ips).to.deep.equal([{ family: 'ipv4', address: guestIp, prefix: 24, source: 'lease' }]);
    expect((await virsh(node, 'net-dhcp-leases', 'kn-nat')).stdout).to.match(new RegExp(`${eth0}\\s+ipv4\\s+${guestIp!.replace(/\./g, '\\.')}/24`));
    expect(r.nics[1].ips).to.deep.include({ family: 'ipv4', address: '192.168.214.50', prefix: null, source: 'arp' });
    expect((await nodeExec(node, ['ip', 'neigh', 'show', 'dev', 'kn-nat2br'])).stdout).to.include(`192.168.214.50 lladdr ${eth1.mac}`);
    expect(r.ip_sources).to.deep.equal([
      { source: 'lease', answered: true, addresses: 1 },
      { source: 'arp', answered: true, addresses: r.nics[1].ips.length },
    ]);

    // Traffic: the guest pings both gateways every second, so the counters move, as virsh sees them.
    await sleep(3000);
    const r2 = await ok('get_vm_runtime', ['kn-rt']);
    for (const [i, n] of r2.nics.entries()) {
      expect(n.io.tx_packets, `NIC ${i} tx`).to.be.greaterThan(r.nics[i].io.tx_packets);
      expect(n.io.rx_packets, `NIC ${i} rx`).to.be.greaterThan(r.nics[i].io.rx_packets);
      const stat = (await virsh(node, 'domifstat', 'kn-rt', n.target_dev)).stdout;
      expect(Number(/rx_packets (\d+)/.exec(stat)![1])).to.be.at.least(n.io.rx_packets);
      expect(n.target_dev).to.match(/^vnet\d+$/);
    }
    // Block I/O: the guest read 1 MiB of its disk at boot; the numbers are virsh's.
    const vda = r2.disks.find((d: any) => d.dev === 'vda');
    expect(vda.path).to.equal(`${IMAGES}/kn-rt.qcow2`);
    expect(vda.rd_bytes).to.be.at.least(1024 * 1024);
    const blk = (await virsh(node, 'domblkstat', 'kn-rt', 'vda')).stdout;
    expect(Number(/rd_bytes (\d+)/.exec(blk)![1])).to.equal(vda.rd_bytes);
    expect(r2.disks.map((d: any) => d.dev)).to.deep.equal(['vda', 'sda']);
    expect(r2.started_at).to.equal(r.started_at);

    expect((await err('get_vm_runtime', ['../kn-rt'])).code).to.equal(5);
    expect((await err('get_vm_runtime', ['kn-none'])).message).to.equal(`UnknownVmError: Unknown VM kn-none on ${node.name}`);
    expect(await canary(node)).to.equal(canaryBefore);
  });
});
