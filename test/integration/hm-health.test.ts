/**
 * Issue 16, node health and stats history, through the real gateway process with a 1 s health
 * interval and a 2 s housekeeping sweep: the history of a lab node fills and get_history answers
 * it with values the node itself shows; a node whose sshd is killed gives `down` then (sshd back)
 * `up` on a /ws subscriber; samples written 26 h in the past are rolled into 5-minute points and
 * their raw rows dropped. Uses omsnode4 when the lab has it (no other test uses it), else omsnode3,
 * and always restarts its sshd.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { killSshd, nodeExec, startSshd, type LabNode } from '../lab/index.ts';
import { until as untilEvery, wsSubscriber, type Ev } from './events-client.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

/** This file's waits look every 200 ms: each look may ask the gateway. */
const until = <T>(what: string, get: () => Promise<T | undefined | false> | T | undefined | false, ms = 30_000) => untilEvery(what, get, ms, 200);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowS = () => Math.floor(Date.now() / 1000);

/** Memory used in percent as the node's own /proc/meminfo says right now. */
async function nodeMemoryPercent(node: LabNode): Promise<number> {
  const { stdout } = await nodeExec(node, ['head', '-n', '3', '/proc/meminfo']);
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(stdout)![1]);
  return (100 * (kb('MemTotal') - kb('MemAvailable'))) / kb('MemTotal');
}

describe('hm- node health monitor and stats history on the lab (issue 16)', function () {
  this.timeout(180_000);
  let e: Env;
  let node: LabNode;

  before(async () => {
    e = await startEnv({ OMS_HEALTH_INTERVAL: '1', OMS_HOUSEKEEPING: '2' });
    node = e.lab.nodes.find((n) => n.name === 'omsnode4') ?? e.lab.nodes.find((n) => n.name === 'omsnode3')!;
    await enroll(e, [node]);
  });
  after(async () => {
    await startSshd(node).catch(() => undefined);
    await e?.stop();
  });

  const history = async (metric: string, from: number, to: number, step: number) => (await e.ok('statsservices', 'get_history', [e.sid, 0, node.name, metric, from, to, step])).result;

  it('hm-fill: the history fills every second and get_history answers what the node shows', async () => {
    const t0 = nowS();
    const got = await until('5 seconds of samples', async () => {
      const h = await history('reachable', t0 - 5, nowS() + 1, 1);
      return h.points.length >= 5 && h;
    });
    expect(got).to.include({ node: node.name, metric: 'reachable', step: 1 });
    expect(got.points.every((p: any) => p.value === 1)).to.equal(true);
    // About one sample per second: consecutive points 1 s apart (2 s where a sample's answer
    // slipped past a second's edge, leaving that second with two and the next with none).
    const times = got.points.map((p: any) => p.time);
    const gaps = times.slice(1).map((t: number, i: number) => t - times[i]);
    expect(gaps.every((g: number) => g === 1 || g === 2), `gaps ${gaps}`).to.equal(true);
    expect(gaps.filter((g: number) => g === 1).length).to.be.at.least(gaps.length / 2);

    const mem = await history('memory', t0 - 5, nowS() + 1, 1);
    const onNode = await nodeMemoryPercent(node);
    expect(mem.points.length).to.be.at.least(3);
    expect(mem.points[mem.points.length - 1].value).to.be.closeTo(onNode, 5);
    const cpu = await history('cpu', t0 - 5, nowS() + 1, 1);
    expect(cpu.points.length).to.be.at.least(3);
    for (const p of cpu.points) expect(p.value).to.be.within(0, 100);
    const disk = await history('disk', t0 - 5, nowS() + 1, 60);
    expect(disk.points).to.have.length(1);
    expect(disk.points[0].value).to.be.within(0.01, 100);
  });

  it('hm-errors: unknown metric, empty range and too many points are typed errors on the wire', async () => {
    const t = nowS();
    const err = async (params: unknown[]) => (await e.call('statsservices', 'get_history', [e.sid, 0, node.name, ...params])).error;
    expect((await err(['cpu_load', t - 60, t, 1])).message).to.match(/Unknown metric cpu_load/);
    expect((await err(['cpu', t, t - 60, 1])).message).to.match(/Bad history range/);
    expect((await err(['cpu', t - 86400, t, 1])).message).to.match(/at most 2000/);
    expect((await e.call('statsservices', 'get_history', [e.sid, 0, 'omsnode-nope', 'cpu', t - 60, t, 1])).error.message).to.match(/Unknown node/);
  });

  it('hm-down-up: a node whose sshd is killed is `down` on a /ws subscriber, then `up` once it is back', async () => {
    const sub = await wsSubscriber(e, { types: ['node'], nodes: [node.name] });
    try {
      await killSshd(node);
      const down = await until('a down event', () => sub.events.find((x) => x.action === 'down'), 30_000);
      expect(down).to.deep.include({ type: 'node', node: node.name });
      expect(sub.events.some((x) => x.action === 'up')).to.equal(false);
      await startSshd(node);
      const up = await until('an up event', () => sub.events.find((x) => x.action === 'up'), 60_000);
      expect(up.seq).to.be.greaterThan(down.seq);
      // Exactly one of each: the outage did not flap.
      expect(sub.events.filter((x) => x.action === 'down')).to.have.length(1);
      expect(sub.events.filter((x) => x.action === 'up')).to.have.length(1);
      // The outage is in the history: samples the node did not answer.
      const h = await history('reachable', nowS() - 120, nowS() + 1, 1);
      expect(h.points.some((p: any) => p.value === 0)).to.equal(true);
    } finally {
      sub.close();
      await startSshd(node).catch(() => undefined);
    }
  });

  it('hm-rollup: samples 26 h old are rolled into 5-minute averages and maxima, and their raw rows dropped', async () => {
    // 15 minutes of samples every 10 s, 26 h ago, on a 5-minute boundary: cpu = minute number.
    const start = (Math.floor((Date.now() - 26 * 3_600_000) / 300_000) - 1) * 300_000;
    const db = new Database(join(e.gw.dataDir, 'oms.db'));
    try {
      db.pragma('busy_timeout = 5000');
      const ins = db.prepare('INSERT INTO health_samples (node, time, reachable, load, cpu, memory, disk, net_rx, net_tx) VALUES (?, ?, 1, 0.5, ?, 40, 30, 100, 200)');
      db.transaction(() => {
        for (let i = 0; i < 90; i++) ins.run(node.name, start + i * 10_000, Math.floor(i / 6));
      })();
      const from = start / 1000;
      const got = await until('5-minute points from the injected samples', async () => {
        const h = await history('cpu', from, from + 900, 300);
        return h.points.length === 3 && h;
      });
      expect(got.points).to.deep.equal([
        { time: from, value: 2, max: 4 },
        { time: from + 300, value: 7, max: 9 },
        { time: from + 600, value: 12, max: 14 },
      ]);
      // Raw rows past 24 h are gone; the 5-minute rollups stay.
      expect(db.prepare('SELECT count(*) FROM health_samples WHERE node = ? AND time < ?').pluck().get(node.name, start + 900_000)).to.equal(0);
      expect(db.prepare('SELECT count(*) FROM health_rollups WHERE node = ? AND time >= ? AND time < ?').pluck().get(node.name, start, start + 900_000)).to.equal(3);
      // At a 1 s step the same old range answers from the rollups: one point per 5 minutes.
      expect((await history('cpu', from, from + 900, 1)).points.map((p: any) => p.time)).to.deep.equal([from, from + 300, from + 600]);
    } finally {
      db.close();
    }
  });
});
