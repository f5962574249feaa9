/**
 * kvmservices on real lab nodes: every answer checked against what virsh / qemu-img on the node
 * say (nodeExec). Guests are 64-128 MiB, named kvmt-*, and removed afterwards (also on failure);
 * the restart tests use their own guest, labt-acpi, with its files in the node's oms-node/labt/.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { acpiGuestImage, acpiGuestSourceMatches, BOOTED, POWER_BUTTON } from '../lab/acpi-guest.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const IMAGES = '/var/lib/oms-node/images';
const TEMPLATES = '/var/lib/oms-node/templates';

const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);
const state = async (node: LabNode, vm: string) => (await virsh(node, 'domstate', vm)).stdout.trim();

/** Removes every kvmt-* guest, image and template of the node: the test's own objects only. */
async function cleanKvmt(node: LabNode): Promise<void> {
  const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('kvmt-'));
  for (const vm of names) {
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', '--managed-save', vm);
  }
  await nodeExec(node, ['find', IMAGES, TEMPLATES, '-maxdepth', '1', '-name', 'kvmt-*', '-exec', 'rm', '-rf', '--', '{}', '+']);
}

async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('kvmservices on the lab', function () {
  this.timeout(120_000);
  let e: Env;
  let node: LabNode;
  const ok = (method: string, params: unknown[]) => e.ok('kvmservices', method, [e.sid, 0, node.name, ...params]);
  const call = (method: string, params: unknown[]) => e.call('kvmservices', method, [e.sid, 0, node.name, ...params]);

  before(async () => {
    e = await startEnv();
    node = e.lab.nodes[0];
    await cleanKvmt(node);
    await enroll(e, e.lab.nodes.slice(0, 3));
  });
  after(async () => {
    if (node) await cleanKvmt(node);
    await e?.stop();
  });

  it('parse_system_min_max is the node\'s own CPUs and memory', async () => {
    const r = await ok('parse_system_min_max', []);
    const info = (await virsh(node, 'nodeinfo')).stdout;
    const cpus = /CPU\(s\):\s+(\d+)/.exec(info)![1];
    const memMiB = Math.floor(Number(/Memory size:\s+(\d+) KiB/.exec(info)![1]) / 1024);
    expect(r.result).to.deep.equal({ max_vcpu: cpus, min_vcpu: '1', min_memory: '16', max_memory: String(memMiB) });
  });

  it('file-based images: create, list, delete, as qemu-img sees them', async () => {
    expect(await ok('create_file_based_image', ['kvmt-img.img', 10])).to.deep.equal({ client: node.name, result: 0 });
    const info = JSON.parse((await nodeExec(node, ['qemu-img', 'info', '--output=json', `${IMAGES}/kvmt-img.img`])).stdout);
    expect(info).to.include({ format: 'raw', 'virtual-size': 10 * 1024 * 1024 });
    expect((await ok('list_file_based_images', [])).result).to.include.members(['kvmt-img.img', 'lab-disk.qcow2']);
    expect((await ok('list_file_based_image', [])).result).to.include('kvmt-img.img');
    const again = await call('create_file_based_image', ['kvmt-img.img', 10]);
    expect(again.error.message).to.equal(`ImageExistsError: Disk image kvmt-img.img already exists on ${node.name}`);
    expect((await ok('delete_file_based_image', ['kvmt-img.img'])).result).to.deep.equal([0, '', '']);
    expect((await nodeExec(node, ['test', '-e', `${IMAGES}/kvmt-img.img`])).code).to.equal(1);
    expect((await call('delete_file_based_image', ['kvmt-img.img'])).error.message).to.equal(`UnknownImageError: Unknown disk image kvmt-img.img on ${node.name}`);
  });

  describe('a guest installed from the lab ISO', () => {
    const vm = 'kvmt-iso';

    it('create_vm_from_iso makes the disk, defines the guest and boots the ISO', async () => {
      const r = await ok('create_vm_from_iso', [vm, 'generic', 'linux', 'lab.iso', '0.05', '', '64', '', '']);
      expect(r).to.deep.equal({ client: node.name, result: 0 });
      expect(await state(node, vm)).to.equal('running');
      const xml = (await virsh(node, 'dumpxml', vm)).stdout;
      expect(xml).to.match(/<domain type='kvm'/);
      expect(xml).to.include(`<source file='${IMAGES}/${vm}.qcow2'`);
      expect(xml).to.include("<source file='/var/lib/oms-node/isos/lab.iso'");
      expect(xml).to.match(/<graphics type='vnc' port='\d+' autoport='yes' listen='127\.0\.0\.1'>/);
      expect(xml).to.match(/<serial type='pty'>/);
      expect(xml).to.include("<memory unit='KiB'>65536</memory>");
      const img = JSON.parse((await nodeExec(node, ['qemu-img', 'info', '-U', '--output=json', `${IMAGES}/${vm}.qcow2`])).stdout);
      expect(img).to.include({ format: 'qcow2', 'virtual-size': 51 * 1024 * 1024 });
    });

    it('list_vms and list_vms_status report it as virsh does', async () => {
      const names = async () => (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
      const before = await names();
      const list = (await ok('list_vms', ['cpu', 'memory', 'df'])).result as any[];
      const after = await names();
      const mine = list.find((v) => v.name === vm);
      expect(mine).to.deep.include({ status: 1, tags: [], name: vm, id: vm });
      expect(mine.stats.memory.maximum_kib).to.equal(65536);
      expect(mine.stats.cpu.vcpus).to.equal(1);
      expect(mine.stats.df.map((d: any) => d.path)).to.include(`${IMAGES}/${vm}.qcow2`);
      // Other engineers' guests may come and go on the shared node between the two looks.
      const listed = list.map((v) => v.name);
      expect(listed).to.include.members(before.filter((n) => after.includes(n)));
      expect([...before, ...after]).to.include.members(listed);
      const status = (await ok('list_vms_status', [])).result;
      expect(status).to.have.length(1);
      expect(status[0][vm]).to.deep.include({ nrVirtCpu: 1, state: 'running', maxMem: '65536', memory: '65536' });
      expect(Number(status[0][vm].cpuTime)).to.be.greaterThan(0);
      expect((await ok('list_file_based_images_used', [])).result).to.include(`${vm}.qcow2`);
      const inUse = await call('delete_file_based_image', [`${vm}.qcow2`]);
      expect(inUse.error.message).to.equal(`ImageInUseError: Disk image ${vm}.qcow2 on ${node.name} is used by VM ${vm}`);
    });

    it('settings: parse, update with per-field errors, valid ones applied', async () => {
      expect((await ok('parse_vm_settings', [vm])).result).to.include({ vcpu: '1', memory: '64', min_vcpu: '1' });
      const r = await ok('update_vm_settings', [vm, { vcpu: '999', memory: '96' }]);
      expect(r.result).to.deep.equal({ vcpu: 'Virtual CPU count not correct' });
      expect((await virsh(node, 'dumpxml', '--inactive', vm)).stdout).to.include("<memory unit='KiB'>98304</memory>");
      const bad = await ok('update_vm_settings', [vm, { memory: 'lots', vcpu: 1 }]);
      expect(bad.result).to.deep.equal({ memory: 'Memory size not correct' });
      expect((await ok('parse_vm_settings', [vm])).result).to.include({ vcpu: '1', memory: '96' });
      await ok('update_vm_settings', [vm, { memory: '64' }]);
      expect((await virsh(node, 'dumpxml', '--inactive', vm)).stdout).to.include("<memory unit='KiB'>65536</memory>");
    });

    it('power: pause/resume, ACPI shutdown ignored -> STOPPING then running, forced stop, start; current state is success', async () => {
      expect((await ok('pause_vm', [vm])).result).to.equal(0);
      expect(await state(node, vm)).to.equal('paused');
      expect((await ok('pause_vm', [vm])).result).to.equal(0);
      expect((await ok('list_vms_status', [])).result[0][vm].state).to.equal('paused');
      await ok('resume_vm', [vm]);
      expect(await state(node, vm)).to.equal('running');
      expect((await ok('resume_vm', [vm])).result).to.equal(0);

      // The lab ISO has no OS to hear the ACPI button: the window passes and the guest stays up.
      const { task_id } = (await ok('shutdown_vm', [vm, 3])).result;
      expect(task_id).to.match(/^[0-9a-f-]{36}$/);
      // The OMS field keeps OMS values (running until off); the transition is in vm_state.
      expect((await ok('list_vms_status', [])).result[0][vm]).to.deep.include({ state: 'running', vm_state: 'STOPPING' });
      expect(await state(node, vm)).to.equal('running');
      const t = await waitFor('shutdown task', () => e.ok('tasks', 'task_status', [e.sid, 0, task_id]), (r) => r.state !== 'running');
      expect(t.state).to.equal('failed');
      expect(t.error.name).to.equal('ShutdownTimeoutError');
      expect((await ok('list_vms_status', [])).result[0][vm].state).to.equal('running');

      // A long window, cancelled: the task ends as cancelled and the guest reads running again.
      const long = (await ok('shutdown_vm', [vm, 600])).result.task_id;
      expect((await call('shutdown_vm', [vm])).error.message).to.match(/^TaskConflictError: omsnode1\/kvmt-iso is busy with task/);
      expect((await e.ok('tasks', 'cancel_task', [e.sid, 0, long]))).to.equal(1);
      const c = await waitFor('cancelled task', () => e.ok('tasks', 'task_status', [e.sid, 0, long]), (r) => r.state !== 'running');
      expect(c.state).to.equal('cancelled');
      expect((await ok('list_vms_status', [])).result[0][vm].state).to.equal('running');

      expect((await ok('reset_vm', [vm])).result).to.equal(0);
      expect((await ok('reboot_vm', [vm])).result).to.equal(0);
      expect(await state(node, vm)).to.equal('running');
      expect((await ok('stop_vm', [vm])).result).to.equal(0);
      expect(await state(node, vm)).to.equal('shut off');
      expect((await ok('stop_vm', [vm])).result).to.equal(0);
      expect((await ok('shutdown_vm', [vm])).result).to.deep.equal({ task_id: null });
      expect((await call('reset_vm', [vm])).error.message).to.match(/^VmStateError: VM kvmt-iso on .* is shut off: cannot reset/);
      expect((await ok('list_vms', [])).result.find((v: any) => v.name === vm).status).to.equal(0);
      expect((await ok('list_vms_status', [])).result[0][vm].state).to.equal('shutdown');
      expect((await ok('start_vm', [vm])).result).to.equal(0);
      expect(await state(node, vm)).to.equal('running');
      expect((await ok('start_vm', [vm])).result).to.equal(0);
      await ok('destroy_vm', [vm]);
      expect(await state(node, vm)).to.equal('shut off');
    });

    it('template from the stopped guest, deployed again, boots', async () => {
      const made = await call('create_template_from_vm', [vm, 'kvmt-tpl', {}]);
      await ok('start_vm', [vm]);
      const refused = await call('create_template_from_vm', [vm, 'kvmt-tpl', {}]);
      expect(refused.error.message).to.match(/^VmStateError: VM kvmt-iso on .* is running: a template is made of a stopped guest only/);
      await ok('stop_vm', [vm]);
      expect(made.result.result.result).to.deep.equal({}); // it was stopped at that point

      const parsed = (await ok('parse_vm_for_template', [vm, 'kvmt-tpl2'])).result;
      expect(parsed).to.include({ vm_name: vm, vcpu: '1', memory: '64', domain_type: 'kvm', arch: 'x86_64', template_name: 'kvmt-tpl2' });
      expect(parsed.disks).to.have.length(1);
      expect(parsed.disks[0]).to.include({ disk_path: `${IMAGES}/${vm}.qcow2`, disk_capacity: String(51 * 1024 * 1024), new_path: `${TEMPLATES}/kvmt-tpl2/kvmt-tpl21.qcow2` });

      const ls = (await nodeExec(node, ['ls', `${TEMPLATES}/kvmt-tpl`])).stdout.split('\n').filter(Boolean).sort();
      expect(ls).to.deep.equal(['kvmt-tpl1.qcow2', 'template.json']);
      expect((await call('create_template_from_vm', [vm, 'kvmt-tpl', {}])).error.message).to.match(/^TemplateExistsError/);
      expect((await ok('list_templates', [])).result).to.include.members(['kvmt-tpl', 'lab-template']);

      const tpl = (await ok('parse_template_for_vm', ['kvmt-tpl', 'kvmt-dep'])).result;
      expect(tpl).to.include({ template_name: 'kvmt-tpl', vm_name: 'kvmt-dep', memory: '64', vcpu: '1', domain_type: 'kvm', virt_type: 'hvm', emulator: '/usr/bin/qemu-system-x86_64' });
      expect(tpl.disks[0]).to.include({ template_name: 'kvmt-tpl1.qcow2', source_file: 'kvmt-dep-kvmt-tpl1.qcow2', template_capacity: String(51 * 1024 * 1024) });

      const errors = (await ok('deploy_template_for_vm', ['kvmt-tpl', 'kvmt-dep', { memory: '999999999', vcpu: '0', clock_offset: 'mars' }])).result;
      expect(errors).to.have.keys(['memory', 'vcpu', 'clock_offset']);
      expect((await virsh(node, 'dominfo', 'kvmt-dep')).code).to.not.equal(0);

      expect((await ok('deploy_template_for_vm', ['kvmt-tpl', 'kvmt-dep', { ...tpl, memory: '96' }])).result).to.deep.equal({});
      const xml = (await virsh(node, 'dumpxml', 'kvmt-dep')).stdout;
      expect(xml).to.include(`<source file='${IMAGES}/kvmt-dep-kvmt-tpl1.qcow2'/>`);
      expect(xml).to.include("<memory unit='KiB'>98304</memory>");
      await ok('start_vm', ['kvmt-dep']);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await state(node, 'kvmt-dep')).to.equal('running');
      expect((await ok('list_vms_status', [])).result[0]['kvmt-dep'].state).to.equal('running');
    });

    it('a bare disk image in the templates directory deploys with default settings and boots', async () => {
      expect((await ok('deploy_template_for_vm', ['lab-template', 'kvmt-bare', { memory: '64' }])).result).to.deep.equal({});
      await ok('start_vm', ['kvmt-bare']);
      expect(await state(node, 'kvmt-bare')).to.equal('running');
      expect((await virsh(node, 'domblklist', 'kvmt-bare')).stdout).to.include(`${IMAGES}/kvmt-bare-lab-template.qcow2`);
    });

    it('delete_vm stops and undefines; the disk stays', async () => {
      for (const v of ['kvmt-bare', 'kvmt-dep', vm]) {
        expect((await ok('delete_vm', [v])).result).to.equal(0);
        expect((await virsh(node, 'dominfo', v)).code).to.not.equal(0);
      }
      expect((await nodeExec(node, ['test', '-f', `${IMAGES}/${vm}.qcow2`])).code).to.equal(0);
    });
  });

  describe('reboot_vm and reset_vm, seen from inside the guest', () => {
    // A return value of 0 says nothing about the guest. This guest (test/lab/acpi-guest.S) prints
    // a line on its serial port at every boot and powers off on the ACPI power button, as an OS
    // does; the serial port is a file on the node, which QEMU keeps open across guest resets. So
    // each restart is a new boot line, and an ACPI reboot also shows the button was heard. The
    // domain id and QEMU's pid must not change: a restart, not a destroy and a fresh start.
    const vm = 'labt-acpi';
    /** SeaBIOS takes 5-10 s to reach the boot sector here; more on a loaded machine. */
    const BOOT_MS = 60_000;
    const DIR = '/var/lib/oms-node/labt';
    const hostDir = () => join(node.stateDir, 'node', 'labt');
    const serial = () => readFileSync(join(hostDir(), 'serial.log'), 'latin1');
    const count = (text: string, line: string) => text.split('\r\n').filter((l) => l === line).length;
    const identity = async () => ({
      domid: (await virsh(node, 'domid', vm)).stdout.trim(),
      pid: (await nodeExec(node, ['cat', `/run/libvirt/qemu/${vm}.pid`])).stdout.trim(),
    });
    const xml = `<domain type='kvm'><name>${vm}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
      <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${DIR}/acpi-guest.img'/><target dev='hda' bus='ide'/></disk>
      <serial type='file'><source path='${DIR}/serial.log'/><target port='0'/></serial></devices></domain>`;
    const remove = async () => {
      await virsh(node, 'destroy', vm);
      await virsh(node, 'undefine', vm);
      rmSync(hostDir(), { recursive: true, force: true });
    };

    before(async () => {
      expect(await acpiGuestSourceMatches(), 'acpi-guest.ts holds the assembly of acpi-guest.S').to.not.equal(false);
      await remove();
      mkdirSync(hostDir());
      writeFileSync(join(hostDir(), 'acpi-guest.img'), acpiGuestImage());
      const def = await nodeExec(node, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml });
      expect(def.code, def.stderr).to.equal(0);
    });
    after(() => remove());

    it('reset_vm: the guest boots again, in the same QEMU, without a power-button event', async () => {
      expect((await ok('start_vm', [vm])).result).to.equal(0);
      await waitFor('first boot', async () => serial(), (t) => count(t, BOOTED) === 1, BOOT_MS);
      const before = await identity();
      expect(before.pid).to.match(/^\d+$/);
      expect((await ok('reset_vm', [vm])).result).to.equal(0);
      const t = await waitFor('boot after reset_vm', async () => serial(), (x) => count(x, BOOTED) === 2, BOOT_MS);
      expect(count(t, POWER_BUTTON)).to.equal(0);
      expect(await identity()).to.deep.equal(before);
      expect(await state(node, vm)).to.equal('running');
    });

    it('reboot_vm: the guest hears the ACPI power button, goes down and boots again in the same QEMU', async () => {
      const before = await identity();
      expect((await ok('reboot_vm', [vm])).result).to.equal(0);
      const t = await waitFor('boot after reboot_vm', async () => serial(), (x) => count(x, BOOTED) === 3, BOOT_MS);
      expect(count(t, POWER_BUTTON)).to.equal(1);
      expect(t.lastIndexOf(POWER_BUTTON)).to.be.below(t.lastIndexOf(BOOTED));
      expect(await identity()).to.deep.equal(before);
      expect(await state(node, vm)).to.equal('running');
    });
  });

  it('unknown guests and templates are typed errors naming them; libvirt errors carry libvirt\'s message', async () => {
    for (const m of ['start_vm', 'stop_vm', 'parse_vm_settings', 'delete_vm', 'pause_vm']) {
      const r = await call(m, ['kvmt-nope']);
      expect(r.error, m).to.deep.include({ origin: 2, code: 500, message: `UnknownVmError: Unknown VM kvmt-nope on ${node.name}` });
    }
    expect((await call('parse_template_for_vm', ['kvmt-nope', 'x'])).error.message).to.equal(`UnknownTemplateError: Unknown template kvmt-nope on ${node.name}`);
    expect((await call('create_vm_from_iso', ['kvmt-x', 'generic', 'linux', 'nope.iso', '0.01', '', '64'])).error.message).to.equal(`UnknownIsoImageError: ISO image nope.iso does not exist on node ${node.name}`);
    expect((await call('create_vm_from_iso', ['kvmt-x', 'generic', 'linux', 'lab.iso', '', '/dev/null', '64'])).error.message).to.equal(`NotBlockDeviceError: /dev/null on ${node.name} is not a block device`);
    expect((await call('create_vm_from_iso', ['kvmt-x', 'generic', 'linux', 'lab.iso', '1', '/dev/null', '64'])).error.message).to.match(/^InvalidSettingsError: .*either file_based_disk_size or block_device_based_disk_path/);
    expect((await call('create_vm_from_iso', ['kvmt-x', 'generic', 'linux', 'lab.iso', '1', '', '999999'])).error.message).to.equal('InvalidSettingsError: Invalid settings for kvmt-x: Memory size not correct');
    expect((await virsh(node, 'dominfo', 'kvmt-x')).code).to.not.equal(0);
    expect((await nodeExec(node, ['test', '-e', `${IMAGES}/kvmt-x.qcow2`])).code).to.equal(1);
    // The OMS alias of the service name.
    expect((await e.ok('kvm', 'list_templates', [e.sid, 0, node.name])).result).to.include('lab-template');
    // A NIC on a bridge the node lacks: defined, but libvirt refuses to start it, and says why.
    expect((await ok('deploy_template_for_vm', ['lab-template', 'kvmt-nobr', { memory: '64', interface: { type: 'bridge', source_bridge: 'kvmtnobr0' } }])).result).to.deep.equal({});
    const r = await call('start_vm', ['kvmt-nobr']);
    expect(r.error.code).to.equal(501);
    expect(r.error.message).to.match(/^LibvirtError: libvirt on omsnode1: .*kvmtnobr0/);
    expect(r.error.message).to.not.match(/\n|at .*\.ts/);
  });

  it('hostile names are refused before anything runs on the node', async () => {
    const before = await canary(node);
    const bad = ['x; touch /tmp/kvmt-pwn', '$(id)', '`id`', '../../etc/passwd', '-rf', 'vm\n', 'vm with space', 'vmа', 'x'.repeat(300), "a'b", 'a/b'];
    for (const b of bad) {
      const tries: [string, unknown[]][] = [
        ['start_vm', [b]],
        ['delete_vm', [b]],
        ['parse_vm_settings', [b]],
        ['create_file_based_image', [b, 1]],
        ['delete_file_based_image', [b]],
        ['parse_template_for_vm', [b, 'kvmt-ok']],
        ['deploy_template_for_vm', [b, 'kvmt-ok', {}]],
        ['deploy_template_for_vm', ['lab-template', b, {}]],
        ['create_template_from_vm', ['kvmt-ok', b, {}]],
        ['create_vm_from_iso', [b, 'generic', 'linux', 'lab.iso', '1', '', '64']],
        ['create_vm_from_iso', ['kvmt-ok', 'generic', 'linux', b, '1', '', '64']],
        ['create_vm_from_iso', ['kvmt-ok', b, 'linux', 'lab.iso', '1', '', '64']],
        ['create_vm_from_iso', ['kvmt-ok', 'generic', 'linux', 'lab.iso', '', b, '64']],
        ['list_vms', [b]],
        ['update_vm_settings', ['kvmt-ok', { [b]: '1' }]],
      ];
      for (const [m, p] of tries) expect((await call(m, p)).error?.code, `${m} ${JSON.stringify(p)}`).to.equal(5);
    }
    expect(await canary(node)).to.equal(before);
    expect((await nodeExec(node, ['test', '-e', '/tmp/kvmt-pwn'])).code).to.equal(1);
  });
});
