/**
 * The OMS `cache_timeout` cache: a result younger than cache_timeout seconds for the same
 * (user, service, method, params) is served again with type `tmp_cache`. Keyed per user, so one
 * user's permissions never leak another's results. A mutating call on a node drops what was
 * cached about that node.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db/database.ts';

export class ResultCache {
  /** Entries older than this are removed by sweep(); cache_timeout cannot exceed it usefully. */
  static readonly maxAgeMs = 24 * 3600 * 1000;

  // Prepared once per database: a cache hit must not compile SQL.
  private readonly q;

  constructor(db: Db) {
    this.q = {
      get: db.prepare<[string], { result: string; created_at: number }>('SELECT result, created_at FROM rpc_cache WHERE key = ?'),
      put: db.prepare<[string, string | null, string, number]>('INSERT OR REPLACE INTO rpc_cache (key, node, result, created_at) VALUES (?, ?, ?, ?)'),
      dropNode: db.prepare<[string]>('DELETE FROM rpc_cache WHERE node = ?'),
      sweep: db.prepare<[number]>('DELETE FROM rpc_cache WHERE created_at < ?'),
    };
  }

  static key(userId: number, service: string, method: string, params: unknown): string {
    return createHash('sha256').update(JSON.stringify([userId, service, method, params])).digest('hex');
  }

  get(key: string, maxAgeSeconds: number): { hit: true; value: unknown } | { hit: false } {
    const row = this.q.get.get(key);
    if (!row || Date.now() - row.created_at > maxAgeSeconds * 1000) return { hit: false };
    return { hit: true, value: JSON.parse(row.result) };
  }

  put(key: string, node: string | undefined, value: unknown): void {
    const text = JSON.stringify(value);
    // Results that cannot be represented in JSON (undefined) are not worth caching.
    if (text === undefined) return;
    this.q.put.run(key, node ?? null, text, Date.now());
  }

  invalidateNode(node: string): void {
    this.q.dropNode.run(node);
  }

  sweep(): number {
    return this.q.sweep.run(Date.now() - ResultCache.maxAgeMs).changes;
  }
}
