/**
 * kvmservices.migrate_vm on the lab, through the gateway process: omsnode1 -> omsnode2 (and
 * omsnode3 behind a TCP relay of this test's own, so "the target drops off" is a socket this test
 * closes, not a fault on a node other engineers use). Guests are kmg-* boot sectors
 * (test/lab/acpi-guest.ts) that print a line on their serial port at boot and another when they
 * hear the ACPI power button: the console answering on the target is read from the target's
 * serial file. Checked on the nodes with virsh, test -e and sha256sum.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { acpiGuestImage, BOOTED, POWER_BUTTON } from '../lab/acpi-guest.ts';
import { enroll, startEnv, type Env } from './fixture.ts';
import { count, waitFor } from './kst-lab.ts';

const IMAGES = '/var/lib/oms-node/images';
/** A directory on the source only: a guest logging its serial port there cannot start on the target. */
const SRC_ONLY = '/var/lib/oms-node/kmg-src-only';
const MiB = 1024 * 1024;
const DISK_MIB = 96;

const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);
const domstate = async (node: LabNode, vm: string) => (await virsh(node, 'domstate', vm)).stdout.trim() || 'absent';
const exists = async (node: LabNode, path: string) => (await nodeExec(node, ['test', '-e', path])).code === 0;
const sha = async (node: LabNode, path: string) => (await nodeExec(node, ['sha256sum', '--', path], { timeoutMs: 120_000 })).stdout.split(' ')[0];
const serial = async (node: LabNode, vm: string, dir = IMAGES) => (await nodeExec(node, ['cat', `${dir}/${vm}-serial.log`])).stdout;
const disk = (vm: string) => `${IMAGES}/${vm}.img`;

async function clean(nodes: LabNode[]): Promise<void> {
  for (const node of nodes) {
    const names = (await virsh(node, 'list', '--all', '--name')).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('kmg-'));
    for (const vm of names) {
      await virsh(node, 'destroy', vm);
      await virsh(node, 'undefine', '--managed-save', '--snapshots-metadata', vm);
    }
    await nodeExec(node, ['find', IMAGES, '-maxdepth', '1', '-name', 'kmg-*', '-exec', 'rm', '-f', '--', '{}', '+']);
    await nodeExec(node, ['rm', '-rf', '--', SRC_ONLY]);
    await nodeExec(node, ['find', '/run', '-maxdepth', '1', '-name', 'oms-migrate-*.sock', '-delete']);
  }
}

/**
 * A running boot-sector guest: a raw disk of `mib` MiB (random bytes after the boot sector, so a
 * copy is compared on content), its serial port a file in `serialDir`. Resolves once it booted.
 */
async function runGuest(node: LabNode, vm: string, mib: number, serialDir = IMAGES): Promise<void> {
  const path = disk(vm);
  const mk = await nodeExec(node, ['dd', 'if=/dev/urandom', `of=${path}`, 'bs=1M', `count=${mib}`, 'status=none'], { timeoutMs: 120_000 });
  expect(mk.code, mk.stderr).to.equal(0);
  const boot = await nodeExec(node, ['dd', `of=${path}`, 'conv=notrunc', 'status=none'], { input: acpiGuestImage() as unknown as string });
  expect(boot.code, boot.stderr).to.equal(0);
  const xml = `<domain type='kvm'><name>${vm}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
    <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${path}'/><target dev='hda' bus='ide'/></disk>
    <serial type='file'><source path='${serialDir}/${vm}-serial.log' append='on'/><target port='0'/></serial></devices></domain>`;
  const def = await nodeExec(node, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml });
  expect(def.code, def.stderr).to.equal(0);
  expect((await virsh(node, 'start', vm)).code).to.equal(0);
  await waitFor(`${vm} booted`, async () => `${await domstate(node, vm)}: ${await serial(node, vm, serialDir)}`, (t) => count(t.replace(/^[^:]*: /, ''), BOOTED) >= 1, 60_000);
}

