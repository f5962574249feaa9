/**
 * One change at a time per guest. Every call that changes a guest or reads its disks for a copy
 * holds the guest (KVM domain or container) by a row in `guest_locks` from before its handler
 * runs until it ends, or, when it starts a task, until that task ends (the task row is then the
 * holder). A second such call on the same guest is refused at once with TaskConflictError naming
 * what holds it, or, when its caller asked to wait, queued in ticket order until the holder is
 * done or the wait is over.
 *
 * The rows are the truth, never process memory: with several gateways on one database each row
 * names its gateway and carries a lease the holder renews; a row whose lease ran out, or whose
 * task no longer runs, is stale and taken over. A gateway clears its own rows when it starts
 * (its previous run died holding them). Acquiring several guests is all-or-nothing in one
 * transaction, and only a call that holds nothing yet may wait, so two calls never wait for
 * each other.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Db } from '../db/database.ts';
import { oms, type OmsError } from '../rpc/errors.ts';

export type GuestKind = 'kvm' | 'ct';

/** A guest as a lock names it: KVM domains and containers are separate name spaces on a node. */
export interface GuestRef {
  readonly kind: GuestKind;
  readonly node: string;
  readonly name: string;
}

export const kvmGuest = (node: string, name: string): GuestRef => ({ kind: 'kvm', node, name });
export const container = (node: string, id: string): GuestRef => ({ kind: 'ct', node, name: id });

/** What stands in a caller's way: a holder, or a waiter queued before it. */
export interface Blocker {
  node: string;
  kind: GuestKind;
  guest: string;
  operation: string;
  task_id: string | null;
  waiting: boolean;
}

export interface LockRow {
  node: string;
  kind: GuestKind;
  guest: string;
  hold_id: string;
  operation: string;
  task_id: string | null;
  gateway: string;
  instance: string;
  acquired_at: number;
  lease_until: number;
}

export interface GuestLocksOptions {
  /** Stable name of this gateway (several gateways on one database); default the host name. */
  gateway?: string;
  /** How long a row stays valid without renewal. */
  leaseMs?: number;
  /** How often a waiter looks again without being woken (another gateway's release). */
  pollMs?: number;
}

/** Emitted on the app's event bus when rows were released, so waiters look again at once. */
export const RELEASED_EVENT = 'guest-locks-released';

const keyOf = (r: GuestRef): string => `${r.kind}\u0000${r.node}\u0000${r.name}`;

export function conflictError(b: Blocker): OmsError {
  const operation = b.task_id ? `task ${b.task_id} (${b.operation})` : b.waiting ? `${b.operation} (waiting before this call)` : b.operation;
  return oms('TaskConflictError', { target: `${b.node}/${b.guest}`, operation }, { node: b.node, kind: b.kind, guest: b.guest, operation: b.operation, task_id: b.task_id, waiting: b.waiting });
}

