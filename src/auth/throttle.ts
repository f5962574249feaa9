/**
 * Login throttling per user name and per remote address. After `maxFailures` failures inside the
 * window the key is locked; each further lockout doubles, capped at an hour, so a password
 * guesser slows to a crawl while a user who mistyped waits a few minutes at most.
 */
import type { Db } from '../db/database.ts';
import { nowSeconds } from '../db/database.ts';

export interface ThrottleLimits {
  maxFailures: number;
  windowSeconds: number;
}

interface Row {
  failures: number;
  window_start: number;
  locked_until: number;
}

export class LoginThrottle {
  constructor(private readonly db: Db, private readonly limits: ThrottleLimits) {}

  /** Seconds the caller must still wait, 0 when it may try. */
  waitFor(keys: string[]): number {
    const now = nowSeconds();
    let wait = 0;
    for (const key of keys) {
      const row = this.db.prepare('SELECT locked_until FROM auth_failures WHERE key = ?').get(key) as { locked_until: number } | undefined;
      if (row && row.locked_until > now) wait = Math.max(wait, row.locked_until - now);
    }
    return wait;
  }

  fail(keys: string[]): void {
    const now = nowSeconds();
    const get = this.db.prepare('SELECT failures, window_start, locked_until FROM auth_failures WHERE key = ?');
    const put = this.db.prepare('INSERT OR REPLACE INTO auth_failures (key, failures, window_start, locked_until) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const key of keys) {
        const row = get.get(key) as Row | undefined;
        const fresh = !row || now - row.window_start > this.limits.windowSeconds;
        const failures = fresh ? 1 : row.failures + 1;
        const start = fresh ? now : row.window_start;
        let locked = row?.locked_until ?? 0;
        if (failures >= this.limits.maxFailures) {
          const lockouts = failures - this.limits.maxFailures;
          locked = now + Math.min(3600, 60 * 2 ** Math.min(lockouts, 6));
        }
        put.run(key, failures, start, locked);
      }
    })();
  }

  succeed(keys: string[]): void {
    const del = this.db.prepare('DELETE FROM auth_failures WHERE key = ?');
    for (const key of keys) del.run(key);
  }
}
