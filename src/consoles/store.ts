/**
 * Console tunnels and tickets in SQLite (migrations/0004-consoles.sql).
 *
 * A tunnel row reserves one spot of its kind's pool for one session and one target (a guest's VNC
 * or serial console, a node's shell). A ticket is a random secret, stored only as its digest,
 * bound to the tunnel, its session, node and guest; redeeming it deletes it (single use) and only
 * succeeds before it expires, while the tunnel still belongs to the ticket's session and that
 * session still exists.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { nowSeconds } from '../db/database.ts';
import type { ConsoleKind, ConsoleSettings } from './settings.ts';

export type { ConsoleKind };

export interface ConsoleRow {
  readonly kind: ConsoleKind;
  readonly handle: number;
  readonly sessionKey: string;
  readonly userName: string;
  readonly node: string;
  /** '' for a node shell. */
  readonly vm: string;
  readonly createdAt: number;
}

export interface Ticket {
  readonly kind: ConsoleKind;
  readonly handle: number;
  readonly sessionKey: string;
  readonly node: string;
  readonly vm: string;
}

export type CreateResult = { readonly row: ConsoleRow } | { readonly conflict: ConsoleRow } | { readonly full: true };

interface DbRow {
  kind: ConsoleKind;
  handle: number;
  session_key: string;
  user_name: string;
  node: string;
  vm: string;
  created_at: number;
}

const toRow = (r: DbRow): ConsoleRow => ({ kind: r.kind, handle: r.handle, sessionKey: r.session_key, userName: r.user_name, node: r.node, vm: r.vm, createdAt: r.created_at });

const ticketDigest = (ticket: string): string => createHash('sha256').update(ticket, 'utf8').digest('hex');

/** Tickets are base64url of 32 random bytes; anything else is refused before a lookup. */
const TICKET = /^[A-Za-z0-9_-]{43}$/;

export class ConsoleStore {
  constructor(
    private readonly db: Db,
    readonly settings: ConsoleSettings,
  ) {}

  find(kind: ConsoleKind, node: string, vm: string): ConsoleRow | undefined {
    const r = this.db.prepare('SELECT * FROM consoles WHERE kind = ? AND node = ? AND vm = ?').get(kind, node, vm) as DbRow | undefined;
    return r && toRow(r);
  }

  byHandle(kind: ConsoleKind, handle: number): ConsoleRow | undefined {
    const r = this.db.prepare('SELECT * FROM consoles WHERE kind = ? AND handle = ?').get(kind, handle) as DbRow | undefined;
    return r && toRow(r);
  }

  /** A session's tunnel of this kind and handle, or undefined (another session's counts as none). */
  mine(kind: ConsoleKind, handle: number, sessionKey: string): ConsoleRow | undefined {
    const r = this.byHandle(kind, handle);
    return r && r.sessionKey === sessionKey ? r : undefined;
  }

  ofSession(kind: ConsoleKind, sessionKey: string): ConsoleRow[] {
    return (this.db.prepare('SELECT * FROM consoles WHERE kind = ? AND session_key = ? ORDER BY handle').all(kind, sessionKey) as DbRow[]).map(toRow);
  }

  count(kind: ConsoleKind): number {
    return (this.db.prepare('SELECT count(*) AS n FROM consoles WHERE kind = ?').get(kind) as { n: number }).n;
  }

  /**
   * Reserves the lowest free spot of the kind's pool for the target, unless the target already has
   * a tunnel. A spot number is a port the gateway may listen on, so it is never held by two kinds
   * at once (the default VNC pool 6801.. reaches the SSH pool's 6900); `skip` leaves out spots whose
   * port another program holds.
   */
  create(kind: ConsoleKind, sessionKey: string, userName: string, node: string, vm: string, skip: ReadonlySet<number> = new Set()): CreateResult {
    return this.db.transaction((): CreateResult => {
      const existing = this.find(kind, node, vm);
      if (existing) return { conflict: existing };
      const used = new Set((this.db.prepare('SELECT handle FROM consoles').all() as { handle: number }[]).map((r) => r.handle));
      const base = this.settings.bases[kind];
      let handle: number | undefined;
      for (let h = base; h < base + this.settings.poolSize; h++) {
        if (!used.has(h) && !skip.has(h)) {
          handle = h;
          break;
        }
      }
      if (handle === undefined) return { full: true };
      const createdAt = nowSeconds();
      this.db.prepare('INSERT INTO consoles (kind, handle, session_key, user_name, node, vm, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(kind, handle, sessionKey, userName, node, vm, createdAt);
      return { row: { kind, handle, sessionKey, userName, node, vm, createdAt } };
    })();
  }

  /** Removes a tunnel (its tickets go with it); false when there was none. */
  remove(kind: ConsoleKind, handle: number): boolean {
    return this.db.prepare('DELETE FROM consoles WHERE kind = ? AND handle = ?').run(kind, handle).changes > 0;
  }

  /** Removes every tunnel of a session (all kinds, or one); returns what was removed. */
  removeSession(sessionKey: string, kind?: ConsoleKind): ConsoleRow[] {
    const rows = kind
      ? (this.db.prepare('DELETE FROM consoles WHERE session_key = ? AND kind = ? RETURNING *').all(sessionKey, kind) as DbRow[])
      : (this.db.prepare('DELETE FROM consoles WHERE session_key = ? RETURNING *').all(sessionKey) as DbRow[]);
    return rows.map(toRow);
  }

  /** At start-up: tunnels of a previous gateway process have no live bytes behind them any more. */
  clear(): number {
    return this.db.prepare('DELETE FROM consoles').run().changes;
  }

  /** A fresh single-use ticket for a tunnel; only its digest is kept. */
  issueTicket(row: ConsoleRow, now = Date.now()): { ticket: string; expiresAt: number } {
    const ticket = randomBytes(32).toString('base64url');
    const expiresAt = now + this.settings.ticketTtlMs;
    this.db
      .prepare('INSERT INTO console_tickets (ticket_hash, kind, handle, session_key, node, vm, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(ticketDigest(ticket), row.kind, row.handle, row.sessionKey, row.node, row.vm, expiresAt);
    return { ticket, expiresAt };
  }

  /**
   * Redeems a ticket: deleted whatever the outcome (single use), valid only before expiry, while
   * its tunnel still belongs to the same session and target, and while that session exists.
   */
  redeem(ticket: unknown, now = Date.now()): Ticket | undefined {
    if (typeof ticket !== 'string' || !TICKET.test(ticket)) return undefined;
    return this.db.transaction((): Ticket | undefined => {
      this.db.prepare('DELETE FROM console_tickets WHERE expires_at <= ?').run(now);
      const t = this.db.prepare('DELETE FROM console_tickets WHERE ticket_hash = ? RETURNING *').get(ticketDigest(ticket)) as
        | { kind: ConsoleKind; handle: number; session_key: string; node: string; vm: string; expires_at: number }
        | undefined;
      if (!t || t.expires_at <= now) return undefined;
      const tunnel = this.byHandle(t.kind, t.handle);
      if (!tunnel || tunnel.sessionKey !== t.session_key || tunnel.node !== t.node || tunnel.vm !== t.vm) return undefined;
      const alive = this.db.prepare('SELECT 1 FROM sessions WHERE id_hash = ? UNION ALL SELECT 1 FROM api_tokens WHERE token_hash = ?').get(t.session_key, t.session_key);
      if (!alive) return undefined;
      return { kind: t.kind, handle: t.handle, sessionKey: t.session_key, node: t.node, vm: t.vm };
    })();
  }
}
