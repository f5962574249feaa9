/**
 * The pool tells the node's connection changes (node events connected / disconnected with a
 * reason), against a real OpenSSH sshd on loopback: each change once, with the right reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startSshd, type Sshd } from '../../test/fixtures/sshd.ts';
import { loadOrCreateGatewayKey, type GatewayKey } from './keys.ts';
import { NodePool, type ConnectionChange, type NodeTarget } from './pool.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

describe('nodes/pool: connection changes reported as node events', function () {
  this.timeout(30_000);
  let dir: string;
  let key: GatewayKey;
  let sshd: Sshd;
  let target: NodeTarget;
  const pools: NodePool[] = [];
  let seen: [string, ConnectionChange][];
  const newPool = (privateKey = key.privateKey) => {
    const p = new NodePool({ privateKey, reconnectBackoffMs: { min: 50, max: 100 }, onConnection: (node, c) => seen.push([node, c]) });
    pools.push(p);
    return p;
  };
  const states = () => seen.map(([, c]) => (c.state === 'connected' ? 'connected' : `disconnected:${c.reason}`));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oms-conn-events-'));
    key = loadOrCreateGatewayKey(dir);
  });
  beforeEach(async () => {
    seen = [];
    sshd = await startSshd({ authorizedKey: key.publicKey });
    target = { name: 'ev-node', address: '127.0.0.1', port: sshd.port, hostKeyFingerprint: sshd.hostKeyFingerprint };
  });
  afterEach(async () => {
    for (const p of pools.splice(0)) p.closeAll();
    await sshd.stop();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('connected, then disconnected (unreachable) once when sshd dies, then connected again', async () => {
    const p = newPool();
    await p.exec(target, ['true']);
    expect(seen).to.deep.equal([['ev-node', { state: 'connected' }]]);
    await sshd.kill();
    await until('the drop is reported', () => seen.length === 2);
    expect(seen[1][1]).to.deep.include({ state: 'disconnected', reason: 'unreachable' });
    // Failed reconnects while it stays down are the same state: not told again.
    for (let i = 0; i < 3; i++) {
      await p.exec(target, ['true']).catch(() => undefined);
      await sleep(120);
    }
    expect(states()).to.deep.equal(['connected', 'disconnected:unreachable']);
    await sshd.restart();
    // The next call after the backoff reconnects.
    for (let i = 0; i < 20 && seen.length < 3; i++) {
      await p.exec(target, ['true']).catch(() => undefined);
      if (seen.length < 3) await sleep(120);
    }
    expect(states()).to.deep.equal(['connected', 'disconnected:unreachable', 'connected']);
  });

  it('a changed host key is reported as host_key_mismatch', async () => {
    const p = newPool();
    await p.exec(target, ['true']);
    await sshd.rotateHostKey();
    await until('the restart dropped the link', () => seen.length === 2);
    await sleep(120);
    await p.exec(target, ['true']).catch(() => undefined);
    expect(states()).to.deep.equal(['connected', 'disconnected:unreachable', 'disconnected:host_key_mismatch']);
  });

  it('a refused gateway key is reported as auth_failure', async () => {
    const other = loadOrCreateGatewayKey(join(dir, 'other'));
    const p = newPool(other.privateKey);
    await p.exec(target, ['true']).catch(() => undefined);
    expect(states()).to.deep.equal(['disconnected:auth_failure']);
    expect((seen[0][1] as { message: string }).message).to.match(/gateway key was refused/);
  });

  it('a node reached only by shells (consoles, resident readers) is connected too, and disconnected once when all drop', async () => {
    const p = newPool();
    await p.exec(target, ['true']);
    const sh = await p.shell(target, { cols: 80, rows: 24, term: 'xterm' });
    sh.on('error', () => undefined);
    await sshd.kill();
    await until('the drop is reported', () => seen.length >= 2);
    await sleep(200);
    expect(states()).to.deep.equal(['connected', 'disconnected:unreachable']);
    await sshd.restart();
    // Only a shell comes back: the node is connected again.
    let back;
    for (let i = 0; i < 20 && !back; i++) {
      back = await p.shell(target, { cols: 80, rows: 24, term: 'xterm' }).catch(() => undefined);
      if (!back) await sleep(120);
    }
    back!.close();
    expect(states()).to.deep.equal(['connected', 'disconnected:unreachable', 'connected']);
  });

  it('the gateway closing a connection (node removed or re-signed) is no disconnect of the node; shells stay quiet', async () => {
    const p = newPool();
    await p.exec(target, ['true']);
    const sh = await p.shell(target, { cols: 80, rows: 24, term: 'xterm' });
    sh.close();
    p.drop('ev-node');
    await sleep(200);
    expect(states()).to.deep.equal(['connected']);
  });
});
