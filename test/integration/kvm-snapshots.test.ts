/**
 * KVM snapshots on a real lab node through the gateway, checked on the node with virsh, qemu-img
 * and qemu-io: a running qcow2 guest's snapshot holds its memory, a revert brings back what was
 * in the disk image, a delete takes it out of the qcow2 file; a raw-disk or block-disk guest is
 * refused with the typed error and nothing changes; hostile names and descriptions are refused or
 * stay literal text.
 */
import { expect } from 'chai';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const IMAGES = '/var/lib/oms-node/images';
const DISK = `${IMAGES}/ks-q.qcow2`;
const RAW = `${IMAGES}/ks-raw.img`;

const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);

/** Removes every ks-* guest and image of the node but ks-p* (kvm-progress.test.ts's): this test's own objects only. */
async function cleanAll(node: LabNode): Promise<void> {
  const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('ks-') && !s.startsWith('ks-p'));
  for (const vm of names) {
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', '--managed-save', '--snapshots-metadata', vm);
  }
  await nodeExec(node, ['find', IMAGES, '-maxdepth', '1', '-name', 'ks-*', '!', '-name', 'ks-p*', '-exec', 'rm', '-f', '--', '{}', '+']);
  await nodeExec(node, ['find', '/tmp', '-maxdepth', '1', '-name', 'ks-*.xml', '!', '-name', 'ks-p*', '-delete']);
}

/** A guest the test defines itself on the node: one disk, no OS (it sits in the BIOS), a serial pty. */
const guestXml = (name: string, disk: string) => `<domain type='kvm'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
  <devices>${disk}<serial type='pty'/><console type='pty'/></devices>
</domain>`;

