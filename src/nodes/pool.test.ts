/**
 * NodePool against a real OpenSSH sshd on loopback (test/fixtures/sshd.ts): no mocks of the node.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { expect } from 'chai';
import pino from 'pino';
import { isOmsError, type ErrorName, type OmsError } from '../rpc/errors.ts';
import { startSshd, type Sshd } from '../../test/fixtures/sshd.ts';
import { loadOrCreateGatewayKey, type GatewayKey } from './keys.ts';
import { NodePool, type NodeTarget } from './pool.ts';
import type { ResidentSpec } from './resident.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

async function omsRejection(p: Promise<unknown>, name: ErrorName): Promise<OmsError> {
  const e = await rejection(p);
  if (!isOmsError(e)) throw e;
  expect(e.omsName, e.message).to.equal(name);
  return e;
}

const targetOf = (d: Sshd, name = 'node1'): NodeTarget => ({ name, address: '127.0.0.1', port: d.port, hostKeyFingerprint: d.hostKeyFingerprint });

/** Client-side TCP connections from this machine to the sshd port. */
function establishedTo(port: number): number {
  const r = spawnSync('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

/** Live (non-zombie) processes whose command line contains `marker`, and all their children. */
function processesOf(marker: string): number[] {
  const parent = new Map<number, number>();
  const found: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const stat = procFile(e, 'stat');
    const cmdline = procFile(e, 'cmdline');
    if (stat === undefined || cmdline === undefined) continue; // exited while listing
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') continue;
    parent.set(Number(e), Number(fields[1]));
    if (cmdline.includes(marker)) found.push(Number(e));
  }
  const all = new Set(found);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (all.has(ppid) && !all.has(pid)) {
        all.add(pid);
        grew = true;
      }
    }
  }
  return [...all];
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

const uniqueMarker = (what: string) => `oms-test-${what}-${process.pid}-${Math.random().toString(36).slice(2)}`;

