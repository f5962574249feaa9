/**
 * One change at a time per guest, on real lab guests through the real gateway process: a start
 * during a clone, a delete during a deploy (KVM and container), an edit during an ACPI shutdown,
 * a caller that waits, and a lock left by a killed gateway. Each effect is checked on the node
 * (virsh domstate / dumpxml, disk checksums, lxc-info), not only in the answers.
 *
 * Objects made here: KVM guests and files lk-* in the images directory, containers 9630-9639,
 * all on the third lab node; removed before and after.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { acpiGuestImage } from '../lab/acpi-guest.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const IMAGES = '/var/lib/oms-node/images';
const CT = '9630';
const CT2 = '9631';
/** The same script lab.sh runs at lab start (build_ovz_template); idempotent. */
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

const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);
const domstate = async (node: LabNode, vm: string) => (await virsh(node, 'domstate', vm)).stdout.trim();
const inactiveXml = async (node: LabNode, vm: string) => (await virsh(node, 'dumpxml', '--inactive', vm)).stdout;
const sha = async (node: LabNode, path: string) => (await nodeExec(node, ['sha256sum', path])).stdout.split(' ')[0];
const lxcState = async (node: LabNode, id: string) => {
  const r = await nodeExec(node, ['lxc-info', '-n', id, '-s', '-H']);
  return r.code === 0 ? r.stdout.trim() : 'MISSING';
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function define(node: LabNode, xml: string): Promise<void> {
  const r = await nodeExec(node, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml });
  expect(r.code, r.stderr).to.equal(0);
}

async function cleanAll(node: LabNode): Promise<void> {
  const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('lk-'));
  for (const vm of names) {
    await virsh(node, 'destroy', vm);
    await virsh(node, 'undefine', vm);
  }
  await nodeExec(node, ['find', IMAGES, '-maxdepth', '1', '-name', 'lk-*', '-delete']);
  for (const id of [CT, CT2]) {
    await nodeExec(node, ['lxc-stop', '-n', id, '-k']);
    await nodeExec(node, ['lxc-destroy', '-n', id]);
  }
}

