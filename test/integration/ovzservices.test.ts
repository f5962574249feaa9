/**
 * ovzservices and kvmplusovzservices on real lab nodes (LXC): every method, checked against what
 * lxc-ls / lxc-info / the cgroup files say on the node; a template round trip; migration of a
 * running container between two nodes; hostile input refused before anything runs.
 *
 * Objects made here: containers 9100-9199 and templates ovzt-t*, removed in after() too.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const OVZ = 'ovzservices';
/** The same script lab.sh runs at lab start (build_ovz_template); nodes of an older lab lack it. */
const BUILD_TEMPLATE = `set -eu
cache=/var/lib/oms-node/templates/cache
[ -f "$cache/ovzt-busybox.tar.gz" ] && exit 0
d=$(mktemp -d /tmp/ovzt-build.XXXXXX)
trap 'rm -rf "$d"' EXIT
lxc-create -P "$d" -t busybox -n 9999 >/dev/null
r="$d/9999/rootfs"
printf '#!/bin/sh\\n/bin/syslogd\\n/bin/mount -a\\n' >"$r/etc/init.d/rcS"
mkdir -p "$cache"
tar -C "$r" --numeric-owner -czf "$cache/ovzt-busybox.tar.gz.part" .
printf '{"memory":64,"min_memory":32,"vcpu":1,"vcpulimit":0,"disk":64,"halt_signal":"SIGUSR1"}\\n' >"$cache/ovzt-busybox.json"
mv -f "$cache/ovzt-busybox.tar.gz.part" "$cache/ovzt-busybox.tar.gz"`;

const mine = (ids: string) => ids.split(/\s+/).filter((s) => /^91\d\d$/.test(s));

async function lxcIds(n: LabNode): Promise<string[]> {
  return mine((await nodeExec(n, ['lxc-ls', '-1'])).stdout);
}
async function lxcState(n: LabNode, id: string): Promise<string> {
  const r = await nodeExec(n, ['lxc-info', '-n', id, '-s', '-H']);
  return r.code === 0 ? r.stdout.trim() : 'MISSING';
}
async function cleanup(nodes: LabNode[]): Promise<void> {
  for (const n of nodes) {
    for (const id of await lxcIds(n)) {
      await nodeExec(n, ['lxc-stop', '-n', id, '-k']);
      await nodeExec(n, ['lxc-destroy', '-n', id]);
    }
    await nodeExec(n, ['sh', '-c', 'rm -f /var/lib/oms-node/templates/cache/ovzt-t*']);
    await nodeExec(n, ['virsh', '-c', 'qemu:///system', 'undefine', 'ovzt-kvm9101']);
  }
}

