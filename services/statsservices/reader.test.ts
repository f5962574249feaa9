/**
 * The stats reader against a real OpenSSH sshd on loopback (test/fixtures/sshd.ts) through the
 * real NodePool: the same stdout as the one-off exec it replaces, one program for many reads, and
 * a read that hangs is stopped on the node.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { startSshd, type Sshd } from '../../test/fixtures/sshd.ts';
import { loadOrCreateGatewayKey } from '../../src/nodes/keys.ts';
import { NodePool, type NodeTarget } from '../../src/nodes/pool.ts';
import type { NodeHandle } from '../../src/fleet/access.ts';
import { procSnapshotCommand, secondSampleCommand, statNames } from './commands.ts';
import { collectStats } from './collect.ts';
import { parseHeadFiles } from './parse.ts';
import { readSnapshot, statsReader } from './reader.ts';

/** Live processes whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const state = readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(marker)) found.push(Number(e));
    } catch {
      // exited while listing
    }
  }
  return found;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('statsservices reader (resident sh) against a real sshd', function () {
  this.timeout(60_000);
  let dir: string;
  let sshd: Sshd;
  let pool: NodePool;
  let node: NodeTarget;
  let handle: Pick<NodeHandle, 'exec' | 'converse'>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oms-stats-reader-'));
    const key = loadOrCreateGatewayKey(dir);
    sshd = await startSshd({ authorizedKey: key.publicKey });
    node = { name: 'node1', address: '127.0.0.1', port: sshd.port, hostKeyFingerprint: sshd.hostKeyFingerprint };
    pool = new NodePool({ privateKey: key.privateKey, killGraceMs: 500 });
    handle = { exec: (c, o) => pool.exec(node, c, o), converse: (s, w, o) => pool.converse(node, s, w, { timeoutMs: 10_000, ...o }) };
  });

  after(async () => {
    pool?.closeAll();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The reader's pid: the parent of a `head` it runs, which reads its own /proc/self/stat. */
  const readerPid = async (): Promise<number> => {
    const out = await pool.converse(node, statsReader, ['head', '-v', '--', '/proc/self/stat'], { commandSlot: true });
    return Number(parseHeadFiles(out).get('/proc/self/stat')!.split(') ')[1].split(' ')[1]);
  };

  it('answers a snapshot with the same stdout as the one-off exec, from one program kept running', async () => {
    const argv = procSnapshotCommand(['memory', 'uptime', 'kernel', 'osrelease'])!;
    const viaReader = parseHeadFiles(await readSnapshot(handle, argv));
    const oneOff = parseHeadFiles((await pool.exec(node, argv, { okExitCodes: [0, 1] })).stdout);
    expect([...viaReader.keys()]).to.deep.equal([...oneOff.keys()]);
    expect(viaReader.size).to.be.greaterThan(2);
    // Files that do not change between the two reads are equal byte for byte.
    for (const f of ['/proc/sys/kernel/osrelease', '/etc/os-release', '/usr/lib/os-release']) expect(viaReader.get(f), f).to.equal(oneOff.get(f));
    const keys = (t: string | undefined) => (t ?? '').split('\n').map((l) => l.split(':')[0]);
    expect(keys(viaReader.get('/proc/meminfo'))).to.deep.equal(keys(oneOff.get('/proc/meminfo')));

    // The reader is a program on the node, named in its process list, used for every read.
    const pid = await readerPid();
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).to.include('oms-stats-reader');
    await readSnapshot(handle, argv);
    expect(await readerPid()).to.equal(pid);
    expect(pool.stats().nodes[0]).to.deep.include({ shellsOpen: 1, channelsInUse: 0 });
  });

  it('all of get_stats through the reader equals get_stats through one-off execs, in shape and static values', async () => {
    const exec = (argv: readonly string[], o?: { okExitCodes?: number[] }) => pool.exec(node, argv, o);
    const a = (await collectStats(exec, [...statNames], { read: (argv) => readSnapshot(handle, argv), intervalMs: 50 })) as Record<string, any>;
    const b = (await collectStats(exec, [...statNames], { intervalMs: 50 })) as Record<string, any>;
    expect(Object.keys(a).sort()).to.deep.equal(Object.keys(b).sort());
    for (const k of ['kernel', 'osrelease', 'network']) expect(a[k], k).to.deep.equal(b[k]);
    expect(a.memory.total).to.equal(b.memory.total);
    expect(a.cpu.cpu_type).to.equal(b.cpu.cpu_type);
    expect(a.cpu.percentage).to.match(/^\d+\.\d\d$/);
  });

  it('a missing file leaves nothing in the answer: stderr goes nowhere, as the one-off leaves it aside', async () => {
    const argv = ['head', '-v', '-c', '1000', '--', '/proc/uptime', '/nonexistent-oms-stats', '/proc/sys/kernel/osrelease'];
    const viaReader = await readSnapshot(handle, argv);
    const oneOff = await pool.exec(node, argv, { okExitCodes: [1] });
    expect(oneOff.stderr).to.include('nonexistent-oms-stats'); // head did complain, on stderr
    expect(viaReader).to.not.include('nonexistent');
    expect([...parseHeadFiles(viaReader).keys()]).to.deep.equal(['/proc/uptime', '/proc/sys/kernel/osrelease']);
    expect(parseHeadFiles(viaReader).get('/proc/sys/kernel/osrelease')).to.equal(parseHeadFiles(oneOff.stdout).get('/proc/sys/kernel/osrelease'));
  });

  it('a read that hangs times out with FuncMethodTimeoutError and is stopped on the node; the next read starts a new reader', async () => {
    const before = await readerPid();
    const fifo = join(dir, `oms-stats-fifo-${process.pid}`);
    execFileSync('mkfifo', [fifo]); // head blocks opening a FIFO nobody writes to
    const started = Date.now();
    const short: typeof handle = { exec: handle.exec, converse: (s, w, o) => pool.converse(node, s, w, { ...o, timeoutMs: 1500 }) };
    const e = await readSnapshot(short, ['head', '-v', '--', fifo]).catch((err: unknown) => err);
    expect(isOmsError(e) && e.omsName, String(e)).to.equal('FuncMethodTimeoutError');
    expect(Date.now() - started).to.be.below(1500 + 3000);
    await until('the hung head and its reader are gone', () => processesWith(fifo).length === 0 && !processesWith('oms-stats-reader').includes(before));
    const after = await readerPid();
    expect(after).to.not.equal(before);
  }).timeout(40_000);

  it('falls back to a one-off exec when the reader cannot answer; a timeout or a full node queue is final', async () => {
    const calls: string[] = [];
    const fake = (fail: unknown): Pick<NodeHandle, 'exec' | 'converse'> => ({
      converse: async () => {
        calls.push('converse');
        throw fail;
      },
      exec: async () => {
        calls.push('exec');
        return { stdout: 'one-off', stderr: '', code: 0 };
      },
    });
    expect(await readSnapshot(fake(oms('FuncManError', { reason: 'the resident command on n ended (exit 127)' })), ['head'])).to.equal('one-off');
    expect(calls).to.deep.equal(['converse', 'exec']);
    for (const name of ['FuncMethodTimeoutError', 'NodeBusyError'] as const) {
      calls.length = 0;
      const err = oms(name, { node: 'n', seconds: 1 });
      expect(await readSnapshot(fake(err), ['head']).catch((x: unknown) => x)).to.equal(err);
      expect(calls).to.deep.equal(['converse']);
    }
  });
});
