/**
 * Bulk guest actions and resource pools on the lab (fleetservices.bulk, list_guests, pools):
 * KVM guests named `flt-` on two nodes and a container (id 9650, host name flt-c1.oms.test),
 * their states read with virsh and lxc-info on the nodes themselves.
 */
import { expect } from 'chai';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';
import { BOOTED, POWER_BUTTON } from '../lab/acpi-guest.ts';
import { count, defineAcpiGuest, hostDir, waitFor } from './kst-lab.ts';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

const POOL = 'flt-pool';
const POOL2 = 'flt-pool2';
const USER = 'fltpool';
const USER_PW = 'flt-pool-user-password-1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CT = '9650';
const CT_NAME = 'flt-c1.oms.test';
const lxcState = async (node: LabNode, id: string) => {
  const r = await nodeExec(node, ['lxc-info', '-n', id, '-s', '-H']);
  return r.code === 0 ? r.stdout.trim() : 'MISSING';
};
async function removeCt(node: LabNode): Promise<void> {
  await nodeExec(node, ['lxc-stop', '-n', CT, '-k']);
  await nodeExec(node, ['lxc-destroy', '-n', CT]);
}

const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);
const domstate = async (node: LabNode, vm: string) => (await virsh(node, 'domstate', vm)).stdout.trim();
/** No OS: SeaBIOS finds nothing to boot and waits, ignoring the ACPI button (a shutdown waits its window). */
const xml = (name: string) =>
  `<domain type='kvm'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features></domain>`;

async function define(node: LabNode, name: string): Promise<void> {
  const r = await nodeExec(node, ['sh', '-c', 'f=$(mktemp) && cat > "$f" && virsh -c qemu:///system define "$f"; rc=$?; rm -f "$f"; exit $rc'], { input: xml(name) });
  if (r.code !== 0) throw new Error(`define ${name}: ${r.stderr}`);
}

async function remove(node: LabNode, name: string): Promise<void> {
  await virsh(node, 'destroy', name);
  await virsh(node, 'undefine', name);
}

