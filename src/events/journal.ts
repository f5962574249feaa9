/**
 * The event journal: events numbered and kept in the database, so a client that reconnects asks
 * for everything after the last seq it saw. The database assigns seq (AUTOINCREMENT), so numbers
 * stay unique and increasing when several gateways share the database later, and are never
 * reused after the sweep empties the table. Bounded by count and age; what was trimmed is known
 * (oldest retained vs the last number handed out), so a too-old `since` is detected, never
 * answered with a silent gap.
 */
import type { Db } from '../db/database.ts';
import type { EventInput, OmsEvent } from './types.ts';

interface Row {
  seq: number;
  time: number;
  type: OmsEvent['type'];
  node: string | null;
  target: string | null;
  action: string;
  data: string;
}

export const toEvent = (r: Row): OmsEvent => ({
  seq: r.seq,
  time: r.time,
  type: r.type,
  ...(r.node !== null ? { node: r.node } : {}),
  ...(r.target !== null ? { target: r.target } : {}),
  action: r.action,
  data: JSON.parse(r.data) as Record<string, unknown>,
});

export interface JournalBounds {
  /** Oldest seq still retained; undefined when the journal is empty. */
  readonly oldest: number | undefined;
  /** Last seq ever handed out (0 before the first event). */
  readonly latest: number;
}

export interface RetainLimits {
  /** Events kept at most (the newest). */
  readonly count: number;
  /** Milliseconds an event is kept at most. */
  readonly ageMs: number;
}

export class EventJournal {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      insert: db.prepare<[number, string, string | null, string | null, string, string]>('INSERT INTO events (time, type, node, target, action, data) VALUES (?, ?, ?, ?, ?, ?)'),
      after: db.prepare<[number, number], Row>('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
      oldest: db.prepare<[], { seq: number | null }>('SELECT min(seq) AS seq FROM events'),
      // The AUTOINCREMENT counter: the last number handed out, also when the table is empty.
      latest: db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'events'"),
      trimCount: db.prepare<[number]>('DELETE FROM events WHERE seq <= ?'),
      trimAge: db.prepare<[number]>('DELETE FROM events WHERE time < ?'),
    };
  }

  append(e: EventInput, time = Date.now()): OmsEvent {
    const data = e.data ?? {};
    const text = JSON.stringify(data);
    const seq = Number(this.q.insert.run(time, e.type, e.node ?? null, e.target ?? null, e.action, text).lastInsertRowid);
    return { seq, time, type: e.type, ...(e.node !== undefined ? { node: e.node } : {}), ...(e.target !== undefined ? { target: e.target } : {}), action: e.action, data: JSON.parse(text) as Record<string, unknown> };
  }

  /** Events with seq > since, oldest first, at most `limit`. */
  after(since: number, limit: number): OmsEvent[] {
    return this.q.after.all(since, limit).map(toEvent);
  }

  bounds(): JournalBounds {
    const oldest = this.q.oldest.get()?.seq ?? undefined;
    return { oldest: oldest ?? undefined, latest: this.q.latest.get()?.seq ?? 0 };
  }

  /** Drops what is past the limits; returns how many rows went. */
  trim(limits: RetainLimits, now = Date.now()): number {
    const { latest } = this.bounds();
    let n = this.q.trimCount.run(latest - limits.count).changes;
    n += this.q.trimAge.run(now - limits.ageMs).changes;
    return n;
  }
}
