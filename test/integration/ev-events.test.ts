/**
 * Live events from the gateway's own sources on the lab, delivered to a /ws subscriber: a power
 * task's events (created, log, finished) for a guest started and stopped through OMS, and a
 * node's connection events when its sshd is killed and comes back. Guests are ev-* on the first
 * node. The sshd fault is made on a node no other test uses when the lab has one (light nodes
 * past the first three), else on the last full node.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { killSshd, nodeExec, startSshd, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const GUEST = 'ev-task-guest';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);

async function until<T>(what: string, get: () => T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

async function cleanGuest(node: LabNode): Promise<void> {
  await virsh(node, 'destroy', GUEST);
  await virsh(node, 'undefine', GUEST);
}

describe('live events on the lab: tasks and node connections on /ws', function () {
  this.timeout(180_000);
  let e: Env;
  let node: LabNode;
  let victim: LabNode;
  let ws: WebSocket;
  const events: any[] = [];

  before(async () => {
    e = await startEnv();
    node = e.lab.nodes[0];
    victim = e.lab.nodes.length > 3 ? e.lab.nodes[e.lab.nodes.length - 1] : e.lab.nodes[2];
    await cleanGuest(node);
    ws = new WebSocket(`${e.gw.url.replace(/^http/, 'ws')}/ws`, { headers: { authorization: `Bearer ${e.sid}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m.method === 'events.event') events.push(m.params);
    });
    const answer = new Promise<any>((r) => ws.once('message', (d) => r(JSON.parse(String(d)))));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: { types: ['task', 'node', 'console'] } }));
    expect((await answer).result.result).to.have.property('latest');
  });
  after(async () => {
    ws?.close();
    if (victim) await startSshd(victim).catch(() => undefined);
    if (node) await cleanGuest(node);
    await e?.stop();
  });

  it('enrolling a node: enrolled, then connected when the gateway first talks to it', async () => {
    await enroll(e, [node]);
    await until('enrolled and connected', () => events.some((x) => x.node === node.name && x.action === 'enrolled') && events.some((x) => x.node === node.name && x.action === 'connected'));
    const mine = events.filter((x) => x.node === node.name).map((x) => x.action);
    expect(mine.indexOf('enrolled')).to.be.below(mine.indexOf('connected'));
    expect(events.find((x) => x.action === 'enrolled').data).to.deep.include({ address: node.address, fingerprint: node.hostKeyFingerprint, by: 'admin' });
  });

  it('a power task: created, log line, finished ok, in seq order, for the task id on its node', async () => {
    const xml = `<domain type='kvm'><name>${GUEST}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/></devices></domain>`;
    const def = await nodeExec(node, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml });
    expect(def.code, def.stderr).to.equal(0);
    const from = events.length;
    await e.ok('kvmservices', 'set_vm_state', [e.sid, 0, node.name, GUEST, 'RUNNING']);
    expect((await virsh(node, 'domstate', GUEST)).stdout.trim()).to.equal('running');
    await e.ok('kvmservices', 'set_vm_state', [e.sid, 0, node.name, GUEST, 'STOPPED', true]);
    const tasks = await until('both tasks finished', () => {
      const t = events.slice(from).filter((x) => x.type === 'task' && x.data.guest === GUEST);
      return t.filter((x) => x.action === 'finished').length >= 2 && t;
    });
    const seqs = tasks.map((x: any) => x.seq);
    expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
    const start = tasks.filter((x: any) => x.data.kind === 'kvm.start_vm');
    expect(start.map((x: any) => x.action)).to.deep.equal(['created', 'log', 'finished']);
    expect(new Set(start.map((x: any) => x.target)).size).to.equal(1);
    expect(start[0]).to.deep.include({ node: node.name });
    expect(start[1].data.line).to.include(GUEST);
    expect(start[2].data).to.deep.include({ state: 'succeeded', outcome: 'ok', user: 'admin' });
    const status = await e.ok('tasks', 'task_status', [e.sid, 0, start[0].target]);
    expect(status.state).to.equal('succeeded');
    expect(tasks.filter((x: any) => x.data.kind === 'kvm.stop_vm').map((x: any) => x.action)).to.deep.equal(['created', 'log', 'finished']);
  });

  it('a console: opened when its websocket is connected to the node, closed when it ends', async () => {
    const port = await e.ok('sshservices', 'set_up_ssh_connection', [e.sid, 0, node.name]);
    try {
      const t = await e.ok('sshservices', 'get_ssh_ticket', [e.sid, 0, Number(port)]);
      const from = events.length;
      const term = new WebSocket(`${e.gw.url.replace(/^http/, 'ws')}/consoles/ws?ticket=${t.ticket}`);
      await new Promise((resolve, reject) => term.once('open', resolve).once('error', reject));
      const opened = await until('opened', () => events.slice(from).find((x) => x.type === 'console' && x.action === 'opened'));
      expect(opened).to.deep.include({ node: node.name });
      expect(opened.data).to.deep.equal({ kind: 'ssh', port: Number(port) });
      term.close();
      const closed = await until('closed', () => events.slice(from).find((x) => x.type === 'console' && x.action === 'closed'));
      expect(closed.seq).to.be.greaterThan(opened.seq);
      expect(closed.data).to.deep.equal({ kind: 'ssh', port: Number(port) });
    } finally {
      await e.call('sshservices', 'remove_session_ssh_connections', [e.sid, 0]);
    }
  });

  it("a node whose sshd dies: disconnected (unreachable), then connected once it is back", async () => {
    if (victim !== node) await enroll(e, [victim]);
    const stats = () => e.call('statsservices', 'get_stats', [e.sid, 0, victim.name, 'uptime']);
    expect((await stats()).error).to.equal(null);
    await until('connected', () => events.some((x) => x.node === victim.name && x.action === 'connected'));
    const from = events.length;
    await killSshd(victim);
    try {
      const down = await until('disconnected', () => events.slice(from).find((x) => x.node === victim.name && x.action === 'disconnected'), 20_000);
      expect(down.data.reason).to.equal('unreachable');
      expect(down.data.message).to.be.a('string');
    } finally {
      await startSshd(victim);
    }
    for (let i = 0; i < 60 && (await stats()).error; i++) await sleep(500);
    const up = await until('connected again', () => events.slice(from).find((x) => x.node === victim.name && x.action === 'connected'));
    // Down once, then up once; a reconnect attempt while sshd was still starting may add another
    // reason for being down (each change of reason is told), never a second "connected".
    // Connection events only: the health monitor publishes its own `node` events beside them
    // (`threshold` when the shared host's load crosses the limit, `down`/`up` after long outages).
    const after = events.slice(from).filter((x) => x.node === victim.name && (x.action === 'connected' || x.action === 'disconnected')).map((x) => x.action);
    expect(after[0]).to.equal('disconnected');
    expect(after.at(-1)).to.equal('connected');
    expect(after.filter((a) => a === 'connected')).to.have.length(1);
    expect(up.seq).to.be.greaterThan(events[from].seq);
  });
});
