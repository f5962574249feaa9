/**
 * The history ring on a real (in-memory, migrated) database with an injected clock: raw rows,
 * 5-minute rollups in the housekeeping step, pruning by age, and queries answered from the right
 * resolution.
 */
import { expect } from 'chai';
import { openDatabase, type Db } from '../db/database.ts';
import { HealthHistory, ROLLUP_MS } from './history.ts';
import type { HealthSample } from './sample.ts';

const H = 3_600_000;
const DAY = 24 * H;
// A round time, so bucket arithmetic in the tests reads plainly.
const T0 = 1_800_000_000_000;

describe('health history ring', () => {
  let db: Db;
  let now: number;
  let h: HealthHistory;
  beforeEach(() => {
    db = openDatabase(':memory:');
    now = T0;
    h = new HealthHistory(db, { rawMs: DAY, rollupMs: 30 * DAY }, () => now);
  });
  afterEach(() => db.close());

  const sample = (time: number, cpu: number, o: Partial<HealthSample> = {}): HealthSample => ({ node: 'n1', time, reachable: true, cpu, load: cpu / 10, memory: 50, disk: 40, net_rx: cpu * 100, net_tx: 1, ...o });
  const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

  it('answers raw samples at the requested step: averages and maxima per step, empty steps left out', () => {
    // Every 10 s for 2 minutes: cpu 0, 10, 20 ... 110.
    h.append(Array.from({ length: 12 }, (_, i) => sample(T0 + i * 10_000, i * 10)));
    now = T0 + 5 * 60_000;
    const pts = h.query({ node: 'n1', metric: 'cpu', from: T0, to: T0 + 180_000, step: 60_000 });
    expect(pts).to.deep.equal([
      { time: T0, value: 25, max: 50 },
      { time: T0 + 60_000, value: 85, max: 110 },
    ]);
    expect(h.query({ node: 'n2', metric: 'cpu', from: T0, to: T0 + 180_000, step: 60_000 })).to.deep.equal([]);
  });

  it('housekeeping rolls finished 5-minute buckets into averages and maxima, not the bucket still filling', () => {
    // 7 minutes of samples every 10 s: bucket [T0, T0+5m) is finished at T0+7m, the next is not.
    const rows = Array.from({ length: 42 }, (_, i) => sample(T0 + i * 10_000, i % 2 ? 80 : 20, i === 7 ? { reachable: false, cpu: undefined, load: undefined, memory: undefined, disk: undefined, net_rx: undefined, net_tx: undefined } : {}));
    h.append(rows);
    now = T0 + 7 * 60_000;
    h.housekeep();
    const r = db.prepare('SELECT * FROM health_rollups').all() as Record<string, number>[];
    expect(r).to.have.length(1);
    expect(r[0]).to.include({ node: 'n1', time: T0, samples: 30, up: 29 });
    expect(r[0].reachable).to.be.closeTo(29 / 30, 1e-9);
    expect(r[0].cpu_max).to.equal(80);
    // 15 samples at 20, 14 at 80 (the one at i=7, an 80, was unreachable).
    expect(r[0].cpu).to.be.closeTo((15 * 20 + 14 * 80) / 29, 1e-9);
    expect(r[0].disk).to.equal(40);
    expect(count('health_samples')).to.equal(42); // raw kept for its 24 h
  });

  it('a late sample for a bucket already rolled up rolls it again', () => {
    h.append([sample(T0, 10), sample(T0 + 10_000, 30)]);
    now = T0 + 6 * 60_000;
    h.housekeep();
    h.append([sample(T0 + 20_000, 110)]);
    h.housekeep();
    const r = db.prepare('SELECT samples, cpu, cpu_max FROM health_rollups').all();
    expect(r).to.deep.equal([{ samples: 3, cpu: 50, cpu_max: 110 }]);
  });

  it('drops raw rows past 24 h (after rolling them up) and rollups past 30 days: a bounded ring', () => {
    h.append(Array.from({ length: 30 }, (_, i) => sample(T0 + i * 10_000, 40)));
    now = T0 + DAY + 10 * 60_000;
    const swept = h.housekeep();
    expect(swept.prunedRaw).to.equal(30);
    expect(count('health_samples')).to.equal(0);
    expect(count('health_rollups')).to.equal(1);
    now = T0 + 31 * DAY;
    h.housekeep();
    expect(count('health_rollups')).to.equal(0);
  });

  it('points older than the raw retention come from the 5-minute rollups, newer ones from raw samples', () => {
    // An hour of samples 26 h before "now": cpu = minute of the hour, so each 5-min bucket averages its middle.
    const start = T0;
    h.append(Array.from({ length: 360 }, (_, i) => sample(start + i * 10_000, Math.floor(i / 6))));
    now = start + 26 * H;
    h.housekeep(); // rolls up, then drops the raw rows: only rollups answer now
    expect(count('health_samples')).to.equal(0);
    const pts = h.query({ node: 'n1', metric: 'cpu', from: start, to: start + H, step: 15 * 60_000 });
    // Minutes 0-14 average 7, max 14; 15-29 average 22, max 29; ...
    expect(pts).to.deep.equal([
      { time: start, value: 7, max: 14 },
      { time: start + 15 * 60_000, value: 22, max: 29 },
      { time: start + 30 * 60_000, value: 37, max: 44 },
      { time: start + 45 * 60_000, value: 52, max: 59 },
    ]);
    // A recent sample within the same query range is read raw.
    h.append([sample(now - 60_000, 99)]);
    const mixed = h.query({ node: 'n1', metric: 'cpu', from: start, to: now, step: 2 * H });
    expect(mixed[0]).to.deep.include({ time: start, max: 59 });
    expect(mixed[mixed.length - 1]).to.deep.include({ value: 99, max: 99 });
  });

  it('reachable is averaged over all samples (the share answered); a step with only failures reads 0', () => {
    h.append([sample(T0, 1), sample(T0 + 10_000, 1, { reachable: false }), sample(T0 + 70_000, 1, { reachable: false })]);
    now = T0 + H;
    const pts = h.query({ node: 'n1', metric: 'reachable', from: T0, to: T0 + 120_000, step: 60_000 });
    expect(pts).to.deep.equal([
      { time: T0, value: 0.5, max: 1 },
      { time: T0 + 60_000, value: 0, max: 0 },
    ]);
  });

  it('forgets a removed node, and at start every node not signed', () => {
    h.append([sample(T0, 1), sample(T0, 1, { node: 'n2' }), sample(T0, 1, { node: 'n3' })]);
    h.forget('n1');
    expect(db.prepare('SELECT DISTINCT node FROM health_samples ORDER BY node').pluck().all()).to.deep.equal(['n2', 'n3']);
    h.forgetAllBut(['n3']);
    expect(db.prepare('SELECT DISTINCT node FROM health_samples').pluck().all()).to.deep.equal(['n3']);
  });

  it('rollup buckets are aligned to 5 minutes of the epoch', () => {
    h.append([sample(T0 + 299_999, 1), sample(T0 + 300_000, 2)]);
    now = T0 + 20 * 60_000;
    h.housekeep();
    expect(db.prepare('SELECT time FROM health_rollups ORDER BY time').pluck().all()).to.deep.equal([T0, T0 + ROLLUP_MS]);
  });
});