/** A guest without an OS: SeaBIOS finds nothing to boot, and nothing hears the ACPI button. */
const noOsXml = (vm: string, disk: string) => `<domain type='kvm'><name>${vm}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
  <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${IMAGES}/${disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;

/** test/lab/acpi-guest.S: boots in SeaBIOS's own time (seconds), then powers off on the ACPI button. */
const acpiXml = (vm: string) => `<domain type='kvm'><name>${vm}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
  <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${IMAGES}/lk-acpi.img'/><target dev='hda' bus='ide'/></disk>
  <serial type='file'><source path='${IMAGES}/lk-acpi-serial.log'/><target port='0'/></serial></devices></domain>`;

describe('one change at a time per guest, on the lab', function () {
  this.timeout(240_000);
  let e: Env;
  let node: LabNode;
  const dataDir = mkdtempSync(join(tmpdir(), 'oms-lk-'));
  const kvm = (method: string, params: unknown[]) => e.call('kvmservices', method, [e.sid, 0, node.name, ...params]);
  const ok = (service: string, method: string, params: unknown[]) => e.ok(service, method, [e.sid, 0, ...params]);
  /** JSON-RPC 2.0 POST; a list is sent as one batch, whose members the gateway starts in order. */
  const rpc = async (body: unknown, headers: Record<string, string> = {}) =>
    (await fetch(`${e.gw.url}/jsonrpc`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } })).json() as Promise<any>;
  const req = (id: number, method: string, params: unknown[]) => ({ jsonrpc: '2.0', id, method, params: [e.sid, 0, ...params] });
  const taskEnd = async (id: string, ms = 120_000) => {
    const until = Date.now() + ms;
    for (;;) {
      const t = await ok('tasks', 'task_status', [id]);
      if (t.state !== 'running') return t;
      if (Date.now() > until) throw new Error(`task ${id} still running`);
      await sleep(200);
    }
  };

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '60' }, { dataDir });
    node = e.lab.nodes[2];
    await cleanAll(node);
    await enroll(e, [node]);
    // A source disk with real data (24 MiB), so a clone has something to copy and its checksum means something.
    const mk = await nodeExec(node, ['dd', 'if=/dev/urandom', `of=${IMAGES}/lk-src.img`, 'bs=1M', 'count=24', 'status=none']);
    expect(mk.code, mk.stderr).to.equal(0);
    await define(node, noOsXml('lk-src', 'lk-src.img'));
    writeFileSync(join(node.stateDir, 'node', 'images', 'lk-acpi.img'), acpiGuestImage());
    await define(node, acpiXml('lk-acpi'));
    const t = await nodeExec(node, ['sh', '-c', BUILD_TEMPLATE]);
    expect(t.code, t.stderr).to.equal(0);
  });
  after(async () => {
    if (node) await cleanAll(node);
    await e?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('start_vm during clone_vm is refused naming the clone; the clone completes and the source stays stopped', async () => {
    const srcSum = await sha(node, `${IMAGES}/lk-src.img`);
    // Two calls arriving together (one batch, started in order): the clone holds the source first.
    const both = await rpc([req(1, 'kvmservices.clone_vm', [node.name, 'lk-src', 'lk-c1']), req(2, 'kvmservices.start_vm', [node.name, 'lk-src'])]);
    const byId = Object.fromEntries(both.map((x: any) => [x.id, x]));
    expect(byId[2].error?.data?.name, JSON.stringify(byId[2])).to.equal('TaskConflictError');
    expect(byId[2].error.message).to.equal(`${node.name}/lk-src is busy with kvmservices.clone_vm; try again when it has finished`);
    const c1 = byId[1].result.result.result.task_id;
    expect((await taskEnd(c1)).state).to.equal('succeeded');

    // start_vm just after clone_vm answered: the clone task holds the source while it copies.
    const c2 = (await ok('kvmservices', 'clone_vm', [node.name, 'lk-src', 'lk-c2'])).result.task_id;
    const refused = await kvm('start_vm', ['lk-src']);
    expect(refused.error?.message, JSON.stringify(refused)).to.equal(`TaskConflictError: ${node.name}/lk-src is busy with task ${c2} (kvm.clone_vm); try again when it has finished`);
    expect((await taskEnd(c2)).state).to.equal('succeeded');

    // On the node: the source never ran, and both clones are whole copies of its disk.
    expect(await domstate(node, 'lk-src')).to.equal('shut off');
    expect(await sha(node, `${IMAGES}/lk-c1-vda.img`)).to.equal(srcSum);
    expect(await sha(node, `${IMAGES}/lk-c2-vda.img`)).to.equal(srcSum);
    expect(await domstate(node, 'lk-c1')).to.equal('shut off');
    expect(await domstate(node, 'lk-c2')).to.equal('shut off');
    // The guest is free again once the clone ended.
    expect((await kvm('start_vm', ['lk-src'])).error).to.equal(null);
    expect(await domstate(node, 'lk-src')).to.equal('running');
    expect((await kvm('stop_vm', ['lk-src'])).error).to.equal(null);
  });

  it('delete during a deploy is refused; the deploy completes and the guest exists (KVM template and container)', async () => {
    const kvmBoth = await rpc([
      req(1, 'kvmservices.deploy_template_for_vm', [node.name, 'lab-template', 'lk-dep']),
      req(2, 'kvmservices.delete_vm', [node.name, 'lk-dep']),
    ]);
    const k = Object.fromEntries(kvmBoth.map((x: any) => [x.id, x]));
    expect(k[2].error?.message, JSON.stringify(k[2])).to.equal(`${node.name}/lk-dep is busy with kvmservices.deploy_template_for_vm; try again when it has finished`);
    expect(k[1].result?.result?.result, JSON.stringify(k[1])).to.deep.equal({});
    expect(await domstate(node, 'lk-dep')).to.equal('shut off');
    expect((await nodeExec(node, ['test', '-f', `${IMAGES}/lk-dep-lab-template.qcow2`])).code).to.equal(0);

    const settings = { vm_id: CT, memory: '64', vcpu: '1', disk: '64' };
    const ctBoth = await rpc([
      req(1, 'ovzservices.deploy_template_for_vm', [node.name, 'ovzt-busybox', 'lk9630.oms.test', settings]),
      req(2, 'ovzservices.delete_vm', [node.name, CT]),
    ]);
    const c = Object.fromEntries(ctBoth.map((x: any) => [x.id, x]));
    expect(c[2].error?.message, JSON.stringify(c[2])).to.equal(`${node.name}/${CT} is busy with ovzservices.deploy_template_for_vm; try again when it has finished`);
    expect(c[1].result?.result?.result, JSON.stringify(c[1])).to.deep.equal({});
    expect(await lxcState(node, CT)).to.equal('STOPPED');

    // A delete arriving while the deploy task is under way: the task holds the container.
    const deploying = e.call('ovzservices', 'deploy_template_for_vm', [e.sid, 0, node.name, 'ovzt-busybox', 'lk9631.oms.test', { vm_id: CT2, memory: '64', vcpu: '1', disk: '64' }]);
    let task: any;
    for (let i = 0; i < 300 && !task; i++) {
      task = (await ok('tasks', 'list_tasks', [node.name, 'running'])).find((t: any) => t.kind === 'ovz.deploy' && t.target === CT2);
      if (!task) await sleep(20);
    }
    expect(task, 'saw the deploy task running').to.not.equal(undefined);
    const del = await e.call('ovzservices', 'delete_vm', [e.sid, 0, node.name, CT2]);
    expect(del.error?.message, JSON.stringify(del)).to.equal(`TaskConflictError: ${node.name}/${CT2} is busy with task ${task.id} (ovz.deploy); try again when it has finished`);
    expect((await deploying).result?.result?.result).to.deep.equal({});
    expect(await lxcState(node, CT2)).to.equal('STOPPED');
  });

  it('edit during an ACPI shutdown is refused and the definition stays; a caller that waits edits after the shutdown', async () => {
    expect((await kvm('start_vm', ['lk-acpi'])).error).to.equal(null);
    const before = await inactiveXml(node, 'lk-acpi');
    // Pressed at once, the button is heard only when the boot sector runs (SeaBIOS takes seconds).
    const shutdown = (await ok('kvmservices', 'shutdown_vm', [node.name, 'lk-acpi', 180])).result.task_id;
    expect(shutdown).to.match(/^[0-9a-f-]{36}$/);
    const busy = `${node.name}/lk-acpi is busy with task ${shutdown} (kvm.shutdown_vm); try again when it has finished`;
    // update_vm_settings changes even a running guest's definition: refused while the shutdown runs.
    const upd = await kvm('update_vm_settings', ['lk-acpi', { memory: 48 }]);
    expect(upd.error?.message, JSON.stringify(upd)).to.equal(`TaskConflictError: ${busy}`);
    const edit = await kvm('edit_vm', ['lk-acpi', { cpus: 2 }]);
    expect(edit.error?.message, JSON.stringify(edit)).to.equal(`TaskConflictError: ${busy}`);
    expect((await kvm('attach_nic', ['lk-acpi', 'network', 'lab'])).error?.message).to.equal(`TaskConflictError: ${busy}`);
    expect(await inactiveXml(node, 'lk-acpi')).to.equal(before);

    // The same edit with OMS-Lock-Wait runs once the shutdown task has ended (the guest is off).
    const waited = await rpc(req(3, 'kvmservices.edit_vm', [node.name, 'lk-acpi', { cpus: 2 }]), { 'OMS-Lock-Wait': '170' });
    const answeredAt = Date.now();
    expect(waited.error, JSON.stringify(waited.error)).to.equal(undefined);
    expect(waited.result.result.result).to.equal(0);
    const t = await ok('tasks', 'task_status', [shutdown]);
    expect(t.state).to.equal('succeeded');
    expect(t.finished_at).to.be.at.most(answeredAt);
    expect(await domstate(node, 'lk-acpi')).to.equal('shut off');
    expect(await inactiveXml(node, 'lk-acpi')).to.match(/<vcpu placement='static'>2<\/vcpu>/);
  });

  it('a lock left by a killed gateway is cleared when it starts again', async () => {
    // A shutdown the guest without an OS never answers: its task holds lk-src for 10 minutes.
    expect((await kvm('start_vm', ['lk-src'])).error).to.equal(null);
    const task = (await ok('kvmservices', 'shutdown_vm', [node.name, 'lk-src', 600])).result.task_id;
    expect((await kvm('stop_vm', ['lk-src'])).error?.message).to.match(/^TaskConflictError: .* is busy with task /);
    await e.gw.kill('SIGKILL');
    const rows = () => {
      const db = new Database(join(dataDir, 'oms.db'), { readonly: true });
      try {
        return db.prepare('SELECT node, kind, guest, task_id FROM guest_locks').all();
      } finally {
        db.close();
      }
    };
    expect(rows()).to.deep.equal([{ node: node.name, kind: 'kvm', guest: 'lk-src', task_id: task }]);

    e = await startEnv({ OMS_NODE_TIMEOUT: '60' }, { dataDir });
    expect(rows()).to.deep.equal([]);
    expect(e.gw.logs.some((l) => l.includes('cleared guest locks left by a gateway that stopped'))).to.equal(true);
    expect((await ok('tasks', 'task_status', [task])).error.name).to.equal('TaskInterruptedError');
    // The guest is free: a change goes through and is seen on the node.
    expect((await kvm('stop_vm', ['lk-src'])).error).to.equal(null);
    expect(await domstate(node, 'lk-src')).to.equal('shut off');
  });
});
