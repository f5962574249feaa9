/**
 * The per-node wait bound through the real gateway. With one channel and one queue place, a node
 * whose link is cut holds its channel until the command timeout; the next call waits, the one
 * after is refused at once with NodeBusyError naming the node, other nodes are unaffected, and the
 * node serves again once the link is back.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from '../integration/fixture.ts';
import { figure } from './figures.ts';

const run = promisify(execFile);
const hostVeth = (node: LabNode) => `omslabv${Number(/(\d+)$/.exec(node.name)![1])}`;

describe('node queue bound', function () {
  this.timeout(120_000);
  let e: Env;
  let victim: LabNode;
  let other: LabNode;
  const stats = (n: LabNode) => e.call('statsservices', 'get_stats', [e.sid, 0, n.name, 'uptime']);

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '4', OMS_NODE_CHANNELS: '1', OMS_NODE_QUEUE: '1' });
    const full = e.lab.nodes.filter((n) => n.libvirt);
    await enroll(e, full);
    [other, victim] = [full[0], full[full.length - 1]];
  });
  after(() => e?.stop());

  it('refuses the call past the bound at once with NodeBusyError; the held and queued calls end typed', async () => {
    expect((await stats(victim)).error).to.equal(null); // the connection is up before the cut
    await run('ip', ['link', 'set', hostVeth(victim), 'down']);
    try {
      const held = stats(victim);
      await new Promise((r) => setTimeout(r, 300));
      const queued = stats(victim);
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      const refused = await stats(victim);
      figure('call past the node queue bound refused after ms', Date.now() - started);
      expect(refused.error?.message, JSON.stringify(refused)).to.match(/^NodeBusyError: Node omsnode\d+ /);
      expect(refused.error.message).to.include(victim.name);
      // Waiting calls keep their own timeout: they end with a typed error, not a hang.
      for (const r of await Promise.all([held, queued])) expect(r.error?.message, JSON.stringify(r)).to.match(/^(FuncMethodTimeoutError|NodeUnreachableError)/);
      expect((await stats(other)).error, 'other node affected').to.equal(null);
    } finally {
      await run('ip', ['link', 'set', hostVeth(victim), 'up']);
    }
    for (let i = 0; i < 60 && (await stats(victim)).error; i++) await new Promise((r) => setTimeout(r, 500));
    expect((await stats(victim)).error).to.equal(null);
  });
});
