import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openDatabase, type Db } from '../db/database.ts';
import { OmsError } from '../rpc/errors.ts';
import { Tasks } from '../tasks/tasks.ts';
import { container, GuestLocks, kvmGuest } from './guest-locks.ts';

const silent = pino({ level: 'silent' });
const A = kvmGuest('n1', 'vm-a');
const B = kvmGuest('n1', 'vm-b');

/** The TaskConflictError a promise or function ends with. */
async function conflictOf(p: Promise<unknown> | (() => unknown)): Promise<OmsError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).to.be.instanceOf(OmsError);
    expect((e as OmsError).omsName).to.equal('TaskConflictError');
    return e as OmsError;
  }
  throw new Error('expected TaskConflictError');
}

const rows = (db: Db) => db.prepare('SELECT node, kind, guest, operation, task_id FROM guest_locks ORDER BY guest').all();
const waits = (db: Db) => (db.prepare('SELECT COUNT(*) AS n FROM guest_lock_waits').get() as { n: number }).n;

describe('guest locks', () => {
  let db: Db;
  let locks: GuestLocks;
  beforeEach(() => {
    db = openDatabase(':memory:');
    locks = new GuestLocks(db, new EventEmitter(), { gateway: 'gw1', pollMs: 50 });
  });

  it('a held guest refuses a second hold at once, naming the operation; release frees it', async () => {
    const first = locks.hold('kvmservices.start_vm');
    await first.add([A]);
    const e = await conflictOf(locks.hold('kvmservices.edit_vm').add([A]));
    expect(e.message).to.equal('n1/vm-a is busy with kvmservices.start_vm; try again when it has finished');
    expect(e.details).to.deep.include({ node: 'n1', kind: 'kvm', guest: 'vm-a', operation: 'kvmservices.start_vm', task_id: null });
    // Another guest, and a container of the same name, are other locks.
    await locks.hold('x').add([B, container('n1', 'vm-a'), kvmGuest('n2', 'vm-a')]);
    first.release();
    await locks.hold('kvmservices.edit_vm').add([A]);
  });

  it('several guests are taken all or none', async () => {
    await locks.hold('holder').add([B]);
    await conflictOf(locks.hold('clone').add([A, B]));
    expect(rows(db).map((r: any) => r.guest)).to.deep.equal(['vm-b']);
    await locks.hold('other').add([A]);
  });

  it('a task started with the hold keeps the guests until it ends, and the error names the task', async () => {
    const tasks = new Tasks(db, silent, () => {}, locks);
    const hold = locks.hold('kvmservices.clone_vm');
    await hold.add([A, B]);
    let finish!: () => void;
    const t = tasks.start({ kind: 'kvm.clone_vm', node: 'n1', target: 'vm-a', lock: hold }, () => new Promise<void>((r) => (finish = r)));
    expect(hold.taskId).to.equal(t.id);
    hold.release(); // the call answered; the task holds on
    expect(rows(db)).to.deep.equal([
      { node: 'n1', kind: 'kvm', guest: 'vm-a', operation: 'kvm.clone_vm', task_id: t.id },
      { node: 'n1', kind: 'kvm', guest: 'vm-b', operation: 'kvm.clone_vm', task_id: t.id },
    ]);
    const e = await conflictOf(locks.hold('kvmservices.start_vm').add([A]));
    expect(e.message).to.equal(`n1/vm-a is busy with task ${t.id} (kvm.clone_vm); try again when it has finished`);
    finish();
    await t.done;
    expect(rows(db)).to.deep.equal([]);
  });

  it('a failed or cancelled task gives its guests back too', async () => {
    const tasks = new Tasks(db, silent, () => {}, locks);
    const h1 = locks.hold('a');
    await h1.add([A]);
    const failing = tasks.start({ kind: 'k', lock: h1 }, async () => {
      throw new Error('boom');
    });
    await failing.done.catch(() => {});
    const h2 = locks.hold('b');
    await h2.add([A]);
    const cancelled = tasks.start({ kind: 'k', lock: h2 }, (t) => new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('stop')))));
    tasks.cancel(cancelled.id);
    await cancelled.done.catch(() => {});
    expect(rows(db)).to.deep.equal([]);
  });

  it('waiters are served in order; a call that does not wait is refused while they queue', async () => {
    const holder = locks.hold('holder');
    await holder.add([A]);
    const served: string[] = [];
    const w1 = locks.hold('first', { waitMs: 5000 });
    const w2 = locks.hold('second', { waitMs: 5000 });
    const p1 = w1.add([A]).then(() => served.push('first'));
    await new Promise((r) => setTimeout(r, 20));
    const p2 = w2.add([A]).then(() => served.push('second'));
    await new Promise((r) => setTimeout(r, 20));
    expect(waits(db)).to.equal(2);
    holder.release();
    await p1;
    // The lock is free of holders only between two waiters; a newcomer still stands behind them.
    expect(served).to.deep.equal(['first']);
    const e = await conflictOf(locks.hold('newcomer').add([A]));
    expect(e.message).to.match(/busy with first;|busy with second \(waiting before this call\)/);
    w1.release();
    await p2;
    expect(served).to.deep.equal(['first', 'second']);
    expect(waits(db)).to.equal(0);
  });

  it('a waiter gives up after its wait with TaskConflictError naming the holder, and leaves no row', async () => {
    await locks.hold('kvmservices.shutdown_vm').add([A]);
    const started = Date.now();
    const e = await conflictOf(locks.hold('kvmservices.edit_vm', { waitMs: 200 }).add([A]));
    expect(Date.now() - started).to.be.within(180, 2000);
    expect(e.message).to.include('busy with kvmservices.shutdown_vm');
    expect(waits(db)).to.equal(0);
  });

  it('a hold that already has guests never waits for more (no two calls wait for each other)', async () => {
    const other = locks.hold('other');
    await other.add([B]);
    const h = locks.hold('mine', { waitMs: 5000 });
    await h.add([A]);
    const started = Date.now();
    await conflictOf(h.add([B]));
    expect(Date.now() - started).to.be.below(500);
  });

  it('a row whose lease ran out or whose task is over is stale and taken over', async () => {
    db.prepare("INSERT INTO guest_locks VALUES ('n1', 'kvm', 'vm-a', 'h-old', 'kvmservices.start_vm', NULL, 'gw-dead', 'i', 1, 2)").run();
    db.prepare("INSERT INTO tasks (id, kind, state, created_at) VALUES ('t-done', 'kvm.clone_vm', 'succeeded', 1)").run();
    db.prepare("INSERT INTO guest_locks VALUES ('n1', 'kvm', 'vm-b', 'h-old2', 'kvm.clone_vm', 't-done', 'gw-live', 'i', 1, ?)").run(Date.now() + 60_000);
    await locks.hold('new').add([A, B]);
    expect(rows(db).map((r: any) => r.operation)).to.deep.equal(['new', 'new']);
  });

  it('at start a gateway clears its own rows and expired ones, and keeps a live gateway\'s', () => {
    const future = Date.now() + 60_000;
    db.prepare("INSERT INTO guest_locks VALUES ('n1', 'kvm', 'mine', 'h1', 'op', NULL, 'gw1', 'old-run', 1, ?)").run(future);
    db.prepare("INSERT INTO guest_locks VALUES ('n1', 'kvm', 'expired', 'h2', 'op', NULL, 'gw2', 'r', 1, 2)").run();
    db.prepare("INSERT INTO guest_locks VALUES ('n1', 'kvm', 'live', 'h3', 'op', NULL, 'gw2', 'r', 1, ?)").run(future);
    db.prepare("INSERT INTO guest_lock_waits VALUES (1, 'n1', 'kvm', 'live', 'h4', 'op', 'gw1', 'old-run', ?)").run(future);
    expect(locks.recoverAtStart()).to.deep.equal({ locks: 2, waits: 1 });
    expect(rows(db).map((r: any) => r.guest)).to.deep.equal(['live']);
  });

  it('renew extends the lease of this run\'s rows only', async () => {
    await locks.hold('mine').add([A]);
    db.prepare("INSERT INTO guest_locks VALUES ('n1', 'kvm', 'theirs', 'h', 'op', NULL, 'gw2', 'r', 1, 5)").run();
    db.prepare('UPDATE guest_locks SET lease_until = 5').run();
    locks.renew();
    const lease = (g: string) => (db.prepare('SELECT lease_until FROM guest_locks WHERE guest = ?').get(g) as { lease_until: number }).lease_until;
    expect(lease('vm-a')).to.be.greaterThan(Date.now());
    expect(lease('theirs')).to.equal(5);
  });

  it('two gateways on one database file see each other\'s holds; a waiter on one is served after the other releases', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oms-locks-'));
    try {
      const file = join(dir, 'oms.db');
      const db1 = openDatabase(file);
      const db2 = openDatabase(file);
      const g1 = new GuestLocks(db1, new EventEmitter(), { gateway: 'gw1', pollMs: 50 });
      const g2 = new GuestLocks(db2, new EventEmitter(), { gateway: 'gw2', pollMs: 50 });
      const h = g1.hold('kvmservices.clone_vm');
      await h.add([A]);
      expect((await conflictOf(g2.hold('kvmservices.start_vm').add([A]))).message).to.include('busy with kvmservices.clone_vm');
      // No event crosses processes: the waiter on gw2 finds the release only by looking again,
      // while a later waiter on gw1 is woken at once by gw1's release. Order still holds.
      const served: string[] = [];
      const x = g2.hold('kvmservices.start_vm', { waitMs: 3000 });
      const first = x.add([A]).then(() => served.push('gw2 waiter (first)'));
      await new Promise((r) => setTimeout(r, 20));
      const y = g1.hold('kvmservices.edit_vm', { waitMs: 3000 });
      const second = y.add([A]).then(() => served.push('gw1 waiter (second)'));
      await new Promise((r) => setTimeout(r, 20));
      h.release();
      await first;
      expect(served).to.deep.equal(['gw2 waiter (first)']);
      x.release();
      await second;
      expect(served).to.deep.equal(['gw2 waiter (first)', 'gw1 waiter (second)']);
      y.release();
      await g2.hold('gw2 again').add([A]);
      // gw1 restarting clears only gw1's rows: gw2's hold stays.
      expect(g1.recoverAtStart().locks).to.equal(0);
      await conflictOf(g1.hold('x').add([A]));
      db1.close();
      db2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
