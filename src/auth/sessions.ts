/**
 * Sessions: created by authenticate, ended by deauthenticate, idle expiry (last_seen) and absolute
 * expiry (created_at). Only digests of session ids are stored.
 *
 * The database is the truth. Each Sessions object also remembers, for at most `recheckMs`, the
 * sessions and tokens it found valid, so a burst of calls does not read the same row every time.
 * What this object itself ends or changes (deauthenticate, password change, user deletion, token
 * revocation, sweep) is forgotten at once; idle and absolute expiry are checked on every call
 * against the remembered times. Changes made elsewhere (the `oms` CLI, another gateway on the same
 * database, a hand edit) are seen within `recheckMs`. A remembered entry only ever says "still
 * valid"; anything doubtful is read from the database again.
 */
import type { Db } from '../db/database.ts';
import { nowSeconds } from '../db/database.ts';
import { oms } from '../rpc/errors.ts';
import { digest, newSessionId } from './tokens.ts';

export interface SessionLimits {
  idleSeconds: number;
  maxSeconds: number;
  /** How long a session found valid is trusted without reading it again (default 1000 ms; 0: never). */
  recheckMs?: number;
  /** Bound on remembered sessions and tokens (default 10000); the oldest are dropped first. */
  maxRemembered?: number;
}

export interface Principal {
  userId: number;
  userName: string;
  /** Digest of the session id or token that authenticated the call (for tunnels bound to it). */
  sessionKey: string;
  via: 'session' | 'token';
}

type SessionRow = { user_id: number; created_at: number; last_seen: number; name: string; disabled: number };
type TokenRow = { user_id: number; name: string; disabled: number; last_used: number | null };

/**
 * last_seen / last_used are written at most once per this many seconds per session or token:
 * touching on every call would make each read a write; this is precise enough for idle expiry.
 */
const TOUCH_SECONDS = 5;

interface Remembered {
  principal: Principal;
  /** Session times (seconds) for the expiry checks; tokens do not expire. */
  createdAt: number;
  lastSeen: number;
  /** When the row was last read (ms). */
  readAt: number;
}

export class Sessions {
  // Prepared once: compiling the SQL again on every call was the biggest cost of a cached call.
  private readonly q;
  /** Digest -> what was found valid; insertion order is read order, so the first is the oldest. */
  private readonly remembered = new Map<string, Remembered>();
  private readonly recheckMs: number;
  private readonly maxRemembered: number;

