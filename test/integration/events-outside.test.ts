/**
 * Issue 14, "changes made outside OMS", through the public API of a real gateway process: a guest
 * started, paused and stopped with virsh BY HAND on a lab node, and a container stopped with
 * lxc-stop by hand, reach a /ws subscriber (`events.subscribe`, notifications `events.event`), a
 * long-poll client (`events.poll`, OMS envelope) and an SSE client (`GET /events?since=N` with
 * `Authorization: Bearer`), each with the right type, target and action, in seq order; and an
 * out-of-band `virsh start` makes the next cached `kvmservices.list_vms_status` fresh.
 *
 * Needs the event bus (events service, /events) as well as the node watchers. Guests carry the
 * `evn-` prefix; the container is id 71321.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { until, wsSubscriber, type Ev } from './events-client.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const GUEST = `evn-out-${process.pid}`;
const CT = '71321';
const LAB_SH = fileURLToPath(new URL('../lab/lab.sh', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const guestXml = (name: string) => `<domain type='kvm'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><devices/></domain>`;
/** `virsh define` of the XML on stdin (through a file: nodeExec's stdin is a socket, which /dev/stdin cannot open). */
const DEFINE = ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'];
const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);
/** In the node's namespaces and cgroup, as an administrator's shell on it (lxc-start needs the cgroup). */
const byHand = (node: LabNode, argv: string[]): Promise<number> =>
  new Promise((resolve) => execFile('bash', [LAB_SH, 'exec', node.name, '--', ...argv], { timeout: 60_000 }, (err) => resolve(err ? ((err as { code?: number }).code ?? 1) : 0)));

async function cleanUp(node: LabNode): Promise<void> {
  await virsh(node, 'destroy', GUEST);
  await virsh(node, 'undefine', GUEST);
  await nodeExec(node, ['lxc-stop', '-P', '/var/lib/lxc', '-n', CT, '-k']);
  await nodeExec(node, ['lxc-destroy', '-P', '/var/lib/lxc', '-n', CT]);
}