describe('bulk guest actions and resource pools on the lab (fleetservices)', function () {
  this.timeout(240_000);
  let e: Env;
  let n1: LabNode;
  let n2: LabNode;
  /** guest name -> its node */
  let guests: Record<string, LabNode>;
  let userSid: string;
  const asUser = (service: string, method: string, params: unknown[]) => e.call(service, method, [userSid, 0, ...params]);
  /** Two guests whose tiny OS answers the ACPI power button (test/lab/acpi-guest.ts), made by the last test. */
  const acpiGuests = (): [string, LabNode][] => (n1 && n2 ? [['fla-1', n1], ['fla-2', n2]] : []);

  before(async () => {
    e = await startEnv();
    [n1, n2] = e.lab.nodes;
    await enroll(e, [n1, n2]);
    guests = { 'flt-a1': n1, 'flt-a2': n1, 'flt-b1': n2, 'flt-x1': n2 };
    for (const [g, n] of Object.entries(guests)) {
      await remove(n, g);
      await define(n, g);
    }
    await removeCt(n2);
    const dep = await e.ok('ovzservices', 'deploy_template_for_vm', [e.sid, 0, n2.name, 'ovzt-busybox', CT_NAME, { vm_id: CT, memory: '64', vcpu: '1', disk: '64' }]);
    expect(dep.result).to.deep.equal({});
  });
  after(async () => {
    for (const [g, n] of Object.entries(guests ?? {})) await remove(n, g);
    for (const [g, n] of acpiGuests()) {
      await remove(n, g);
      for (const ext of ['.img', '-serial.log']) rmSync(join(hostDir(n), g + ext), { force: true });
    }
    if (n2) await removeCt(n2);
    await e?.stop();
  });

  it('bulk start over a selector: every matching guest runs, seen with virsh on its node', async () => {
    const run = await e.ok('fleetservices', 'bulk', [e.sid, 0, 'name:flt-*', 'start', null, { wait: true }]);
    expect(run.targets).to.have.members([`${n1.name}/flt-a1`, `${n1.name}/flt-a2`, `${n2.name}/flt-b1`, `${n2.name}/flt-x1`, `${n2.name}/${CT}`]);
    expect(run.summary, JSON.stringify(run.summary.results)).to.deep.include({ total: 5, ok: 5, failed: 0 });
    expect(run.summary.results.find((r: any) => r.guest === CT)).to.include({ kind: 'ct', ok: true });
    for (const [g, n] of Object.entries(guests)) expect(await domstate(n, g), g).to.equal('running');
    expect(await lxcState(n2, CT)).to.equal('RUNNING');
    const listed = await e.ok('fleetservices', 'list_guests', [e.sid, 0, 'name:flt-* state:running']);
    expect(listed.guests.map((g: any) => `${g.node}/${g.id}/${g.type}`)).to.have.members([...Object.entries(guests).map(([g, n]) => `${n.name}/${g}/kvm`), `${n2.name}/${CT}/ct`]);
    const cts = await e.ok('fleetservices', 'list_guests', [e.sid, 0, 'name:flt-* type:ct']);
    expect(cts.guests.map((g: any) => [g.id, g.name])).to.deep.equal([[CT, CT_NAME]]);
  });

  it('bulk force stop: each guest under its own lock, one held elsewhere fails alone (TaskConflictError), the others stop', async () => {
    // An ACPI shutdown of flt-x1 waits out its window (no OS hears the button), holding the guest.
    const held = (await e.ok('kvmservices', 'shutdown_vm', [e.sid, 0, n2.name, 'flt-x1', 120])).result;
    expect(held.task_id, 'the shutdown task runs').to.be.a('string');
    let waiting: any;
    try {
      const run = await e.ok('fleetservices', 'bulk', [e.sid, 0, ['name:flt-*'], 'force_stop', null, { wait: true, concurrency: 2 }]);
      expect(run.summary).to.deep.include({ total: 5, ok: 4, failed: 1 });
      const x1 = run.summary.results.find((r: any) => r.guest === 'flt-x1');
      expect(x1.error.name).to.equal('TaskConflictError');
      expect(x1.error.message).to.contain(held.task_id);
      for (const g of ['flt-a1', 'flt-a2', 'flt-b1']) expect(await domstate(guests[g], g), g).to.equal('shut off');
      expect(await lxcState(n2, CT)).to.equal('STOPPED');
      expect(await domstate(n2, 'flt-x1')).to.equal('running');
      // With lock_wait the call on the held guest waits for it instead, and runs once it is free.
      waiting = await e.ok('fleetservices', 'bulk', [e.sid, 0, 'flt-x1 type:kvm', 'force_stop', null, { lock_wait: 60 }]);
      await sleep(1000);
      expect((await e.ok('tasks', 'task_status', [e.sid, 0, waiting.task_id])).state).to.equal('running');
    } finally {
      await e.ok('tasks', 'cancel_task', [e.sid, 0, held.task_id]);
    }
    let t: any;
    for (let i = 0; i < 300 && (t = await e.ok('tasks', 'task_status', [e.sid, 0, waiting.task_id])).state === 'running'; i++) await sleep(100);
    expect(t.state).to.equal('succeeded');
    expect(t.result).to.deep.include({ total: 1, ok: 1 });
    expect(await domstate(n2, 'flt-x1')).to.equal('shut off');
  });

  it('bulk tag and set autostart reach every selected guest', async () => {
    const tagged = await e.ok('fleetservices', 'bulk', [e.sid, 0, 'name:flt-a*', 'tag', 'flt-tagged', { wait: true }]);
    expect(tagged.summary, JSON.stringify(tagged.summary.results)).to.deep.include({ total: 2, ok: 2 });
    expect((await e.ok('fleetservices', 'list_guests', [e.sid, 0, 'tag:flt-tagged'])).guests.map((g: any) => g.id)).to.have.members(['flt-a1', 'flt-a2']);
    const auto = await e.ok('fleetservices', 'bulk', [e.sid, 0, 'node:' + n2.name + ' name:flt-*', 'set_autostart', 'yes', { wait: true }]);
    expect(auto.summary, JSON.stringify(auto.summary.results)).to.deep.include({ total: 3, ok: 3 });
    expect((await nodeExec(n2, ['cat', `/var/lib/lxc/${CT}/config`])).stdout).to.match(/^lxc\.start\.auto\s*=\s*1$/m);
    for (const g of ['flt-b1', 'flt-x1']) expect((await virsh(n2, 'dominfo', g)).stdout).to.match(/Autostart:\s+enable/);
    expect((await virsh(n1, 'dominfo', 'flt-a1')).stdout).to.match(/Autostart:\s+disable/);
    const bad = await e.call('fleetservices', 'bulk', [e.sid, 0, 'name:flt-*', 'set_autostart']);
    expect(bad.error).to.include({ code: 5 });
  });

  it('a pool user sees and starts only the pool\'s guests, on two nodes', async () => {
    await e.ok('fleetservices', 'create_pool', [e.sid, 0, POOL, 'fleet test pool']);
    const added = await e.ok('fleetservices', 'add_pool_members', [e.sid, 0, POOL, [
      { kind: 'kvm', node: n1.name, guest: 'flt-a1' },
      { kind: 'kvm', node: n2.name, guest: 'flt-b1' },
      { kind: 'ct', node: n2.name, guest: CT },
    ]]);
    expect(added).to.deep.equal({ added: 3, moved: [] });
    await e.ok('userservices', 'add_user', [e.sid, 0, USER, USER_PW, [{ path: `/pools/${POOL}`, role: 'VMUser' }]]);
    userSid = (await e.call('authservices', 'authenticate', [USER, USER_PW])).result.result;

    // Listings: the pool's guests only, with the pool beside the tags.
    const seen = (await asUser('fleetservices', 'list_guests', ['all'])).result.result;
    expect(seen.guests.map((g: any) => [g.node, g.id, g.pools])).to.have.deep.members([
      [n1.name, 'flt-a1', [POOL]],
      [n2.name, 'flt-b1', [POOL]],
      [n2.name, CT, [POOL]],
    ]);
    const adminView = (await e.ok('kvmplusovzservices', 'list_vms', [e.sid, 0, n1.name])).result;
    expect(adminView.find((g: any) => g.name === 'flt-a1').pools).to.deep.equal([POOL]);
    expect(adminView.find((g: any) => g.name === 'flt-a2').pools).to.deep.equal([]);

    // Direct calls: a pool guest starts, a guest beside it on the same node is refused and stays off.
    expect((await asUser('kvmservices', 'start_vm', [n1.name, 'flt-a1'])).error).to.equal(null);
    expect(await domstate(n1, 'flt-a1')).to.equal('running');
    const refused = await asUser('kvmservices', 'start_vm', [n1.name, 'flt-a2']);
    expect(refused.error).to.include({ origin: 1, code: 6 });
    expect(await domstate(n1, 'flt-a2')).to.equal('shut off');

    // A bulk start over everything the user can see: the pool's two guests, on two nodes, nothing else.
    const run = (await asUser('fleetservices', 'bulk', ['all', 'start', null, { wait: true }])).result.result;
    expect(run.targets).to.have.members([`${n1.name}/flt-a1`, `${n2.name}/flt-b1`, `${n2.name}/${CT}`]);
    expect(run.summary).to.deep.include({ ok: 3, failed: 0 });
    expect(await domstate(n2, 'flt-b1')).to.equal('running');
    expect(await lxcState(n2, CT)).to.equal('RUNNING');
    expect(await domstate(n1, 'flt-a2')).to.equal('shut off');
    expect(await domstate(n2, 'flt-x1')).to.equal('shut off');

    // A pool selector names the same guests; a fleet call as the pool user is checked per guest.
    const states = (await asUser('fleetservices', 'call', [`pool:${POOL}`, 'kvmservices.get_vm_state', {}, { wait: true }])).result.result;
    expect(states.summary.results.map((r: any) => [r.guest, r.result.state])).to.have.deep.members([['flt-a1', 'RUNNING'], ['flt-b1', 'RUNNING']]);
    // Node-wide calls stay out of reach: no grant on the nodes.
    const nodesCall = await asUser('fleetservices', 'call', ['all', 'statsservices.get_stats', {}]);
    expect(nodesCall.error).to.include({ code: 1101 });
  });

  it('moving a guest between pools needs rights on both; a pool with members is not deleted', async () => {
    await e.ok('fleetservices', 'create_pool', [e.sid, 0, POOL2]);
    await e.ok('userservices', 'grant', [e.sid, 0, `/pools/${POOL}`, 'user', USER, 'Operator']);
    const move = [{ kind: 'kvm', node: n1.name, guest: 'flt-a1' }];
    const refused = await asUser('fleetservices', 'add_pool_members', [POOL2, move]);
    expect(refused.error).to.include({ code: 6 });
    expect(refused.error.message).to.contain(`/pools/${POOL2}`);
    await e.ok('userservices', 'grant', [e.sid, 0, `/pools/${POOL2}`, 'user', USER, 'Operator']);
    await e.ok('userservices', 'revoke', [e.sid, 0, `/pools/${POOL}`, 'user', USER, 'Operator']);
    await e.ok('userservices', 'revoke', [e.sid, 0, `/pools/${POOL}`, 'user', USER, 'VMUser']);
    // Without rights on the pool it leaves, the move is refused too.
    expect((await asUser('fleetservices', 'add_pool_members', [POOL2, move])).error).to.include({ code: 6 });
    await e.ok('userservices', 'grant', [e.sid, 0, `/pools/${POOL}`, 'user', USER, 'Operator']);
    const moved = (await asUser('fleetservices', 'add_pool_members', [POOL2, move])).result.result;
    expect(moved).to.deep.equal({ added: 1, moved: [{ ...move[0], from: POOL }] });
    expect((await e.ok('fleetservices', 'get_pool', [e.sid, 0, POOL2])).members).to.deep.equal(move);

    const notEmpty = await e.call('fleetservices', 'delete_pool', [e.sid, 0, POOL]);
    expect(notEmpty.error).to.include({ code: 1112 });
    const ghost = await e.call('fleetservices', 'add_pool_members', [e.sid, 0, POOL, [{ kind: 'kvm', node: n1.name, guest: 'flt-nobody' }]]);
    expect(ghost.error).to.include({ code: 1113 });
    await e.ok('fleetservices', 'remove_pool_members', [e.sid, 0, POOL, [{ kind: 'kvm', node: n2.name, guest: 'flt-b1' }, { kind: 'ct', node: n2.name, guest: CT }]]);
    await e.ok('fleetservices', 'remove_pool_members', [e.sid, 0, POOL2, move]);
    await e.ok('fleetservices', 'delete_pool', [e.sid, 0, POOL]);
    await e.ok('fleetservices', 'delete_pool', [e.sid, 0, POOL2]);
    expect((await e.ok('fleetservices', 'list_pools', [e.sid, 0])).map((p: any) => p.name)).to.not.include.members([POOL, POOL2]);
    await e.ok('userservices', 'delete_user', [e.sid, 0, USER]);
  });
  it('bulk pause, resume and ACPI shutdown over a selector: each seen with virsh on the nodes, and the guests hear the button', async () => {
    const serial = new Map<string, () => string>();
    for (const [g, n] of acpiGuests()) {
      await remove(n, g);
      serial.set(g, (await defineAcpiGuest(n, g)).serial);
      expect((await virsh(n, 'start', g)).code).to.equal(0);
    }
    for (const [g] of acpiGuests()) await waitFor(`${g} booted`, async () => serial.get(g)!(), (t) => count(t, BOOTED) === 1, 90_000, 500);
    const bulk = async (action: string) => (await e.ok('fleetservices', 'bulk', [e.sid, 0, 'name:fla-*', action, null, { wait: true }])).summary;
    expect(await bulk('pause')).to.deep.include({ total: 2, ok: 2, failed: 0 });
    for (const [g, n] of acpiGuests()) expect(await domstate(n, g), g).to.equal('paused');
    expect(await bulk('resume')).to.deep.include({ total: 2, ok: 2, failed: 0 });
    for (const [g, n] of acpiGuests()) expect(await domstate(n, g), g).to.equal('running');
    // shutdown: each guest's ACPI shutdown is a task of its own (shutdown_vm); the guests go down by themselves.
    expect(await bulk('shutdown')).to.deep.include({ total: 2, ok: 2, failed: 0 });
    for (const [g, n] of acpiGuests()) {
      await waitFor(`${g} off`, () => domstate(n, g), (st) => st === 'shut off', 60_000, 300);
      expect(count(serial.get(g)!(), POWER_BUTTON), `${g} heard the button`).to.equal(1);
    }
  });
});
