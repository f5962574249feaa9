/**
 * Resource pools: named sets of KVM guests and containers across nodes (migration 0009). The
 * rows are the truth; a guest is in one pool at most. Grants on `/pools/{pool}` reach the members
 * through the permission check (src/auth/permissions.ts reads pool_members itself, below this).
 */
import type { Db } from '../db/database.ts';
import type { GuestKind } from '../locks/guest-locks.ts';
import { oms } from '../rpc/errors.ts';

export interface PoolMember {
  kind: GuestKind;
  node: string;
  guest: string;
}

export interface Pool {
  name: string;
  description: string;
  created_at: number;
  created_by: string | null;
  members: PoolMember[];
}

export class PoolStore {
  constructor(private readonly db: Db) {}

  names(): string[] {
    return (this.db.prepare('SELECT name FROM pools ORDER BY name').all() as { name: string }[]).map((r) => r.name);
  }

  get(name: string): Pool | undefined {
    const row = this.db.prepare('SELECT name, description, created_at, created_by FROM pools WHERE name = ?').get(name) as Omit<Pool, 'members'> | undefined;
    return row && { ...row, members: this.members(name) };
  }

  require(name: string): Pool {
    const p = this.get(name);
    if (!p) throw oms('UnknownPoolError', { pool: name });
    return p;
  }

  list(): Pool[] {
    return this.names().map((n) => this.get(n)!);
  }

  members(pool: string): PoolMember[] {
    return this.db.prepare('SELECT kind, node, guest FROM pool_members WHERE pool = ? ORDER BY node, kind, guest').all(pool) as PoolMember[];
  }

  /** The pool of a guest, if any. */
  poolOf(kind: GuestKind, node: string, guest: string): string | undefined {
    return (this.db.prepare('SELECT pool FROM pool_members WHERE kind = ? AND node = ? AND guest = ?').get(kind, node, guest) as { pool: string } | undefined)?.pool;
  }

  /** Pools of guests of a node, keyed `kind/guest`, for listings (one query per node, not per guest). */
  ofNode(node: string): Map<string, string> {
    const rows = this.db.prepare('SELECT kind, guest, pool FROM pool_members WHERE node = ?').all(node) as { kind: GuestKind; guest: string; pool: string }[];
    return new Map(rows.map((r) => [`${r.kind}/${r.guest}`, r.pool]));
  }

  create(name: string, description: string, by: string | undefined): void {
    const r = this.db.prepare('INSERT OR IGNORE INTO pools (name, description, created_at, created_by) VALUES (?, ?, ?, ?)').run(name, description, Date.now(), by ?? null);
    if (r.changes === 0) throw oms('PoolExistsError', { pool: name });
  }

  /** Refuses a pool with members (PoolNotEmptyError): its grants would silently stop reaching them. */
  delete(name: string): void {
    this.db.transaction(() => {
      const p = this.require(name);
      if (p.members.length) throw oms('PoolNotEmptyError', { pool: name, count: p.members.length });
      this.db.prepare('DELETE FROM pools WHERE name = ?').run(name);
    })();
  }

  /** Puts the guest in the pool, taking it out of the one it was in (a move); returns that one. */
  add(pool: string, m: PoolMember): string | undefined {
    return this.db.transaction(() => {
      this.require(pool);
      const before = this.poolOf(m.kind, m.node, m.guest);
      this.db.prepare('INSERT INTO pool_members (pool, kind, node, guest) VALUES (?, ?, ?, ?) ON CONFLICT (kind, node, guest) DO UPDATE SET pool = excluded.pool').run(pool, m.kind, m.node, m.guest);
      return before;
    })();
  }

  remove(pool: string, m: PoolMember): boolean {
    this.require(pool);
    return this.db.prepare('DELETE FROM pool_members WHERE pool = ? AND kind = ? AND node = ? AND guest = ?').run(pool, m.kind, m.node, m.guest).changes > 0;
  }
}

/** The `pools` field of a listed guest (beside `tags`): its pool as a list, [] when in none. */
export const poolList = (ofNode: ReadonlyMap<string, string>, kind: GuestKind, guest: string): string[] => {
  const p = ofNode.get(`${kind}/${guest}`);
  return p ? [p] : [];
};
