/**
 * Long KVM operations on a real lab node report real progress: clone, template from a guest and
 * template deploy report bytes done of the disks' total as `qemu-img convert -p` moves (every
 * progress row the gateway writes is pushed to the starting user's websocket, so the test sees
 * them all), every step writes a log line, and delete_vm_recursive runs as a task whose log names
 * what it removed. Checked on the node with qemu-img (sizes, identical copies) and test -e.
 */
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const IMAGES = '/var/lib/oms-node/images';
const TEMPLATES = '/var/lib/oms-node/templates';
const MiB = 1024 * 1024;
/** Big enough that a copy spans several progress writes (one per 250 ms at most). */
const SIZES = { vda: 384, vdb: 128 };
const TOTAL = (SIZES.vda + SIZES.vdb) * MiB;

const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);

/** Removes every ks-p* guest, image and template of the node: this test's own objects only. */
async function cleanAll(node: LabNode): Promise<void> {
  const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('ks-p'));
  for (const vm of names) {
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', '--managed-save', '--snapshots-metadata', vm);
  }
  await nodeExec(node, ['find', IMAGES, TEMPLATES, '-maxdepth', '1', '-name', 'ks-p*', '-exec', 'rm', '-rf', '--', '{}', '+']);
  await nodeExec(node, ['find', '/tmp', '-maxdepth', '1', '-name', 'ks-p*.xml', '-delete']);
}

interface Row {
  id: string;
  kind: string;
  target: string;
  state: string;
  progress: { done: number; total: number } | null;
}

