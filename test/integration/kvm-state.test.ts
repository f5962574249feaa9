/**
 * The guest state model (Velocity) on a real lab node through the gateway process: set_vm_state
 * and get_vm_state, the transitions reported while they run, and list_vms_status keeping its OMS
 * values. Every step is checked on the node (virsh domstate, domain id and QEMU pid, the serial
 * console of a guest that hears the ACPI button). Guests are kst-* on omsnode3.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { BOOTED, POWER_BUTTON } from '../lab/acpi-guest.ts';
import { enroll, startEnv, type Env } from './fixture.ts';
import { cleanKst, count, define, defineAcpiGuest, domstate, identity, plainXml, sleep, waitFor } from './kst-lab.ts';

const PLAIN = 'kst-plain';
/** The guest of the paused (starting up) test: its own prefix (kf-), removed in after(). */
const KF = 'kf-start';
const ACPI = 'kst-acpi';
/** SeaBIOS takes 5-10 s to reach the boot sector here; more on a loaded machine. */
const BOOT_MS = 90_000;

describe('KVM guest states (Velocity) on the lab', function () {
  this.timeout(240_000);
  let e: Env;
  let node: LabNode;
  let acpiSerial: () => string;
  const dataDir = mkdtempSync(join(tmpdir(), 'kst-gw-'));
  const call = (method: string, params: unknown[]) => e.call('kvmservices', method, [e.sid, 0, node.name, ...params]);
  const ok = (method: string, params: unknown[]) => e.ok('kvmservices', method, [e.sid, 0, node.name, ...params]).then((r) => r.result);
  const get = (vm: string) => ok('get_vm_state', [vm]);
  const set = (vm: string, ...p: unknown[]) => ok('set_vm_state', [vm, ...p]);
  const listed = async (vm: string) => (await ok('list_vms_status', []))[0][vm];
  const tasksOf = async (vm: string) => ((await e.ok('tasks', 'list_tasks', [e.sid, 0, node.name])) as any[]).filter((t) => t.target === vm);
  const pidOf = async (vm: string) => (await nodeExec(node, ['cat', `/run/libvirt/qemu/${vm}.pid`])).stdout.trim();
  /**
   * A watchdog on the node for a QEMU process the test stops: it lets the process run again after
   * holdS at the latest (other tests share this libvirtd), and ends as soon as the test has let it
   * run itself, so a long hold (room for a loaded machine) costs nothing when the test is quick.
   * With `stop`, it stops the process first.
   */
  const watchdogOf = (pid: string, holdS: number, stop: boolean) =>
    nodeExec(node, [
      'sh',
      '-c',
      // A stop takes effect when the kernel next schedules QEMU's threads: the watchdog waits
      // for state T first (up to 10 s), else its loop would see "S" and let QEMU go at once.
      'end=$(($(date +%s) + $2)); if [ "$3" = stop ]; then kill -STOP "$1" || exit 1; n=0; while [ "$(ps -o state= -p "$1")" != T ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done; fi; while [ "$(ps -o state= -p "$1")" = T ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done; kill -CONT "$1"',
      'kst-watchdog',
      pid,
      String(holdS),
      stop ? 'stop' : 'held',
    ]);
  /** Waits until the node says the process is stopped (state T). */
  const stopped = async (pid: string) =>
    waitFor(`QEMU ${pid} stopped`, async () => (await nodeExec(node, ['ps', '-o', 'state=', '-p', pid])).stdout.trim(), (st) => st === 'T', 20_000, 50);

  before(async () => {
    e = await startEnv({}, { dataDir });
    node = e.lab.nodes[2];
    await cleanKst(node);
    await cleanKf();
    await enroll(e, [node]);
    await define(node, plainXml(PLAIN));
    acpiSerial = (await defineAcpiGuest(node, ACPI)).serial;
  });
  const cleanKf = async () => {
    await nodeExec(node, ['virsh', '-c', 'qemu:///system', 'destroy', KF]);
    await nodeExec(node, ['virsh', '-c', 'qemu:///system', 'undefine', KF]);
  };

  after(async () => {
    if (node) await cleanKf();
    if (node) await cleanKst(node);
    await e?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('set_vm_state walks STOPPED, RUNNING, PAUSED, RUNNING, STOPPED (force) as virsh sees it; list_vms_status keeps the OMS state and adds vm_state', async () => {
    expect(await get(PLAIN)).to.deep.equal({ name: PLAIN, state: 'STOPPED', task_id: null });
    expect(await listed(PLAIN)).to.deep.include({ state: 'shutdown', vm_state: 'STOPPED' });

    expect(await set(PLAIN, 'RUNNING')).to.deep.equal({ name: PLAIN, state: 'RUNNING' });
    expect(await domstate(node, PLAIN)).to.equal('running');
    expect(await get(PLAIN)).to.deep.equal({ name: PLAIN, state: 'RUNNING', task_id: null });
    expect(await listed(PLAIN)).to.deep.include({ state: 'running', vm_state: 'RUNNING' });

    expect(await set(PLAIN, 'PAUSED')).to.deep.equal({ name: PLAIN, state: 'PAUSED' });
    expect(await domstate(node, PLAIN)).to.equal('paused');
    expect(await listed(PLAIN)).to.deep.include({ state: 'paused', vm_state: 'PAUSED' });

    expect(await set(PLAIN, 'RUNNING')).to.deep.equal({ name: PLAIN, state: 'RUNNING' });
    expect(await domstate(node, PLAIN)).to.equal('running');

    // A guest without an OS would make a graceful stop wait for its window: force is a power-off.
    const t0 = Date.now();
    expect(await set(PLAIN, 'STOPPED', true)).to.deep.equal({ name: PLAIN, state: 'STOPPED' });
    expect(Date.now() - t0).to.be.below(15_000);
    expect(await domstate(node, PLAIN)).to.equal('shut off');
    expect(await get(PLAIN)).to.deep.equal({ name: PLAIN, state: 'STOPPED', task_id: null });

    // Each move was a power task of its own kind, finished as succeeded.
    const kinds = (await tasksOf(PLAIN)).map((t) => `${t.kind}:${t.state}`);
    expect(kinds).to.include.members(['kvm.start_vm:succeeded', 'kvm.pause_vm:succeeded', 'kvm.resume_vm:succeeded', 'kvm.stop_vm:succeeded']);
  });

  it('the state the guest is in already is success with nothing done: same domain id and QEMU pid, no task', async () => {
    // Stopped: nothing to do, at once.
    let tasks = (await tasksOf(PLAIN)).length;
    for (const force of [false, true]) expect(await set(PLAIN, 'STOPPED', force)).to.deep.equal({ name: PLAIN, state: 'STOPPED' });
    expect((await tasksOf(PLAIN)).length).to.equal(tasks);

    await set(PLAIN, 'RUNNING');
    const running = await identity(node, PLAIN);
    expect(running.pid).to.match(/^\d+$/);
    tasks = (await tasksOf(PLAIN)).length;
    expect(await set(PLAIN, 'RUNNING')).to.deep.equal({ name: PLAIN, state: 'RUNNING' });
    expect(await set(PLAIN, 'RUNNING', true)).to.deep.equal({ name: PLAIN, state: 'RUNNING' });
    expect(await ok('start_vm', [PLAIN])).to.equal(0);
    expect(await identity(node, PLAIN)).to.deep.equal(running);
    expect((await tasksOf(PLAIN)).length).to.equal(tasks);

    await set(PLAIN, 'PAUSED');
    tasks = (await tasksOf(PLAIN)).length;
    expect(await set(PLAIN, 'PAUSED')).to.deep.equal({ name: PLAIN, state: 'PAUSED' });
    expect(await ok('pause_vm', [PLAIN])).to.equal(0);
    expect(await domstate(node, PLAIN)).to.equal('paused');
    expect(await identity(node, PLAIN)).to.deep.equal(running);
    expect((await tasksOf(PLAIN)).length).to.equal(tasks);
    await set(PLAIN, 'STOPPED', true);
  });

  it('STARTING while the start runs, then RUNNING; the OMS state field shows only the values OMS clients know', async () => {
    // `virsh start` takes from a fraction of a second to a few here (QEMU start-up); two lookers
    // ask one after the other as fast as the gateway answers, so several looks land inside it.
    // Warm first: the node connection and its resident virsh are up before the start.
    expect((await get(PLAIN)).state).to.equal('STOPPED');
    await listed(PLAIN);
    const seen: string[] = [];
    const listedSeen: string[] = [];
    const oms: string[] = [];
    let done = false;
    const started = set(PLAIN, 'RUNNING').finally(() => (done = true));
    const look = async () => {
      while (!done) {
        const g = await get(PLAIN);
        if (done) break;
        seen.push(g.state);
        if (g.state === 'STARTING') expect(g.task_id).to.match(/^[0-9a-f-]{36}$/);
      }
    };
    const lookList = async () => {
      while (!done) {
        const l = await listed(PLAIN);
        if (done) break;
        oms.push(l.state);
        listedSeen.push(l.vm_state);
      }
    };
    await Promise.all([look(), look(), lookList()]);
    expect(await started).to.deep.equal({ name: PLAIN, state: 'RUNNING' });
    expect(seen, seen.join(',')).to.include('STARTING');
    // Before the task row, during it, and (an answer crossing the call's own) just after. libvirt
    // lets QEMU's CPUs run at the very end of a start: a look that read libvirt's "paused (starting
    // up)" after the task row ended still says STARTING (the next test holds that moment).
    const odd = (looks: string[]) => looks.filter((v) => !['STOPPED', 'STARTING', 'RUNNING'].includes(v));
    expect(odd(seen), seen.join(',')).to.deep.equal([]);
    expect(odd(listedSeen), listedSeen.join(',')).to.deep.equal([]);
    // libvirt starts QEMU with its CPUs stopped and lets them run at the end: "paused" for a moment.
    expect(oms.filter((v) => !['shutdown', 'paused', 'running'].includes(v)), oms.join(',')).to.deep.equal([]);
    expect(await get(PLAIN)).to.deep.equal({ name: PLAIN, state: 'RUNNING', task_id: null });
    expect(await domstate(node, PLAIN)).to.equal('running');
  });

  it('a start libvirt has not finished (paused, starting up) reads STARTING in get_vm_state and list_vms_status, never PAUSED; set_vm_state leaves it to libvirt', async () => {
    // QEMU is frozen the moment libvirt has written its PID file, so libvirt's start waits on it
    // with the guest "paused (starting up)" for as long as the test needs. The start is virsh's
    // own on the node: no OMS task runs, only libvirt's state can say STARTING. A watchdog on the
    // node lets QEMU run again after HOLD_S at the latest (other tests share this libvirtd).
    const HOLD_S = 20;
    await define(node, plainXml(KF));
    let starting: ReturnType<typeof nodeExec> | undefined;
    let watchdog: ReturnType<typeof nodeExec> | undefined;
    let pid = '';
    try {
      for (let attempt = 0; attempt < 5 && !watchdog; attempt++) {
        starting = nodeExec(node, ['virsh', '-c', 'qemu:///system', 'start', KF], { timeoutMs: 120_000 });
        // A busy wait: the window between QEMU's exec and libvirt's `cont` can be a few ms. The
        // PID file names libvirt's child before it execs QEMU, when libvirt still holds the guest
        // (a domstate would wait): only QEMU itself is frozen. Too late or too early (libvirt does
        // not say "paused (starting up)" then), QEMU runs again at once and the start is retried.
        const frozen = await nodeExec(
          node,
          [
            'bash',
            '-c',
            'f=/run/libvirt/qemu/$1.pid; p=; while ((SECONDS < 60)); do p=$(cat -- "$f" 2>/dev/null) && [[ $(cat /proc/$p/comm 2>/dev/null) == qemu* ]] && break; done; kill -STOP "$p" || exit 1; r=$(timeout 10 virsh -c qemu:///system domstate --reason "$1"); echo "$p $r"; [[ $r == "paused (starting up)" ]] || kill -CONT "$p"',
            'kf-freeze',
            KF,
          ],
          { timeoutMs: 90_000 },
        );
        const [p, ...reason] = frozen.stdout.trim().split('\n')[0].split(' ');
        if (/^\d+$/.test(p)) pid = p;
        if (pid && reason.join(' ') === 'paused (starting up)') {
          watchdog = watchdogOf(pid, HOLD_S, false);
          break;
        }
        await starting;
        await nodeExec(node, ['virsh', '-c', 'qemu:///system', 'destroy', KF]);
        pid = '';
      }
      expect(watchdog, 'QEMU frozen while libvirt says paused (starting up)').to.not.equal(undefined);
      const held = Date.now();
      expect(await get(KF)).to.deep.equal({ name: KF, state: 'STARTING', task_id: null });
      // The OMS field keeps libvirt's word; vm_state reads the reason (domstats state.reason 11).
      expect(await listed(KF)).to.deep.include({ state: 'paused', vm_state: 'STARTING' });
      expect((await call('set_vm_state', [KF, 'PAUSED'])).error.message).to.match(/^VmStateError: .*libvirt holds the guest paused \(starting up\) on its way to RUNNING; ask again in a moment/);
      expect(Date.now() - held, 'every look inside the hold').to.be.below(HOLD_S * 1000);
      expect((await nodeExec(node, ['virsh', '-c', 'qemu:///system', 'domstate', '--reason', KF])).stdout.trim()).to.equal('paused (starting up)');
    } finally {
      if (pid) await nodeExec(node, ['kill', '-CONT', pid]);
      await watchdog;
      await starting;
    }
    expect(await domstate(node, KF)).to.equal('running');
    expect(await get(KF)).to.deep.equal({ name: KF, state: 'RUNNING', task_id: null });
    expect(await listed(KF)).to.deep.include({ state: 'running', vm_state: 'RUNNING' });
  });

  it('PAUSING and RESUMING while QEMU holds the request (its process stopped for a few seconds); list_vms_status still answers', async () => {
    const pid = await pidOf(PLAIN);
    expect(pid).to.match(/^\d+$/);
    for (const [target, moving, virshAfter] of [
      ['PAUSED', 'PAUSING', 'paused'],
      ['RUNNING', 'RESUMING', 'running'],
    ] as const) {
      // A stopped QEMU does not answer libvirt's monitor, so the suspend/resume waits inside
      // libvirt. The node shares its libvirtd with other tests whose listings wait for this
      // guest meanwhile: a watchdog on the node lets QEMU run again after HOLD_S at the latest.
      const HOLD_S = 20;
      const guard = watchdogOf(pid, HOLD_S, true);
      try {
        // The request goes only once QEMU is stopped: else libvirt may finish it at once.
        await stopped(pid);
        const pending = set(PLAIN, target);
        const held = Date.now();
        const g = await waitFor(moving, () => get(PLAIN), (r) => r.state === moving, HOLD_S * 1000, 100);
        expect(g.task_id).to.match(/^[0-9a-f-]{36}$/);
        const l = await listed(PLAIN);
        const why = l.vm_state === moving ? '' : JSON.stringify(await e.ok('tasks', 'task_status', [e.sid, 0, g.task_id]));
        expect(l.vm_state, why).to.equal(moving);
        expect(['running', 'paused']).to.include(l.state);
        expect(Date.now() - held, 'both looks inside the hold').to.be.below(HOLD_S * 1000);
        await nodeExec(node, ['kill', '-CONT', pid]);
        expect(await pending).to.deep.equal({ name: PLAIN, state: target });
      } finally {
        await nodeExec(node, ['kill', '-CONT', pid]);
        await guard;
      }
      expect(await domstate(node, PLAIN)).to.equal(virshAfter);
      expect(await get(PLAIN)).to.deep.equal({ name: PLAIN, state: target, task_id: null });
    }
  });

  it('STOPPING while an ACPI shutdown waits for a guest that does not listen; the shutdown holds the guest, even against force, until it is cancelled', async () => {
    expect(await domstate(node, PLAIN)).to.equal('running');
    const before = await identity(node, PLAIN);
    const graceful = set(PLAIN, 'STOPPED', false, 600).then(
      () => 'answered',
      (err: Error) => err.message,
    );
    const g = await waitFor('STOPPING', () => get(PLAIN), (r) => r.state === 'STOPPING', 20_000, 200);
    const shutdownTask = g.task_id;
    expect(shutdownTask).to.match(/^[0-9a-f-]{36}$/);
    await sleep(6000); // more than one press of the button (every 5 s): the guest ignores them
    expect(await domstate(node, PLAIN)).to.equal('running');
    expect(await identity(node, PLAIN)).to.deep.equal(before);
    expect(await listed(PLAIN)).to.deep.include({ state: 'running', vm_state: 'STOPPING' });
    expect(await get(PLAIN)).to.deep.equal({ name: PLAIN, state: 'STOPPING', task_id: shutdownTask });
    // Another move meanwhile is refused, naming the task, a forced stop too (one change at a time
    // per guest); the graceful stop is not disturbed.
    for (const [want, force] of [['PAUSED', false], ['STOPPED', true]] as const)
      expect((await call('set_vm_state', [PLAIN, want, force])).error.message).to.match(new RegExp(`^TaskConflictError: ${node.name}/${PLAIN} is busy with task ${shutdownTask}`));
    expect(await domstate(node, PLAIN)).to.equal('running');

    // The operator's way out: cancel the waiting shutdown, then power off.
    await e.ok('tasks', 'cancel_task', [e.sid, 0, shutdownTask]);
    expect(await graceful).to.match(/TaskCancelledError/);
    expect(await set(PLAIN, 'STOPPED', true)).to.deep.equal({ name: PLAIN, state: 'STOPPED' });
    expect(await domstate(node, PLAIN)).to.equal('shut off');
    expect(await get(PLAIN)).to.deep.equal({ name: PLAIN, state: 'STOPPED', task_id: null });
    const t = await e.ok('tasks', 'task_status', [e.sid, 0, shutdownTask]);
    expect(t).to.include({ kind: 'kvm.shutdown_vm', state: 'cancelled' });
  });

  it('a graceful stop the guest does not answer ends with ShutdownTimeoutError after its window; the guest is still RUNNING', async () => {
    await set(PLAIN, 'RUNNING');
    const t0 = Date.now();
    const r = await call('set_vm_state', [PLAIN, 'STOPPED', false, 2]);
    expect(r.error.message).to.match(new RegExp(`^ShutdownTimeoutError: VM ${PLAIN} on ${node.name} did not shut down within 2 s`));
    expect(Date.now() - t0).to.be.below(20_000);
    expect(await domstate(node, PLAIN)).to.equal('running');
    expect(await get(PLAIN)).to.deep.equal({ name: PLAIN, state: 'RUNNING', task_id: null });
    await set(PLAIN, 'STOPPED', 'yes');
    expect(await domstate(node, PLAIN)).to.equal('shut off');
  });

  it('STOPPED to PAUSED starts the guest without running it: no boot line on its serial console until RUNNING', async () => {
    expect(await set(ACPI, 'PAUSED')).to.deep.equal({ name: ACPI, state: 'PAUSED' });
    expect(await domstate(node, ACPI)).to.equal('paused');
    await sleep(3000);
    expect(count(acpiSerial(), BOOTED), 'booted while paused').to.equal(0);
    expect(await set(ACPI, 'RUNNING')).to.deep.equal({ name: ACPI, state: 'RUNNING' });
    await waitFor('boot line', async () => acpiSerial(), (t) => count(t, BOOTED) === 1, BOOT_MS);
  });

  it('a guest that listens: STOPPED without force is an ACPI power-off (its serial console says so), also from PAUSED, which is resumed first', async () => {
    expect(count(acpiSerial(), POWER_BUTTON)).to.equal(0);
    expect(await set(ACPI, 'STOPPED', false, 120)).to.deep.equal({ name: ACPI, state: 'STOPPED' });
    expect(await domstate(node, ACPI)).to.equal('shut off');
    expect(count(acpiSerial(), POWER_BUTTON), 'the button was heard').to.equal(1);

    await set(ACPI, 'RUNNING');
    await waitFor('second boot', async () => acpiSerial(), (t) => count(t, BOOTED) === 2, BOOT_MS);
    await set(ACPI, 'PAUSED');
    expect(await domstate(node, ACPI)).to.equal('paused');
    // This guest powers off the moment it hears the button, so its STOPPING can be over between
    // two looks; STOPPING itself is shown above with a guest that does not listen.
    expect(await set(ACPI, 'STOPPED', false, 120)).to.deep.equal({ name: ACPI, state: 'STOPPED' });
    expect(await domstate(node, ACPI)).to.equal('shut off');
    expect(count(acpiSerial(), POWER_BUTTON), 'resumed, then heard the button').to.equal(2);
  });

  it('hostile and invalid input is refused before anything runs; the canary and the guests are unchanged', async () => {
    await set(PLAIN, 'RUNNING');
    const before = { canary: await canary(node), plain: await identity(node, PLAIN), acpi: await domstate(node, ACPI) };
    const names = ['x; touch /tmp/kst-pwn', '$(id)', '`id`', '../../etc/passwd', '-rf', 'vm\n', 'a b', 'vmа', 'x'.repeat(300), "a'b", 'a/b'];
    const tries: [string, unknown[]][] = [
      ...names.flatMap((b): [string, unknown[]][] => [
        ['get_vm_state', [b]],
        ['set_vm_state', [b, 'STOPPED', true]],
      ]),
      // Only the requestable states, spelled as Velocity does.
      ...['STARTING', 'STOPPING', 'PAUSING', 'RESUMING', 'stopped', 'running', 'SHUTDOWN', '', 'STOPPED; reboot', 1, null].map((s): [string, unknown[]] => ['set_vm_state', [PLAIN, s, true]]),
      ['set_vm_state', [PLAIN, 'STOPPED', 'maybe']],
      ['set_vm_state', [PLAIN, 'STOPPED', true, 0]],
      ['set_vm_state', [PLAIN, 'STOPPED', false, 99999]],
      ['set_vm_state', [PLAIN, 'STOPPED', false, '5; reboot']],
      ['set_vm_state', [PLAIN, 'STOPPED', true, 5, 'extra']],
      ['set_vm_state', [PLAIN]],
    ];
    for (const [m, p] of tries) expect((await call(m, p)).error?.code, `${m} ${JSON.stringify(p)}`).to.equal(5);
    expect(await canary(node)).to.equal(before.canary);
    expect(await identity(node, PLAIN)).to.deep.equal(before.plain);
    expect(await domstate(node, ACPI)).to.equal(before.acpi);
    expect((await nodeExec(node, ['test', '-e', '/tmp/kst-pwn'])).code).to.equal(1);
    // A guest that does not exist is a typed error naming it.
    for (const m of ['get_vm_state', 'set_vm_state']) expect((await call(m, m === 'get_vm_state' ? ['kst-nope'] : ['kst-nope', 'RUNNING'])).error.message).to.equal(`UnknownVmError: Unknown VM kst-nope on ${node.name}`);
    await set(PLAIN, 'STOPPED', true);
  });

  it('a transition a killed gateway left behind is cleared when the gateway starts again', async () => {
    await set(PLAIN, 'RUNNING');
    void call('set_vm_state', [PLAIN, 'STOPPED', false, 600]).catch(() => {});
    const g = await waitFor('STOPPING', () => get(PLAIN), (r) => r.state === 'STOPPING', 20_000, 200);
    await e.gw.kill('SIGKILL');
    e = await startEnv({}, { dataDir });
    // The row said running when the process died; the new process marks it failed at start-up.
    expect(await get(PLAIN)).to.deep.equal({ name: PLAIN, state: 'RUNNING', task_id: null });
    const t = await e.ok('tasks', 'task_status', [e.sid, 0, g.task_id]);
    expect(t).to.deep.include({ state: 'failed' });
    expect(t.error.name).to.equal('TaskInterruptedError');
    expect(await domstate(node, PLAIN)).to.equal('running');
    expect(await set(PLAIN, 'STOPPED', true)).to.deep.equal({ name: PLAIN, state: 'STOPPED' });
  });
});
