/**
 * The typed client (clients/typescript) on a lab node through the real gateway process: a clone
 * followed to its end with `.wait`, progress in bytes through the callback as the copy moves
 * (pushed over /ws, polled over POST), the task's result, and the clone checked on the node with
 * virsh and qemu-img. A refused call arrives as the typed error. Guests and images are cl-* on
 * omsnode2.
 */
import { expect } from 'chai';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, ADMIN_PASSWORD, type Env } from './fixture.ts';
import { define, IMAGES, virsh } from './kst-lab.ts';
import { connect, isOmsError, type OmsClient, type OmsError, type TaskProgress } from '../../clients/typescript/src/index.ts';

const MiB = 1024 * 1024;
/**
 * Two disks: the gateway writes each disk's end as a step (src/tasks), so a pushed progress row
 * between 0 and the total exists however fast the machine copies.
 */
const DISKS = { vda: 160, vdb: 96 };
const TOTAL = (DISKS.vda + DISKS.vdb) * MiB;

/** Removes every cl-* guest and image of the node: this test's own objects only. */
async function cleanCl(node: LabNode): Promise<void> {
  const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('cl-'));
  for (const vm of names) {
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', '--managed-save', vm);
  }
  await nodeExec(node, ['find', IMAGES, '-maxdepth', '1', '-name', 'cl-*', '-exec', 'rm', '-f', '--', '{}', '+']);
}

describe('typed client: a task with progress on the lab', function () {
  this.timeout(300_000);
  let e: Env;
  let node: LabNode;
  const clients: OmsClient[] = [];

  before(async () => {
    e = await startEnv();
    node = e.lab.nodes[1];
    await cleanCl(node);
    await enroll(e, e.lab.nodes.slice(0, 3));
    // A stopped guest with two qcow2 disks full of data, so every byte is copied.
    let disks = '';
    for (const [dev, mib] of Object.entries(DISKS)) {
      const path = `${IMAGES}/cl-src-${dev}.qcow2`;
      expect((await nodeExec(node, ['qemu-img', 'create', '-q', '-f', 'qcow2', path, `${mib}M`])).code).to.equal(0);
      const w = await nodeExec(node, ['qemu-io', '-f', 'qcow2', '-c', `write -P 0x5a 0 ${mib}M`, path], { timeoutMs: 120_000 });
      expect(w.code, w.stderr).to.equal(0);
      disks += `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${path}'/><target dev='${dev}' bus='virtio'/></disk>`;
    }
    const xml = `<domain type='kvm'><name>cl-src</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>${disks}</devices></domain>`;
    await define(node, xml);
  });
  after(async () => {
    for (const c of clients) c.close();
    if (node) await cleanCl(node);
    await e?.stop();
  });

  for (const transport of ['ws', 'http'] as const) {
    it(`${transport}: clone_vm.wait resolves with the task's result after progress in bytes up to the total; the clone is on the node`, async () => {
      const oms = connect({ url: e.gw.url, transport });
      clients.push(oms);
      await oms.login('admin', ADMIN_PASSWORD);
      const target = `cl-dst-${transport}`;
      const progress: TaskProgress[] = [];
      const out = await oms.kvmservices.clone_vm.wait(node.name, 'cl-src', target, undefined, { onProgress: (p) => progress.push(p), pollMs: 100 });

      expect(out.started.name).to.equal(target);
      expect(out.started.task_id).to.match(/^[0-9a-f-]{36}$/);
      expect(out.task?.state).to.equal('succeeded');
      expect((out.result as { name: string }).name).to.equal(target);
      const total = TOTAL;
      expect(progress.at(-1)).to.deep.equal({ done: total, total, percent: 100 });
      const values = progress.map((p) => p.done);
      for (let i = 1; i < values.length; i++) expect(values[i], JSON.stringify(values)).to.be.greaterThan(values[i - 1]);
      // Pushed rows carry every progress write the gateway makes (at most one per 250 ms, and each
      // disk's end), so /ws sees at least the first disk's end; POST polls only sample, and a copy
      // this fast may end between two polls.
      if (transport === 'ws') expect(values.filter((v) => v > 0 && v < total).length, JSON.stringify(values)).to.be.at.least(1);

      // On the node: the clone is defined, stopped, and its disks are the source's bytes.
      expect((await virsh(node, 'domstate', target)).stdout.trim()).to.equal('shut off');
      for (const dev of Object.keys(DISKS)) {
        const cmp = await nodeExec(node, ['qemu-img', 'compare', '-q', `${IMAGES}/cl-src-${dev}.qcow2`, `${IMAGES}/${target}-${dev}.qcow2`], { timeoutMs: 120_000 });
        expect(cmp.code, `${dev}: ${cmp.stderr}`).to.equal(0);
      }
    });
  }

  it('a refused start of a task is the typed error, and nothing is made on the node', async () => {
    const oms = connect({ url: e.gw.url, transport: 'ws' });
    clients.push(oms);
    await oms.login('admin', ADMIN_PASSWORD);
    const before = (await virsh(node, 'list', '--all', '--name')).stdout;
    const err = await oms.kvmservices.clone_vm.wait(node.name, 'cl-src', 'cl-dst-ws').then(
      () => expect.fail('cloning onto an existing guest must fail'),
      (x: OmsError) => x,
    );
    expect(isOmsError(err, 'VmExistsError'), String(err)).to.equal(true);
    expect(err.code).to.equal(502);
    expect((await virsh(node, 'list', '--all', '--name')).stdout).to.equal(before);
  });

  it('shutdown_vm.wait of a stopped guest resolves at once with no task', async () => {
    const oms = connect({ url: e.gw.url });
    clients.push(oms);
    await oms.login('admin', ADMIN_PASSWORD);
    const out = await oms.kvm.shutdown_vm.wait(node.name, 'cl-src');
    expect(out).to.deep.equal({ started: { task_id: null }, result: null, task: null });
  });
});
