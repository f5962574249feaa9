/**
 * Node faults through the real gateway: link cut, a node that hangs (TCP accepted, SSH never
 * answers), sshd killed mid-call, a changed host key. Each gives a typed error within the
 * configured timeout, other nodes are unaffected, and the node works again after recovery
 * without restarting the gateway.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { killSshd, rotateHostKey, startSshd, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from '../integration/fixture.ts';
import { figure } from './figures.ts';

const run = promisify(execFile);
const TIMEOUT_S = 4;

/** All sshd processes of a node (listener and per-connection children), found by network namespace. */
async function sshdPids(node: LabNode): Promise<number[]> {
  const { stdout } = await run('ip', ['netns', 'pids', node.netns]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sshd';
      } catch {
        return false; // exited meanwhile
      }
    });
}

const hostVeth = (node: LabNode) => `omslabv${Number(/(\d+)$/.exec(node.name)![1])}`;

describe('node faults', function () {
  this.timeout(300_000);
  let e: Env;
  let victim: LabNode;
  let other: LabNode;
  let survived = 0;
  const stats = (n: LabNode) => e.call('statsservices', 'get_stats', [e.sid, 0, n.name, 'uptime']);
  const expectTyped = async (n: LabNode, pattern: RegExp) => {
    const started = Date.now();
    const r = await stats(n);
    const took = Date.now() - started;
    expect(r.error?.message, JSON.stringify(r)).to.match(pattern);
    expect(r.error.message).to.include(n.name);
    // Within the configured timeout plus connect time, never hanging.
    expect(took).to.be.below((TIMEOUT_S + 11) * 1000);
    expect((await stats(other)).error, 'other node affected').to.equal(null);
    return took;
  };
  const recovers = async (n: LabNode) => {
    for (let i = 0; i < 60; i++) {
      if (!(await stats(n)).error) return true;
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  };

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: String(TIMEOUT_S) });
    const full = e.lab.nodes.filter((n) => n.libvirt);
    await enroll(e, full);
    [other, victim] = [full[0], full[full.length - 1]];
  });
  after(() => e?.stop());

  it('link cut: typed error within the timeout, recovery when the link is back', async () => {
    expect((await stats(victim)).error).to.equal(null);
    await run('ip', ['link', 'set', hostVeth(victim), 'down']);
    try {
      const took = await expectTyped(victim, /^(FuncMethodTimeoutError|NodeUnreachableError)/);
      figure('link cut: typed error after ms', took);
    } finally {
      await run('ip', ['link', 'set', hostVeth(victim), 'up']);
    }
    expect(await recovers(victim)).to.equal(true);
    survived++;
  });

  it('a node that hangs (sshd stopped, TCP still accepted): typed error, recovery when it answers again', async () => {
    expect((await stats(victim)).error).to.equal(null);
    const pids = await sshdPids(victim);
    expect(pids.length).to.be.greaterThan(0);
    await run('kill', ['-STOP', ...pids.map(String)]);
    try {
      const took = await expectTyped(victim, /^(FuncMethodTimeoutError|NodeUnreachableError)/);
      figure('hung node: typed error after ms', took);
    } finally {
      await run('kill', ['-CONT', ...pids.map(String)]);
    }
    expect(await recovers(victim)).to.equal(true);
    survived++;
  });

  it('sshd killed: typed error, recovery when sshd is back', async () => {
    await killSshd(victim);
    try {
      await expectTyped(victim, /^(NodeUnreachableError|FuncMethodTimeoutError)/);
    } finally {
      await startSshd(victim);
    }
    expect(await recovers(victim)).to.equal(true);
    survived++;
  });

  it('changed host key: refused until re-signed', async () => {
    await rotateHostKey(victim);
    await expectTyped(victim, /^HostKeyMismatchError/);
    await e.ok('funcservices', 'add_request', [e.sid, 0, victim.name, victim.address, victim.port]);
    await e.ok('funcservices', 'sign_requests', [e.sid, 0, [victim.name]]);
    expect((await stats(victim)).error).to.equal(null);
    survived++;
    figure('node faults survived without restarting the gateway', survived);
  });
});
