/**
 * The OMS `cache_timeout` cache: a result younger than cache_timeout seconds for the same
 * (user, service, method, params) is served again with type `tmp_cache`. Keyed per user, so one
 * user's permissions never leak another's results. A mutating call on a node drops what was
 * cached about that node.
 *
 * The database holds every result (rpc_cache, so it outlives a restart and other gateways on the
 * same database see it). Each ResultCache also holds what it wrote or read in memory, so a hit
 * reads no row: reading and parsing the row was the largest cost of a cached call. As with
 * sessions (src/auth/sessions.ts), the database stays the truth: what this object drops itself
 * (invalidateNode, sweep, clear) goes from memory at once; a row changed or dropped elsewhere (another
 * gateway, a hand edit) is noticed within `recheckMs`, when a held entry is checked against its
 * row's timestamp again. `recheckMs` 0: every hit checks its row.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db/database.ts';

export interface ResultCacheOptions {
  /** How long a held result is served without checking its row is still there (default 1000 ms; 0: every time). */
  recheckMs?: number;
  /** Bound on results held in memory (default 10000); the oldest are dropped first. */
  maxHeld?: number;
  /** Bound on their size as JSON text (default 64 MiB): results may be large (a fleet's guests). */
  maxHeldBytes?: number;
}

interface Held {
  /** Frozen: every hit hands out this same object. */
  value: unknown;
  node: string | null;
  /** The row's created_at (ms): the age every caller's cache_timeout is compared with. */
  createdAt: number;
  /** When the row was last seen to be this entry (ms). */
  checkedAt: number;
  rowKey: string;
  /** Length of the result's JSON text, counted against maxHeldBytes. */
  size: number;
}

/** Results are plain JSON (parsed from text), so freezing them is a walk over arrays and objects. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class ResultCache {
  /** Entries older than this are removed by sweep(); cache_timeout cannot exceed it usefully. */
  static readonly maxAgeMs = 24 * 3600 * 1000;

  // Prepared once per database: a cache hit must not compile SQL.
  private readonly q;
  /** Key -> result; insertion order is age order, so the first is the oldest. */
  private readonly held = new Map<string, Held>();
  private readonly recheckMs: number;
  private readonly maxHeld: number;
  private readonly maxHeldBytes: number;
  private heldBytes = 0;

  constructor(db: Db, opts: ResultCacheOptions = {}) {
    this.recheckMs = opts.recheckMs ?? 1000;
    this.maxHeld = opts.maxHeld ?? 10_000;
    this.maxHeldBytes = opts.maxHeldBytes ?? 64 * 1024 * 1024;
    this.q = {
      get: db.prepare<[string], { result: string; node: string | null; created_at: number }>('SELECT result, node, created_at FROM rpc_cache WHERE key = ?'),
      stamp: db.prepare<[string], { created_at: number }>('SELECT created_at FROM rpc_cache WHERE key = ?'),
      put: db.prepare<[string, string | null, string, number]>('INSERT OR REPLACE INTO rpc_cache (key, node, result, created_at) VALUES (?, ?, ?, ?)'),
      dropNode: db.prepare<[string]>('DELETE FROM rpc_cache WHERE node = ?'),
      sweep: db.prepare<[number]>('DELETE FROM rpc_cache WHERE created_at < ?'),
      clear: db.prepare('DELETE FROM rpc_cache'),
    };
  }

  /**
   * The key of a call: its user, service, method and (redacted) params as JSON. No hash here: a
   * hit only looks it up in memory; the row's key is its SHA-256 (rowKey), computed when the row is
   * read or written.
   */
  static key(userId: number, service: string, method: string, params: unknown): string {
    return JSON.stringify([userId, service, method, params]);
  }

  /** The rpc_cache key of a call key (the same SHA-256 of the same JSON as before memory held results). */
  static rowKey(key: string): string {
    return createHash('sha256').update(key).digest('hex');
  }

  get(key: string, maxAgeSeconds: number): { hit: true; value: unknown } | { hit: false } {
    const now = Date.now();
    const h = this.held.get(key);
    if (h) {
      // The row is exactly as old as what is held: too old for this caller is a miss either way.
      if (now - h.createdAt > maxAgeSeconds * 1000) return { hit: false };
      if (now - h.checkedAt < this.recheckMs) return { hit: true, value: h.value };
      // Past the recheck time, the row decides: another gateway or a hand edit may have dropped or replaced it.
      if (this.q.stamp.get(h.rowKey)?.created_at === h.createdAt) {
        h.checkedAt = now;
        return { hit: true, value: h.value };
      }
      this.drop(key);
    }
    const rowKey = ResultCache.rowKey(key);
    const row = this.q.get.get(rowKey);
    if (!row || now - row.created_at > maxAgeSeconds * 1000) return { hit: false };
    const value = deepFreeze(JSON.parse(row.result));
    this.hold(key, { value, node: row.node, createdAt: row.created_at, checkedAt: now, rowKey, size: row.result.length });
    return { hit: true, value };
  }

  put(key: string, node: string | undefined, value: unknown): void {
    const text = JSON.stringify(value);
    // Results that cannot be represented in JSON (undefined) are not worth caching.
    if (text === undefined) return;
    const now = Date.now();
    const rowKey = ResultCache.rowKey(key);
    this.q.put.run(rowKey, node ?? null, text, now);
    // Held as a hit would read it back (a copy in plain JSON), never the handler's own object.
    this.hold(key, { value: deepFreeze(JSON.parse(text)), node: node ?? null, createdAt: now, checkedAt: now, rowKey, size: text.length });
  }

  private hold(key: string, entry: Held): void {
    this.drop(key);
    // Too large to hold at all: served from its row instead.
    if (this.maxHeld <= 0 || entry.size > this.maxHeldBytes) return;
    while (this.held.size >= this.maxHeld || this.heldBytes + entry.size > this.maxHeldBytes) this.drop(this.held.keys().next().value!);
    this.held.set(key, entry);
    this.heldBytes += entry.size;
  }

  private drop(key: string): void {
    const h = this.held.get(key);
    if (!h) return;
    this.held.delete(key);
    this.heldBytes -= h.size;
  }

  invalidateNode(node: string): void {
    this.q.dropNode.run(node);
    for (const [key, h] of this.held) if (h.node === node) this.drop(key);
  }

  sweep(): number {
    const cutoff = Date.now() - ResultCache.maxAgeMs;
    for (const [key, h] of this.held) if (h.createdAt < cutoff) this.drop(key);
    return this.q.sweep.run(cutoff).changes;
  }

  /** Drops every cached result, held and stored. */
  clear(): void {
    this.held.clear();
    this.heldBytes = 0;
    this.q.clear.run();
  }

  /** What is held in memory: results and their size as JSON text. */
  heldStats(): { results: number; bytes: number } {
    return { results: this.held.size, bytes: this.heldBytes };
  }
}