export class GuestLocks {
  readonly gateway: string;
  /** This run of the gateway: renewal touches only the rows it took. */
  readonly instance = randomUUID();
  readonly leaseMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly db: Db,
    private readonly events: EventEmitter,
    opts: GuestLocksOptions = {},
  ) {
    this.gateway = opts.gateway ?? hostname();
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.pollMs = opts.pollMs ?? 1000;
  }

  /**
   * At start: rows this gateway held before (its previous run died with them) and rows whose
   * lease ran out (a dead gateway's) are removed, with waiters of the same kind. Returns counts.
   */
  recoverAtStart(): { locks: number; waits: number } {
    const now = Date.now();
    return this.db.transaction(() => ({
      locks: this.db.prepare('DELETE FROM guest_locks WHERE gateway = ? OR lease_until < ?').run(this.gateway, now).changes,
      waits: this.db.prepare('DELETE FROM guest_lock_waits WHERE gateway = ? OR expires_at < ?').run(this.gateway, now).changes,
    }))();
  }

  /** Keeps this run's rows alive; called on a timer well inside the lease. */
  renew(): void {
    this.db.prepare('UPDATE guest_locks SET lease_until = ? WHERE instance = ?').run(Date.now() + this.leaseMs, this.instance);
  }

  /** A fresh hold for one call; it takes guests with add() and gives them back with release(). */
  hold(operation: string, opts: { waitMs?: number; signal?: AbortSignal } = {}): LockHold {
    return new LockHold(this, operation, opts.waitMs ?? 0, opts.signal);
  }

  /** Every held guest, oldest first. */
  list(): LockRow[] {
    return this.db.prepare('SELECT * FROM guest_locks ORDER BY acquired_at, node, kind, guest').all() as LockRow[];
  }

  /**
   * Takes every guest in refs for holdId, or none: returns the first blocker instead. A waiter
   * passes its ticket: only waiters with a lower ticket stand before it; a call that does not
   * wait stands behind every live waiter.
   */
  tryAcquire(holdId: string, operation: string, refs: readonly GuestRef[], ticket?: number): Blocker | undefined {
    const tx = this.db.transaction((): Blocker | undefined => {
      const now = Date.now();
      const take: GuestRef[] = [];
      for (const r of refs) {
        const row = this.db.prepare('SELECT * FROM guest_locks WHERE node = ? AND kind = ? AND guest = ?').get(r.node, r.kind, r.name) as LockRow | undefined;
        if (row && row.hold_id === holdId) continue;
        if (row && !this.stale(row, now)) return { node: row.node, kind: row.kind, guest: row.guest, operation: row.operation, task_id: row.task_id, waiting: false };
        if (row) this.db.prepare('DELETE FROM guest_locks WHERE node = ? AND kind = ? AND guest = ?').run(r.node, r.kind, r.name);
        const queued = this.db
          .prepare('SELECT operation FROM guest_lock_waits WHERE node = ? AND kind = ? AND guest = ? AND hold_id != ? AND expires_at >= ? AND (? IS NULL OR ticket < ?) ORDER BY ticket LIMIT 1')
          .get(r.node, r.kind, r.name, holdId, now, ticket ?? null, ticket ?? null) as { operation: string } | undefined;
        if (queued) return { node: r.node, kind: r.kind, guest: r.name, operation: queued.operation, task_id: null, waiting: true };
        take.push(r);
      }
      const insert = this.db.prepare(
        'INSERT INTO guest_locks (node, kind, guest, hold_id, operation, task_id, gateway, instance, acquired_at, lease_until) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)',
      );
      for (const r of take) insert.run(r.node, r.kind, r.name, holdId, operation, this.gateway, this.instance, now, now + this.leaseMs);
      return undefined;
    });
    // IMMEDIATE: the check and the insert happen under the write lock, also across processes.
    return tx.immediate();
  }

  /**
   * Takes the guests, waiting up to waitMs (in ticket order behind earlier waiters) when one is
   * held; TaskConflictError naming the holder when it is not free in time. Without a wait the
   * whole attempt is synchronous, so of two calls arriving together the first one wins.
   */
  async acquire(holdId: string, operation: string, refs: readonly GuestRef[], opts: { waitMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    let blocker = this.tryAcquire(holdId, operation, refs);
    if (!blocker) return;
    const waitMs = opts.waitMs ?? 0;
    if (waitMs <= 0 || opts.signal?.aborted) throw conflictError(blocker);
    const deadline = Date.now() + waitMs;
    const ticket = this.enqueue(holdId, operation, refs, deadline);
    try {
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0 || opts.signal?.aborted) throw conflictError(blocker);
        await this.nextChance(Math.min(left, this.pollMs), opts.signal);
        const b = this.tryAcquire(holdId, operation, refs, ticket);
        if (!b) return;
        blocker = b;
      }
    } finally {
      this.db.prepare('DELETE FROM guest_lock_waits WHERE ticket = ?').run(ticket);
      // Whoever queued behind this waiter may be first now.
      this.events.emit(RELEASED_EVENT);
    }
  }

  /** The task that a call started now holds the call's guests, until it ends. */
  adopt(holdId: string, taskId: string, kind: string): void {
    this.db.prepare('UPDATE guest_locks SET task_id = ?, operation = ? WHERE hold_id = ?').run(taskId, kind, holdId);
  }

  release(holdId: string): void {
    if (this.db.prepare('DELETE FROM guest_locks WHERE hold_id = ?').run(holdId).changes) this.events.emit(RELEASED_EVENT);
  }

  releaseTask(taskId: string): void {
    if (this.db.prepare('DELETE FROM guest_locks WHERE task_id = ?').run(taskId).changes) this.events.emit(RELEASED_EVENT);
  }

  /** A row nobody keeps any more: its lease ran out, or the task holding it is over. */
  private stale(row: LockRow, now: number): boolean {
    if (row.lease_until < now) return true;
    if (!row.task_id) return false;
    const t = this.db.prepare('SELECT state FROM tasks WHERE id = ?').get(row.task_id) as { state: string } | undefined;
    return !t || t.state !== 'running';
  }

  private enqueue(holdId: string, operation: string, refs: readonly GuestRef[], expiresAt: number): number {
    return this.db.transaction(() => {
      const ticket = ((this.db.prepare('SELECT MAX(ticket) AS t FROM guest_lock_waits').get() as { t: number | null }).t ?? 0) + 1;
      const insert = this.db.prepare('INSERT INTO guest_lock_waits (ticket, node, kind, guest, hold_id, operation, gateway, instance, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const r of refs) insert.run(ticket, r.node, r.kind, r.name, holdId, operation, this.gateway, this.instance, expiresAt);
      return ticket;
    }).immediate();
  }

  /** Resolves on a release in this process, after ms (another gateway's release), or on abort. */
  private nextChance(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off(RELEASED_EVENT, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.events.on(RELEASED_EVENT, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * The guests one call holds. The pipeline makes one per call, takes the method's declared guests
 * before the handler runs and releases them when the call ends, unless a task took them over
 * (then the task's end releases them).
 */
export class LockHold {
  readonly id = randomUUID();
  private readonly held = new Map<string, GuestRef>();
  /** Set once a task took the hold over. */
  taskId?: string;

  constructor(
    private readonly locks: GuestLocks,
    readonly operation: string,
    private readonly waitMs: number,
    private readonly signal?: AbortSignal,
  ) {}

  get guests(): GuestRef[] {
    return [...this.held.values()];
  }

  /** Whether a task started now should take this hold over. */
  get adoptable(): boolean {
    return this.held.size > 0 && this.taskId === undefined;
  }

  /**
   * Takes more guests. Only a hold that has none yet waits (the caller's wait); one that already
   * holds guests is refused at once instead, so two calls can never wait for each other.
   */
  async add(refs: readonly GuestRef[]): Promise<void> {
    const fresh = new Map<string, GuestRef>();
    for (const r of refs) if (!this.held.has(keyOf(r))) fresh.set(keyOf(r), r);
    if (!fresh.size) return;
    if (this.taskId !== undefined) throw new Error(`guests added to a hold a task (${this.taskId}) already took over`);
    await this.locks.acquire(this.id, this.operation, [...fresh.values()], { waitMs: this.held.size ? 0 : this.waitMs, signal: this.signal });
    for (const [k, r] of fresh) this.held.set(k, r);
  }

  /** The call is over: gives its guests back, unless a task now holds them. */
  release(): void {
    if (this.held.size && this.taskId === undefined) this.locks.release(this.id);
  }
}
