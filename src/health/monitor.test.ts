/**
 * The monitor's scheduling and events with a fake sampler, a fake clock and ticks driven by hand:
 * jitter over the interval, bounded starts per tick, one write per tick, down/up after failures,
 * threshold events, close().
 */
import { expect } from 'chai';
import pino from 'pino';
import { HealthMonitor } from './monitor.ts';
import type { HealthReading, HealthSample, HealthSampler } from './sample.ts';
import type { NodeRecord } from '../fleet/nodes.ts';
import type { EventInput } from '../events/types.ts';

const node = (name: string): NodeRecord => ({ name, address: '10.0.0.1', port: 22, signed: true, hostKeyFingerprint: 'SHA256:x', settings: {} }) as NodeRecord;

const reading = (uptime: number, memPercent = 10): HealthReading => ({
  uptime,
  load1: 0.5,
  cpus: 2,
  cpuTotal: uptime * 100,
  cpuIdle: uptime * 50,
  memTotalKb: 1000,
  memAvailableKb: 1000 - memPercent * 10,
  disk: { usedKb: 1, availKb: 9 },
  net: new Map(),
});

function harness(names: string[], opts: { intervalMs?: number; behaviour?: (node: string) => HealthReading | Error } = {}) {
  let now = 1_000_000;
  const calls: string[] = [];
  const writes: HealthSample[][] = [];
  const events: EventInput[] = [];
  const pending: (() => void)[] = [];
  const sampler: HealthSampler = {
    read(h) {
      const name = (h as unknown as { name: string }).name;
      calls.push(name);
      const r = (opts.behaviour ?? (() => reading(now / 1000)))(name);
      // Answers come back when the test lets them (settle()).
      return new Promise((resolve, reject) => pending.push(() => (r instanceof Error ? reject(r) : resolve(r))));
    },
  };
  const nodes = names.map(node);
  const m = new HealthMonitor({
    intervalMs: opts.intervalMs ?? 10_000,
    sampler,
    signedNodes: () => nodes,
    handle: (n) => ({ name: n.name }) as never,
    history: { append: (b) => writes.push([...b]), forget: () => undefined, forgetAllBut: () => undefined },
    sink: { publish: (e) => events.push(e) },
    log: pino({ level: 'silent' }),
    limits: () => ({ memory: 90 }),
    clock: () => now,
    random: (() => {
      let i = 0;
      return () => (i++ % 10) / 10;
    })(),
  });
  const settle = async () => {
    for (const p of pending.splice(0)) p();
    await new Promise((r) => setImmediate(r));
  };
  return {
    m,
    calls,
    writes,
    events,
    nodes,
    settle,
    advance: (ms: number) => (now += ms),
    /** Runs ticks every `tickMs` over `ms`, answering samples between ticks. */
    async run(ms: number, tickMs = 1000) {
      for (let t = 0; t < ms; t += tickMs) {
        now += tickMs;
        m.tick();
        await settle();
      }
      m.tick();
    },
  };
}

describe('health monitor', () => {
  it('samples every node once per interval, spread over the interval rather than all at once', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
    const h = harness(names);
    h.m.start();
    const perTick: number[] = [];
    // Phases 0.0 .. 0.9 of the interval: the ticks at +1 s .. +9 s reach every phase once.
    for (let t = 0; t < 9; t++) {
      const before = h.calls.length;
      h.advance(1000);
      h.m.tick();
      await h.settle();
      perTick.push(h.calls.length - before);
    }
    h.m.close();
    expect(h.calls.length).to.equal(20);
    expect(new Set(h.calls).size).to.equal(20);
    expect(Math.max(...perTick)).to.be.at.most(4); // phases 0.0..0.9 of the interval: 2 nodes per tenth
  });

  it('never starts more than the tick bound, even when every node is due at once', async () => {
    const names = Array.from({ length: 100 }, (_, i) => `n${i}`);
    const h = harness(names);
    h.m.start();
    h.advance(60_000); // a stall: everything due
    h.m.tick();
    // 100 nodes * 1000 ms tick * 2 / 10000 ms interval + 1
    expect(h.calls.length).to.equal(21);
    h.m.close();
  });

  it('writes the samples a tick collected in one batch, not one write per node', async () => {
    const h = harness(['a', 'b', 'c', 'd']);
    h.m.start();
    // Phases 0, 0.1, 0.2, 0.3 of 10 s: the tick at +1 s finds two nodes due, +2 s one, +3 s one.
    let ticks = 0;
    for (let t = 0; t < 3; t++) {
      h.advance(1000);
      h.m.tick();
      ticks++;
      await h.settle();
    }
    h.m.tick();
    ticks++;
    h.m.close();
    const rows = h.writes.flat();
    expect(rows.map((r) => r.node).sort()).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(h.writes.map((w) => w.length)).to.deep.equal([2, 1, 1]);
    expect(h.writes.length).to.be.at.most(ticks);
  });

  it('a node that stops answering is `down` after two failed samples, `up` at its first answer, once each', async () => {
    let failing = false;
    const h = harness(['a'], { behaviour: () => (failing ? Object.assign(new Error('x'), { name: 'NodeUnreachableError' }) : reading(Date.now() / 1000)) });
    h.m.start();
    await h.run(20_000);
    failing = true;
    await h.run(10_000);
    expect(h.events.filter((e) => e.action === 'down')).to.have.length(0); // one failure is not an outage
    await h.run(30_000);
    expect(h.events.map((e) => e.action)).to.deep.equal(['down']);
    expect(h.events[0]).to.deep.include({ type: 'node', node: 'a' });
    expect(h.events[0].data).to.deep.include({ reason: 'NodeUnreachableError' });
    failing = false;
    await h.run(20_000);
    expect(h.events.map((e) => e.action)).to.deep.equal(['down', 'up']);
    const rows = h.writes.flat();
    expect(rows.some((r) => !r.reachable)).to.equal(true);
    h.m.close();
  });

  it('memory crossing its limit publishes one `threshold` event with metric, value, limit and direction', async () => {
    let mem = 50;
    let up = 100;
    const h = harness(['a'], { behaviour: () => reading((up += 10), mem) });
    h.m.start();
    await h.run(20_000);
    mem = 95;
    await h.run(30_000);
    mem = 89; // still within the hysteresis band
    await h.run(20_000);
    mem = 50;
    await h.run(20_000);
    h.m.close();
    expect(h.events.map((e) => [e.action, e.data])).to.deep.equal([
      ['threshold', { metric: 'memory', value: 95, limit: 90, direction: 'above' }],
      ['threshold', { metric: 'memory', value: 50, limit: 90, direction: 'below' }],
    ]);
  });

  it('close() stops sampling, and answers arriving afterwards are dropped', async () => {
    const h = harness(['a', 'b']);
    h.m.start();
    h.advance(10_000);
    h.m.tick();
    const started = h.calls.length;
    h.m.close();
    await h.settle();
    await h.run(30_000);
    expect(h.calls.length).to.equal(started);
    expect(h.writes.flat()).to.have.length(0);
    expect(h.m.running).to.equal(false);
  });

  it('a node removed from the signed list is no longer sampled', async () => {
    const h = harness(['a', 'b']);
    h.m.start();
    h.nodes.splice(1, 1);
    h.m.sync();
    await h.run(20_000);
    h.m.close();
    expect(new Set(h.calls)).to.deep.equal(new Set(['a']));
  });
});
