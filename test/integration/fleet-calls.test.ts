/**
 * Fleet-wide calls on the lab (fleetservices.call): over all nodes, over a tag, with nodes whose
 * link is cut (the others finish, the failures are listed typed), a selector matching nothing,
 * cancel mid-way, and placement with `avoid`. Everything this file makes is named `flt-`.
 */
import { expect } from 'chai';
import { cutLink, nodeExec, restoreLink, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TAG = 'flt-web';
const PLACED = 'flt-placed';
/** The guest fleetservices.create makes on the node placement picks. */
const MADE = 'flt-made';

/** The node's address on the lab bridge as the node itself reports it (list_interfaces ran there). */
const addressIn = (interfaces: unknown): string[] => JSON.stringify(interfaces).match(/10\.213\.7\.\d+/g) ?? [];

async function taskDone(e: Env, id: string, ms = 120_000): Promise<any> {
  const until = Date.now() + ms;
  for (;;) {
    const t = await e.ok('tasks', 'task_status', [e.sid, 0, id]);
    if (t.state !== 'running') return t;
    if (Date.now() > until) throw new Error(`task ${id} still running`);
    await sleep(200);
  }
}

const logOf = async (e: Env, id: string): Promise<string[]> => (await e.ok('tasks', 'task_log', [e.sid, 0, id])).map((l: any) => l.line);

describe('fleet calls on the lab (fleetservices.call)', function () {
  this.timeout(240_000);
  let e: Env;
  let nodes: LabNode[];
  /**
   * Nodes whose link the fault tests cut: two light nodes when the lab has them (never the full
   * nodes others test guests on at the same time), else the first node (CI's lab of three runs
   * one test file at a time).
   */
  let cut: LabNode[];
  before(async () => {
    // Short node timeout: a node behind a cut link answers FuncMethodTimeoutError after 5 s.
    e = await startEnv({ OMS_NODE_TIMEOUT: '5', OMS_HEALTH_INTERVAL: '2' });
    nodes = e.lab.nodes;
    await enroll(e, nodes);
    cut = nodes.length >= 6 ? nodes.slice(-4, -2) : nodes.slice(0, 1);
  });
  after(async () => {
    for (const n of cut) await restoreLink(n).catch(() => {});
    for (const n of nodes.slice(0, 3)) {
      await nodeExec(n, ['virsh', '-c', 'qemu:///system', 'undefine', PLACED]);
      await nodeExec(n, ['virsh', '-c', 'qemu:///system', 'undefine', MADE]);
    }
    await e?.stop();
  });

  it('over all nodes: every node answers from itself, results stream into the task log and task events, progress N of N', async () => {
    const since = (await e.ok('events', 'poll', [e.sid, 0, null, 0, { types: ['task'] }])).next_since;
    const run = await e.ok('fleetservices', 'call', [e.sid, 0, 'all', 'netinterfaceservices.list_interfaces', {}, { wait: true }]);
    expect(run.total).to.equal(nodes.length);
    expect(run.targets).to.have.members(nodes.map((n) => n.name));
    const s = run.summary;
    expect({ ok: s.ok, failed: s.failed, not_started: s.not_started }).to.deep.equal({ ok: nodes.length, failed: 0, not_started: 0 });
    for (const n of nodes) {
      const r = s.results.find((x: any) => x.node === n.name);
      expect(addressIn(r.result), `${n.name} answered with its own address`).to.include(n.address);
    }
    const task = await e.ok('tasks', 'task_status', [e.sid, 0, run.task_id]);
    expect(task).to.deep.include({ kind: 'fleet.call', state: 'succeeded' });
    expect(task.progress).to.deep.include({ done: nodes.length, total: nodes.length });
    const log = await logOf(e, run.task_id);
    expect(log.filter((l) => /^\[\d+\/\d+\] ok /.test(l))).to.have.length(nodes.length);
    expect(log.at(-1)).to.equal(`done: ${nodes.length} ok, 0 failed`);
    // The same lines reached subscribers as task events, one per target as it answered.
    const events: any[] = [];
    for (let after = since; ; ) {
      const page = await e.ok('events', 'poll', [e.sid, 0, after, 0, { types: ['task'] }]);
      events.push(...page.events);
      if (page.events.length === 0 || after === page.next_since) break;
      after = page.next_since;
    }
    const mine = events.filter((ev) => ev.target === run.task_id);
    expect(mine.filter((ev) => ev.action === 'log' && /^\[\d+\/\d+\] ok /.test(ev.data.line))).to.have.length(nodes.length);
    expect(mine.filter((ev) => ev.action === 'progress').map((ev) => ev.data.progress.done).at(-1)).to.equal(nodes.length);
    expect(mine.at(-1)).to.deep.include({ action: 'finished' });
  });

  it('over a tag: exactly the tagged nodes', async () => {
    const tagged = [nodes[1], nodes[nodes.length - 1]].map((n) => n.name);
    for (const n of tagged) await e.ok('tagservices', 'add_node_tag', [e.sid, 0, n, TAG]);
    try {
      const run = await e.ok('fleetservices', 'call', [e.sid, 0, `tag:${TAG}`, 'statsservices.get_stats', { stats: ['uptime'] }, { wait: true }]);
      expect(run.targets).to.have.members(tagged);
      expect(run.summary.results.map((r: any) => [r.node, r.ok])).to.have.deep.members(tagged.map((n) => [n, true]));
      const negated = await e.ok('fleetservices', 'call', [e.sid, 0, `all -tag:${TAG}`, 'statsservices.get_stats', { stats: ['uptime'] }, { wait: true }]);
      expect(negated.total).to.equal(nodes.length - 2);
      expect(negated.targets).to.not.include.members(tagged);
    } finally {
      for (const n of tagged) await e.ok('tagservices', 'remove_node_tag', [e.sid, 0, n, TAG]);
    }
  });

  it('with nodes cut off: the others finish in their usual time, the cut ones are listed with typed errors', async () => {
    for (const n of cut) await cutLink(n);
    let run: any;
    try {
      run = await e.ok('fleetservices', 'call', [e.sid, 0, 'all', 'statsservices.get_stats', { stats: ['uptime'] }, { wait: true }]);
    } finally {
      for (const n of cut) await restoreLink(n);
    }
    const s = run.summary;
    expect(s.failed).to.equal(cut.length);
    expect(s.ok).to.equal(nodes.length - cut.length);
    for (const n of cut) {
      const r = s.results.find((x: any) => x.node === n.name);
      expect(r.ok).to.equal(false);
      expect(r.error.name).to.be.oneOf(['FuncMethodTimeoutError', 'NodeUnreachableError']);
      expect(r.error.code).to.be.oneOf([108, 201]);
      expect(r.error.message).to.contain(n.name);
    }
    const okMs = s.results.filter((r: any) => r.ok).map((r: any) => r.ms);
    const cutMs = s.results.filter((r: any) => !r.ok).map((r: any) => r.ms);
    console.log(`      ${okMs.length} reachable nodes answered in at most ${Math.max(...okMs)} ms; ${cutMs.length} cut off failed after ${cutMs.join(', ')} ms`);
    // The reachable nodes do not wait for the cut ones: each answered well inside the 5 s timeout.
    expect(Math.max(...okMs), `reachable nodes' times ${okMs}`).to.be.below(4000);
    const log = await logOf(e, run.task_id);
    for (const n of cut) expect(log.some((l) => new RegExp(`^\\[\\d+/\\d+\\] failed ${n.name} (FuncMethodTimeoutError\\(108\\)|NodeUnreachableError\\(201\\)): `).test(l))).to.equal(true);
  });

  it('a selector matching nothing is refused with FleetNoMatchError, and no task is made', async () => {
    const before = (await e.ok('tasks', 'list_tasks', [e.sid, 0])).length;
    const none = await e.call('fleetservices', 'call', [e.sid, 0, 'tag:flt-no-such-tag', 'statsservices.get_stats', {}]);
    expect(none.error).to.include({ origin: 2, code: 1101 });
    expect(none.error.message).to.equal('FleetNoMatchError: Selector "tag:flt-no-such-tag" matches no node you may view');
    const bad = await e.call('fleetservices', 'call', [e.sid, 0, 'colour:red', 'statsservices.get_stats', {}]);
    expect(bad.error).to.include({ origin: 2, code: 1100 });
    const guestTerm = await e.call('fleetservices', 'call', [e.sid, 0, 'state:running', 'statsservices.get_stats', {}]);
    expect(guestTerm.error.message).to.match(/^FleetSelectorError: .*state:running selects guests/);
    const noGuests = await e.call('fleetservices', 'bulk', [e.sid, 0, 'name:flt-nobody-*', 'start']);
    expect(noGuests.error).to.include({ code: 1101 });
    expect((await e.ok('tasks', 'list_tasks', [e.sid, 0])).length).to.equal(before);
  });

  it('cancel mid-way: nothing new starts, the running call finishes, the task ends cancelled with what was done', async () => {
    // One at a time, a node behind a cut link first (targets go in name order): its call takes
    // the 5 s node timeout, so the cancel lands while it runs, before the others start.
    const targets = [...cut, nodes[nodes.length - 1]];
    for (const n of cut) await cutLink(n);
    try {
      const run = await e.ok('fleetservices', 'call', [e.sid, 0, targets.map((n) => n.name), 'statsservices.get_stats', { stats: ['uptime'] }, { concurrency: 1 }]);
      expect(run.total).to.equal(targets.length);
      expect(run.targets[0]).to.equal(cut[0].name);
      await sleep(500);
      expect(await e.ok('tasks', 'cancel_task', [e.sid, 0, run.task_id])).to.equal(1);
      const running = await e.ok('tasks', 'task_status', [e.sid, 0, run.task_id]);
      expect(running.state, 'the running call is left to finish').to.equal('running');
      const t = await taskDone(e, run.task_id);
      expect(t.state).to.equal('cancelled');
      const log = await logOf(e, run.task_id);
      const results = log.filter((l) => l.startsWith('['));
      expect(results).to.have.length(1);
      expect(results[0]).to.match(new RegExp(`^\\[1/${targets.length}\\] failed ${cut[0].name} FuncMethodTimeoutError`));
      expect(log.at(-1)).to.equal(`cancelled: 0 ok, 1 failed, ${targets.length - 1} not started`);
      expect(t.progress).to.deep.include({ done: 1, total: targets.length });
      await sleep(1000);
      expect(await logOf(e, run.task_id), 'nothing ran after the cancel').to.deep.equal(log);
    } finally {
      for (const n of cut) await restoreLink(n);
    }
  });

  it('placement picks by the health samples, and with avoid never the node of those guests', async () => {
    const until = Date.now() + 30_000;
    let first: any;
    for (;;) {
      const r = await e.call('fleetservices', 'placement', [e.sid, 0, 'kvm']);
      if (!r.error) {
        first = r.result.result;
        break;
      }
      // The monitor needs two samples per node for the CPU figure.
      if (Date.now() > until) throw new Error(JSON.stringify(r.error));
      await sleep(1000);
    }
    expect(nodes.slice(0, 3).map((n) => n.name)).to.include(first.node);
    expect(first.reason).to.match(new RegExp(`^${first.node} has the most room \\(memory [\\d.]+% free, CPU [\\d.]+% idle`));
    if (nodes.length > 3) expect(first.excluded).to.deep.include({ node: nodes[3].name, why: 'libvirt does not answer' });
    const host = nodes.find((n) => n.name === first.node)!;
    const def = await nodeExec(host, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], {
      input: `<domain type='kvm'><name>${PLACED}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>`,
    });
    expect(def.code, def.stderr).to.equal(0);
    const avoided = await e.ok('fleetservices', 'placement', [e.sid, 0, 'kvm', { avoid: [PLACED] }]);
    expect(avoided.node).to.not.equal(host.name);
    expect(avoided.excluded).to.deep.include({ node: host.name, why: `avoid: holds ${PLACED}` });
    expect(avoided.reason).to.contain(`avoiding ${PLACED} on ${host.name}`);
    const nowhere = await e.call('fleetservices', 'placement', [e.sid, 0, 'kvm', { tag: 'flt-no-such-tag' }]);
    expect(nowhere.error).to.include({ code: 1120 });
  });

  it('create without naming a node: the guest is defined on the node placement picks, never the avoided one, and the answer says where and why', async () => {
    const made = await e.ok('fleetservices', 'create', [e.sid, 0, 'kvmservices.create_vm', { kvm_vm_name: MADE, spec: { memory_mib: 32 } }, { avoid: [PLACED] }]);
    const placedOn = nodes.find((n) => n.name === made.node)!;
    expect(placedOn, `placed on ${made.node}`).to.not.equal(undefined);
    // PLACED is on the node placement liked best before; avoiding it must send the guest elsewhere.
    const avoidedHost = (await Promise.all(nodes.slice(0, 3).map(async (n) => ((await nodeExec(n, ['virsh', '-c', 'qemu:///system', 'domstate', PLACED])).code === 0 ? n.name : '')))).find(Boolean);
    expect(made.node).to.not.equal(avoidedHost);
    expect(made.reason).to.match(new RegExp(`^${made.node} has the most room`)).and.contain(`avoiding ${PLACED}`);
    expect(made.result).to.include({ name: MADE });
    const info = await nodeExec(placedOn, ['virsh', '-c', 'qemu:///system', 'domstate', MADE]);
    expect(info.code, info.stderr).to.equal(0);
    expect(info.stdout.trim()).to.equal('shut off');
    for (const n of nodes.slice(0, 3)) if (n !== placedOn) expect((await nodeExec(n, ['virsh', '-c', 'qemu:///system', 'domstate', MADE])).code, `not on ${n.name}`).to.not.equal(0);
    // The node is placement's to choose: naming it is refused before anything is made.
    const named = await e.call('fleetservices', 'create', [e.sid, 0, 'kvmservices.create_vm', { server_hostname: made.node, kvm_vm_name: `${MADE}2`, spec: { memory_mib: 32 } }]);
    expect(named.error?.message).to.match(/^FleetMethodError: .*param server_hostname is placement's to fill in/);
  });
});
