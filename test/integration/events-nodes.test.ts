/**
 * The node watchers on a real lab node (issue 14): the libvirt event reader and the LXC monitor,
 * run by the WatcherRunner over the gateway's own NodePool, publishing into a collector sink.
 * Changes are made BY HAND on the node (virsh through nodeExec, lxc-* through `lab.sh exec`), never
 * through OMS, and the events must say what happened, in order, with the state read again.
 * Guests carry the `evn-` prefix; containers, which OMS names by number, use ids 71310..71319.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { openDatabase } from '../../src/db/database.ts';
import { NodeStore } from '../../src/fleet/nodes.ts';
import { NodeAccess } from '../../src/fleet/access.ts';
import { NodePool } from '../../src/nodes/pool.ts';
import { WatcherRunner } from '../../src/events/watchers.ts';
import type { EventInput } from '../../src/events/types.ts';
import { kvmEventWatcher } from '../../services/kvmservices/events.ts';
import { containerWatcher } from '../../services/ovzservices/events.ts';
import { killSshd, nodeExec, startSshd, type Lab, type LabNode } from '../lab/index.ts';
import { lab as labOf } from './fixture.ts';

const GUEST = `evn-hand-${process.pid}`;
const CT = '71311';
const LAB_SH = fileURLToPath(new URL('../lab/lab.sh', import.meta.url));

const guestXml = (name: string) => `<domain type='kvm'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><devices/></domain>`;

/** `virsh define` of the XML on stdin (through a file: nodeExec's stdin is a socket, which /dev/stdin cannot open). */
const DEFINE = ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'];
const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);
/** Runs argv in the node's namespaces and cgroup, as an administrator's shell on it would (lxc-start needs the cgroup). */
const byHand = (node: LabNode, argv: string[]): Promise<{ code: number; stderr: string }> =>
  new Promise((resolve) => {
    execFile('bash', [LAB_SH, 'exec', node.name, '--', ...argv], { timeout: 60_000 }, (err, _out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }));
  });

async function cleanUp(node: LabNode): Promise<void> {
  await virsh(node, 'destroy', GUEST);
  await virsh(node, 'undefine', GUEST);
  await nodeExec(node, ['lxc-stop', '-P', '/var/lib/lxc', '-n', CT, '-k']);
  await nodeExec(node, ['lxc-destroy', '-P', '/var/lib/lxc', '-n', CT]);
}

