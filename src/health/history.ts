/**
 * The health history: a ring per node in SQLite (migration 0008). Raw samples as the monitor
 * takes them, kept `rawMs`; 5-minute rollups (averages, and maxima where a peak matters), kept
 * `rollupMs`. housekeep() (the gateway's housekeeping sweep) rolls finished buckets up and then
 * prunes, so a raw row is always rolled up before it can be dropped; a sample that arrives late
 * (or is written by hand) for a bucket already rolled up makes that bucket be rolled again.
 *
 * Queries answer at any step, from the finest resolution still kept for each point: raw samples
 * for points inside the raw retention, rollups before it.
 */
import type { Db } from '../db/database.ts';
import { HEALTH_METRICS, type HealthMetric, type HealthSample } from './sample.ts';

export const ROLLUP_MS = 300_000;

export interface Retention {
  /** How long raw samples are kept, ms. */
  readonly rawMs: number;
  /** How long 5-minute rollups are kept, ms. */
  readonly rollupMs: number;
}

export interface HistoryPoint {
  /** Start of the point's step, unix ms. */
  readonly time: number;
  /** Average over the step. */
  readonly value: number;
  /** Largest sample (or 5-minute maximum) in the step. */
  readonly max: number;
}

export interface HistoryQuery {
  readonly node: string;
  readonly metric: HealthMetric;
  readonly from: number;
  readonly to: number;
  readonly step: number;
}

/** Rollup columns holding a maximum; the others (disk, reachable) answer max of their averages. */
const MAX_COLUMN: Readonly<Partial<Record<HealthMetric, string>>> = {
  load: 'load_max',
  cpu: 'cpu_max',
  memory: 'memory_max',
  net_rx: 'net_rx_max',
  net_tx: 'net_tx_max',
};

// Column names below come from HEALTH_METRICS only, never from a caller.
const ROLLUP_SQL = `
  INSERT OR REPLACE INTO health_rollups
    (node, time, samples, up, reachable, load, load_max, cpu, cpu_max, memory, memory_max, disk, net_rx, net_rx_max, net_tx, net_tx_max)
  SELECT s.node, d.b, count(*), sum(s.reachable), avg(s.reachable),
         avg(s.load), max(s.load), avg(s.cpu), max(s.cpu), avg(s.memory), max(s.memory), avg(s.disk),
         avg(s.net_rx), max(s.net_rx), avg(s.net_tx), max(s.net_tx)
  FROM (SELECT DISTINCT node, (time / ${ROLLUP_MS}) * ${ROLLUP_MS} AS b FROM health_samples WHERE rolled = 0 AND time < @boundary) d
  JOIN health_samples s ON s.node = d.node AND s.time >= d.b AND s.time < d.b + ${ROLLUP_MS}
  GROUP BY s.node, d.b`;

export class HealthHistory {
  readonly #insert;
  readonly #rollup;
  readonly #markRolled;
  readonly #pruneRaw;
  readonly #pruneRollups;
  readonly #forget: ReturnType<Db['prepare']>[];
  readonly #queries = new Map<string, ReturnType<Db['prepare']>>();