/**
 * A TCP relay to a node's sshd that this test can cut: `down()` drops every connection through
 * it and refuses new ones until `up()`; `cutAfter(bytes)` goes down once that many bytes more
 * went towards the node (a disk copy under way).
 */
class Relay {
  server!: Server;
  port = 0;
  private open = new Set<Socket>();
  private isDown = false;
  private budget = Infinity;
  constructor(private readonly to: LabNode) {}
  async start(): Promise<void> {
    this.server = createServer((c) => {
      if (this.isDown) return c.destroy();
      const s = connect(this.to.port, this.to.address);
      this.open.add(c).add(s);
      c.on('data', (b) => {
        this.budget -= b.length;
        if (this.budget <= 0) this.down();
      });
      c.pipe(s).pipe(c);
      const end = () => {
        c.destroy();
        s.destroy();
        this.open.delete(c);
        this.open.delete(s);
      };
      c.on('error', end).on('close', end);
      s.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }
  down(): void {
    this.isDown = true;
    this.budget = Infinity;
    for (const s of this.open) s.destroy();
    this.open.clear();
  }
  up(): void {
    this.isDown = false;
  }
  cutAfter(bytes: number): void {
    this.budget = bytes;
  }
  close(): void {
    this.down();
    this.server?.close();
  }
}

interface Pushed {
  id: string;
  kind: string;
  state: string;
  progress: { done: number; total: number } | null;
}

describe('kvmservices.migrate_vm: KVM guests between lab nodes, offline and live', function () {
  this.timeout(300_000);
  let e: Env;
  let src: LabNode;
  let dst: LabNode;
  let n3: LabNode;
  let ws: WebSocket;
  const relay3 = { relay: undefined as Relay | undefined, name: 'kmg-relay3' };
  const pushed: Pushed[] = [];
  const migrate = (vm: string, to: string, live?: boolean) => e.call('kvmservices', 'migrate_vm', [e.sid, 0, src.name, vm, to, ...(live === undefined ? [] : [live])]);
  const errorOf = (r: any): string => r.error?.message ?? `no error: ${JSON.stringify(r.result)}`;
  async function finished(id: string): Promise<any> {
    return waitFor('migration task', () => e.ok('tasks', 'task_status', [e.sid, 0, id]), (t: any) => t.state !== 'running', 240_000, 200);
  }
  const taskLog = async (id: string): Promise<string[]> => (await e.ok('tasks', 'task_log', [e.sid, 0, id])).map((l: any) => l.line);

  before(async () => {
    e = await startEnv();
    [src, dst, n3] = e.lab.nodes;
    await clean([src, dst, n3]);
    await enroll(e, [src, dst]);
    // omsnode3 as the gateway reaches it through this test's relay, under a name of its own.
    const r = new Relay(n3);
    await r.start();
    relay3.relay = r;
    await e.ok('funcservices', 'add_request', [e.sid, 0, relay3.name, '127.0.0.1', r.port]);
    await e.ok('funcservices', 'sign_requests', [e.sid, 0, [relay3.name]]);
    ws = new WebSocket(`${e.gw.url.replace(/^http/, 'ws')}/ws?bearer=${e.sid}`);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.method === 'task.updated') pushed.push(m.params);
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  });
  after(async () => {
    ws?.close();
    relay3.relay?.up();
    if (src) await clean([src, dst, n3]);
    relay3.relay?.close();
    await e?.stop();
  });

  it('offline: a running guest shuts down, its disk streams to the target (bytes reported), it boots there and leaves the source; calls on either name meanwhile are refused', async () => {
    const vm = 'kmg-off';
    await runGuest(src, vm, DISK_MIB);
    const before = await sha(src, disk(vm));
    const r = await migrate(vm, dst.name);
    expect(r.error, JSON.stringify(r.error)).to.equal(null);
    const id = r.result.result.result.task_id as string;
    // The task holds the guest on the source and its name on the target until it ends.
    const onSource = await e.call('kvmservices', 'start_vm', [e.sid, 0, src.name, vm]);
    expect(errorOf(onSource)).to.match(/^TaskConflictError: /);
    const onTarget = await e.call('kvmservices', 'set_autostart', [e.sid, 0, dst.name, vm, true]);
    expect(errorOf(onTarget)).to.match(/^TaskConflictError: /);
    const t = await finished(id);
    expect(t.state, JSON.stringify(t.error)).to.equal('succeeded');
    expect(t.result).to.deep.include({ name: vm, node: dst.name, live: false, state: 'running', bytes: DISK_MIB * MiB, left_on_source: [] });

    // On the target: running, booted there (its serial console answers), the same disk bytes.
    expect(await domstate(dst, vm)).to.equal('running');
    await waitFor('boot on the target', () => serial(dst, vm), (s) => count(s, BOOTED) === 1);
    expect(await sha(dst, disk(vm))).to.equal(before);
    // Gone from the source: definition and disk.
    expect(await domstate(src, vm)).to.equal('absent');
    expect(await exists(src, disk(vm))).to.equal(false);

    // Progress in bytes of the disk, pushed as it moved: from 0, some in between, to the total.
    const values = pushed.filter((p) => p.id === id && p.progress).map((p) => p.progress!);
    for (const p of values) expect(p.total).to.equal(DISK_MIB * MiB);
    const done = values.map((p) => p.done);
    expect(done[0]).to.equal(0);
    expect(done.at(-1)).to.equal(DISK_MIB * MiB);
    expect(done.filter((v) => v > 0 && v < DISK_MIB * MiB).length, JSON.stringify(done)).to.be.at.least(1);
    const log = await taskLog(id);
    expect(log.join('\n')).to.match(/copying disk 1\/1 hda: 96 MiB/).and.match(/removing kmg-off from omsnode1/);
  });

  it('live: a running guest moves without a restart, its disk copied while it runs; on the target it answers the ACPI button on its serial console', async () => {
    const vm = 'kmg-live';
    await runGuest(src, vm, 16);
    const before = await sha(src, disk(vm));
    const pid = (await nodeExec(src, ['cat', `/run/libvirt/qemu/${vm}.pid`])).stdout.trim();
    const r = await migrate(vm, dst.name, true);
    expect(r.error, JSON.stringify(r.error)).to.equal(null);
    const id = r.result.result.result.task_id as string;
    expect(errorOf(await e.call('kvmservices', 'stop_vm', [e.sid, 0, src.name, vm]))).to.match(/^TaskConflictError: /);
    const t = await finished(id);
    expect(t.state, `${JSON.stringify(t.error)} ${(await taskLog(id)).join(' | ')}`).to.equal('succeeded');
    expect(t.result).to.deep.include({ name: vm, node: dst.name, live: true, state: 'running', left_on_source: [] });
    expect(await domstate(dst, vm)).to.equal('running');
    expect(await domstate(src, vm)).to.equal('absent');
    expect(await exists(src, disk(vm))).to.equal(false);
    expect(await exists(src, `/run/libvirt/qemu/${vm}.pid`), `source QEMU ${pid} still there`).to.equal(false);
    expect(await sha(dst, disk(vm))).to.equal(before);
    // It did not boot again on the target (a live move, not a restart) ...
    expect(count(await serial(dst, vm), BOOTED)).to.equal(0);
    // ... and the running guest answers there: the power button reaches it, it says so and powers off.
    expect((await virsh(dst, 'shutdown', vm)).code).to.equal(0);
    await waitFor('power button line on the target', () => serial(dst, vm), (s) => count(s, POWER_BUTTON) === 1);
    await waitFor('guest off on the target', () => domstate(dst, vm), (s) => s === 'shut off');
    const done = pushed.filter((p) => p.id === id && p.progress).map((p) => p.progress!);
    expect(done.at(-1)!.done).to.equal(done.at(-1)!.total);
    expect(done.at(-1)!.total).to.be.at.least(16 * MiB);
  });

  it('a failure after the disk was copied and the guest defined (it cannot start on the target) leaves it running on the source and the target clean', async () => {
    const vm = 'kmg-fail';
    expect((await nodeExec(src, ['mkdir', '-p', SRC_ONLY])).code).to.equal(0);
    await runGuest(src, vm, 8, SRC_ONLY);
    const r = await migrate(vm, dst.name);
    expect(r.error, JSON.stringify(r.error)).to.equal(null);
    const t = await finished(r.result.result.result.task_id);
    expect(t.state).to.equal('failed');
    expect(t.error.name).to.equal('MigrationError');
    expect(t.error.message).to.match(/^Migration of VM kmg-fail from omsnode1 to omsnode2 failed: .*; it stays on omsnode1, as it was$/);
    const log = (await taskLog(t.id)).join('\n');
    expect(log).to.match(/defining kmg-fail on omsnode2/).and.match(/rolled back/);
    // Where it was, running again (booted a second time: offline moves shut it down first).
    expect(await domstate(src, vm)).to.equal('running');
    await waitFor('boot again on the source', () => serial(src, vm, SRC_ONLY), (s) => count(s, BOOTED) === 2);
    expect(await exists(src, disk(vm))).to.equal(true);
    // Nothing left on the target.
    expect(await domstate(dst, vm)).to.equal('absent');
    expect(await exists(dst, disk(vm))).to.equal(false);
  });

  it('a live move that libvirt cannot finish (the target cannot open the serial file) leaves the guest running on the source, never stopped, and the target clean', async () => {
    const vm = 'kmg-lfail';
    expect((await nodeExec(src, ['mkdir', '-p', SRC_ONLY])).code).to.equal(0);
    await runGuest(src, vm, 8, SRC_ONLY);
    const pid = (await nodeExec(src, ['cat', `/run/libvirt/qemu/${vm}.pid`])).stdout.trim();
    const r = await migrate(vm, dst.name, true);
    expect(r.error, JSON.stringify(r.error)).to.equal(null);
    const t = await finished(r.result.result.result.task_id);
    expect(t.state).to.equal('failed');
    expect(t.error.name).to.equal('MigrationError');
    expect(t.error.message).to.match(/^Migration of VM kmg-lfail from omsnode1 to omsnode2 failed: libvirt: .+; it stays on omsnode1, as it was$/);
    // The same QEMU still runs it on the source: it was never stopped or restarted.
    expect(await domstate(src, vm)).to.equal('running');
    expect((await nodeExec(src, ['cat', `/run/libvirt/qemu/${vm}.pid`])).stdout.trim()).to.equal(pid);
    expect(count(await serial(src, vm, SRC_ONLY), BOOTED)).to.equal(1);
    // The empty disk file made for libvirt to fill is gone again; no guest there.
    expect(await exists(dst, disk(vm))).to.equal(false);
    expect(await domstate(dst, vm)).to.equal('absent');
    expect((await nodeExec(src, ['sh', '-c', 'ls /run/oms-migrate-*.sock 2>/dev/null | wc -l'])).stdout.trim()).to.equal('0');
  });

  it('the target drops off mid-copy: the guest runs on the source again, and once the target is back the partial copy is gone from it', async () => {
    const vm = 'kmg-cut';
    const relay = relay3.relay!;
    await runGuest(src, vm, DISK_MIB);
    const r = await migrate(vm, relay3.name);
    expect(r.error, JSON.stringify(r.error)).to.equal(null);
    // Down once a quarter of the disk went towards omsnode3; back a few seconds later.
    relay.cutAfter((DISK_MIB * MiB) / 4);
    await waitFor('the relay cut', async () => (relay as any).isDown as boolean, (d) => d, 120_000, 50);
    const partial = await waitFor('the partial copy on omsnode3', () => exists(n3, disk(vm)), (x) => x, 10_000, 100).catch(() => false);
    await new Promise((res) => setTimeout(res, 4000));
    relay.up();
    const t = await finished(r.result.result.result.task_id);
    expect(t.state).to.equal('failed');
    expect(t.error.name).to.equal('MigrationError');
    expect(await domstate(src, vm)).to.equal('running');
    await waitFor('boot again on the source', () => serial(src, vm), (s) => count(s, BOOTED) === 2);
    expect(partial, 'a partial copy was on the target while it was away').to.equal(true);
    expect(await exists(n3, disk(vm))).to.equal(false);
    expect(await domstate(n3, vm)).to.equal('absent');
    expect((await taskLog(t.id)).join('\n')).to.match(/trying again while it is away/);
  });

  it('refuses before anything changes: target unreachable, name taken, not enough space, live not possible (with the reason), same node', async () => {
    const vm = 'kmg-ref';
    await runGuest(src, vm, 1);
    // Unreachable: the relay to omsnode3 is down.
    relay3.relay!.down();
    try {
      expect(errorOf(await migrate(vm, relay3.name))).to.match(new RegExp(`^MigrationTargetUnreachableError: VM kmg-ref cannot move to ${relay3.name}: the node cannot be reached \\(.+\\); it stays on omsnode1$`));
    } finally {
      relay3.relay!.up();
    }
    // Live to a node enrolled at a loopback address: the source could not reach it. Asked until the
    // gateway has reconnected to it (on its own, with backoff) and answers with that reason.
    const liveRelay = errorOf(await waitFor('the relayed node back', () => migrate(vm, relay3.name, true), (x: any) => !/^MigrationTargetUnreachableError/.test(errorOf(x)), 60_000, 500));
    expect(liveRelay, liveRelay).to.match(/^LiveMigrationNotPossibleError: VM kmg-ref cannot move live from omsnode1 to kmg-relay3: kmg-relay3 is enrolled at 127\.0\.0\.1, a loopback address/);
    // Name taken: a guest of that name on the target.
    const xml = `<domain type='kvm'><name>${vm}</name><memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os></domain>`;
    const def = await nodeExec(dst, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml });
    expect(def.code, def.stderr).to.equal(0);
    expect(errorOf(await migrate(vm, dst.name))).to.equal('MigrationNameTakenError: VM kmg-ref cannot move to omsnode2: a guest named kmg-ref already exists there; it stays on omsnode1');
    await virsh(dst, 'undefine', vm);
    // A file at its disk's path on the target: never overwritten.
    await nodeExec(dst, ['touch', disk(vm)]);
    expect(errorOf(await migrate(vm, dst.name))).to.equal(`MigrationNameTakenError: VM kmg-ref cannot move to omsnode2: disk file ${disk(vm)} already exists there; it stays on omsnode1`);
    await nodeExec(dst, ['rm', '-f', disk(vm)]);
    // Not enough space: a second disk, sparse, larger than the target's filesystem.
    const huge = `${IMAGES}/kmg-ref-huge.img`;
    expect((await nodeExec(src, ['truncate', '-s', '15T', huge])).code).to.equal(0);
    expect((await virsh(src, 'attach-disk', vm, huge, 'vdb', '--config', '--driver', 'qemu', '--subdriver', 'raw')).code).to.equal(0);
    expect(errorOf(await migrate(vm, dst.name))).to.match(/^MigrationSpaceError: VM kmg-ref cannot move to omsnode2: \/var\/lib\/oms-node\/images has [\d.]+ GiB free, its disks need 15 TiB; it stays on omsnode1$/);
    expect((await virsh(src, 'detach-disk', vm, 'vdb', '--config')).code).to.equal(0);
    // Live of a stopped guest.
    await virsh(src, 'destroy', vm);
    expect(errorOf(await migrate(vm, dst.name, true))).to.equal('LiveMigrationNotPossibleError: VM kmg-ref cannot move live from omsnode1 to omsnode2: it is shut off; only a running guest moves live (leave live out to move it offline)');
    expect(errorOf(await migrate(vm, src.name))).to.equal('MigrationNotCapableError: VM kmg-ref cannot move from omsnode1 to omsnode1: it is on that node already');
    // Nothing changed anywhere.
    expect(await domstate(src, vm)).to.equal('shut off');
    expect(await domstate(dst, vm)).to.equal('absent');
    expect(await exists(dst, disk(vm))).to.equal(false);
  });
});