describe('ovzservices on the lab (LXC)', function () {
  this.timeout(180_000);
  let e: Env;
  let n1: LabNode;
  let n2: LabNode;

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '30' });
    [n1, n2] = e.lab.nodes;
    await enroll(e, [n1, n2]);
    await cleanup([n1, n2]);
    for (const n of [n1, n2]) {
      const r = await nodeExec(n, ['sh', '-c', BUILD_TEMPLATE]);
      expect(r.code, r.stderr).to.equal(0);
    }
  });
  after(async () => {
    if (n1) await cleanup([n1, n2]);
    await e?.stop();
  });

  it('list_templates lists the cache tarballs by name', async () => {
    const r = await e.call(OVZ, 'list_templates', [e.sid, 0, n1.name]);
    expect(r.error).to.equal(null);
    expect(r.result.result.client).to.equal(n1.name);
    expect(r.result.result.result).to.include('ovzt-busybox');
  });

  it('parse_template_for_vm: defaults from the template, bounds from the node', async () => {
    const t = await e.ok(OVZ, 'parse_template_for_vm', [e.sid, 0, n1.name, 'ovzt-busybox', 'ct9101.oms.test']);
    const nproc = Number((await nodeExec(n1, ['nproc'])).stdout.trim());
    expect(t.result).to.include({ template_name: 'ovzt-busybox', vm_name: 'ct9101.oms.test', domain_type: 'openvz', memory: '64', min_memory: '32', vcpu: '1', min_vcpu: '1', max_vcpu: String(nproc), vcpulimit: '0', max_vcpulimit: String(100 * nproc), disk: '64', passwd: '' });
    expect(t.result.vm_id).to.match(/^\d+$/);
  });

  it('deploy_template_for_vm with wrong settings answers the error dictionary and creates nothing', async () => {
    const r = await e.ok(OVZ, 'deploy_template_for_vm', [
      e.sid, 0, n1.name, 'ovzt-busybox', 'ct9101.oms.test',
      { vm_id: '9101', memory: '999999999', vcpu: '0', vcpulimit: '-5', disk: 'lots', ip_address: '10.213.101.999', nameserver: '$(id)', onboot: 'maybe', passwd: 'x\nroot2:y' },
    ]);
    expect(r.result).to.deep.equal({
      memory: 'Memory size not correct',
      vcpu: 'Virtual CPU count not correct',
      vcpulimit: 'Virtual CPU limit not correct',
      disk: 'Disk size not correct',
      ip_address: 'IP address not correct',
      nameserver: 'Nameserver address not correct',
      onboot: 'Onboot configuration has to be yes or no',
      passwd: 'Password can not be zero length',
    });
    expect(await lxcIds(n1)).to.deep.equal([]);
  });

  it('deploys, starts, answers, with cgroup limits, address and resolver set', async () => {
    const settings = { vm_id: '9101', memory: '64', vcpu: '1', vcpulimit: '50', disk: '64', ip_address: '10.213.101.91', nameserver: '10.213.101.1', searchdomain: 'oms.test', onboot: 'no', passwd: 'ovz-secret-1' };
    let t0 = Date.now();
    const r = await e.ok(OVZ, 'deploy_template_for_vm', [e.sid, 0, n1.name, 'ovzt-busybox', 'ct9101.oms.test', settings]);
    expect(r.result).to.deep.equal({});
    console.log(`      deploy of ovzt-busybox (1 MB tarball, with password and resolver): ${Date.now() - t0} ms`);
    t0 = Date.now();
    expect(await lxcIds(n1)).to.deep.equal(['9101']);
    expect(await lxcState(n1, '9101')).to.equal('STOPPED');

    expect(await e.ok(OVZ, 'start_vm', [e.sid, 0, n1.name, '9101'])).to.deep.equal({ client: n1.name, result: 0 });
    console.log(`      start_vm until RUNNING: ${Date.now() - t0} ms`);
    expect(await lxcState(n1, '9101')).to.equal('RUNNING');
    expect((await nodeExec(n1, ['lxc-attach', '-n', '9101', '--', 'hostname'])).stdout.trim()).to.equal('ct9101.oms.test');
    expect((await nodeExec(n1, ['lxc-cgroup', '-n', '9101', 'memory.limit_in_bytes'])).stdout.trim()).to.equal(String(64 * 1024 * 1024));
    expect((await nodeExec(n1, ['lxc-cgroup', '-n', '9101', 'cpu.cfs_quota_us'])).stdout.trim()).to.equal('50000');
    expect((await nodeExec(n1, ['lxc-cgroup', '-n', '9101', 'cpuset.cpus'])).stdout.trim()).to.equal('0');
    expect((await nodeExec(n1, ['lxc-attach', '-n', '9101', '--', 'ip', '-4', 'addr', 'show', 'eth0'])).stdout).to.include('inet 10.213.101.91/24');
    // The node-local bridge answers the container's ping: the address really works.
    const ping = await nodeExec(n1, ['lxc-attach', '-n', '9101', '--', 'ping', '-c', '1', '-W', '2', '10.213.101.1']);
    expect(ping.code, ping.stdout + ping.stderr).to.equal(0);
    expect((await nodeExec(n1, ['lxc-attach', '-n', '9101', '--', 'cat', '/etc/resolv.conf'])).stdout).to.equal('search oms.test\nnameserver 10.213.101.1\n');
    // The password went in through chpasswd (hashed), never as an argument.
    const shadow = (await nodeExec(n1, ['lxc-attach', '-n', '9101', '--', 'cat', '/etc/shadow'])).stdout;
    expect(shadow).to.match(/^root:\$/m);
    expect(shadow).not.to.include('ovz-secret-1');
  });

  it('list_vms, list_vms_status and parse_vm_settings match the node', async () => {
    const l = await e.ok(OVZ, 'list_vms', [e.sid, 0, n1.name, 'memory', 'cpu', 'df']);
    const ct = l.result.find((x: any) => x.id === '9101');
    expect(ct).to.deep.include({ status: 1, tags: [], name: 'ct9101.oms.test', network: { ip: '10.213.101.91', name: 'eth0' } });
    expect(ct.stats.memory.total).to.equal(String(64 * 1024));
    expect(Number(ct.stats.memory.used)).to.be.greaterThan(0);
    expect(ct.stats.cpu.percentage).to.match(/^\d+\.\d\d$/);
    expect(Number(ct.stats.df.used)).to.be.greaterThan(0);

    const s = await e.ok(OVZ, 'list_vms_status', [e.sid, 0, n1.name]);
    const st = s.result['9101'];
    expect(st).to.include({ nrVirtCpu: 1, state: 'running', maxMem: String(64 * 1024) });
    const cpuNow = Number((await nodeExec(n1, ['lxc-info', '-n', '9101', '-S', '-H'])).stdout.match(/CPU use:\s+(\d+)/)![1]);
    expect(Number(st.cpuTime)).to.be.within(1, cpuNow);
    expect(Number(st.memory)).to.be.greaterThan(0);

    const p = await e.ok(OVZ, 'parse_vm_settings', [e.sid, 0, n1.name, '9101']);
    expect(p.result).to.include({ vm_id: '9101', vcpu: '1', vcpulimit: '50', memory: '64', disk: '64', ip_address: '10.213.101.91', nameserver: '10.213.101.1', searchdomain: 'oms.test', onboot: 'no', min_vcpu: '1', min_memory: '16' });
  });

  it('update_vm_settings applies the right ones live and names each wrong one in the OMS wording', async () => {
    const r = await e.ok(OVZ, 'update_vm_settings', [e.sid, 0, n1.name, '9101', { memory: '96', vcpulimit: '25', onboot: 'yes', vcpu: '99', ip_address: 'x', nameserver: '300.1.1.1', password: '', disk: '1' }]);
    expect(r.result).to.deep.equal({
      vcpu: 'Virtual CPU count not correct',
      ip_address: 'IP address not correct',
      nameserver: 'Nameserver address not correct',
      password: 'Password can not be zero length',
      disk: 'Disk size not correct',
    });
    expect((await nodeExec(n1, ['lxc-cgroup', '-n', '9101', 'memory.limit_in_bytes'])).stdout.trim()).to.equal(String(96 * 1024 * 1024));
    expect((await nodeExec(n1, ['lxc-cgroup', '-n', '9101', 'cpu.cfs_quota_us'])).stdout.trim()).to.equal('25000');
    const conf = (await nodeExec(n1, ['cat', '/var/lib/lxc/9101/config'])).stdout;
    expect(conf).to.include('lxc.start.auto = 1').and.include('lxc.cgroup.memory.limit_in_bytes = 100663296');
    const p = await e.ok(OVZ, 'parse_vm_settings', [e.sid, 0, n1.name, '9101']);
    expect(p.result).to.include({ memory: '96', vcpulimit: '25', onboot: 'yes', vcpu: '1', ip_address: '10.213.101.91' });
  });

  it('a container OMS did not make is listed, takes new limits, keeps its own config lines, starts', async () => {
    const made = await nodeExec(n1, ['lxc-create', '-t', 'busybox', '-n', '9190']);
    expect(made.code, made.stderr).to.equal(0);
    const st = await e.ok(OVZ, 'list_vms_status', [e.sid, 0, n1.name]);
    expect(st.result['9190']).to.include({ state: 'shutdown' });
    const r = await e.ok(OVZ, 'update_vm_settings', [e.sid, 0, n1.name, '9190', { memory: '48', vcpu: '1' }]);
    expect(r.result).to.deep.equal({});
    const conf = (await nodeExec(n1, ['cat', '/var/lib/lxc/9190/config'])).stdout;
    expect(conf).to.include('lxc.cgroup.memory.limit_in_bytes = 50331648').and.include('lxc.mount.entry = /lib lib none ro,bind 0 0');
    await e.ok(OVZ, 'start_vm', [e.sid, 0, n1.name, '9190']);
    expect(await lxcState(n1, '9190')).to.equal('RUNNING');
    expect((await nodeExec(n1, ['lxc-cgroup', '-n', '9190', 'memory.limit_in_bytes'])).stdout.trim()).to.equal('50331648');
    // Its rcS waits on DHCP forever, so its init never halts on request: killed at once instead.
    await e.ok(OVZ, 'force_stop_vm', [e.sid, 0, n1.name, '9190']);
    expect(await lxcState(n1, '9190')).to.equal('STOPPED');
    await e.ok(OVZ, 'delete_vm', [e.sid, 0, n1.name, '9190']);
    expect(await lxcIds(n1)).to.deep.equal(['9101']);
  });

  it('kvmplusovzservices.list_vms lists KVM guests and containers with type and state', async () => {
    // One KVM guest of our own (defined, never started), so the listing has a known one.
    const xml = "<domain type='kvm'><name>ovzt-kvm9101</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";
    const def = await nodeExec(n1, ['sh', '-c', 'f=/tmp/ovzt-kvm9101.xml; cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml });
    expect(def.code, def.stderr).to.equal(0);
    const virshNames = async () => (await nodeExec(n1, ['virsh', '-c', 'qemu:///system', 'list', '--all', '--name'])).stdout.split('\n').filter(Boolean);
    const before = await virshNames();
    const r = await e.ok('kvmplusovzservices', 'list_vms', [e.sid, 0, n1.name]);
    const after = await virshNames();
    const ct = r.result.find((x: any) => x.id === '9101');
    expect(ct).to.include({ type: 'openvz', state: 'running', status: 1, vcpu: 1, max_memory: String(96 * 1024), name: 'ct9101.oms.test', ip_address: '10.213.101.91', onboot: 'yes' });
    const kvm = r.result.filter((x: any) => x.type === 'kvm');
    for (const g of kvm) {
      expect(g).to.have.keys(['id', 'name', 'type', 'state', 'status', 'vcpu', 'memory', 'max_memory', 'cpu_time', 'onboot', 'tags', 'pools']);
      expect(g.state).to.be.oneOf(['running', 'shutdown', 'paused', 'crashed', 'pmsuspended', 'idle', 'blocked', 'dying']);
    }
    // Guests of other engineers come and go: what was there before and after must be listed,
    // and nothing that was in neither snapshot.
    const names = kvm.map((g: any) => g.name);
    for (const n of before.filter((x) => after.includes(x))) expect(names).to.include(n);
    for (const n of names) expect([...before, ...after]).to.include(n);
    expect(r.result.filter((x: any) => x.type === 'openvz').map((x: any) => x.id)).to.deep.equal(await lxcIds(n1));
    expect(kvm.find((g: any) => g.name === 'ovzt-kvm9101')).to.deep.equal({ id: 'ovzt-kvm9101', name: 'ovzt-kvm9101', type: 'kvm', state: 'shutdown', status: 0, vcpu: 1, memory: '65536', max_memory: '65536', cpu_time: '0', onboot: 'no', tags: [], pools: [] });
  });

  it('stop_vm stops; start_vm starts again', async () => {
    const t0 = Date.now();
    expect((await e.ok(OVZ, 'stop_vm', [e.sid, 0, n1.name, '9101'])).result).to.equal(0);
    console.log(`      stop_vm (busybox init halting): ${Date.now() - t0} ms`);
    expect(await lxcState(n1, '9101')).to.equal('STOPPED');
    const s = await e.ok(OVZ, 'list_vms_status', [e.sid, 0, n1.name]);
    expect(s.result['9101']).to.include({ state: 'shutdown', cpuTime: '0' });
    expect((await e.ok(OVZ, 'start_vm', [e.sid, 0, n1.name, 9101])).result).to.equal(0);
    expect(await lxcState(n1, '9101')).to.equal('RUNNING');
  });

  it('pause_vm / resume_vm freeze and thaw; a paused container is not migrated; force_stop_vm kills at once', async () => {
    expect((await e.ok(OVZ, 'pause_vm', [e.sid, 0, n1.name, '9101'])).result).to.equal(0);
    expect(await lxcState(n1, '9101')).to.equal('FROZEN');
    expect((await e.ok(OVZ, 'list_vms_status', [e.sid, 0, n1.name])).result['9101'].state).to.equal('paused');
    expect((await e.ok('kvmplusovzservices', 'list_vms', [e.sid, 0, n1.name])).result.find((x: any) => x.id === '9101').state).to.equal('paused');
    const m = await e.call(OVZ, 'migrate_vm', [e.sid, 0, n1.name, '9101', n2.name]);
    expect(m.error).to.include({ code: 700 });
    expect(m.error.message).to.include('paused');
    expect(await lxcState(n1, '9101')).to.equal('FROZEN');
    expect(await lxcIds(n2)).to.deep.equal([]);
    expect((await e.ok(OVZ, 'resume_vm', [e.sid, 0, n1.name, '9101'])).result).to.equal(0);
    expect(await lxcState(n1, '9101')).to.equal('RUNNING');
    expect((await nodeExec(n1, ['lxc-attach', '-n', '9101', '--', 'hostname'])).stdout.trim()).to.equal('ct9101.oms.test');

    // A frozen container still stops: it is thawed first.
    await e.ok(OVZ, 'pause_vm', [e.sid, 0, n1.name, '9101']);
    const t0 = Date.now();
    expect((await e.ok(OVZ, 'force_stop_vm', [e.sid, 0, n1.name, '9101'])).result).to.equal(0);
    expect(Date.now() - t0).to.be.below(1500); // no 2 s halt and no 10 s timeout
    expect(await lxcState(n1, '9101')).to.equal('STOPPED');
    expect((await e.call(OVZ, 'pause_vm', [e.sid, 0, n1.name, '9101'])).error).to.include({ code: 711 });
    await e.ok(OVZ, 'start_vm', [e.sid, 0, n1.name, '9101']);
    expect(await lxcState(n1, '9101')).to.equal('RUNNING');
  });

  it('template round trip: parse_vm_for_template, create_template_from_vm, deploy the new template, delete_vm', async () => {
    const p = await e.ok(OVZ, 'parse_vm_for_template', [e.sid, 0, n1.name, '9101', 'ovzt-t9101']);
    expect(p.result).to.include({ vm_id: '9101', template_name: 'ovzt-t9101', domain_type: 'openvz', vcpu: '1', memory: '96' });
    // A marker file proves the new template carries this container's files.
    await nodeExec(n1, ['lxc-attach', '-n', '9101', '--', 'sh', '-c', 'echo made-in-9101 > /root/marker']);
    const bad = await e.ok(OVZ, 'create_template_from_vm', [e.sid, 0, n1.name, '9101', 'ovzt-t9101', { memory: 'lots' }]);
    expect(bad.result).to.deep.equal({ memory: 'Memory size not correct' });
    const t0 = Date.now();
    const made = await e.ok(OVZ, 'create_template_from_vm', [e.sid, 0, n1.name, '9101', 'ovzt-t9101', { memory: '48', min_memory: '32' }]);
    console.log(`      create_template_from_vm of a running container: ${Date.now() - t0} ms`);
    expect(made.result).to.deep.equal({});
    expect((await nodeExec(n1, ['ls', '/var/lib/oms-node/templates/cache'])).stdout.split('\n')).to.include.members(['ovzt-t9101.tar.gz', 'ovzt-t9101.json']);
    expect((await e.ok(OVZ, 'list_templates', [e.sid, 0, n1.name])).result).to.include('ovzt-t9101');
    const again = await e.call(OVZ, 'create_template_from_vm', [e.sid, 0, n1.name, '9101', 'ovzt-t9101', {}]);
    expect(again.error?.message).to.match(/^OpenVZTemplateExistsError/);

    const t = await e.ok(OVZ, 'parse_template_for_vm', [e.sid, 0, n1.name, 'ovzt-t9101', 'ct9102.oms.test']);
    expect(t.result).to.include({ memory: '48', min_memory: '32' });
    expect((await e.ok(OVZ, 'deploy_template_for_vm', [e.sid, 0, n1.name, 'ovzt-t9101', 'ct9102.oms.test', { vm_id: '9102' }])).result).to.deep.equal({});
    await e.ok(OVZ, 'start_vm', [e.sid, 0, n1.name, '9102']);
    expect((await nodeExec(n1, ['lxc-attach', '-n', '9102', '--', 'hostname'])).stdout.trim()).to.equal('ct9102.oms.test');
    expect((await nodeExec(n1, ['lxc-attach', '-n', '9102', '--', 'cat', '/root/marker'])).stdout.trim()).to.equal('made-in-9101');
    expect((await nodeExec(n1, ['lxc-cgroup', '-n', '9102', 'memory.limit_in_bytes'])).stdout.trim()).to.equal(String(48 * 1024 * 1024));

    expect((await e.ok(OVZ, 'delete_vm', [e.sid, 0, n1.name, 9102])).result).to.equal(0);
    expect(await lxcIds(n1)).to.deep.equal(['9101']);
    expect((await nodeExec(n1, ['test', '-e', '/var/lib/lxc/9102'])).code).to.equal(1);
    const gone = await e.call(OVZ, 'start_vm', [e.sid, 0, n1.name, '9102']);
    expect(gone.error).to.include({ origin: 2, code: 702 });
  });

  it('permissions: viewers list but cannot change; a NoAccess grant hides one container', async () => {
    await e.ok('userservices', 'add_user', [e.sid, 0, 'ovz-viewer', 'ovz viewer password 1', [{ path: '/', role: 'Auditor' }, { path: `/nodes/${n1.name}/vms/9101`, role: 'NoAccess' }]]);
    const v = (await e.call('authservices', 'authenticate', ['ovz-viewer', 'ovz viewer password 1'])).result.result;
    const l = await e.ok(OVZ, 'list_vms', [v, 0, n1.name]);
    expect(l.result.map((x: any) => x.id)).not.to.include('9101');
    expect(Object.keys((await e.ok(OVZ, 'list_vms_status', [v, 0, n1.name])).result)).not.to.include('9101');
    expect((await e.ok('kvmplusovzservices', 'list_vms', [v, 0, n1.name])).result.map((x: any) => x.id)).not.to.include('9101');
    for (const [m, params] of [
      ['stop_vm', [n1.name, '9101']],
      ['parse_vm_settings', [n1.name, '9101']],
      ['deploy_template_for_vm', [n1.name, 'ovzt-busybox', 'x.oms.test', { vm_id: '9150' }]],
      ['migrate_vm', [n1.name, '9101', n2.name]],
    ] as const) {
      expect((await e.call(OVZ, m, [v, 0, ...params])).error?.code, m).to.equal(6);
    }
    expect(await lxcState(n1, '9101')).to.equal('RUNNING');
    expect(await lxcIds(n1)).to.deep.equal(['9101']);
  });

  it('a change to a container busy with a task is refused, not interleaved', async () => {
    // A stop (busybox init halts in about 2 s) holds the container; a start meanwhile is refused.
    const stopping = e.call(OVZ, 'stop_vm', [e.sid, 0, n1.name, '9101']);
    await new Promise((r) => setTimeout(r, 300));
    const clash = await e.call(OVZ, 'start_vm', [e.sid, 0, n1.name, '9101']);
    expect(clash.error).to.include({ code: 121 });
    expect((await stopping).result.result.result).to.equal(0);
    expect(await lxcState(n1, '9101')).to.equal('STOPPED');
    await e.ok(OVZ, 'start_vm', [e.sid, 0, n1.name, '9101']);
    const tasks = await e.ok('tasks', 'list_tasks', [e.sid, 0, n1.name]);
    expect(tasks.filter((t: any) => t.target === '9101').map((t: any) => t.kind)).to.include.members(['ovz.stop', 'ovz.start', 'ovz.deploy', 'ovz.update_settings']);
  });

  it('a migration failing after the source was stopped restarts it there and leaves the target as it was', async () => {
    // Something not a container already sits where the copy would go on the target.
    await nodeExec(n2, ['sh', '-c', 'mkdir -p /var/lib/lxc/9101 && echo not-ours > /var/lib/lxc/9101/marker']);
    try {
      const r = await e.call(OVZ, 'migrate_vm', [e.sid, 0, n1.name, '9101', n2.name]);
      expect(r.error).to.include({ origin: 2, code: 701 });
      expect(r.error.message).to.include('stays on ' + n1.name);
      expect(await lxcState(n1, '9101')).to.equal('RUNNING');
      expect((await nodeExec(n1, ['lxc-attach', '-n', '9101', '--', 'hostname'])).stdout.trim()).to.equal('ct9101.oms.test');
      expect((await nodeExec(n2, ['cat', '/var/lib/lxc/9101/marker'])).stdout).to.equal('not-ours\n');
      expect((await nodeExec(n2, ['ls', '/var/lib/lxc/9101'])).stdout).to.equal('marker\n');
      const failed = (await e.ok('tasks', 'list_tasks', [e.sid, 0, n1.name, 'failed'])).find((t: any) => t.kind === 'ovz.migrate' && t.target === '9101');
      expect(failed.error.name).to.equal('OpenVZMigrationError');
    } finally {
      await nodeExec(n2, ['rm', '-rf', '/var/lib/lxc/9101']);
    }
  });

  it('a migration cancelled with cancel_task rolls back: running on the source, nothing on the target', async () => {
    const pending = e.call(OVZ, 'migrate_vm', [e.sid, 0, n1.name, '9101', n2.name]);
    let task: any;
    for (let i = 0; i < 50 && !task; i++) {
      await new Promise((r) => setTimeout(r, 50));
      task = (await e.ok('tasks', 'list_tasks', [e.sid, 0, n1.name, 'running'])).find((t: any) => t.kind === 'ovz.migrate' && t.target === '9101');
    }
    expect(task, 'the migration task was seen running').to.not.equal(undefined);
    // The source is stopping (about 2 s); the task stops at its next step and undoes what it did.
    expect(await e.ok('tasks', 'cancel_task', [e.sid, 0, task.id])).to.equal(1);
    const r = await pending;
    expect(r.error).to.include({ code: 122 });
    expect(await lxcState(n1, '9101')).to.equal('RUNNING');
    expect(await lxcIds(n2)).to.deep.equal([]);
    expect((await nodeExec(n2, ['test', '-e', '/var/lib/lxc/9101'])).code).to.equal(1);
    expect((await e.ok('tasks', 'task_status', [e.sid, 0, task.id])).state).to.equal('cancelled');
  });

  it('migrate_vm moves a running container to the other node, verified, and removes it from the source', async () => {
    // A cached listing of the target must not survive the migration.
    const cached = await e.call(OVZ, 'list_vms_status', [e.sid, 600, n2.name]);
    expect(Object.keys(cached.result.result.result)).not.to.include('9101');
    expect((await e.call(OVZ, 'list_vms_status', [e.sid, 600, n2.name])).result.type).to.equal('tmp_cache');
    // 300 MiB of incompressible data: more than the gateway could hold whole without showing it.
    const big = await nodeExec(n1, ['sh', '-c', 'head -c 314572800 /dev/urandom > /var/lib/lxc/9101/rootfs/root/big && sha256sum < /var/lib/lxc/9101/rootfs/root/big']);
    expect(big.code, big.stderr).to.equal(0);
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${e.gw.child.pid}/status`, 'utf8'))![1]) / 1024;
    const rssBefore = rss();
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rss())), 100);
    const started = Date.now();
    const r = await e.ok(OVZ, 'migrate_vm', [e.sid, 0, n1.name, '9101', n2.name]).finally(() => clearInterval(sampler));
    expect(r).to.deep.equal({ client: n1.name, result: 0 });
    console.log(`      migration of a running container holding 300 MiB: ${Date.now() - started} ms, gateway RSS ${rssBefore.toFixed(0)} -> peak ${rssPeak.toFixed(0)} MiB`);
    // Streamed, not held: the gateway grows by buffers, not by the container's size.
    expect(rssPeak - rssBefore).to.be.below(100);
    expect((await nodeExec(n2, ['sh', '-c', 'sha256sum < /var/lib/lxc/9101/rootfs/root/big'])).stdout).to.equal(big.stdout);
    await nodeExec(n2, ['rm', '-f', '/var/lib/lxc/9101/rootfs/root/big']);
    expect(await lxcIds(n1)).to.deep.equal([]);
    expect((await nodeExec(n1, ['test', '-e', '/var/lib/lxc/9101'])).code).to.equal(1);
    expect(await lxcState(n2, '9101')).to.equal('RUNNING');
    const fresh = await e.call(OVZ, 'list_vms_status', [e.sid, 600, n2.name]);
    expect(fresh.result.type).to.equal('func');
    expect(fresh.result.result.result['9101']).to.include({ state: 'running' });
    expect((await nodeExec(n2, ['lxc-attach', '-n', '9101', '--', 'hostname'])).stdout.trim()).to.equal('ct9101.oms.test');
    expect((await nodeExec(n2, ['lxc-attach', '-n', '9101', '--', 'cat', '/root/marker'])).stdout.trim()).to.equal('made-in-9101');
    expect((await nodeExec(n2, ['lxc-cgroup', '-n', '9101', 'memory.limit_in_bytes'])).stdout.trim()).to.equal(String(96 * 1024 * 1024));
    const p = await e.ok(OVZ, 'parse_vm_settings', [e.sid, 0, n2.name, '9101']);
    expect(p.result).to.include({ memory: '96', vcpulimit: '25', onboot: 'yes', ip_address: '10.213.101.91', searchdomain: 'oms.test' });
  });

  it('a migration that cannot happen fails cleanly and leaves the container running where it was', async () => {
    const unknown = await e.call(OVZ, 'migrate_vm', [e.sid, 0, n2.name, '9101', 'omsnode-none']);
    expect(unknown.error).to.include({ origin: 2, code: 200 });
    const same = await e.call(OVZ, 'migrate_vm', [e.sid, 0, n2.name, '9101', n2.name]);
    expect(same.error?.message).to.match(/^OpenVZMigrationNotCapable/);
    // The id is taken on the target: refused before anything stops.
    await e.ok(OVZ, 'deploy_template_for_vm', [e.sid, 0, n1.name, 'ovzt-busybox', 'ct9101b.oms.test', { vm_id: '9101' }]);
    const taken = await e.call(OVZ, 'migrate_vm', [e.sid, 0, n2.name, '9101', n1.name]);
    expect(taken.error).to.include({ origin: 2, code: 700 });
    expect(taken.error.message).to.include('already exists');
    expect(await lxcState(n2, '9101')).to.equal('RUNNING');
    expect((await nodeExec(n1, ['lxc-attach', '-n', '9101', '--', 'true'])).code).to.not.equal(0);
    expect((await e.ok(OVZ, 'delete_vm', [e.sid, 0, n1.name, '9101'])).result).to.equal(0);
    const missing = await e.call(OVZ, 'migrate_vm', [e.sid, 0, n1.name, '9101', n2.name]);
    expect(missing.error).to.include({ code: 702 });
    expect(await lxcState(n2, '9101')).to.equal('RUNNING');
  });

  it('delete_vm stops a running container and removes its private area', async () => {
    expect((await e.ok(OVZ, 'delete_vm', [e.sid, 0, n2.name, '9101'])).result).to.equal(0);
    expect(await lxcIds(n2)).to.deep.equal([]);
    expect((await nodeExec(n2, ['test', '-e', '/var/lib/lxc/9101'])).code).to.equal(1);
  });

  it('hostile ids, template names, vm names and settings are refused before anything runs', async () => {
    const before = await canary(n1);
    const hostile = ['9101; touch /tmp/x', '$(id)', '`id`', '../9101', '-9101', '9101\n', '９１０１', '9'.repeat(5000), "9101'", '../../etc/passwd', 'ovzt-a/../b'];
    for (const bad of hostile) {
      for (const m of ['start_vm', 'stop_vm', 'force_stop_vm', 'pause_vm', 'resume_vm', 'delete_vm', 'parse_vm_settings']) {
        const r = await e.call(OVZ, m, [e.sid, 0, n1.name, bad]);
        expect(r.error?.code, `${m} ${JSON.stringify(bad)}`).to.equal(5);
      }
      const t = await e.call(OVZ, 'parse_template_for_vm', [e.sid, 0, n1.name, bad, 'ok.name']);
      expect(t.error?.code, JSON.stringify(bad)).to.equal(5);
      const v = await e.call(OVZ, 'deploy_template_for_vm', [e.sid, 0, n1.name, 'ovzt-busybox', bad, {}]);
      expect(v.error?.code, JSON.stringify(bad)).to.equal(5);
      const m = await e.call(OVZ, 'migrate_vm', [e.sid, 0, n1.name, '9150', bad]);
      expect(m.error?.code, JSON.stringify(bad)).to.equal(5);
      const c = await e.call(OVZ, 'create_template_from_vm', [e.sid, 0, n1.name, '9150', bad, {}]);
      expect(c.error?.code, JSON.stringify(bad)).to.equal(5);
    }
    // Setting names are a schema matter; setting values are answered per field, nothing made.
    const keys = await e.call(OVZ, 'deploy_template_for_vm', [e.sid, 0, n1.name, 'ovzt-busybox', 'ok.name', { 'memory; id': '64' }]);
    expect(keys.error?.code).to.equal(5);
    const values = await e.ok(OVZ, 'deploy_template_for_vm', [e.sid, 0, n1.name, 'ovzt-busybox', 'ok.name', { vm_id: '9150; id', ip_address: '1.2.3.4\nlxc.mount.entry = / x', searchdomain: 'a`id`', memory: '64\n' }]);
    expect(values.result).to.deep.equal({ vm_id: 'Container ID not correct', ip_address: 'IP address not correct', searchdomain: 'Search domain not correct', memory: 'Memory size not correct' });
    expect(await lxcIds(n1)).to.deep.equal([]);
    expect((await nodeExec(n1, ['test', '-e', '/tmp/x'])).code).to.equal(1);
    expect(await canary(n1)).to.equal(before);
  });
});