/** An SSE client of GET /events?since=N with a bearer: the event blocks as they come. */
function sseClient(e: Env, since: number, types: string): Promise<{ events: Ev[]; ids: string[]; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${e.gw.url}/events?since=${since}&types=${types}`, { headers: { authorization: `Bearer ${e.sid}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET /events: ${res.statusCode}`));
      const out = { events: [] as Ev[], ids: [] as string[], close: () => req.destroy() };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
          const id = /^id:\s*(.*)$/m.exec(block)?.[1];
          if (data) out.events.push(JSON.parse(data));
          if (id) out.ids.push(id);
        }
      });
      res.on('error', () => undefined);
      resolve(out);
    });
    req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
  });
}

/** What a client saw of the by-hand changes: `type target action` strings, in the order received. */
const story = (events: Ev[]): string[] =>
  events.filter((x) => (x.type === 'kvm' && x.target === GUEST) || (x.type === 'container' && x.target === CT)).map((x) => `${x.type} ${x.target} ${x.action}`);

/**
 * `wanted` appear in `got` in this order. libvirt also reports a start as `resumed` (Unpaused)
 * just before `started`, out of order, so other events may lie between.
 */
function inOrder(got: string[], wanted: string[]): void {
  let at = -1;
  for (const w of wanted) {
    at = got.indexOf(w, at + 1);
    expect(at, `${w} after the ones before it in ${got.join(', ')}`).to.be.at.least(0);
  }
}

const inSeqOrder = (events: Ev[]): void => {
  const seqs = events.map((x) => x.seq);
  expect(seqs, 'seq order').to.deep.equal([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size, 'no event twice').to.equal(seqs.length);
};

describe('changes made outside OMS reach every kind of event client (issue 14; needs the event bus)', function () {
  this.timeout(240_000);
  let e: Env;
  let node: LabNode;

  before(async () => {
    e = await startEnv();
    node = e.lab.nodes[0];
    await cleanUp(node);
    await enroll(e, [node]);
  });

  after(async () => {
    if (node) await cleanUp(node);
    await e?.stop();
  });

  it('virsh start, suspend, resume, destroy and lxc-start, lxc-stop by hand: /ws, long poll and SSE each get them with type, target, action, in seq order', async () => {
    const defined = await nodeExec(node, DEFINE, { input: guestXml(GUEST) });
    expect(defined.code, defined.stderr).to.equal(0);
    const made = await nodeExec(node, ['lxc-create', '-P', '/var/lib/lxc', '-t', 'busybox', '-n', CT]);
    expect(made.code, made.stderr).to.equal(0);

    // Where the journal stands now: the long-poll and SSE clients start from here.
    const start = await e.ok('events', 'poll', [e.sid, 0, null, 0]);
    const since: number = start.next_since;
    const ws = await wsSubscriber(e, { types: ['kvm', 'container'], nodes: [node.name] });
    const sse = await sseClient(e, since, 'kvm,container');
    // The node's watchers started when it was signed (before all); give them time to subscribe
    // and list (0.5 s settle, then one listing) before the first change.
    await sleep(2000);

    const steps: [() => Promise<number>, string][] = [
      [async () => (await virsh(node, 'start', GUEST)).code, `kvm ${GUEST} started`],
      [async () => (await virsh(node, 'suspend', GUEST)).code, `kvm ${GUEST} suspended`],
      [async () => (await virsh(node, 'resume', GUEST)).code, `kvm ${GUEST} resumed`],
      [async () => (await virsh(node, 'destroy', GUEST)).code, `kvm ${GUEST} stopped`],
      [() => byHand(node, ['lxc-start', '-P', '/var/lib/lxc', '-n', CT]), `container ${CT} started`],
      [() => byHand(node, ['lxc-stop', '-P', '/var/lib/lxc', '-n', CT, '-k']), `container ${CT} stopped`],
    ];
    for (const [act, expected] of steps) {
      expect(await act(), expected).to.equal(0);
      await until(`${expected} on /ws`, () => story(ws.events).includes(expected));
    }
    const wanted = steps.map(([, s]) => s);

    // /ws
    inOrder(story(ws.events), wanted);
    inSeqOrder(ws.events);
    const wsStarted = ws.events.find((x) => x.target === GUEST && x.action === 'started')!;
    expect(wsStarted.node).to.equal(node.name);
    expect(wsStarted.data.state).to.equal('RUNNING');
    expect(ws.events.find((x) => x.target === CT && x.action === 'stopped')!.data.state).to.equal('shutdown');

    // SSE
    await until('all on SSE', () => wanted.every((s) => story(sse.events).includes(s)));
    inOrder(story(sse.events), wanted);
    inSeqOrder(sse.events);
    expect(sse.ids.map(Number)).to.deep.equal(sse.events.map((x) => x.seq));

    // Long poll, in the OMS envelope (query-string GET), from the same point, page by page.
    const polled: Ev[] = [];
    let next = since;
    for (let i = 0; i < 20; i++) {
      const r = await e.call('events', 'poll', [e.sid, 0, next, 0, { types: ['kvm', 'container'], nodes: [node.name] }]);
      expect(r.error).to.equal(null);
      expect(r.result.type).to.equal('func');
      const page = r.result.result;
      polled.push(...page.events);
      if (page.events.length === 0) break;
      next = page.next_since;
    }
    inOrder(story(polled), wanted);
    inSeqOrder(polled);
    // The three clients saw the same events under the same numbers.
    const key = (x: Ev) => `${x.seq} ${x.type} ${x.target} ${x.action}`;
    const mineOf = (evs: Ev[]) => evs.filter((x) => x.target === GUEST || x.target === CT).map(key);
    expect(mineOf(sse.events)).to.deep.equal(mineOf(polled));
    expect(mineOf(ws.events)).to.deep.equal(mineOf(polled));
    ws.close();
    sse.close();
  });

  it('an out-of-band virsh start makes the next cached list_vms_status (cache_timeout 60) fresh', async () => {
    /** The OMS envelope's {type, result: {client, result: [{name: {...}}]}}. */
    const list = async () => {
      const r = await e.call('kvmservices', 'list_vms_status', [e.sid, 60, node.name]);
      expect(r.error).to.equal(null);
      return { type: r.result.type as string, guests: r.result.result.result[0] as Record<string, { state: string }> };
    };
    expect((await virsh(node, 'domstate', GUEST)).stdout.trim()).to.equal('shut off');
    await list(); // fills the cache
    const cached = await list();
    expect(cached.type, 'served from the cache').to.equal('tmp_cache');
    expect(cached.guests[GUEST].state).to.equal('shutdown');

    const ws = await wsSubscriber(e, { types: ['kvm'], nodes: [node.name] });
    expect((await virsh(node, 'start', GUEST)).code).to.equal(0);
    await until('the started event', () => ws.events.some((x) => x.target === GUEST && x.action === 'started'));
    ws.close();
    const fresh = await list();
    expect(fresh.type, 'the event dropped the cached result').to.equal('func');
    expect(fresh.guests[GUEST].state).to.equal('running');
  });
});

describe('resume, resync and rights on the lab (issue 14)', function () {
  this.timeout(240_000);
  let e: Env;
  let node: LabNode;
  const USER = 'evn-other';
  const PASSWORD = 'evn-other-password-1';

  before(async () => {
    // A short journal, so that a client away for a while falls off it.
    e = await startEnv({ OMS_EVENTS_RETAIN: '40' });
    node = e.lab.nodes[1];
    await cleanUp(node);
    await enroll(e, [node]);
    // May act on another node only: none of this node's events are theirs to see.
    await e.ok('userservices', 'add_user', [e.sid, 0, USER, PASSWORD, [{ path: `/nodes/${e.lab.nodes[2].name}`, role: 'Administrator' }]]);
  });

  after(async () => {
    if (node) await cleanUp(node);
    await e?.stop();
  });

  it('a subscriber that disconnects and resumes with since misses nothing done by hand meanwhile; a user without rights on the node sees none of it', async () => {
    const defined = await nodeExec(node, DEFINE, { input: guestXml(GUEST) });
    expect(defined.code, defined.stderr).to.equal(0);
    const other = await e.call('authservices', 'authenticate', [USER, PASSWORD]);
    const otherSid: string = other.result.result;
    const outsider = await wsSubscriber({ ...e, sid: otherSid }, {});
    const first = await wsSubscriber(e, { types: ['kvm'], nodes: [node.name] });
    await sleep(2000); // the node's watchers subscribe and list after the signing

    expect((await virsh(node, 'start', GUEST)).code).to.equal(0);
    await until('started', () => story(first.events).includes(`kvm ${GUEST} started`));
    first.close();
    const last = first.events.at(-1)!.seq;

    // While no one of ours listens: pause, resume, power off, by hand.
    for (const verb of ['suspend', 'resume', 'destroy']) expect((await virsh(node, verb, GUEST)).code, verb).to.equal(0);
    await sleep(1000);

    const again = await wsSubscriber(e, { types: ['kvm'], nodes: [node.name], since: last });
    await until('stopped after the resume', () => story(again.events).includes(`kvm ${GUEST} stopped`));
    expect(again.events.every((x) => x.seq > last), 'nothing repeated').to.equal(true);
    expect(again.events.some((x) => x.type === 'resync'), 'no resync while the journal holds it all').to.equal(false);
    inOrder(story(again.events), [`kvm ${GUEST} suspended`, `kvm ${GUEST} resumed`, `kvm ${GUEST} stopped`]);
    inSeqOrder(again.events);
    again.close();

    // The outsider was subscribed to everything the whole time and saw none of this node's events.
    expect(outsider.events.filter((x) => x.node === node.name)).to.deep.equal([]);
    expect(story(outsider.events)).to.deep.equal([]);
    outsider.close();
  });

  it('a since older than the journal gets resync first, on /ws and SSE, never a silent gap', async () => {
    const at: number = (await e.ok('events', 'poll', [e.sid, 0, null, 0])).next_since;
    // More changes than the journal keeps (40): node tags added and removed, each an event.
    for (let i = 0; i < 30; i++) {
      await e.ok('tagservices', 'add_node_tag', [e.sid, 0, node.name, `evn-t${i}`]);
      await e.ok('tagservices', 'remove_node_tag', [e.sid, 0, node.name, `evn-t${i}`]);
    }
    const ws = await wsSubscriber(e, { since: at });
    await until('the resync on /ws', () => ws.events.length > 0);
    expect(ws.events[0].type).to.equal('resync');
    expect(ws.events[0].seq).to.be.greaterThan(at);
    ws.close();
    const sse = await sseClient(e, at, 'inventory');
    await until('the resync on SSE', () => sse.events.length > 0);
    expect(sse.events[0].type).to.equal('resync');
    sse.close();
    const polled = await e.ok('events', 'poll', [e.sid, 0, at, 0]);
    expect(polled.events[0].type).to.equal('resync');
  });
});
