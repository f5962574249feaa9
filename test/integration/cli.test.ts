/**
 * The remote `oms` command on the lab, as a person at a terminal and a script through pipes use
 * it, against the real gateway process (TLS on): nodes listed, an ISO uploaded with a progress bar
 * on a pty (checked on the node with sha256sum), a guest created from it and started with --wait
 * (virsh says running), events followed while the guest is stopped on the node with virsh, a
 * busy guest's conflict, a --timeout, cancelling a task, the serial console. Lab objects are cli-*
 * on the first lab node, removed before and after.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { ADMIN_PASSWORD, enroll, startEnv, type Env } from './fixture.ts';
import { omsPiped, omsPty } from '../helpers/oms-cli.ts';
import { repoRoot } from '../helpers/process.ts';
import { EXIT } from '../../src/cli/remote/exit-codes.ts';
import { acpiGuestImage, BOOTED } from '../lab/acpi-guest.ts';
import { define } from './kst-lab.ts';

const ISOS = '/var/lib/oms-node/isos';
const IMAGES = '/var/lib/oms-node/images';
const VM = 'cli-vm1';
const ISO = 'cli-up.iso';
/** A guest whose boot sector prints a line on its serial port at every boot (test/lab/acpi-guest.ts). */
const CON = 'cli-con';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the remote oms command line on the lab', function () {
  this.timeout(300_000);
  let e: Env;
  let node: LabNode;
  const home = mkdtempSync(join(tmpdir(), 'oms-cli-lab-'));
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'cfg'), OMS_PROFILE: '' };
  const oms = (args: string[], input?: string) => omsPiped(args, env, input);
  const ok = async (args: string[]) => {
    const r = await oms(args);
    expect(r.code, `oms ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r;
  };
  const virsh = (...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);
  const domstate = async () => (await virsh('domstate', VM)).stdout.trim();
  const clean = async () => {
    for (const vm of [VM, 'cli-vm2', 'cli-vm3', CON]) {
      await virsh('destroy', vm);
      await virsh('undefine', vm);
    }
    await nodeExec(node, ['find', IMAGES, ISOS, '-maxdepth', '1', '-name', 'cli-*', '-exec', 'rm', '-f', '--', '{}', '+']);
  };

  before(async () => {
    e = await startEnv({ OMS_TLS: 'on', OMS_CONSOLE_PAGE_PORT: 'off' });
    node = e.lab.nodes[0]!;
    await clean();
    await enroll(e, [node]);
    // A private copy of the lab ISO for the guest, so removing cli-* never touches the shared lab.iso.
    await nodeExec(node, ['cp', `${ISOS}/lab.iso`, `${ISOS}/cli-cd.iso`]);
    const caFile = join(home, 'gw.crt');
    writeFileSync(caFile, e.gw.ca!);
    const r = await oms(['login', e.gw.url, '--user', 'admin', '--cacert', caFile], `${ADMIN_PASSWORD}\n`);
    expect(r.code, r.stderr).to.equal(0);
  });
  after(async () => {
    if (node) await clean();
    await e?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('node ls: the enrolled node, up, as a table and as JSON', async () => {
    const table = await ok(['node', 'ls']);
    expect(table.stdout.split('\n')[0]).to.match(/^NAME +ADDRESS +STATUS/);
    expect(table.stdout).to.match(new RegExp(`^${node.name} +${node.address.replace(/\./g, '\\.')} +up`, 'm'));
    const rows = JSON.parse((await ok(['node', 'ls', '--json'])).stdout) as { name: string; status: string }[];
    expect(rows.find((n) => n.name === node.name)).to.include({ status: 'up' });
  });

  it('iso upload on a terminal: a progress bar redrawn in place with bytes, rate and ETA; the file on the node is the same', async () => {
    const file = join(home, ISO);
    const data = randomBytes(48 * 1024 * 1024);
    writeFileSync(file, data);
    const t = omsPty(['iso', 'upload', node.name, file], env);
    expect(await t.exited, t.screen()).to.equal(0);
    const screen = t.screen();
    expect(screen).to.match(/upload cli-up\.iso \[#+\.*\] +\d+% [\d.]+ (KiB|MiB)\/48\.0 MiB [\d.]+ (B|KiB|MiB)\/s ETA \d\d:\d\d/);
    expect(screen).to.include('\r\x1b[2K');
    expect(screen).to.match(/uploaded cli-up\.iso \(50331648 bytes\) to /);
    const onNode = (await nodeExec(node, ['sha256sum', `${ISOS}/${ISO}`])).stdout.split(' ')[0];
    expect(onNode).to.equal(createHash('sha256').update(data).digest('hex'));
    // Through a pipe: plain lines, no terminal control, and the name taken is a conflict (exit 5).
    const piped = await oms(['iso', 'upload', node.name, file, '--name', 'cli-up2.iso']);
    expect(piped.code, piped.stderr).to.equal(0);
    expect(piped.stderr).to.match(/^upload cli-up2\.iso +100% 48\.0 MiB\/48\.0 MiB/m).and.not.include('\r').and.not.include('\x1b');
    const again = await oms(['iso', 'upload', node.name, file, '--name', 'cli-up2.iso']);
    expect(again.stderr, again.stderr).to.match(/IsoImageExistsError/);
    expect(again.code).to.equal(EXIT.conflict);
    expect((await ok(['iso', 'ls', node.name, '--json'])).stdout).to.include('"cli-up2.iso"');
  });

  it('vm create from an ISO, then start with --wait: running on the node; vm ls --filter finds it', async () => {
    const created = await oms(['vm', 'create', node.name, VM, '--iso', 'cli-cd.iso', '--memory', '64', '--disk', '0.02']);
    expect(created.code, created.stderr).to.equal(0);
    expect((await virsh('dominfo', VM)).code).to.equal(0);
    await ok(['vm', 'stop', node.name, VM]);
    expect(await domstate()).to.equal('shut off');
    const started = await ok(['vm', 'start', node.name, VM, '--wait']);
    expect(started.stdout).to.equal(`${VM} on ${node.name}: RUNNING\n`);
    expect(await domstate()).to.equal('running');
    const running = JSON.parse((await ok(['vm', 'ls', '--node', node.name, '--filter', 'state:running name:cli-*', '--json'])).stdout) as { name: string; state: string }[];
    expect(running.map((v) => v.name)).to.deep.equal([VM]);
    const none = JSON.parse((await ok(['vm', 'ls', '--node', node.name, '--filter', 'state:paused name:cli-*', '--json'])).stdout);
    expect(none).to.deep.equal([]);
    expect((await ok(['vm', 'ls', '--node', node.name])).stdout).to.match(new RegExp(`^${node.name} +${VM} +running +RUNNING`, 'm'));
  });

  it('events follow the fleet: a guest stopped on the node with virsh shows up as it happens; --since replays it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'events', '--type', 'kvm', '--node', node.name, '--json'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    try {
      // The subscription is up once the gateway has answered it: the command says so on stderr.
      for (let i = 0; i < 240 && !/# following events/.test(err); i++) await sleep(250);
      expect(err).to.match(/^# following events; Ctrl-C stops$/m);
      expect(child.exitCode, err).to.equal(null);
      expect((await virsh('destroy', VM)).code).to.equal(0);
      const deadline = Date.now() + 60_000;
      let seen: { seq: number; type: string; node: string; target: string; action: string } | undefined;
      while (!seen && Date.now() < deadline) {
        seen = out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((ev) => ev.target === VM && ev.action === 'stopped');
        if (!seen) await sleep(250);
      }
      expect(seen, `events seen: ${out} ${err}`).to.not.equal(undefined);
      expect(seen).to.include({ type: 'kvm', node: node.name });
      const replay = await ok(['events', '--type', 'kvm', '--node', node.name, '--since', String(seen!.seq - 1), '--count', '1', '--json']);
      expect(JSON.parse(replay.stdout)).to.include({ seq: seen!.seq, target: VM, action: 'stopped' });
    } finally {
      child.kill('SIGINT');
    }
  });

  it('a shutdown task: --timeout gives exit 6 and leaves it running; the busy guest is a conflict (exit 5); task ls/cancel', async () => {
    await ok(['vm', 'start', node.name, VM]);
    // A guest without an OS never hears the ACPI button: the shutdown task waits its window.
    const timed = await oms(['vm', 'shutdown', node.name, VM, '--window', '120', '--timeout', '3']);
    expect(timed.code, timed.stderr).to.equal(EXIT.timeout);
    expect(timed.stderr).to.match(/^oms: timeout: task \S+ still running/m);
    const running = JSON.parse((await ok(['task', 'ls', '--node', node.name, '--state', 'running', '--json'])).stdout) as { id: string; target: string; kind: string }[];
    const task = running.find((t) => t.target === VM);
    expect(task, JSON.stringify(running)).to.not.equal(undefined);
    const busy = await oms(['vm', 'pause', node.name, VM]);
    expect(busy.stderr).to.match(/TaskConflictError/);
    expect(busy.code).to.equal(EXIT.conflict);
    expect((await ok(['task', 'cancel', task!.id])).stdout).to.equal(`cancelling ${task!.id}\n`);
    let state = 'running';
    for (let i = 0; i < 60 && state === 'running'; i++) {
      state = (JSON.parse((await ok(['task', 'show', task!.id, '--json'])).stdout) as { state: string }).state;
      if (state === 'running') await sleep(500);
    }
    expect(state).to.equal('cancelled');
    expect(await domstate()).to.equal('running');
    // --no-wait prints the task id and returns at once.
    const nowait = await ok(['vm', 'shutdown', node.name, VM, '--no-wait', '--window', '120']);
    const id = nowait.stdout.trim();
    expect(id).to.match(/^[\w-]{8,}$/);
    await ok(['task', 'cancel', id]);
  });

  it('console: the serial console in the terminal over the console websocket, the guest\'s own output shown; Ctrl-] leaves and closes it', async () => {
    writeFileSync(join(node.stateDir, 'node', 'images', `${CON}.img`), acpiGuestImage());
    await define(
      node,
      `<domain type='kvm'><name>${CON}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
        <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${IMAGES}/${CON}.img'/><target dev='hda' bus='ide'/></disk>
        <serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console></devices></domain>`,
    );
    await ok(['vm', 'start', node.name, CON]);
    const t = omsPty(['console', node.name, CON], env);
    await t.waitFor(/connected to the serial console of cli-con/);
    const mark = t.screen().length;
    // A reset boots the guest again: its boot line comes from the guest through the console to this terminal.
    await sleep(1500);
    expect((await virsh('reset', CON)).code).to.equal(0);
    await t.waitFor(new RegExp(BOOTED), 60_000, mark);
    t.type('\x1d');
    expect(await t.exited, t.screen()).to.equal(0);
    expect(t.screen()).to.match(/console closed/);
    // Closed on the gateway: this login holds no console of the guest any more.
    const again = await oms(['call', 'kvmservices.close_console', node.name, CON]);
    expect(again.stderr).to.match(/ConsoleNotOpenError/);
    expect(again.code).to.equal(EXIT.notFound);
    await ok(['vm', 'stop', node.name, CON]);
  });

  it('a long task followed with --wait: a progress bar on a terminal, plain lines through a pipe (clone_vm)', async () => {
    for (let i = 0; i < 40; i++) {
      const r = await oms(['vm', 'stop', node.name, VM]);
      if (r.code === 0 && (await domstate()) === 'shut off') break;
      await sleep(500);
    }
    const t = omsPty(['call', 'kvmservices.clone_vm', node.name, VM, 'cli-vm2'], env);
    expect(await t.exited, t.screen()).to.equal(0);
    expect(t.screen(), JSON.stringify(t.screen())).to.match(/kvmservices\.clone_vm \S+ \[#+\] +100% [\d.]+ (B|KiB|MiB)\/[\d.]+ (B|KiB|MiB) [\d.]+ (B|KiB|MiB)\/s ETA \d\d:\d\d/);
    expect(t.screen()).to.include('\r\x1b[2K');
    expect((await virsh('dominfo', 'cli-vm2')).code).to.equal(0);
    const piped = await oms(['call', 'kvmservices.clone_vm', node.name, VM, 'cli-vm3', '--json']);
    expect(piped.code, piped.stderr).to.equal(0);
    expect(piped.stderr).to.match(/^kvmservices\.clone_vm \S+ +100% /m).and.not.include('\r').and.not.include('\x1b');
    JSON.parse(piped.stdout);
    expect((await virsh('dominfo', 'cli-vm3')).code).to.equal(0);
  });
});