/** Collects what the watchers publish; waits for an event to arrive. */
class Collector {
  readonly events: EventInput[] = [];
  publish(e: EventInput): void {
    this.events.push(e);
  }
  of(type: string, target: string): EventInput[] {
    return this.events.filter((e) => e.type === type && e.target === target);
  }
  async waitFor(what: string, test: (e: EventInput) => boolean, ms = 20_000): Promise<EventInput> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.events.find(test);
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`no ${what} event within ${ms} ms; got ${JSON.stringify(this.events.slice(-10))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Both watches subscribed and listed: from here on a change is seen live. */
async function untilHealthy(runner: WatcherRunner, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(runner.running().length === 2 && runner.running().every((r) => r.healthy))) {
    if (Date.now() > end) throw new Error(`watchers not healthy: ${JSON.stringify(runner.running())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('node watchers on a lab node: changes made by hand become events (issue 14)', function () {
  this.timeout(180_000);
  let lab: Lab;
  let node: LabNode;
  let pool: NodePool;
  let runner: WatcherRunner;
  const sink = new Collector();

  before(async () => {
    lab = await labOf();
    node = lab.nodes[1];
    await cleanUp(node);
    const db = openDatabase(':memory:');
    const nodes = new NodeStore(db);
    pool = new NodePool({ privateKey: readFileSync(lab.privateKey!, 'utf8'), reconnectBackoffMs: { min: 100, max: 1000 } });
    // Enrolled as add_request does: the key the node offers now (other tests rotate host keys).
    const offered = await pool.probeHostKey(node.address, node.port);
    nodes.request(node.name, node.address, node.port, offered.fingerprint, offered.publicKey, 'test');
    nodes.sign(node.name, 'test');
    const access = new NodeAccess(nodes, pool, { timeoutMs: 30_000 });
    runner = new WatcherRunner({
      watchers: [kvmEventWatcher, containerWatcher],
      signedNodes: () => nodes.listSigned(),
      handle: (name) => access.get(name),
      sink,
      log: pino({ enabled: false }),
      // Far beyond the test: whatever a listing finds here was found after a reconnect.
      resyncMs: 3_600_000,
      backoffMs: { min: 300, max: 2000 },
    });
    runner.start();
    await untilHealthy(runner);
  });

  after(async () => {
    await runner?.close();
    pool?.closeAll();
    if (node) await cleanUp(node);
  });

  it('a guest defined, started, suspended, resumed and destroyed with virsh by hand: one event each, in order, each with the state read after it', async () => {
    const r = await nodeExec(node, DEFINE, { input: guestXml(GUEST) });
    expect(r.code, r.stderr).to.equal(0);
    // The reader is live once the definition shows: everything after is a change seen live.
    await sink.waitFor('defined', (e) => e.target === GUEST && e.action === 'defined');

    const steps: [string[], string, string, string][] = [
      [['start', GUEST], 'started', 'RUNNING', 'running'],
      [['suspend', GUEST], 'suspended', 'PAUSED', 'paused'],
      [['resume', GUEST], 'resumed', 'RUNNING', 'running'],
      [['destroy', GUEST], 'stopped', 'STOPPED', 'shut off'],
    ];
    for (const [args, action, state, domstate] of steps) {
      const before = sink.events.length;
      const done = await virsh(node, ...args);
      expect(done.code, done.stderr).to.equal(0);
      expect((await virsh(node, 'domstate', GUEST)).stdout.trim(), 'the node itself').to.equal(domstate);
      const e = await sink.waitFor(action, (x) => sink.events.indexOf(x) >= before && x.target === GUEST && x.action === action);
      expect(e).to.deep.include({ type: 'kvm', node: node.name, target: GUEST, action });
      expect(e.data?.state, `${action}: state read again`).to.equal(state);
      expect(e.data?.resync, 'seen live, not by a listing').to.equal(undefined);
    }
    // In the order they happened. libvirt also says `resumed` (Unpaused) just before `started`
    // on a start, as it delivers some events out of order: the state read after it (RUNNING)
    // is what a client goes by, so that extra event is published as it came.
    const mine = sink.of('kvm', GUEST).map((e) => e.action);
    const wanted = ['defined', 'started', 'suspended', 'resumed', 'stopped'];
    let at = -1;
    for (const w of wanted) {
      at = mine.indexOf(w, at + 1);
      expect(at, `${w} after the ones before it in ${mine.join(', ')}`).to.be.at.least(0);
    }
    for (const e of sink.of('kvm', GUEST)) expect(e.data?.state, `${e.action} carries a state`).to.be.oneOf(['RUNNING', 'PAUSED', 'STOPPED', 'STOPPING']);
    // libvirt's reason rides along: a destroy is a stop with reason Destroyed.
    expect(sink.of('kvm', GUEST).find((e) => e.action === 'stopped')?.data?.reason).to.equal('Destroyed');
  });

  it('a container started and stopped with lxc-start / lxc-stop by hand: started then stopped, with its state', async () => {
    const made = await nodeExec(node, ['lxc-create', '-P', '/var/lib/lxc', '-t', 'busybox', '-n', CT]);
    expect(made.code, made.stderr).to.equal(0);
    const before = sink.events.length;
    const started = await byHand(node, ['lxc-start', '-P', '/var/lib/lxc', '-n', CT]);
    expect(started.code, started.stderr).to.equal(0);
    const up = await sink.waitFor('container started', (e) => sink.events.indexOf(e) >= before && e.type === 'container' && e.target === CT && e.action === 'started');
    expect(up).to.deep.include({ node: node.name });
    expect(up.data).to.deep.include({ state: 'running', lxc_state: 'running' });
    const stopped = await byHand(node, ['lxc-stop', '-P', '/var/lib/lxc', '-n', CT, '-k']);
    expect(stopped.code, stopped.stderr).to.equal(0);
    expect((await nodeExec(node, ['lxc-info', '-P', '/var/lib/lxc', '-n', CT, '-s'])).stdout).to.match(/STOPPED/);
    const down = await sink.waitFor('container stopped', (e) => e.type === 'container' && e.target === CT && e.action === 'stopped');
    expect(down.data).to.deep.include({ state: 'shutdown', lxc_state: 'stopped' });
    const actions = sink.of('container', CT).map((e) => e.action);
    expect(actions).to.deep.equal(['started', 'stopped']);
  });

  it('changes made while the link is cut are reported by the listing after it comes back (data.resync)', async () => {
    const runsBefore = runner.running().map((r) => r.runs);
    await killSshd(node);
    try {
      // Made while no reader can see them.
      expect((await virsh(node, 'start', GUEST)).code).to.equal(0);
      expect((await byHand(node, ['lxc-start', '-P', '/var/lib/lxc', '-n', CT])).code).to.equal(0);
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await startSshd(node);
    }
    const g = await sink.waitFor('guest resync', (e) => e.target === GUEST && e.action === 'started' && e.data?.resync === true, 60_000);
    expect(g.data?.state).to.equal('RUNNING');
    const c = await sink.waitFor('container resync', (e) => e.target === CT && e.action === 'started' && e.data?.resync === true, 60_000);
    expect(c.data?.state).to.equal('running');
    // Both watchers were started again (reconnect), not left for the hour-long timer.
    const runsAfter = runner.running().map((r) => r.runs);
    runsAfter.forEach((n, i) => expect(n).to.be.greaterThan(runsBefore[i]));

    // And the readers are live again: a stop by hand is seen as it happens.
    expect((await virsh(node, 'destroy', GUEST)).code).to.equal(0);
    const live = await sink.waitFor('live stop', (e) => e.target === GUEST && e.action === 'stopped' && e.data?.resync === undefined && sink.events.indexOf(e) > sink.events.indexOf(g));
    expect(live.data?.state).to.equal('STOPPED');
  });
});