describe('kvmservices snapshots on the lab', function () {
  this.timeout(180_000);
  let e: Env;
  let node: LabNode;
  let canaryBefore: string;
  const ok = (method: string, params: unknown[]) => e.ok('kvmservices', method, [e.sid, 0, node.name, ...params]).then((r) => r.result);
  const call = (method: string, params: unknown[]) => e.call('kvmservices', method, [e.sid, 0, node.name, ...params]);
  /** Waits for a task to end; its final row. */
  async function finished(id: string): Promise<any> {
    for (let i = 0; i < 600; i++) {
      const t = await e.ok('tasks', 'task_status', [e.sid, 0, id]);
      if (t.state !== 'running') return t;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`task ${id} still running`);
  }
  const taskLog = async (id: string): Promise<string[]> => (await e.ok('tasks', 'task_log', [e.sid, 0, id])).map((l: any) => l.line);
  const qemuImgSnapshots = async () => (await nodeExec(node, ['qemu-img', 'snapshot', '-U', '-l', DISK])).stdout;
  /** Whether 64 KiB at 1 MiB into the guest's disk hold the byte pattern (qemu-io exits 1 otherwise). */
  const holds = async (pattern: string) => (await nodeExec(node, ['qemu-io', '-f', 'qcow2', '-c', `read -P ${pattern} 1M 64k`, DISK])).code === 0;

  before(async () => {
    e = await startEnv();
    node = e.lab.nodes[2];
    await cleanAll(node);
    await enroll(e, e.lab.nodes.slice(0, 3));
    canaryBefore = await canary(node);
    await nodeExec(node, ['qemu-img', 'create', '-q', '-f', 'qcow2', DISK, '64M']);
    await nodeExec(node, ['qemu-img', 'create', '-q', '-f', 'raw', RAW, '16M']);
    const qcow = `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${DISK}'/><target dev='vda' bus='virtio'/></disk><disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/var/lib/oms-node/isos/lab.iso'/><target dev='sda' bus='sata'/><readonly/></disk>`;
    const raw = `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${RAW}'/><target dev='vda' bus='virtio'/></disk>`;
    const blk = `<disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/ks-no-such-device'/><target dev='vda' bus='virtio'/></disk>`;
    for (const [name, disk] of [['ks-q', qcow], ['ks-raw', raw], ['ks-blk', blk]]) {
      // Through a file: the lab's stdin is a socket, which /dev/stdin cannot be opened on.
      await nodeExec(node, ['tee', `/tmp/${name}.xml`], { input: guestXml(name, disk) });
      const r = await virsh(node, 'define', `/tmp/${name}.xml`);
      expect(r.code, `${name}: ${r.stderr}`).to.equal(0);
    }
    await ok('start_vm', ['ks-q']);
    await ok('start_vm', ['ks-raw']);
  });
  after(async () => {
    if (node) await cleanAll(node);
    await e?.stop();
  });

  it('a running qcow2 guest: the snapshot holds its memory state, with the description; virsh and qemu-img show it', async () => {
    const { task_id } = await ok('create_snapshot', ['ks-q', 'ks-s1', 'before the upgrade']);
    const t = await finished(task_id);
    expect(t.state, JSON.stringify(t.error)).to.equal('succeeded');
    expect(t.kind).to.equal('kvm.snapshot.create');
    expect(t.result).to.deep.include({ name: 'ks-s1', description: 'before the upgrade', state: 'running', memory: true, parent: null, current: true });
    expect(t.progress).to.deep.include({ done: 1, total: 1 });
    expect(await taskLog(task_id)).to.deep.equal([
      'taking snapshot ks-s1 of ks-q (running: disks and memory state)',
      'snapshot ks-s1 taken: state running, memory included',
      'done',
    ]);
    // On the node: libvirt's record, and the snapshot inside the qcow2 file with a VM state size.
    expect((await virsh(node, 'snapshot-list', 'ks-q')).stdout).to.match(/ks-s1\s+\S+ \S+ \S+\s+running/);
    const xml = (await virsh(node, 'snapshot-dumpxml', 'ks-q', 'ks-s1')).stdout;
    expect(xml).to.include('<description>before the upgrade</description>');
    expect(xml).to.include("<memory snapshot='internal'/>");
    expect(xml).to.include("<disk name='sda' snapshot='no'/>");
    const row = (await qemuImgSnapshots()).split('\n').find((l) => /\sks-s1\s/.test(l));
    expect(row, await qemuImgSnapshots()).to.match(/ks-s1\s+[1-9][\d.]* [KMG]iB/);
    expect(await virsh(node, 'domstate', 'ks-q').then((r) => r.stdout.trim())).to.equal('running');
    const list = await ok('list_snapshots', ['ks-q']);
    expect(list.map((s: any) => [s.name, s.current, s.memory])).to.deep.equal([['ks-s1', true, true]]);
  });

  it('revert brings back what the disk image held at the snapshot (written by qemu-io on the node), and the running state', async () => {
    await ok('stop_vm', ['ks-q']);
    expect((await nodeExec(node, ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0xab 1M 64k', DISK])).code).to.equal(0);
    const made = await finished((await ok('create_snapshot', ['ks-q', 'ks-s2'])).task_id);
    expect(made.result).to.deep.include({ name: 'ks-s2', description: '', state: 'shutoff', memory: false, parent: 'ks-s1' });
    expect(await taskLog(made.id)).to.include('taking snapshot ks-s2 of ks-q (shut off: disks only)');
    // The change the revert must undo.
    expect((await nodeExec(node, ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 1M 64k', DISK])).code).to.equal(0);
    expect(await holds('0x5a')).to.equal(true);
    const back = await finished((await ok('revert_snapshot', ['ks-q', 'ks-s2'])).task_id);
    expect(back.state, JSON.stringify(back.error)).to.equal('succeeded');
    expect(back.result).to.deep.equal({ snapshot: 'ks-s2', state: 'shut off' });
    expect(await holds('0xab')).to.equal(true);
    expect(await holds('0x5a')).to.equal(false);
    // The first snapshot was taken running, before 0xab was written: the guest runs again and the pattern is gone.
    const first = await finished((await ok('revert_snapshot', ['ks-q', 'ks-s1'])).task_id);
    expect(first.result).to.deep.equal({ snapshot: 'ks-s1', state: 'running' });
    expect(await taskLog(first.id)).to.deep.equal(['reverting ks-q to snapshot ks-s1 (it is shut off)', 'reverted; ks-q is running', 'done']);
    expect((await virsh(node, 'domstate', 'ks-q')).stdout.trim()).to.equal('running');
    expect((await virsh(node, 'snapshot-current', 'ks-q', '--name')).stdout.trim()).to.equal('ks-s1');
    await ok('stop_vm', ['ks-q']);
    expect(await holds('0xab')).to.equal(false);
  });

  it('hostile names and descriptions are refused before anything runs; odd text stays literal', async () => {
    const listBefore = (await virsh(node, 'snapshot-list', 'ks-q', '--name')).stdout;
    for (const name of ['../x', '-x', '--halt', 'a;b', '$(id)', 'a b', '', 'x'.repeat(65), 'a/b', 'é']) {
      for (const m of ['create_snapshot', 'revert_snapshot', 'delete_snapshot']) expect((await call(m, ['ks-q', name])).error?.code, `${m} ${JSON.stringify(name)}`).to.equal(5);
    }
    for (const d of ['a\u0000b', '\u001b[31mred', 'x'.repeat(1025), 42]) expect((await call('create_snapshot', ['ks-q', 'ks-bad', d])).error?.code, JSON.stringify(d)).to.equal(5);
    expect((await call('create_snapshot', ['ks-q', 'ks-s1'])).error.message).to.equal('SnapshotExistsError: VM ks-q on omsnode3 already has a snapshot ks-s1');
    expect((await call('revert_snapshot', ['ks-q', 'nosuch'])).error.message).to.equal('UnknownSnapshotError: VM ks-q on omsnode3 has no snapshot nosuch');
    expect((await call('delete_snapshot', ['ks-q', 'nosuch'])).error.message).to.equal('UnknownSnapshotError: VM ks-q on omsnode3 has no snapshot nosuch');
    expect((await call('create_snapshot', ['ks-none', 'ks-s'])).error.message).to.equal('UnknownVmError: Unknown VM ks-none on omsnode3');
    expect((await virsh(node, 'snapshot-list', 'ks-q', '--name')).stdout).to.equal(listBefore);
    // A description that looks like an option, shell and XML is one argv element: stored as written.
    const odd = `--halt'; $(reboot) <x>&"`;
    const t = await finished((await ok('create_snapshot', ['ks-q', 'ks-odd', odd])).task_id);
    expect(t.result.description).to.equal(odd);
    expect((await virsh(node, 'snapshot-dumpxml', 'ks-q', 'ks-odd')).stdout).to.include('<description>--halt&apos;; $(reboot) &lt;x&gt;&amp;&quot;</description>');
    expect(await canary(node)).to.equal(canaryBefore);
  });

  it('delete takes a snapshot out of libvirt and out of the qcow2 file', async () => {
    for (const s of ['ks-odd', 'ks-s2', 'ks-s1']) {
      const t = await finished((await ok('delete_snapshot', ['ks-q', s])).task_id);
      expect(t.state, JSON.stringify(t.error)).to.equal('succeeded');
      expect(t.result).to.deep.equal({ deleted: s });
      expect(await taskLog(t.id)).to.deep.equal([`deleting snapshot ${s} of ks-q`, 'done']);
      expect((await virsh(node, 'snapshot-list', 'ks-q', '--name')).stdout).to.not.include(s);
    }
    expect(await ok('list_snapshots', ['ks-q'])).to.deep.equal([]);
    expect(await qemuImgSnapshots()).to.equal('');
  });

  it('a raw-disk guest and a block-device guest are refused with the typed error naming the disk; nothing changes', async () => {
    const sum = async () => (await nodeExec(node, ['sha256sum', RAW])).stdout;
    const sumBefore = await sum();
    const tasksBefore = (await e.ok('tasks', 'list_tasks', [e.sid, 0, node.name])).length;
    const r = await call('create_snapshot', ['ks-raw', 'ks-r1', 'never']);
    expect(r.error.message).to.equal(`SnapshotUnsupportedError: VM ks-raw on omsnode3 cannot take snapshots: disk vda (${RAW}) is raw; internal snapshots need qcow2`);
    expect(r.error.code).to.equal(560);
    const b = await call('create_snapshot', ['ks-blk', 'ks-b1']);
    expect(b.error.message).to.equal('SnapshotUnsupportedError: VM ks-blk on omsnode3 cannot take snapshots: disk vda (/dev/ks-no-such-device) is a block device; internal snapshots live inside qcow2 files');
    // No task was started, libvirt holds no snapshot, the image is as it was, the guest still runs.
    expect((await e.ok('tasks', 'list_tasks', [e.sid, 0, node.name])).length).to.equal(tasksBefore);
    expect((await virsh(node, 'snapshot-list', 'ks-raw', '--name')).stdout.trim()).to.equal('');
    expect(await sum()).to.equal(sumBefore);
    expect((await virsh(node, 'domstate', 'ks-raw')).stdout.trim()).to.equal('running');
    expect(await canary(node)).to.equal(canaryBefore);
  });
});