describe('kvmservices long operations report progress on the lab', function () {
  this.timeout(300_000);
  let e: Env;
  let node: LabNode;
  let ws: WebSocket;
  let canaryBefore: string;
  /** Every task.updated the gateway pushed, in order. */
  const pushed: Row[] = [];
  const ok = (method: string, params: unknown[]) => e.ok('kvmservices', method, [e.sid, 0, node.name, ...params]).then((r) => r.result);
  const rowsOf = (id: string) => pushed.filter((r) => r.id === id);
  const taskLog = async (id: string): Promise<string[]> => (await e.ok('tasks', 'task_log', [e.sid, 0, id])).map((l: any) => l.line);
  async function finished(id: string): Promise<any> {
    for (let i = 0; i < 1200; i++) {
      const t = await e.ok('tasks', 'task_status', [e.sid, 0, id]);
      if (t.state !== 'running') return t;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`task ${id} still running`);
  }
  /** The newest task of that kind on this guest (for methods that wait and answer the OMS result). */
  async function lastTask(kind: string, target: string): Promise<any> {
    const all = await e.ok('tasks', 'list_tasks', [e.sid, 0, node.name]);
    const t = all.find((r: any) => r.kind === kind && r.target === target);
    expect(t, `${kind} on ${target}`).to.not.equal(undefined);
    return t;
  }
  /** Progress as pushed: bytes rising from 0 through values in between to the total, never back. */
  function expectByteProgress(id: string, total: number): void {
    const done = rowsOf(id)
      .filter((r) => r.progress)
      .map((r) => r.progress!);
    expect(done.length, JSON.stringify(done)).to.be.greaterThan(2);
    for (const p of done) expect(p.total).to.equal(total);
    const values = done.map((p) => p.done);
    expect(values[0]).to.equal(0);
    expect(values.at(-1)).to.equal(total);
    for (let i = 1; i < values.length; i++) expect(values[i], JSON.stringify(values)).to.be.at.least(values[i - 1]);
    // At least one value in between: the writes are rate-limited (250 ms), so a fast machine
    // records few, but each disk's end is written before the next disk's step (tasks.ts). The
    // totals above are bytes, which disk counts could not give.
    expect(values.filter((v) => v > 0 && v < total).length, JSON.stringify(values)).to.be.at.least(1);
  }
  const exists = async (path: string) => (await nodeExec(node, ['test', '-e', path])).code === 0;
  const same = async (a: string, b: string) => (await nodeExec(node, ['qemu-img', 'compare', '-q', a, b], { timeoutMs: 120_000 })).code === 0;

  before(async () => {
    e = await startEnv();
    node = e.lab.nodes[2];
    await cleanAll(node);
    await enroll(e, e.lab.nodes.slice(0, 3));
    canaryBefore = await canary(node);
    // A stopped guest with two qcow2 disks full of data, so every byte is copied.
    let disks = '';
    for (const [dev, mib] of Object.entries(SIZES)) {
      const path = `${IMAGES}/ks-p-${dev}.qcow2`;
      await nodeExec(node, ['qemu-img', 'create', '-q', '-f', 'qcow2', path, `${mib}M`]);
      const w = await nodeExec(node, ['qemu-io', '-f', 'qcow2', '-c', `write -P 0x3c 0 ${mib}M`, path], { timeoutMs: 120_000 });
      expect(w.code, w.stderr).to.equal(0);
      disks += `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${path}'/><target dev='${dev}' bus='virtio'/></disk>`;
    }
    const xml = `<domain type='kvm'><name>ks-p</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>${disks}</devices></domain>`;
    await nodeExec(node, ['tee', '/tmp/ks-p.xml'], { input: xml });
    expect((await virsh(node, 'define', '/tmp/ks-p.xml')).code).to.equal(0);
    ws = new WebSocket(`${e.gw.url.replace(/^http/, 'ws')}/ws?bearer=${e.sid}`);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.method === 'task.updated') pushed.push(m.params);
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
  });
  after(async () => {
    ws?.close();
    if (node) await cleanAll(node);
    await e?.stop();
  });

  it('clone_vm: bytes done of both disks rise to the total, a log line per step, identical copies', async () => {
    const { task_id } = await ok('clone_vm', ['ks-p', 'ks-p2']);
    const t = await finished(task_id);
    expect(t.state, JSON.stringify(t.error)).to.equal('succeeded');
    expect(t.progress).to.deep.equal({ done: TOTAL, total: TOTAL, percent: 100 });
    expectByteProgress(task_id, TOTAL);
    expect(await taskLog(task_id)).to.deep.equal([
      '2 disks to copy, 512 MiB in all',
      `copying disk 1/2 vda: 384 MiB to ${IMAGES}/ks-p2-vda.qcow2 (qcow2)`,
      `copying disk 2/2 vdb: 128 MiB to ${IMAGES}/ks-p2-vdb.qcow2 (qcow2)`,
      'defining guest ks-p2',
      'done',
    ]);
    // The total is what qemu-img on the node says the sources hold.
    let virtual = 0;
    for (const dev of Object.keys(SIZES)) virtual += JSON.parse((await nodeExec(node, ['qemu-img', 'info', '--output=json', `${IMAGES}/ks-p-${dev}.qcow2`])).stdout)['virtual-size'];
    expect(virtual).to.equal(TOTAL);
    for (const dev of Object.keys(SIZES)) expect(await same(`${IMAGES}/ks-p-${dev}.qcow2`, `${IMAGES}/ks-p2-${dev}.qcow2`), dev).to.equal(true);
    expect((await virsh(node, 'domblklist', 'ks-p2')).stdout).to.include(`${IMAGES}/ks-p2-vdb.qcow2`);
  });

  it('create_template_from_vm and deploy_template_for_vm: the same byte progress and step lines, though the calls wait', async () => {
    expect(await ok('create_template_from_vm', ['ks-p', 'ks-pt'])).to.deep.equal({});
    const made = await lastTask('kvm.create_template_from_vm', 'ks-p');
    expect(made.state).to.equal('succeeded');
    expectByteProgress(made.id, TOTAL);
    expect(await taskLog(made.id)).to.deep.equal([
      `making template directory ${TEMPLATES}/ks-pt`,
      '2 disks to copy, 512 MiB in all',
      `copying disk 1/2 vda: 384 MiB to ${TEMPLATES}/ks-pt/ks-pt1.qcow2 (qcow2)`,
      `copying disk 2/2 vdb: 128 MiB to ${TEMPLATES}/ks-pt/ks-pt2.qcow2 (qcow2)`,
      'writing template.json',
      'done',
    ]);
    expect(await same(`${IMAGES}/ks-p-vda.qcow2`, `${TEMPLATES}/ks-pt/ks-pt1.qcow2`)).to.equal(true);

    expect(await ok('deploy_template_for_vm', ['ks-pt', 'ks-p3'])).to.deep.equal({});
    const deployed = await lastTask('kvm.deploy_template_for_vm', 'ks-p3');
    expectByteProgress(deployed.id, TOTAL);
    expect(await taskLog(deployed.id)).to.deep.equal([
      // The lab's libvirt `default` network is defined but not started (kvm-nics.test.ts).
      "no NIC: libvirt's default network is not active (defaultGuestNetwork unset)",
      '2 disks to copy, 512 MiB in all',
      `copying disk 1/2 ks-pt1.qcow2: 384 MiB to ${IMAGES}/ks-p3-ks-pt1.qcow2 (qcow2)`,
      `copying disk 2/2 ks-pt2.qcow2: 128 MiB to ${IMAGES}/ks-p3-ks-pt2.qcow2 (qcow2)`,
      'defining guest ks-p3',
      'done',
    ]);
    expect(await same(`${IMAGES}/ks-p-vdb.qcow2`, `${IMAGES}/ks-p3-ks-pt2.qcow2`)).to.equal(true);
  });

  it('delete_vm_recursive runs as a task: its log names each step, the disks are gone on the node', async () => {
    await ok('start_vm', ['ks-p2']);
    const r = await ok('delete_vm_recursive', ['ks-p2', 'disks', 'yes']);
    expect(r).to.deep.equal({ deleted: [`${IMAGES}/ks-p2-vda.qcow2`, `${IMAGES}/ks-p2-vdb.qcow2`], kept: [] });
    const t = await lastTask('kvm.delete_vm_recursive', 'ks-p2');
    expect(t.state).to.equal('succeeded');
    expect(t.result).to.deep.equal(r);
    expect(t.progress).to.deep.equal({ done: 4, total: 4, percent: 100 });
    expect(await taskLog(t.id)).to.deep.equal([
      'powering off ks-p2 (it was running, force given)',
      'undefining guest ks-p2',
      `deleting drive 1/2: ${IMAGES}/ks-p2-vda.qcow2`,
      `deleting drive 2/2: ${IMAGES}/ks-p2-vdb.qcow2`,
      'done',
    ]);
    expect((await virsh(node, 'dominfo', 'ks-p2')).code).to.not.equal(0);
    for (const dev of Object.keys(SIZES)) {
      expect(await exists(`${IMAGES}/ks-p2-${dev}.qcow2`), dev).to.equal(false);
      expect(await exists(`${IMAGES}/ks-p-${dev}.qcow2`), dev).to.equal(true);
    }
    expect(await canary(node)).to.equal(canaryBefore);
  });
});