  constructor(
    private readonly db: Db,
    readonly retention: Retention,
    private readonly clock: () => number = Date.now,
  ) {
    this.#insert = db.prepare(
      `INSERT OR REPLACE INTO health_samples (node, time, reachable, load, cpu, memory, disk, net_rx, net_tx, rolled)
       VALUES (@node, @time, @reachable, @load, @cpu, @memory, @disk, @net_rx, @net_tx, 0)`,
    );
    this.#rollup = db.prepare(ROLLUP_SQL);
    this.#markRolled = db.prepare('UPDATE health_samples SET rolled = 1 WHERE rolled = 0 AND time < @boundary');
    this.#pruneRaw = db.prepare('DELETE FROM health_samples WHERE time < ?');
    this.#pruneRollups = db.prepare('DELETE FROM health_rollups WHERE time < ?');
    this.#forget = [db.prepare('DELETE FROM health_samples WHERE node = ?'), db.prepare('DELETE FROM health_rollups WHERE node = ?')];
  }

  /** Writes a batch of samples in one transaction (the monitor's tick). */
  append(samples: readonly HealthSample[]): void {
    if (samples.length === 0) return;
    const row = (s: HealthSample) => ({
      node: s.node,
      time: Math.round(s.time),
      reachable: s.reachable ? 1 : 0,
      load: s.load ?? null,
      cpu: s.cpu ?? null,
      memory: s.memory ?? null,
      disk: s.disk ?? null,
      net_rx: s.net_rx ?? null,
      net_tx: s.net_tx ?? null,
    });
    this.db.transaction(() => {
      for (const s of samples) this.#insert.run(row(s));
    })();
  }

  /**
   * Rolls up every finished 5-minute bucket that has rows not rolled up yet, then drops raw rows
   * past rawMs and rollups past rollupMs. Work is proportional to the rows since the last sweep.
   */
  housekeep(): { rolled: number; prunedRaw: number; prunedRollups: number } {
    const now = this.clock();
    const boundary = Math.floor(now / ROLLUP_MS) * ROLLUP_MS;
    return this.db.transaction(() => {
      const rolled = this.#rollup.run({ boundary }).changes;
      this.#markRolled.run({ boundary });
      const prunedRaw = this.#pruneRaw.run(Math.round(now - this.retention.rawMs)).changes;
      const prunedRollups = this.#pruneRollups.run(Math.round(now - this.retention.rollupMs)).changes;
      return { rolled, prunedRaw, prunedRollups };
    })();
  }

  /** Drops a node's history (the node was removed). */
  forget(node: string): void {
    this.db.transaction(() => {
      for (const s of this.#forget) s.run(node);
    })();
  }

  /** Drops the history of every node not in `keep` (at start: nodes removed while the gateway was down). */
  forgetAllBut(keep: readonly string[]): void {
    const list = JSON.stringify(keep);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM health_samples WHERE node NOT IN (SELECT value FROM json_each(?))').run(list);
      this.db.prepare('DELETE FROM health_rollups WHERE node NOT IN (SELECT value FROM json_each(?))').run(list);
    })();
  }

  /**
   * Points from `from` (inclusive) to `to` (exclusive) every `step` ms, each the average (and
   * maximum) of what is kept inside it; steps with no data are left out. A step starting inside
   * the raw retention is answered from raw samples, an older one from the 5-minute rollups.
   */
  query(q: HistoryQuery): HistoryPoint[] {
    if (!(HEALTH_METRICS as readonly string[]).includes(q.metric)) throw new Error(`unknown metric ${q.metric}`);
    const horizon = this.clock() - this.retention.rawMs;
    // The first step start at or after the raw horizon: steps from there on are raw.
    const seam = q.from + Math.ceil(Math.max(0, horizon - q.from) / q.step) * q.step;
    const params = { node: q.node, from: q.from, step: q.step };
    const older = seam > q.from ? this.#statement('rollups', q.metric).all({ ...params, lo: q.from, hi: Math.min(q.to, seam) }) : [];
    const recent = q.to > seam ? this.#statement('raw', q.metric).all({ ...params, lo: seam, hi: q.to }) : [];
    return ([...older, ...recent] as { k: number; v: number; m: number }[]).map((r) => ({ time: q.from + r.k * q.step, value: round(r.v), max: round(r.m) }));
  }

  #statement(kind: 'raw' | 'rollups', metric: HealthMetric): ReturnType<Db['prepare']> {
    const key = `${kind}:${metric}`;
    let s = this.#queries.get(key);
    if (!s) {
      const k = 'CAST((time - @from) / @step AS INTEGER)';
      if (kind === 'raw') {
        s = this.db.prepare(
          `SELECT ${k} AS k, avg(${metric}) AS v, max(${metric}) AS m FROM health_samples
           WHERE node = @node AND time >= @lo AND time < @hi AND ${metric} IS NOT NULL GROUP BY k ORDER BY k`,
        );
      } else {
        // Weighted by the samples behind each rollup: `samples` for reachable, `up` for the rest.
        const w = metric === 'reachable' ? 'samples' : 'up';
        const max = MAX_COLUMN[metric] ?? metric;
        s = this.db.prepare(
          `SELECT ${k} AS k, sum(${metric} * ${w}) / sum(${w}) AS v, max(${max}) AS m FROM health_rollups
           WHERE node = @node AND time >= @lo AND time < @hi AND ${metric} IS NOT NULL AND ${w} > 0 GROUP BY k ORDER BY k`,
        );
      }
      this.#queries.set(key, s);
    }
    return s;
  }
}

const round = (n: number): number => Math.round(n * 1000) / 1000;
