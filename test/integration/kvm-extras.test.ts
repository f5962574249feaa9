/**
 * kvmservices methods beyond the OMS document on a real lab node, checked against virsh there:
 * runtime info, autostart, edit, disks and NICs, clone, recursive delete, libvirt networks.
 */
import { expect } from 'chai';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const IMAGES = '/var/lib/oms-node/images';
const ISOS = '/var/lib/oms-node/isos';
const TEMPLATES = '/var/lib/oms-node/templates';

const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);

/** Removes every kvmt-* guest, file and network of the node: this test's own objects only. */
async function cleanAll(node: LabNode): Promise<void> {
  const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('kvmt-'));
  for (const vm of names) {
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', '--managed-save', vm);
  }
  await nodeExec(node, ['find', IMAGES, TEMPLATES, ISOS, '-maxdepth', '1', '-name', 'kvmt-*', '-exec', 'rm', '-rf', '--', '{}', '+']);
  const nets = (await virsh(node, 'net-list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('kvmt-'));
  for (const net of nets) {
    await virsh(node, 'net-destroy', net);
    await virsh(node, 'net-undefine', net);
  }
}

const state = async (node: LabNode, vm: string) => (await virsh(node, 'domstate', vm)).stdout.trim();

describe('kvmservices extras on the lab', function () {
  this.timeout(120_000);
  let e: Env;
  let node: LabNode;
  const ok = (method: string, params: unknown[]) => e.ok('kvmservices', method, [e.sid, 0, node.name, ...params]).then((r) => r.result);
  const call = (method: string, params: unknown[]) => e.call('kvmservices', method, [e.sid, 0, node.name, ...params]);

  before(async () => {
    e = await startEnv();
    node = e.lab.nodes[1];
    await cleanAll(node);
    await enroll(e, e.lab.nodes.slice(0, 3));
    // A private copy of the lab ISO, so deleting "cdroms" never touches the shared lab.iso.
    await nodeExec(node, ['cp', `${ISOS}/lab.iso`, `${ISOS}/kvmt-cd.iso`]);
    await ok('create_vm_from_iso', ['kvmt-x1', 'generic', 'linux', 'kvmt-cd.iso', '0.02', '', '64']);
  });
  after(async () => {
    if (node) await cleanAll(node);
    await e?.stop();
  });

  it('permissions: a guest the user may not see is left out of the listings and refused', async () => {
    const roles = [
      { path: `/nodes/${node.name}`, role: 'VMUser' },
      { path: `/nodes/${node.name}/vms/kvmt-x1`, role: 'NoAccess' },
    ];
    await e.ok('userservices', 'add_user', [e.sid, 0, 'kvmtuser', 'kvmt-Lab-passw0rd-long', roles]);
    const sid = (await e.call('authservices', 'authenticate', ['kvmtuser', 'kvmt-Lab-passw0rd-long'])).result.result;
    const as = (method: string, params: unknown[]) => e.call('kvmservices', method, [sid, 0, node.name, ...params]);
    const listed = (await as('list_vms', [])).result.result.result.map((v: any) => v.name);
    expect(listed).to.not.include('kvmt-x1');
    expect((await ok('list_vms', [])).map((v: any) => v.name)).to.include('kvmt-x1');
    expect(Object.keys((await as('list_vms_status', [])).result.result.result[0])).to.not.include('kvmt-x1');
    for (const m of ['start_vm', 'parse_vm_settings', 'delete_vm', 'vm_runtime_info']) expect((await as(m, ['kvmt-x1'])).error.message, m).to.match(/^Permission denied: /);
    // VMUser may change power state but not delete or create.
    expect((await as('delete_vm', ['kvmt-other'])).error.message).to.equal(`Permission denied: vm.delete on /nodes/${node.name}/vms/kvmt-other`);
    expect((await as('create_file_based_image', ['kvmt-u.img', 1])).error.message).to.match(/^Permission denied: /);
    await e.ok('userservices', 'delete_user', [e.sid, 0, 'kvmtuser']);
  });

  it('vm_runtime_info matches domstats; autostart on and off', async () => {
    const info = await ok('vm_runtime_info', ['kvmt-x1']);
    expect(info).to.deep.include({ state: 'running', autostart: false, vcpus: 1 });
    expect(info.memory.maximum_kib).to.equal(65536);
    expect(info.cpu_time_ns).to.be.greaterThan(0);
    expect(info.disks.map((d: any) => d.path)).to.deep.equal([`${IMAGES}/kvmt-x1.qcow2`, `${ISOS}/kvmt-cd.iso`]);
    const raw = (await virsh(node, 'domstats', '--raw', '--block', 'kvmt-x1')).stdout;
    expect(raw).to.include(`block.0.capacity=${info.disks[0].capacity}`);
    await ok('set_autostart', ['kvmt-x1', 'yes']);
    expect((await virsh(node, 'dominfo', 'kvmt-x1')).stdout).to.match(/Autostart:\s+enable/);
    expect((await ok('vm_runtime_info', ['kvmt-x1'])).autostart).to.equal(true);
    await ok('set_autostart', ['kvmt-x1', 'no']);
    expect((await virsh(node, 'dominfo', 'kvmt-x1')).stdout).to.match(/Autostart:\s+disable/);
  });

  it('a NIC hot-plugged into the running guest; edit refused while running', async () => {
    const { mac } = await ok('attach_nic', ['kvmt-x1', 'network', 'lab']);
    expect(mac).to.match(/^52:54:00:/);
    expect((await virsh(node, 'domiflist', 'kvmt-x1')).stdout).to.include(mac);
    expect((await virsh(node, 'dumpxml', '--inactive', 'kvmt-x1')).stdout).to.include(mac);
    const r = await call('edit_vm', ['kvmt-x1', { cpus: 2 }]);
    // A running guest keeps the vCPU maximum it was started with (edit rules: kvm-devices.test.ts).
    expect(r.error.message).to.equal("VmStateError: VM kvmt-x1 on omsnode2 is running: cpus: 2 is above the running guest's maximum of 1 vCPUs, which changes only while it is stopped");
    expect((await call('clone_vm', ['kvmt-x1', 'kvmt-x2'])).error.message).to.match(/^VmStateError/);
    await ok('stop_vm', ['kvmt-x1']);
    await ok('detach_nic', ['kvmt-x1', mac]);
    expect((await virsh(node, 'domiflist', 'kvmt-x1')).stdout).to.not.include(mac);
    expect((await call('detach_nic', ['kvmt-x1', mac])).error.message).to.equal(`UnknownDeviceError: VM kvmt-x1 on omsnode2 has no NIC ${mac}`);
  });

  it('edit_vm changes cpus, memory and name of the stopped guest; invalid values refused', async () => {
    const bad = await call('edit_vm', ['kvmt-x1', { cpus: 99, memory: 'x' }]);
    expect(bad.error.message).to.equal('InvalidSettingsError: Invalid settings for kvmt-x1: cpus: Virtual CPU count not correct; memory: Memory size not correct');
    expect((await call('edit_vm', ['kvmt-x1', { name: '../x' }])).error.code).to.equal(5);
    expect(await ok('edit_vm', ['kvmt-x1', { cpus: 2, memory: 96, name: 'kvmt-x1r' }])).to.equal(0);
    const info = (await virsh(node, 'dominfo', 'kvmt-x1r')).stdout;
    expect(info).to.match(/CPU\(s\):\s+2/);
    expect(info).to.match(/Max memory:\s+98304 KiB/);
    expect((await virsh(node, 'dominfo', 'kvmt-x1')).code).to.not.equal(0);
  });

  it('attach and detach a disk image', async () => {
    await ok('create_file_based_image', ['kvmt-extra.qcow2', 8]);
    await ok('attach_disk', ['kvmt-x1r', 'kvmt-extra.qcow2', 'vdb']);
    expect((await virsh(node, 'domblklist', 'kvmt-x1r')).stdout).to.match(new RegExp(`vdb\\s+${IMAGES}/kvmt-extra.qcow2`));
    expect((await virsh(node, 'dumpxml', 'kvmt-x1r')).stdout).to.include("<driver name='qemu' type='qcow2'/>\n      <source file='/var/lib/oms-node/images/kvmt-extra.qcow2'/>");
    await ok('detach_disk', ['kvmt-x1r', 'vdb']);
    expect((await virsh(node, 'domblklist', 'kvmt-x1r')).stdout).to.not.include('vdb');
    expect((await call('detach_disk', ['kvmt-x1r', 'vdb'])).error.message).to.equal('UnknownDeviceError: VM kvmt-x1r on omsnode2 has no disk vdb');
  });

  it('clone_vm copies the disks as a task, shares the CD-ROM, and the clone boots', async () => {
    const { task_id } = await ok('clone_vm', ['kvmt-x1r', 'kvmt-x2']);
    let t: any;
    for (let i = 0; i < 100; i++) {
      t = await e.ok('tasks', 'task_status', [e.sid, 0, task_id]);
      if (t.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(t.state, JSON.stringify(t.error)).to.equal('succeeded');
    expect(t.result).to.deep.equal({ name: 'kvmt-x2', disks: [`${IMAGES}/kvmt-x2-vda.qcow2`] });
    const blk = (await virsh(node, 'domblklist', 'kvmt-x2')).stdout;
    expect(blk).to.include(`${IMAGES}/kvmt-x2-vda.qcow2`);
    expect(blk).to.include(`${ISOS}/kvmt-cd.iso`);
    const uuid = async (vm: string) => (await virsh(node, 'domuuid', vm)).stdout.trim();
    expect(await uuid('kvmt-x2')).to.not.equal(await uuid('kvmt-x1r'));
    await ok('start_vm', ['kvmt-x2']);
    expect(await state(node, 'kvmt-x2')).to.equal('running');
    expect((await call('clone_vm', ['kvmt-x1r', 'kvmt-x2'])).error.message).to.equal('VmExistsError: VM kvmt-x2 already exists on omsnode2');
  });

  it('delete_vm_recursive: refuses running without force; keeps drives another guest uses', async () => {
    const refused = await call('delete_vm_recursive', ['kvmt-x2', 'all_drives']);
    expect(refused.error.message).to.match(/^VmStateError: VM kvmt-x2 on omsnode2 is running: refusing to delete a running guest without force/);
    const first = await ok('delete_vm_recursive', ['kvmt-x1r', 'all_drives']);
    expect(first).to.deep.equal({ deleted: [`${IMAGES}/kvmt-x1.qcow2`], kept: [{ path: `${ISOS}/kvmt-cd.iso`, reason: 'used by kvmt-x2' }] });
    expect((await nodeExec(node, ['test', '-e', `${IMAGES}/kvmt-x1.qcow2`])).code).to.equal(1);
    expect((await nodeExec(node, ['test', '-e', `${ISOS}/kvmt-cd.iso`])).code).to.equal(0);
    const second = await ok('delete_vm_recursive', ['kvmt-x2', 'cdroms', 'yes']);
    expect(second).to.deep.equal({ deleted: [`${ISOS}/kvmt-cd.iso`], kept: [] });
    expect((await virsh(node, 'dominfo', 'kvmt-x2')).code).to.not.equal(0);
    expect((await nodeExec(node, ['test', '-e', `${IMAGES}/kvmt-x2-vda.qcow2`])).code).to.equal(0);
    expect((await nodeExec(node, ['test', '-e', `${ISOS}/lab.iso`])).code).to.equal(0);
  });

  it('libvirt networks: list, create on a bridge, OVS + VLAN defined and validated, delete', async () => {
    const nets = await ok('list_networks', []);
    expect(nets.find((n: any) => n.name === 'lab')).to.deep.include({ active: true, autostart: true, bridge: 'lxcbr0', forward: 'bridge', ovs: false });
    const made = await ok('create_network', ['kvmt-net', 'lxcbr0']);
    expect(made).to.deep.include({ name: 'kvmt-net', active: true, autostart: true, bridge: 'lxcbr0' });
    expect((await virsh(node, 'net-info', 'kvmt-net')).stdout).to.match(/Active:\s+yes/);
    expect((await call('create_network', ['kvmt-net', 'lxcbr0'])).error.message).to.equal('NetworkExistsError: libvirt network kvmt-net already exists on omsnode2');
    const ovs = await ok('create_network', ['kvmt-ovs', 'kvmtovs0', { ovs: true, vlan: 42, start: false }]);
    expect(ovs).to.deep.include({ active: false, ovs: true, vlans: [42] });
    const xml = (await virsh(node, 'net-dumpxml', 'kvmt-ovs')).stdout;
    expect(xml).to.include("<virtualport type='openvswitch'/>");
    expect(xml).to.include("<tag id='42'/>");
    expect((await call('create_network', ['kvmt-vl', 'lxcbr0', { vlan: 5 }])).error.code).to.equal(5);
    expect((await call('create_network', ['kvmt-vl', 'br;x'])).error.code).to.equal(5);
    expect((await call('create_network', ['kvmt-vl', 'kvmtnobr0'])).error.message).to.equal('UnknownBridgeError: No bridge kvmtnobr0 on omsnode2');
    expect((await virsh(node, 'net-info', 'kvmt-vl')).code).to.not.equal(0);
    for (const n of ['kvmt-net', 'kvmt-ovs']) {
      expect(await ok('delete_network', [n])).to.equal(0);
      expect((await virsh(node, 'net-info', n)).code).to.not.equal(0);
    }
    expect((await call('delete_network', ['kvmt-net'])).error.message).to.equal('UnknownNetworkError: Unknown libvirt network kvmt-net on omsnode2');
  });
});