describe('nodes/pool against a real sshd', function () {
  this.timeout(30_000);
  let dir: string;
  let key: GatewayKey;
  let sshd: Sshd;
  let pool: NodePool;
  let node: NodeTarget;
  const logLines: string[] = [];
  const pools: NodePool[] = [];
  const newPool = (opts: Partial<ConstructorParameters<typeof NodePool>[0]> = {}): NodePool => {
    const logStream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(chunk.toString('utf8'));
        cb();
      },
    });
    const p = new NodePool({ privateKey: key.privateKey, log: pino({ level: 'trace' }, logStream), reconnectBackoffMs: { min: 100, max: 1000 }, connectJitterMs: 0, ...opts });
    pools.push(p);
    return p;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oms-pool-'));
    key = loadOrCreateGatewayKey(dir);
    sshd = await startSshd({ authorizedKey: key.publicKey });
    node = targetOf(sshd);
    pool = newPool();
  });

  after(async () => {
    for (const p of pools) p.closeAll();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('exec', () => {
    it('runs a command and returns its output and exit code', async () => {
      const r = await pool.exec(node, ['sh', '-c', 'echo out; echo err >&2']);
      expect(r).to.deep.equal({ stdout: 'out\n', stderr: 'err\n', code: 0 });
    });

    it('feeds input to stdin, text and binary', async () => {
      expect((await pool.exec(node, ['cat'], { input: 'line 1\nline 2\n' })).stdout).to.equal('line 1\nline 2\n');
      const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
      const r = await pool.exec(node, ['sha256sum'], { input: bytes });
      expect(r.stdout.split(' ')[0]).to.equal(createHash('sha256').update(bytes).digest('hex'));
    });

    it('streams: stdout of one command into stdin of another, past the output cap, with backpressure', async () => {
      // 48 MiB through the gateway with a 1 MiB cap: nothing is collected, the relay never holds it whole.
      const relay = new PassThrough({ highWaterMark: 64 * 1024 });
      let peak = 0;
      relay.on('data', () => (peak = Math.max(peak, relay.readableLength)));
      const [sent, received] = await Promise.all([
        pool.exec(node, ['sh', '-c', 'head -c 50331648 /dev/zero | tr "\\0" x'], { stdout: relay, maxOutputBytes: 1024 * 1024 }),
        pool.exec(node, ['wc', '-c'], { input: relay, maxOutputBytes: 1024 * 1024 }),
      ]);
      expect(sent).to.deep.equal({ stdout: '', stderr: '', code: 0 });
      expect(received.stdout.trim()).to.equal('50331648');
      expect(peak).to.be.below(8 * 1024 * 1024);
    });

    it('streams input from a Readable, and a failing input stops the command with its error', async () => {
      const r = await pool.exec(node, ['sha256sum'], { input: Readable.from([Buffer.from('a'), Buffer.from('b')]) });
      expect(r.stdout.split(' ')[0]).to.equal(createHash('sha256').update('ab').digest('hex'));
      const broken = new Readable({ read() {} });
      const call = pool.exec(node, ['cat'], { input: broken, timeoutMs: 10_000 });
      broken.push('partial');
      setTimeout(() => broken.destroy(new Error('source went away')), 100);
      let err: Error | undefined;
      await call.catch((e: Error) => (err = e));
      expect(err?.message).to.equal('source went away');
      await until('the slot is free', () => pool.stats().channelsInUse === 0);
    });

    it('a failing command destroys its stdout stream with the error, not a clean end', async () => {
      const out = new PassThrough();
      const seen = new Promise<string>((resolve) => {
        out.on('error', (e: Error) => resolve(`error ${isOmsError(e) ? e.omsName : e.message}`));
        out.on('end', () => resolve('end'));
        out.resume();
      });
      await omsRejection(pool.exec(node, ['sh', '-c', 'echo some; exit 4'], { stdout: out }), 'NodeCommandError');
      expect(await seen).to.equal('error NodeCommandError');
    });

    it('closes stdin when there is no input, so readers do not hang', async () => {
      expect((await pool.exec(node, ['cat'], { timeoutMs: 5000 })).stdout).to.equal('');
    });

    it('refuses an unaccepted exit code with NodeCommandError carrying code and stderr', async () => {
      const e = await omsRejection(pool.exec(node, ['sh', '-c', 'echo "  boom  " >&2; exit 3']), 'NodeCommandError');
      expect(e.vars).to.deep.equal({ node: 'node1', exitCode: 3, stderr: 'boom' });
      expect(await pool.exec(node, ['sh', '-c', 'exit 3'], { okExitCodes: [0, 3] })).to.deep.equal({ stdout: '', stderr: '', code: 3 });
    });

    it('cuts long stderr in the error to about 500 characters', async () => {
      const e = await omsRejection(pool.exec(node, ['sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" x >&2; exit 1']), 'NodeCommandError');
      expect(String(e.vars.stderr).length).to.be.within(500, 503);
    });

    it('reports a command killed by a signal as 128 + signal number', async () => {
      const e = await omsRejection(pool.exec(node, ['sh', '-c', 'kill -9 $$']), 'NodeCommandError');
      expect(e.vars.exitCode).to.equal(137);
    });

    it('delivers hostile arguments literally as argv', async () => {
      const out = join(dir, 'argv.bin');
      const hostile = ['; rm -rf /', '$(id)', '`id`', "it's", '"q"', 'a\nb', '-rf', '', ' ', '*', '~', '$HOME', '\\', 'ünï 日本 🦀', 'A=b', 'if', '#x', '&&'];
      await pool.exec(node, ['sh', '-c', 'printf "%s\\0" "$@" > "$0"', out, ...hostile]);
      const got = readFileSync(out, 'utf8').split('\0');
      expect(got.pop()).to.equal('');
      expect(got).to.deep.equal(hostile);
      const r = await pool.exec(node, ['printf', '%s\\0', ...hostile]);
      expect(r.stdout.split('\0').slice(0, -1)).to.deep.equal(hostile);
    });

    it('runs pipelines under pipefail on the node', async () => {
      expect((await pool.exec(node, { pipeline: [['printf', 'a\\nb\\n'], ['grep', 'b']] })).stdout).to.equal('b\n');
      await omsRejection(pool.exec(node, { pipeline: [['false'], ['cat']] }), 'NodeCommandError');
    });

    it('refuses a command that cannot be quoted, before anything is sent', async () => {
      const e = await rejection(pool.exec(node, ['echo', 'a\0b']));
      expect(String(e)).to.match(/NUL/);
    });

    it('stops at the output cap with FuncManError', async () => {
      const e = await omsRejection(pool.exec(node, ['head', '-c', '1000000', '/dev/zero'], { maxOutputBytes: 1000 }), 'FuncManError');
      expect(e.message).to.match(/exceeded 1000 bytes/);
      await until('the slot is free', () => pool.stats().channelsInUse === 0);
    });
  });

  describe('timeouts and cancellation', () => {
    it('times out with FuncMethodTimeoutError and the remote command and its children are gone', async () => {
      const marker = uniqueMarker('timeout');
      const started = Date.now();
      const call = pool.exec(node, ['sh', '-c', 'sleep 5; true', marker], { timeoutMs: 500 });
      // The list is kept from the moment it was seen whole: on a loaded machine the timeout can
      // already be stopping the group by the time a second look is taken.
      let running: number[] = [];
      await until('the remote command runs', () => (running = processesOf(marker)).length >= 2);
      const e = await omsRejection(call, 'FuncMethodTimeoutError');
      expect(Date.now() - started).to.be.lessThan(1500);
      expect(e.vars).to.deep.equal({ node: 'node1', seconds: 0.5 });
      expect(running.length).to.be.at.least(2); // the shell and the sleep it forked
      await until('sh and its sleep are gone', () => running.every((pid) => !isAlive(pid)));
      await until('the slot is free', () => pool.stats().channelsInUse === 0);
    });

    it('escalates to SIGKILL when the command ignores SIGTERM', async () => {
      const p = newPool({ killGraceMs: 300 });
      const marker = uniqueMarker('ignore-term');
      const call = p.exec(node, ['sh', '-c', 'trap "" TERM; sleep 5; true', marker], { timeoutMs: 400 });
      // The list is kept from the moment it was seen whole: on a loaded machine the timeout can
      // already be stopping the group by the time a second look is taken.
      let running: number[] = [];
      await until('the remote command runs', () => (running = processesOf(marker)).length >= 2);
      await omsRejection(call, 'FuncMethodTimeoutError');
      const stoppedAt = Date.now();
      await until('the group is gone', () => running.every((pid) => !isAlive(pid)));
      expect(Date.now() - stoppedAt).to.be.lessThan(2500);
    });

    it("rejects with the caller's abort reason and stops the command", async () => {
      const marker = uniqueMarker('abort');
      const ac = new AbortController();
      const call = pool.exec(node, ['sh', '-c', 'sleep 5; true', marker], { signal: ac.signal });
      // The list is kept from the moment it was seen whole: on a loaded machine the timeout can
      // already be stopping the group by the time a second look is taken.
      let running: number[] = [];
      await until('the remote command runs', () => (running = processesOf(marker)).length >= 2);
      ac.abort(new Error('user cancelled'));
      expect(await rejection(call)).to.have.property('message', 'user cancelled');
      await until('the group is gone', () => running.every((pid) => !isAlive(pid)));
    });
  });

  describe('sharing one connection', () => {
    it('limits open channels per node, queues FIFO, and all calls succeed', async () => {
      const p = newPool({ maxChannelsPerNode: 2 });
      let maxSeen = 0;
      const sampler = setInterval(() => (maxSeen = Math.max(maxSeen, p.stats().channelsInUse)), 5);
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 10 }, () => p.exec(node, ['sh', '-c', 'date +%s%N; sleep 0.3; date +%s%N'])));
      const elapsed = Date.now() - started;
      clearInterval(sampler);
      // Remote start/end times: at no instant do more than two commands overlap.
      const spans = results.map((r) => r.stdout.trim().split('\n').map(BigInt));
      const events = spans.flatMap(([s, e]) => [[s, 1], [e, -1]] as Array<[bigint, number]>).sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1));
      let open = 0;
      let maxOpen = 0;
      for (const [, d] of events) maxOpen = Math.max(maxOpen, (open += d));
      expect(maxOpen).to.equal(2);
      expect(maxSeen).to.be.at.most(2);
      expect(elapsed).to.be.at.least(5 * 300);
    });

    it('refuses with NodeBusyError when the queue is full', async () => {
      const p = newPool({ maxChannelsPerNode: 1, maxQueuedPerNode: 1 });
      const first = p.exec(node, ['sleep', '0.5']);
      const second = p.exec(node, ['sleep', '0.1']);
      const e = await omsRejection(p.exec(node, ['true']), 'NodeBusyError');
      expect(e.vars).to.deep.equal({ node: 'node1' });
      await Promise.all([first, second]);
    });

    it("a background exec (a watcher's read) takes no command slot: it runs while callers fill the slots and queue, and never counts toward either", async () => {
      const p = newPool({ maxChannelsPerNode: 1, maxQueuedPerNode: 0 });
      const held = p.exec(node, ['sleep', '0.5']);
      await until('the slot is held', () => p.stats().nodes[0]?.channelsInUse === 1);
      const bg = p.exec(node, ['echo', 'watcher'], { background: true });
      expect((await bg).stdout).to.equal('watcher\n');
      expect(p.stats().nodes[0]).to.deep.include({ channelsInUse: 1, queued: 0 });
      // The caller's bound is still the caller's: a second caller is refused, not the watcher.
      await omsRejection(p.exec(node, ['true']), 'NodeBusyError');
      await held;
      const slow = p.exec(node, ['sleep', '0.3'], { background: true });
      expect((await p.exec(node, ['echo', 'caller'])).stdout, 'a caller is not held back by a background read').to.equal('caller\n');
      await slow;
    });

    it('makes one TCP connection and one login for many calls, including concurrent first calls', async () => {
      const loginsBefore = sshd.logins();
      const connsBefore = establishedTo(sshd.port);
      const p = newPool();
      await Promise.all(Array.from({ length: 5 }, () => p.exec(node, ['true'])));
      for (let i = 0; i < 20; i++) await p.exec(node, ['true']);
      expect(sshd.logins() - loginsBefore).to.equal(1);
      expect(establishedTo(sshd.port) - connsBefore).to.equal(1);
      expect(p.stats().openConnections).to.equal(1);
      p.closeAll();
      await until('the connection is closed', () => establishedTo(sshd.port) === connsBefore);
    });

    it('drop() fails in-flight calls at once and the next call reconnects', async () => {
      const p = newPool();
      await p.exec(node, ['true']);
      const loginsBefore = sshd.logins();
      const call = p.exec(node, ['sleep', '5'], { timeoutMs: 20_000 });
      await sleep(200);
      const droppedAt = Date.now();
      p.drop('node1');
      const e = await omsRejection(call, 'NodeUnreachableError');
      expect(Date.now() - droppedAt).to.be.lessThan(500);
      expect(e.vars.reason).to.equal('connection closed by the gateway');
      expect((await p.exec(node, ['echo', 'again'])).stdout).to.equal('again\n');
      expect(sshd.logins() - loginsBefore).to.equal(1);
    });

    it('reports stats per node', async () => {
      const p = newPool();
      await p.exec(node, ['true']);
      const call = p.exec(node, ['sleep', '0.3']);
      await until('the channel is open', () => p.stats().channelsInUse === 1);
      const s = p.stats();
      expect(s).to.deep.include({ openConnections: 1, channelsInUse: 1, queued: 0 });
      expect(s.nodes).to.deep.equal([{ name: 'node1', state: 'ready', channelsInUse: 1, queued: 0, forwardsOpen: 0, shellsOpen: 0, failures: 0 }]);
      await call;
    });

    it('refuses calls after closeAll()', async () => {
      const p = newPool();
      p.closeAll();
      await omsRejection(p.exec(node, ['true']), 'FuncManError');
    });
  });

  describe('forwardOut and shell', () => {
    let echo: Server;
    let echoPort: number;
    before(async () => {
      echo = createServer((s) => s.pipe(s));
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
      echoPort = (echo.address() as { port: number }).port;
    });
    after(() => new Promise<void>((r) => echo.close(() => r())));

    it('forwards a TCP connection through the node, counted as a forward, not a command slot', async () => {
      const p = newPool();
      const stream = await p.forwardOut(node, '127.0.0.1', echoPort);
      stream.on('error', (e: Error) => {
        throw e;
      });
      expect(p.stats().nodes[0]).to.deep.include({ channelsInUse: 0, forwardsOpen: 1 });
      const got = new Promise<string>((resolve) => {
        let text = '';
        stream.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('\n')) resolve(text);
        });
      });
      stream.write('RFB 003.008\n');
      expect(await got).to.equal('RFB 003.008\n');
      stream.end();
      stream.destroy();
      await until('the forward is closed', () => p.stats().nodes[0].forwardsOpen === 0);
    });

    it('open forwards never hold commands back: with one command slot, commands run while forwards are open', async () => {
      const p = newPool({ maxChannelsPerNode: 1, maxQueuedPerNode: 0 });
      const streams = await Promise.all([1, 2, 3].map(() => p.forwardOut(node, '127.0.0.1', echoPort)));
      for (const st of streams) st.on('error', () => {});
      expect((await p.exec(node, ['echo', 'through'])).stdout).to.equal('through\n');
      expect(p.stats().nodes[0]).to.deep.include({ forwardsOpen: 3, channelsInUse: 0 });
      for (const st of streams) st.destroy();
      await until('the forwards are closed', () => p.stats().nodes[0].forwardsOpen === 0);
    });

    it('reports a refused forward as FuncManError and frees the slot', async () => {
      const p = newPool();
      const closed = await new Promise<number>((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => resolve(port));
        });
      });
      await omsRejection(p.forwardOut(node, '127.0.0.1', closed), 'FuncManError');
      expect(p.stats().channelsInUse).to.equal(0);
    });

    it('listens on a Unix socket on the node and hands its connections over; forwardOutUnix reaches a socket there (a live migration relay)', async () => {
      const p = newPool();
      const dir = mkdtempSync(join(tmpdir(), 'oms-unix-'));
      const echoPath = join(dir, 'echo.sock');
      const listenPath = join(dir, 'listen.sock');
      const unixEcho = createServer((s) => s.pipe(s));
      await new Promise<void>((r) => unixEcho.listen(echoPath, r));
      try {
        // What the gateway does for a migration: each connection to listenPath joined to echoPath.
        const listener = await p.listenUnix(node, listenPath, (s) => {
          s.on('error', () => {});
          void p.forwardOutUnix(node, echoPath).then((d) => {
            d.on('error', () => {});
            s.pipe(d).pipe(s);
          });
        });
        expect(p.stats().nodes[0]).to.deep.include({ channelsInUse: 0 });
        // The node is this machine: a program on it connects to the socket sshd made.
        const c = connect(listenPath);
        const got = new Promise<string>((resolve) => {
          let text = '';
          c.on('data', (d: Buffer) => {
            text += d.toString();
            if (text.includes('\n')) resolve(text);
          });
        });
        c.write('through the gateway\n');
        expect(await got).to.equal('through the gateway\n');
        c.destroy();
        await listener.close();
        // Nobody takes connections to it any more (sshd leaves the file; the caller removes it).
        const refused = await new Promise<string>((resolve) => connect(listenPath).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')).on('connect', () => resolve('connected')));
        expect(refused).to.equal('ECONNREFUSED');
        await until('the forwards are closed', () => p.stats().nodes[0].forwardsOpen === 0);
        expect(String(await rejection(p.listenUnix(node, 'relative.sock', () => {})))).to.match(/bad socket path/);
      } finally {
        unixEcho.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('opens an interactive pty shell', async () => {
      const p = newPool();
      const ch = await p.shell(node, { cols: 100, rows: 30, term: 'xterm' });
      expect(p.stats().nodes[0]).to.deep.include({ channelsInUse: 0, shellsOpen: 1 });
      let text = '';
      ch.on('data', (d: Buffer) => (text += d.toString()));
      ch.write('echo "hi-$((40+2)) $COLUMNS $TERM"; exit\n');
      await new Promise((r) => ch.on('close', r));
      expect(text).to.match(/hi-42 100 xterm/);
      await until('the shell is counted closed', () => p.stats().nodes[0].shellsOpen === 0);
    });

    it('shells get connections of their own: commands run beside them, extra connections close, past the bound NodeBusyError', async () => {
      const connsBefore = establishedTo(sshd.port);
      const p = newPool({ maxChannelsPerNode: 1, maxQueuedPerNode: 0, maxShellLinksPerNode: 2 });
      const pty = { cols: 80, rows: 24, term: 'xterm' };
      // Read as a console page does: a channel's close comes after its output has been read.
      const a = (await p.shell(node, pty)).resume();
      const b = (await p.shell(node, pty)).resume();
      expect((await p.exec(node, ['echo', 'beside'])).stdout).to.equal('beside\n');
      // Two shell connections (one shell each, the limit) and the command connection.
      expect(establishedTo(sshd.port) - connsBefore).to.equal(3);
      expect(p.stats().nodes[0]).to.deep.include({ shellsOpen: 2, channelsInUse: 0 });
      const e = await omsRejection(p.shell(node, pty), 'NodeBusyError');
      expect(e.vars).to.deep.equal({ node: 'node1' });
      b.write('exit\n');
      await until('the extra shell connection is closed', () => establishedTo(sshd.port) - connsBefore === 2);
      // The first shell connection stays for the next console; a new shell takes the freed place.
      const c = (await p.shell(node, pty)).resume();
      expect(p.stats().nodes[0].shellsOpen).to.equal(2);
      for (const ch of [a, c]) ch.write('exit\n');
      await until('the shells are closed', () => p.stats().nodes[0].shellsOpen === 0);
      p.closeAll();
      await until('every connection is closed', () => establishedTo(sshd.port) === connsBefore);
    });
  });

  describe('resident commands', () => {
    const sh: ResidentSpec = { key: 'sh', argv: ['sh'], echo: (m) => ['echo', m], idleMs: 400 };
    const ppid = async (p: NodePool, spec = sh) => /PPid:\s+(\d+)/.exec(await p.converse(node, spec, ['grep', 'PPid', '/proc/self/status']))![1];

    it('answers requests in order from one running program, without taking a command slot', async () => {
      // A long idle time: on a loaded machine the exec below can outlast the 400 ms of `sh`,
      // and the program would end in between for the right reason, failing the test for a wrong one.
      const steady: ResidentSpec = { ...sh, key: 'sh-steady', idleMs: 60_000 };
      const p = newPool({ maxChannelsPerNode: 1, maxQueuedPerNode: 0 });
      const first = await ppid(p, steady);
      const answers = await Promise.all(['a1', 'b2', 'c3'].map((w) => p.converse(node, steady, ['echo', w])));
      expect(answers).to.deep.equal(['a1\n', 'b2\n', 'c3\n']);
      expect(await ppid(p, steady)).to.equal(first);
      // The one command slot is free for commands meanwhile.
      expect((await p.exec(node, ['echo', 'beside'])).stdout).to.equal('beside\n');
      expect(p.stats().nodes[0]).to.deep.include({ shellsOpen: 1, channelsInUse: 0 });
      // stderr comes inside the answer, in order.
      expect(await p.converse(node, steady, ['ls', '/nonexistent-oms'])).to.match(/nonexistent-oms.*No such file/);
      p.closeAll();
    });

    it('a request past its budget stops the program; the next one starts a new program', async () => {
      const p = newPool();
      const before = await ppid(p);
      await omsRejection(p.converse(node, sh, ['sleep', '5'], { timeoutMs: 300 }), 'FuncMethodTimeoutError');
      const after = await ppid(p);
      expect(after).to.not.equal(before);
      await until('the stopped program is gone', () => !existsSync(`/proc/${before}`));
      p.closeAll();
    });

    it('a program that ends fails its request; idle programs end by themselves', async () => {
      const p = newPool();
      const before = await ppid(p);
      await omsRejection(p.converse(node, sh, ['exit', '3']), 'FuncManError');
      expect(await ppid(p)).to.not.equal(before);
      await until('the idle program has ended', () => p.stats().nodes[0].shellsOpen === 0);
      p.closeAll();
    });

    it('a dropped node fails a waiting request at once', async () => {
      const p = newPool();
      await ppid(p);
      const waiting = p.converse(node, sh, ['sleep', '5'], { timeoutMs: 20_000 });
      await sleep(200);
      const droppedAt = Date.now();
      p.drop('node1');
      await omsRejection(waiting, 'NodeUnreachableError');
      expect(Date.now() - droppedAt).to.be.below(1000);
      p.closeAll();
    });

    it("a queued request's budget counts its wait: behind a stuck request it times out on its own time", async () => {
      const p = newPool();
      await ppid(p);
      const stuck = p.converse(node, sh, ['sleep', '5'], { timeoutMs: 4000 });
      const started = Date.now();
      const behind = await rejection(p.converse(node, sh, ['echo', 'late'], { timeoutMs: 400 }));
      expect(isOmsError(behind) && behind.omsName).to.equal('FuncMethodTimeoutError');
      // Not after the stuck request's own timeout (4 s): its 400 ms, with room for a loaded machine.
      expect(Date.now() - started).to.be.below(2500);
      await omsRejection(stuck, 'FuncMethodTimeoutError');
      p.closeAll();
    });

    it('with commandSlot a request holds a command slot while it runs: exec waits for it, NodeBusyError past the queue', async () => {
      const p = newPool({ maxChannelsPerNode: 1, maxQueuedPerNode: 0 });
      const steady: ResidentSpec = { ...sh, key: 'sh-slot', idleMs: 60_000 };
      await ppid(p, steady);
      const slow = p.converse(node, steady, ['sleep', '1'], { commandSlot: true });
      await sleep(100);
      expect(p.stats().nodes[0].channelsInUse).to.equal(1);
      await omsRejection(p.exec(node, ['true']), 'NodeBusyError');
      await omsRejection(p.converse(node, steady, ['echo', 'x'], { commandSlot: true }), 'NodeBusyError');
      // Without commandSlot the resident is not bounded by command slots (it queues behind `slow`).
      const free = p.converse(node, steady, ['echo', 'beside']);
      await slow;
      expect(await free).to.equal('beside\n');
      expect(p.stats().nodes[0].channelsInUse).to.equal(0);
      expect((await p.exec(node, ['echo', 'after'])).stdout).to.equal('after\n');
      p.closeAll();
    });

    it('refuses words that need quoting, before anything runs', async () => {
      const p = newPool();
      let err: Error | undefined;
      await p.converse(node, sh, ['echo', '$(touch /tmp/oms-resident-canary)']).catch((e: Error) => (err = e));
      expect(err?.message).to.equal('resident request: only plain words');
      expect(existsSync('/tmp/oms-resident-canary')).to.equal(false);
      expect(p.stats().nodes[0].shellsOpen).to.equal(0);
      p.closeAll();
    });
  });

  describe('follow: long-lived reporting programs (event readers)', () => {
    /** Lines as they arrive, with the moment each came. */
    const collect = () => {
      const lines: { line: string; at: number }[] = [];
      let text = '';
      const stdout = new Writable({
        write(chunk: Buffer, _enc, cb) {
          text += chunk.toString('utf8');
          for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n')) {
            lines.push({ line: text.slice(0, i), at: Date.now() });
            text = text.slice(i + 1);
          }
          cb();
        },
      });
      return { lines, stdout };
    };

    it('streams each line as the program prints it, stderr merged in order, without taking a command slot', async () => {
      const p = newPool({ maxChannelsPerNode: 1, maxQueuedPerNode: 0 });
      const { lines, stdout } = collect();
      const stop = new AbortController();
      const run = p.follow(node, ['sh', '-c', 'echo one; sleep 0.4; echo two >&2; sleep 0.4; echo three; sleep 30'], { stdout, signal: stop.signal });
      await until('three lines', () => lines.length === 3);
      expect(lines.map((l) => l.line)).to.deep.equal(['one', 'two', 'three']);
      // Each came when printed, not at the end.
      expect(lines[1].at - lines[0].at).to.be.above(250);
      // The one command slot stays free for commands meanwhile.
      expect((await p.exec(node, ['echo', 'beside'])).stdout).to.equal('beside\n');
      expect(p.stats().nodes[0]).to.deep.include({ shellsOpen: 1, channelsInUse: 0 });
      stop.abort(new Error('enough'));
      expect(((await rejection(run)) as Error).message).to.equal('enough');
      await until('the shell connection is given back', () => p.stats().nodes[0].shellsOpen === 0);
      p.closeAll();
    });

    it('settles with the exit status when the program ends by itself; a stop ends the remote program', async () => {
      const p = newPool();
      const { lines, stdout } = collect();
      const r = await p.follow(node, ['sh', '-c', 'echo bye; exit 3'], { stdout, signal: new AbortController().signal });
      expect(r.code).to.equal(3);
      expect(lines.map((l) => l.line)).to.deep.equal(['bye']);
      const marker = `oms-follow-${process.pid}-${Date.now()}`;
      const stop = new AbortController();
      const run = p.follow(node, ['sh', '-c', 'echo up; sleep 60; true', marker], { stdout: collect().stdout, signal: stop.signal });
      await until('the program runs', () => processesOf(marker).length > 0);
      stop.abort(new Error('stopped'));
      await rejection(run);
      await until('the remote program is gone', () => processesOf(marker).length === 0);
      p.closeAll();
    });

    it('a dropped connection fails a running reader at once, and the program on the node ends with it', async () => {
      const p = newPool();
      const { lines, stdout } = collect();
      // A reader that prints nothing for a long time (an event reader on a quiet node) would
      // otherwise live on, orphaned, until it next writes.
      const marker = `oms-follow-drop-${process.pid}-${Date.now()}`;
      const run = p.follow(node, ['sh', '-c', 'echo up; sleep 60; true', marker], { stdout, signal: new AbortController().signal });
      await until('the reader runs', () => lines.length === 1 && processesOf(marker).length > 0);
      p.drop('node1');
      await omsRejection(run, 'NodeUnreachableError');
      await until('the program on the node is gone', () => processesOf(marker).length === 0, 5000);
      p.closeAll();
    });

    it('a reader stopped or dropped at any moment of its start rejects, never with an unhandled stream error', async () => {
      // Such an error event would bring the gateway down (seen on the lab: a node removed while
      // its readers were starting). The pool destroys `stdout` whenever the call fails.
      const unhandled: unknown[] = [];
      const onError = (e: unknown) => unhandled.push(e);
      process.on('uncaughtException', onError);
      try {
        for (let ms = 0; ms < 60; ms += 3) {
          for (const how of ['abort', 'drop'] as const) {
            const p = newPool();
            const stop = new AbortController();
            const run = p.follow(node, ['sh', '-c', 'echo up; sleep 5; true'], { stdout: collect().stdout, signal: stop.signal });
            setTimeout(() => (how === 'abort' ? stop.abort(new Error('stop')) : p.drop('node1')), ms);
            await rejection(run);
            p.closeAll();
          }
        }
        await sleep(50);
      } finally {
        process.off('uncaughtException', onError);
      }
      expect(unhandled.map(String)).to.deep.equal([]);
    });
  });

  describe('host keys and logins', () => {
    it('probeHostKey reads the offered key without logging in, same as ssh-keygen -lf', async () => {
      const loginsBefore = sshd.logins();
      const probe = await pool.probeHostKey('127.0.0.1', sshd.port);
      expect(probe).to.deep.equal({ fingerprint: sshd.hostKeyFingerprint, publicKey: sshd.hostPublicKey, algorithm: 'ssh-ed25519' });
      const keygen = spawnSync('ssh-keygen', ['-l', '-f', sshd.hostKeyPubPath], { encoding: 'utf8' }).stdout.split(' ')[1];
      expect(probe.fingerprint).to.equal(keygen);
      expect(sshd.logins()).to.equal(loginsBefore);
    });

    it('probeHostKey reports a closed port as NodeUnreachableError', async () => {
      const e = await omsRejection(pool.probeHostKey('127.0.0.1', 1), 'NodeUnreachableError');
      expect(e.vars).to.deep.equal({ node: '127.0.0.1:1', reason: 'connection refused' });
    });

    it('checkLogin passes with the pinned key and leaves no connection open', async () => {
      const before = establishedTo(sshd.port);
      await pool.checkLogin(node);
      await until('the login check connection is closed', () => establishedTo(sshd.port) === before);
    });

    it('checkLogin refuses a different host key with HostKeyMismatchError', async () => {
      const wrong = { ...node, hostKeyFingerprint: 'SHA256:' + 'A'.repeat(43) };
      const e = await omsRejection(pool.checkLogin(wrong), 'HostKeyMismatchError');
      expect(e.vars).to.deep.equal({ node: 'node1', pinned: wrong.hostKeyFingerprint, offered: sshd.hostKeyFingerprint });
    });

    it('checkLogin reports a refused gateway key as SSHKeyAddError', async () => {
      const other = loadOrCreateGatewayKey(join(dir, 'other'));
      const p = newPool({ privateKey: other.privateKey });
      const e = await omsRejection(p.checkLogin(node), 'SSHKeyAddError');
      expect(e.vars).to.deep.equal({ node: 'node1', reason: 'the gateway key was refused' });
      const e2 = await omsRejection(p.exec(node, ['true']), 'NodeUnreachableError');
      expect(e2.vars.reason).to.equal('the gateway key was refused');
    });

    it('refuses a target without a pinned fingerprint', async () => {
      const e = await rejection(pool.exec({ ...node, hostKeyFingerprint: '' }, ['true']));
      expect(String(e)).to.match(/no pinned host key/);
    });
  });

  describe('a node that goes away and comes back', () => {
    let lab: Sshd;
    let target: NodeTarget;
    beforeEach(async () => {
      lab = await startSshd({ authorizedKey: key.publicKey });
      target = targetOf(lab, 'flaky');
    });
    afterEach(() => lab.stop());

    it('fails in-flight calls promptly with NodeUnreachableError when sshd dies, and the next call reconnects', async () => {
      const p = newPool();
      await p.exec(target, ['true']);
      // rejection() attaches handlers now, so neither rejection waits unobserved.
      const calls = [1, 2].map(() => rejection(p.exec(target, ['sleep', '10'], { timeoutMs: 20_000 })));
      await until('both channels are open', () => p.stats().channelsInUse === 2);
      const killedAt = Date.now();
      await lab.kill();
      for (const e of await Promise.all(calls)) {
        expect(isOmsError(e) && e.omsName, String(e)).to.equal('NodeUnreachableError');
        expect((e as OmsError).vars.node).to.equal('flaky');
      }
      expect(Date.now() - killedAt).to.be.lessThan(2000);
      expect(p.stats().nodes[0].state).to.not.equal('ready');

      await lab.restart();
      expect((await p.exec(target, ['echo', 'back'])).stdout).to.equal('back\n');
      expect(lab.logins()).to.equal(2);
    });

    it('fails fast while the node is down, backs off, and reconnects once it is back', async () => {
      const p = newPool({ reconnectBackoffMs: { min: 300, max: 1000 } });
      await p.exec(target, ['true']);
      await lab.kill();
      await until('the link is seen down', () => p.stats().nodes[0].state !== 'ready');
      const e1 = await omsRejection(p.exec(target, ['true']), 'NodeUnreachableError');
      expect(e1.vars.reason).to.equal('connection refused');
      const t0 = Date.now();
      const e2 = await omsRejection(p.exec(target, ['true']), 'NodeUnreachableError');
      expect(Date.now() - t0).to.be.lessThan(100);
      expect(String(e2.vars.reason)).to.match(/^connection refused; next attempt in 1 s$/);
      expect(p.stats().nodes[0]).to.deep.include({ state: 'backoff', failures: 1 });
      await lab.restart();
      await sleep(350);
      expect((await p.exec(target, ['echo', 'ok'])).stdout).to.equal('ok\n');
      expect(p.stats().nodes[0]).to.deep.include({ state: 'ready', failures: 0 });
    });

    it("once one connection to the node is back, the node's other connections try at once instead of failing with their old refusal", async () => {
      const p = newPool({ reconnectBackoffMs: { min: 2000, max: 10_000 } });
      await p.exec(target, ['true']);
      const shell = () => p.shell(target, { cols: 80, rows: 24, term: 'xterm' });
      const bye = async (ch: Awaited<ReturnType<typeof shell>>) => {
        ch.resume(); // read what it prints, so it can end
        ch.write('exit\n');
        await new Promise((r) => ch.on('close', r));
      };
      await bye(await shell());
      await lab.kill();
      await until('the link is seen down', () => p.stats().nodes[0].state !== 'ready');
      // The command connection fails once (next attempt 2 s on), the shell connection twice (4 s on).
      await omsRejection(p.exec(target, ['true']), 'NodeUnreachableError');
      await omsRejection(shell(), 'NodeUnreachableError');
      await sleep(2100);
      await omsRejection(shell(), 'NodeUnreachableError');
      await lab.restart();
      // The command connection's backoff is over: it connects. The shell's still has seconds to run,
      // but the node has answered: the shell tries now and opens.
      expect((await p.exec(target, ['echo', 'back'])).stdout).to.equal('back\n');
      const t0 = Date.now();
      const ch = await shell();
      expect(Date.now() - t0).to.be.lessThan(1500);
      await bye(ch);
    });

    it('refuses a rotated host key with HostKeyMismatchError and runs nothing, until re-signed', async () => {
      const p = newPool();
      await p.exec(target, ['true']);
      const pinned = lab.hostKeyFingerprint;
      const logins = lab.logins();
      const offered = await lab.rotateHostKey();
      const marker = join(dir, 'must-not-exist');
      const e = await omsRejection(p.exec(target, ['touch', marker]), 'HostKeyMismatchError');
      expect(e.vars).to.deep.equal({ node: 'flaky', pinned, offered });
      expect(existsSync(marker)).to.equal(false);
      expect(lab.logins()).to.equal(logins);
      // Still refused on later calls: never silently re-trusted.
      await sleep(150);
      await omsRejection(p.exec(target, ['touch', marker]), 'HostKeyMismatchError');
      expect(existsSync(marker)).to.equal(false);
      // The stats (and /metrics) say why the node has no connection.
      expect(p.stats().nodes[0]).to.deep.include({ lastError: 'HostKeyMismatchError' });
      // Re-signed: the new pinned key comes with the target and the pool reconnects.
      expect((await p.exec({ ...target, hostKeyFingerprint: offered }, ['echo', 'resigned'])).stdout).to.equal('resigned\n');
      expect(p.stats().nodes[0]).to.not.have.property('lastError');
    });
  });

  describe('secrets', () => {
    it('never puts the private key into errors or logs, nor command arguments into logs', async () => {
      const p = newPool();
      const secretArg = uniqueMarker('secret-arg');
      await p.exec(node, ['echo', secretArg]);
      await rejection(p.exec(node, ['sh', '-c', 'exit 1', secretArg]));
      const errors = [
        await rejection(p.exec({ ...node, port: 1, name: 'closed' }, ['true'])),
        await rejection(p.exec({ ...node, name: 'wrongkey', hostKeyFingerprint: 'SHA256:' + 'B'.repeat(43) }, ['true'])),
        await rejection(newPool({ privateKey: loadOrCreateGatewayKey(join(dir, 'k2')).privateKey }).exec({ ...node, name: 'authfail' }, ['true'])),
      ];
      const keyBody = key.privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
      const text = [...errors.map((e) => `${String(e)} ${JSON.stringify(e)}`), ...logLines].join('\n');
      expect(logLines.length).to.be.greaterThan(0);
      for (const line of keyBody) expect(text).to.not.contain(line);
      expect(text).to.not.contain('PRIVATE KEY');
      expect(logLines.join('\n')).to.not.contain(secretArg);
    });

    it('refuses an unusable private key at construction without echoing it', () => {
      let err: unknown;
      try {
        new NodePool({ privateKey: 'NOT-A-KEY-SECRET' });
      } catch (e) {
        err = e;
      }
      expect(String(err)).to.match(/not a usable private key/).and.not.match(/SECRET/);
    });
  });

  describe('sftp', () => {
    let withSftp: Sshd;
    let sftpNode: NodeTarget;
    before(async () => {
      withSftp = await startSshd({ authorizedKey: key.publicKey, extraConfig: ['Subsystem sftp internal-sftp'] });
      sftpNode = targetOf(withSftp, 'node-sftp');
    });
    after(() => withSftp?.stop());

    it('opens an SFTP session on the node connection, holding a slot until it ends', async () => {
      const p = newPool();
      const dirOnNode = mkdtempSync(join(tmpdir(), 'oms-sftp-'));
      try {
        const sftp = await p.sftp(sftpNode);
        expect(p.stats().channelsInUse).to.equal(1);
        await new Promise<void>((resolve, reject) => {
          const w = sftp.createWriteStream(join(dirOnNode, 'up.part'), { flags: 'wx' });
          w.on('error', reject).on('close', () => resolve());
          w.end(Buffer.from('sftp payload'));
        });
        await new Promise<void>((resolve, reject) => sftp.rename(join(dirOnNode, 'up.part'), join(dirOnNode, 'up.iso'), (err) => (err ? reject(err) : resolve())));
        expect(readFileSync(join(dirOnNode, 'up.iso'), 'utf8')).to.equal('sftp payload');
        // The session shares the node's one connection with exec.
        expect((await p.exec(sftpNode, ['cat', join(dirOnNode, 'up.iso')])).stdout).to.equal('sftp payload');
        expect(p.stats().nodes[0]).to.include({ name: 'node-sftp', state: 'ready' });
        sftp.end();
        await until('the slot is free', () => p.stats().channelsInUse === 0);
      } finally {
        rmSync(dirOnNode, { recursive: true, force: true });
      }
    });

    it('counts against the channel limit: with one slot, exec waits for the session to end', async () => {
      const p = newPool({ maxChannelsPerNode: 1 });
      const sftp = await p.sftp(sftpNode);
      await omsRejection(p.exec(sftpNode, ['true'], { timeoutMs: 500 }), 'FuncMethodTimeoutError');
      const waiting = p.exec(sftpNode, ['echo', 'after'], { timeoutMs: 10_000 });
      await until('the exec is queued', () => p.stats().queued === 1);
      sftp.end();
      expect((await waiting).stdout).to.equal('after\n');
      await until('the slot is free', () => p.stats().channelsInUse === 0);
    });

    it('a node without the sftp subsystem: FuncManError, slot given back', async () => {
      const p = newPool();
      const e = await omsRejection(p.sftp(node), 'FuncManError');
      expect(e.message).to.match(/could not open sftp/);
      await until('the slot is free', () => p.stats().channelsInUse === 0);
    });
  });
});

/** Reads a /proc file of a process that may exit at any moment; undefined once it is gone. */
function procFile(pid: number | string, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw e;
  }
}

/** Running (not gone, not a zombie). */
function isAlive(pid: number): boolean {
  const stat = procFile(pid, 'stat');
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}
