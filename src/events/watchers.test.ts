import { expect } from 'chai';
import pino from 'pino';
import type { NodeHandle } from '../fleet/access.ts';
import type { NodeRecord } from '../fleet/nodes.ts';
import type { EventInput } from './types.ts';
import { WatcherRunner, type KnownStates, type NodeWatcherDecl, type WatchContext } from './watchers.ts';

const record = (name: string, settings = {}): NodeRecord => ({ name, address: '10.213.7.11', port: 22, signed: true, hostKeyFingerprint: 'SHA256:x', settings });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A watcher whose watches the test ends by hand; it records each start. */
function fakeWatcher(name: string) {
  const starts: { node: string; ctx: WatchContext; end: (e?: Error) => void }[] = [];
  const decl: NodeWatcherDecl = {
    name,
    watch: (ctx) =>
      new Promise<void>((resolve, reject) => {
        const end = (e?: Error) => (e ? reject(e) : resolve());
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        starts.push({ node: ctx.node.name, ctx, end });
      }),
  };
  return { decl, starts, live: () => starts.filter((s) => !s.ctx.signal.aborted).map((s) => s.node).sort() };
}

function setup(watchers: NodeWatcherDecl[], nodes: NodeRecord[], backoffMs = { min: 20, max: 40 }) {
  const published: EventInput[] = [];
  const runner = new WatcherRunner({
    watchers,
    signedNodes: () => nodes,
    handle: (name) => ({ name, settings: {} }) as NodeHandle,
    sink: { publish: (e) => published.push(e) },
    log: pino({ enabled: false }),
    resyncMs: 60_000,
    backoffMs,
    lookMs: 60_000,
  });
  return { runner, published };
}

describe('WatcherRunner: node watchers on every signed node', () => {
  it('starts each declared watcher once per signed node, and none before start()', async () => {
    const a = fakeWatcher('a');
    const b = fakeWatcher('b');
    const { runner } = setup([a.decl, b.decl], [record('n1'), record('n2')]);
    runner.sync();
    expect(a.starts).to.have.length(0);
    runner.start();
    expect(a.live()).to.deep.equal(['n1', 'n2']);
    expect(b.live()).to.deep.equal(['n1', 'n2']);
    runner.start(); // twice is once
    expect(a.starts).to.have.length(2);
    await runner.close();
  });

  it('starts watchers on a node signed later and stops them on a node removed', async () => {
    const a = fakeWatcher('a');
    const nodes = [record('n1')];
    const { runner } = setup([a.decl], nodes);
    runner.start();
    nodes.push(record('n2'));
    runner.sync();
    expect(a.live()).to.deep.equal(['n1', 'n2']);
    nodes.shift();
    runner.sync();
    expect(a.live()).to.deep.equal(['n2']);
    expect(runner.running().map((r) => r.node)).to.deep.equal(['n2']);
    await runner.close();
  });

  it("restarts a node's watchers when its address, key or settings change", async () => {
    const a = fakeWatcher('a');
    const nodes = [record('n1')];
    const { runner } = setup([a.decl], nodes);
    runner.start();
    nodes[0] = record('n1', { libvirtUri: 'qemu+tcp://x/system' });
    runner.sync();
    expect(a.starts).to.have.length(2);
    expect(a.starts[0].ctx.signal.aborted).to.equal(true);
    expect(a.live()).to.deep.equal(['n1']);
    await runner.close();
  });

  it('starts a watch again after it ended or failed, after a backoff, keeping what it knew', async () => {
    const a = fakeWatcher('a');
    const { runner } = setup([a.decl], [record('n1')], { min: 30, max: 30 });
    runner.start();
    const first = a.starts[0];
    first.ctx.known.states.set('g', 'RUNNING');
    first.ctx.known.seeded = true;
    first.end(new Error('link dropped'));
    await sleep(10);
    expect(a.starts, 'not before the backoff').to.have.length(1);
    await sleep(60);
    expect(a.starts).to.have.length(2);
    const known: KnownStates = a.starts[1].ctx.known;
    expect(known.seeded).to.equal(true);
    expect([...known.states]).to.deep.equal([['g', 'RUNNING']]);
    a.starts[1].end(); // ended by itself: started again too
    await sleep(80);
    expect(a.starts).to.have.length(3);
    expect(runner.running()[0].runs).to.equal(3);
    await runner.close();
  });

  it('waits longer after each failure in a row, and starts over once a watch was healthy', async () => {
    const a = fakeWatcher('a');
    const { runner } = setup([a.decl], [record('n1')], { min: 20, max: 1000 });
    runner.start();
    const gaps: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = Date.now();
      a.starts[i].end(new Error('x'));
      while (a.starts.length < i + 2) await sleep(5);
      gaps.push(Date.now() - t);
    }
    expect(gaps[1]).to.be.greaterThan(gaps[0]);
    expect(gaps[2]).to.be.greaterThan(gaps[1]);
    a.starts[3].ctx.healthy();
    const t = Date.now();
    a.starts[3].end(new Error('x'));
    while (a.starts.length < 5) await sleep(5);
    expect(Date.now() - t).to.be.lessThan(gaps[2]);
    await runner.close();
  });

  it('close() stops every watch, one in its backoff included, and starts nothing after', async () => {
    const a = fakeWatcher('a');
    const nodes = [record('n1'), record('n2')];
    const { runner } = setup([a.decl], nodes, { min: 10_000, max: 10_000 });
    runner.start();
    a.starts[0].end(new Error('x')); // n1 now waits 10 s
    const t = Date.now();
    await runner.close();
    expect(Date.now() - t).to.be.lessThan(1000);
    expect(a.live()).to.deep.equal([]);
    nodes.push(record('n3'));
    runner.sync();
    runner.start();
    expect(runner.running()).to.deep.equal([]);
  });

  it('hands every watch the sink, its node and the resync period', async () => {
    const a = fakeWatcher('a');
    const { runner, published } = setup([a.decl], [record('n1')]);
    runner.start();
    const ctx = a.starts[0].ctx;
    expect(ctx.node.name).to.equal('n1');
    expect(ctx.resyncMs).to.equal(60_000);
    ctx.sink.publish({ type: 'kvm', node: 'n1', target: 'g', action: 'started' });
    expect(published).to.deep.equal([{ type: 'kvm', node: 'n1', target: 'g', action: 'started' }]);
    await runner.close();
  });
});