  constructor(
    private readonly db: Db,
    private readonly limits: SessionLimits,
    /** Told the digest of every session that ends, so what hangs off it (consoles, sockets) closes. */
    private readonly onEnded: (key: string) => void = () => {},
  ) {
    this.recheckMs = limits.recheckMs ?? 1000;
    this.maxRemembered = limits.maxRemembered ?? 10_000;
    this.q = {
      session: db.prepare<[string], SessionRow>('SELECT s.user_id, s.created_at, s.last_seen, u.name, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?'),
      token: db.prepare<[string], TokenRow>('SELECT t.user_id, u.name, u.disabled, t.last_used FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?'),
      touchSession: db.prepare<[number, string]>('UPDATE sessions SET last_seen = ? WHERE id_hash = ?'),
      touchToken: db.prepare<[number, string]>('UPDATE api_tokens SET last_used = ? WHERE token_hash = ?'),
      deleteSession: db.prepare<[string]>('DELETE FROM sessions WHERE id_hash = ?'),
    };
  }

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
    const known = this.remembered.get(key);
    if (known && Date.now() - known.readAt < this.recheckMs) {
      const p = known.principal;
      if (p.via === 'token') return p;
      if (now - known.lastSeen <= this.limits.idleSeconds && now - known.createdAt <= this.limits.maxSeconds) {
        if (now - known.lastSeen >= TOUCH_SECONDS) {
          this.q.touchSession.run(now, key);
          known.lastSeen = now;
        }
        return p;
      }
      // Looks expired by the remembered times: the database decides (and ends it if so).
    }
    this.remembered.delete(key);
    const row = this.q.session.get(key);
    if (row) {
      if (row.disabled || now - row.last_seen > this.limits.idleSeconds || now - row.created_at > this.limits.maxSeconds) {
        this.q.deleteSession.run(key);
        this.ended(key);
        throw oms('AuthError', { reason: 'Invalid or expired session' });
      }
      let lastSeen = row.last_seen;
      if (now - lastSeen >= TOUCH_SECONDS) {
        this.q.touchSession.run(now, key);
        lastSeen = now;
      }
      return this.remember(key, { userId: row.user_id, userName: row.name, sessionKey: key, via: 'session' }, row.created_at, lastSeen);
    }
    const tok = this.q.token.get(key);
    if (tok && !tok.disabled) {
      if (tok.last_used === null || now - tok.last_used >= TOUCH_SECONDS) this.q.touchToken.run(now, key);
      return this.remember(key, { userId: tok.user_id, userName: tok.name, sessionKey: key, via: 'token' }, 0, 0);
    }
    throw oms('AuthError', { reason: 'Invalid or expired session' });
  }

  private remember(key: string, principal: Principal, createdAt: number, lastSeen: number): Principal {
    if (this.recheckMs <= 0) return principal;
    if (this.remembered.size >= this.maxRemembered) this.remembered.delete(this.remembered.keys().next().value!);
    // Shared by the calls that follow, so nobody may change it.
    this.remembered.set(key, { principal: Object.freeze(principal), createdAt, lastSeen, readAt: Date.now() });
    return principal;
  }

  /**
   * Forgets what was remembered about a user's sessions and tokens, so the next call reads the
   * database. Whatever changes a user's standing (deletion, token revocation) calls it.
   */
  forgetUser(userId: number): void {
    for (const [key, r] of this.remembered) if (r.principal.userId === userId) this.remembered.delete(key);
  }

  /** Every session end passes here: forgotten at once, then announced to dependants. */
  private ended(key: string): void {
    this.remembered.delete(key);
    this.onEnded(key);
  }

  /** Returns false when there was no such session (DeathError for the caller). */
  destroy(secret: string): boolean {
    const key = digest(secret);
    this.remembered.delete(key);
    const gone = this.q.deleteSession.run(key).changes > 0;
    if (gone) this.ended(key);
    return gone;
  }

  /** Ends a user's sessions, all or all but one (the caller's own, after a password change). */
  destroyForUser(userId: number, exceptKey?: string): number {
    const rows = this.db.prepare('DELETE FROM sessions WHERE user_id = ? AND id_hash != ? RETURNING id_hash').all(userId, exceptKey ?? '') as { id_hash: string }[];
    for (const r of rows) this.ended(r.id_hash);
    return rows.length;
  }

  /** Sessions still within their idle and absolute limits (rows past them wait for sweep()); API tokens are not sessions. */
  countActive(): number {
    const now = nowSeconds();
    return (this.db.prepare('SELECT count(*) AS n FROM sessions WHERE last_seen >= ? AND created_at >= ?').get(now - this.limits.idleSeconds, now - this.limits.maxSeconds) as { n: number }).n;
  }

  /** The digests of a user's sessions and API tokens: what a cascade (user deleted) takes with it. */
  keysOf(userId: number): string[] {
    return (this.db.prepare('SELECT id_hash AS k FROM sessions WHERE user_id = ? UNION ALL SELECT token_hash FROM api_tokens WHERE user_id = ?').all(userId, userId) as { k: string }[]).map((r) => r.k);
  }

  /**
   * Deletes one of a user's API tokens; false when there is none by that name. Like a session's
   * end, it is announced, so websockets, event streams and console tunnels opened with the token
   * close at once instead of living on with a credential that no longer exists.
   */
  revokeToken(userId: number, name: string): boolean {
    const row = this.db.prepare('DELETE FROM api_tokens WHERE user_id = ? AND name = ? RETURNING token_hash').get(userId, name) as { token_hash: string } | undefined;
    if (!row) return false;
    // The next call with the token must be refused, not answered from what was remembered.
    this.forgetUser(userId);
    this.ended(row.token_hash);
    return true;
  }

  /** For sessions removed by a cascade (user deleted): tell dependants they are gone. */
  announceEnded(keys: string[]): void {
    for (const k of keys) this.ended(k);
  }

  /** Removes expired rows; returns the digests removed so dependants (console tunnels) can close. */
  sweep(): string[] {
    const now = nowSeconds();
    const rows = this.db
      .prepare('DELETE FROM sessions WHERE last_seen < ? OR created_at < ? RETURNING id_hash')
      .all(now - this.limits.idleSeconds, now - this.limits.maxSeconds) as { id_hash: string }[];
    for (const r of rows) this.ended(r.id_hash);
    return rows.map((r) => r.id_hash);
  }
}
