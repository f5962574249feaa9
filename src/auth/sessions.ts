/**
 * Sessions: created by authenticate, ended by deauthenticate, idle expiry (last_seen) and absolute
 * expiry (created_at). Only digests of session ids are stored.
 */
import type { Db } from '../db/database.ts';
import { nowSeconds } from '../db/database.ts';
import { oms } from '../rpc/errors.ts';
import { digest, newSessionId } from './tokens.ts';

export interface SessionLimits {
  idleSeconds: number;
  maxSeconds: number;
}

export interface Principal {
  userId: number;
  userName: string;
  /** Digest of the session id or token that authenticated the call (for tunnels bound to it). */
  sessionKey: string;
  via: 'session' | 'token';
}

export class Sessions {
  constructor(
    private readonly db: Db,
    private readonly limits: SessionLimits,
    /** Told the digest of every session that ends, so what hangs off it (consoles, sockets) closes. */
    private readonly onEnded: (key: string) => void = () => {},
  ) {}

  create(userId: number, remote: string | undefined): string {
    const id = newSessionId();
    const now = nowSeconds();
    this.db.prepare('INSERT INTO sessions (id_hash, user_id, created_at, last_seen, remote) VALUES (?, ?, ?, ?, ?)').run(digest(id), userId, now, now, remote ?? null);
    return id;
  }

  /** Validates and touches a session id or API token; throws AuthError without saying which part failed. */
  resolve(secret: unknown): Principal {
    if (typeof secret !== 'string' || secret.length === 0 || secret.length > 200) throw oms('AuthError', { reason: 'Invalid or expired session' });
    const key = digest(secret);
    const now = nowSeconds();
    const row = this.db
      .prepare('SELECT s.user_id, s.created_at, s.last_seen, u.name, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?')
      .get(key) as { user_id: number; created_at: number; last_seen: number; name: string; disabled: number } | undefined;
    if (row) {
      if (row.disabled || now - row.last_seen > this.limits.idleSeconds || now - row.created_at > this.limits.maxSeconds) {
        this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(key);
        this.onEnded(key);
        throw oms('AuthError', { reason: 'Invalid or expired session' });
      }
      // Touching on every call would make each read a write; once a few seconds is precise enough for idle expiry.
      if (now - row.last_seen >= 5) this.db.prepare('UPDATE sessions SET last_seen = ? WHERE id_hash = ?').run(now, key);
      return { userId: row.user_id, userName: row.name, sessionKey: key, via: 'session' };
    }
    const tok = this.db
      .prepare('SELECT t.user_id, u.name, u.disabled FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?')
      .get(key) as { user_id: number; name: string; disabled: number } | undefined;
    if (tok && !tok.disabled) {
      this.db.prepare('UPDATE api_tokens SET last_used = ? WHERE token_hash = ?').run(now, key);
      return { userId: tok.user_id, userName: tok.name, sessionKey: key, via: 'token' };
    }
    throw oms('AuthError', { reason: 'Invalid or expired session' });
  }

  /** Returns false when there was no such session (DeathError for the caller). */
  destroy(secret: string): boolean {
    const key = digest(secret);
    const gone = this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(key).changes > 0;
    if (gone) this.onEnded(key);
    return gone;
  }

  /** Ends a user's sessions, all or all but one (the caller's own, after a password change). */
  destroyForUser(userId: number, exceptKey?: string): number {
    const rows = this.db.prepare('DELETE FROM sessions WHERE user_id = ? AND id_hash != ? RETURNING id_hash').all(userId, exceptKey ?? '') as { id_hash: string }[];
    for (const r of rows) this.onEnded(r.id_hash);
    return rows.length;
  }

  /** Sessions still within their idle and absolute limits (rows past them wait for sweep()); API tokens are not sessions. */
  countActive(): number {
    const now = nowSeconds();
    return (this.db.prepare('SELECT count(*) AS n FROM sessions WHERE last_seen >= ? AND created_at >= ?').get(now - this.limits.idleSeconds, now - this.limits.maxSeconds) as { n: number }).n;
  }

  keysOf(userId: number): string[] {
    return (this.db.prepare('SELECT id_hash FROM sessions WHERE user_id = ?').all(userId) as { id_hash: string }[]).map((r) => r.id_hash);
  }

  /** For sessions removed by a cascade (user deleted): tell dependants they are gone. */
  announceEnded(keys: string[]): void {
    for (const k of keys) this.onEnded(k);
  }

  /** Removes expired rows; returns the digests removed so dependants (console tunnels) can close. */
  sweep(): string[] {
    const now = nowSeconds();
    const rows = this.db
      .prepare('DELETE FROM sessions WHERE last_seen < ? OR created_at < ? RETURNING id_hash')
      .all(now - this.limits.idleSeconds, now - this.limits.maxSeconds) as { id_hash: string }[];
    for (const r of rows) this.onEnded(r.id_hash);
    return rows.map((r) => r.id_hash);
  }
}
