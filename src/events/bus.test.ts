/**
 * The bus on a real (in-memory) database: numbering by the journal, resume with `since`, resync
 * instead of a gap, the bounded queue of a slow subscriber, long poll, permission filtering.
 */
import { expect } from 'chai';
import pino from 'pino';
import { openDatabase, type Db } from '../db/database.ts';
import { EventBus } from './bus.ts';
import { EventJournal } from './journal.ts';
import { resumeFrom } from './resync.ts';
import type { LiveViewer, Outlet, EndReason } from './subscription.ts';
import { InProcessTransport } from './transport.ts';
import type { EventInput, OmsEvent } from './types.ts';
import { checkFilter } from './filter.ts';
import { isOmsError } from '../rpc/errors.ts';

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sees everything (an administrator); `alive` can be switched off. */
const admin = (over: Partial<LiveViewer> = {}): LiveViewer => ({ user: 'admin', can: () => true, alive: () => true, ...over });

/** An outlet whose backpressure the test controls. */
class TestOutlet implements Outlet {
  got: OmsEvent[] = [];
  open = true;
  endedWith: EndReason | undefined;
  #waiters: (() => void)[] = [];
  send(e: OmsEvent) {
    this.got.push(e);
  }
  writable() {
    return this.open;
  }
  whenWritable(fn: () => void) {
    this.#waiters.push(fn);
  }
  ended(why: EndReason) {
    this.endedWith = why;
  }
  /** The client reads again: the transport drains. */
  drain() {
    this.open = true;
    const w = this.#waiters;
    this.#waiters = [];
    for (const fn of w) fn();
  }
  seqs() {
    return this.got.map((e) => e.seq);
  }
}

describe('events: journal and bus', () => {
  let db: Db;
  let journal: EventJournal;
  let bus: EventBus;
  const make = (opts: { count?: number; maxQueue?: number } = {}) => {
    journal = new EventJournal(db);
    bus = new EventBus({ journal, transport: new InProcessTransport(), log: pino({ level: 'silent' }), retain: { count: opts.count ?? 1000, ageMs: 3_600_000 }, maxQueue: opts.maxQueue ?? 100 });
  };
  const ev = (i: number, over: Partial<EventInput> = {}): EventInput => ({ type: 'kvm', node: 'n1', target: `vm${i}`, action: 'started', data: { i }, ...over });
  const publishN = (n: number, over: Partial<EventInput> = {}) => {
    for (let i = 0; i < n; i++) bus.publish(ev(i, over));
  };

  beforeEach(() => {
    db = openDatabase(':memory:');
    make();
  });
  afterEach(() => {
    bus.close();
    db.close();
  });

  describe('journal', () => {
    it('numbers events by one, in the database, and gives them back in order', () => {
      publishN(3);
      const rows = db.prepare('SELECT seq, type, node, target, action, data FROM events ORDER BY seq').all() as { seq: number; data: string }[];
      expect(rows.map((r) => r.seq)).to.deep.equal([1, 2, 3]);
      expect(JSON.parse(rows[2].data)).to.deep.equal({ i: 2 });
      expect(journal.after(1, 10).map((e) => [e.seq, e.target])).to.deep.equal([
        [2, 'vm1'],
        [3, 'vm2'],
      ]);
    });

    it('never hands a number out twice, even after the sweep emptied the journal', () => {
      publishN(5);
      journal.trim({ count: 1000, ageMs: -1 }); // everything is older than "now + 1 ms"
      expect(journal.bounds()).to.deep.equal({ oldest: undefined, latest: 5 });
      bus.publish(ev(9));
      expect(journal.after(0, 10).map((e) => e.seq)).to.deep.equal([6]);
    });

    it('keeps the retained count on publish, between sweeps', () => {
      make({ count: 20 });
      publishN(100);
      const n = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
      expect(n).to.be.at.most(22);
      expect(journal.bounds().latest).to.equal(100);
      bus.sweep();
      expect((db.prepare('SELECT min(seq) AS m, count(*) AS n FROM events').get() as { m: number; n: number })).to.deep.equal({ m: 81, n: 20 });
    });

    it('sweeps events past the retained age', () => {
      publishN(2);
      db.prepare('UPDATE events SET time = time - 7200000 WHERE seq = 1').run();
      expect(bus.sweep()).to.equal(1);
      expect(journal.bounds().oldest).to.equal(2);
    });

    it('refuses an event of an unknown type without throwing into the source', () => {
      expect(() => bus.publish({ type: 'bogus' as never, action: 'x' })).not.to.throw();
      expect(journal.bounds().latest).to.equal(0);
    });
  });

  describe('resume', () => {
    it('resumes after since without a resync while the journal holds everything after it', () => {
      expect(resumeFrom(3, { oldest: 4, latest: 9 })).to.deep.equal({ position: 3 });
      expect(resumeFrom(9, { oldest: 4, latest: 9 })).to.deep.equal({ position: 9 });
      expect(resumeFrom(0, { oldest: 1, latest: 9 })).to.deep.equal({ position: 0 });
    });

    it('answers a resync at the journal start when since is too old, or unknown', () => {
      const old = resumeFrom(2, { oldest: 4, latest: 9 });
      expect(old.position).to.equal(3);
      expect(old.resync).to.include({ seq: 3, type: 'resync', action: 'resync' });
      expect(old.resync!.data).to.include({ reason: 'journal', since: 2, oldest: 4 });
      // All trimmed: nothing after 9 is left to give, so anything older is a gap.
      expect(resumeFrom(5, { oldest: undefined, latest: 9 }).resync!.seq).to.equal(9);
      // A since from another journal (database replaced).
      expect(resumeFrom(50, { oldest: 4, latest: 9 }).resync!.data).to.include({ reason: 'unknown-since' });
    });
  });

  describe('subscriptions', () => {
    it('delivers live events in seq order, filtered by type and node', async () => {
      const all = new TestOutlet();
      const some = new TestOutlet();
      bus.subscribe(admin(), {}, undefined, all);
      bus.subscribe(admin(), checkFilter({ types: ['task'], nodes: ['n2'] }, () => true), undefined, some);
      await tick();
      bus.publish(ev(1));
      bus.publish(ev(2, { type: 'task', node: 'n2' }));
      bus.publish(ev(3, { type: 'task', node: 'n1' }));
      bus.publish(ev(4, { node: 'n2' }));
      expect(all.seqs()).to.deep.equal([1, 2, 3, 4]);
      expect(some.seqs()).to.deep.equal([2]);
    });

    it('resumes from the journal, then live, missing nothing and repeating nothing (events published meanwhile included)', async () => {
      publishN(10);
      const o = new TestOutlet();
      bus.subscribe(admin(), {}, 4, o);
      // Published after the subscribe call, before the resume ran.
      publishN(3);
      await tick();
      publishN(2);
      expect(o.seqs()).to.deep.equal([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    });

    it('gives a resync first when since is older than the journal, then what is kept', async () => {
      make({ count: 10 });
      publishN(30);
      bus.sweep();
      const o = new TestOutlet();
      bus.subscribe(admin(), {}, 3, o);
      await tick();
      expect(o.got[0]).to.include({ type: 'resync', seq: 20 });
      expect(o.seqs().slice(1)).to.deep.equal([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
    });

    it('a slow subscriber gets resync and is dropped past its queue; the others get everything', async () => {
      make({ maxQueue: 5 });
      const slow = new TestOutlet();
      const fast = new TestOutlet();
      const subSlow = bus.subscribe(admin(), {}, undefined, slow);
      bus.subscribe(admin(), {}, undefined, fast);
      await tick();
      publishN(2);
      slow.open = false; // its socket stopped taking data
      publishN(5);
      expect(subSlow.queued).to.equal(5);
      expect(slow.endedWith).to.equal(undefined);
      publishN(1); // the sixth waiting one is one too many
      expect(slow.endedWith).to.equal('slow');
      expect(slow.got.at(-1)).to.include({ type: 'resync', seq: 2 });
      expect(slow.got.at(-1)!.data).to.include({ reason: 'slow', dropped: 6 });
      expect(subSlow.closed).to.equal(true);
      expect(bus.subscribers).to.equal(1);
      publishN(3);
      expect(slow.got).to.have.length(3); // nothing after the resync
      expect(fast.seqs()).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    });

    it('a subscriber that catches up drains its queue in order', async () => {
      make({ maxQueue: 5 });
      const o = new TestOutlet();
      bus.subscribe(admin(), {}, undefined, o);
      await tick();
      o.open = false;
      publishN(4);
      expect(o.got).to.have.length(0);
      o.drain();
      publishN(1);
      expect(o.seqs()).to.deep.equal([1, 2, 3, 4, 5]);
    });

    it('resuming a long backlog reads the journal only as fast as the outlet takes it, dropping nothing', async () => {
      make({ maxQueue: 10 });
      publishN(35);
      const o = new TestOutlet();
      o.open = false;
      bus.subscribe(admin(), {}, 0, o);
      await tick();
      expect(o.got).to.have.length(0);
      for (let i = 0; i < 5; i++) {
        o.drain();
        o.open = false;
      }
      o.drain();
      expect(o.seqs()).to.deep.equal(Array.from({ length: 35 }, (_, i) => i + 1));
      expect(o.endedWith).to.equal(undefined);
    });

    it('ends the stream when the session is gone', async () => {
      let alive = true;
      const o = new TestOutlet();
      bus.subscribe(admin({ alive: () => alive }), {}, undefined, o);
      await tick();
      publishN(1);
      alive = false;
      publishN(1);
      expect(o.seqs()).to.deep.equal([1]);
      expect(o.endedWith).to.equal('session');
    });

    it('a user without rights on a node sees none of its events', async () => {
      const o = new TestOutlet();
      const nodeOnly = (node: string): LiveViewer => ({ user: 'u', alive: () => true, can: (_p, path) => path === `/nodes/${node}` || path.startsWith(`/nodes/${node}/`) });
      bus.subscribe(nodeOnly('n1'), {}, undefined, o);
      await tick();
      bus.publish(ev(1, { node: 'n1' }));
      bus.publish(ev(2, { node: 'n2' }));
      bus.publish(ev(3, { type: 'node', node: 'n2', target: undefined, action: 'connected' }));
      bus.publish(ev(4, { type: 'container', node: 'n2', target: '101' }));
      bus.publish(ev(5, { type: 'task', node: 'n2', target: 'id', data: { user: 'admin', guest: 'g' } }));
      bus.publish(ev(6, { type: 'task', node: 'n2', target: 'id', data: { user: 'u', guest: 'g' } }));
      bus.publish({ type: 'inventory', action: 'userservices.add_user', data: { user: 'admin', path: '/access' } });
      bus.publish({ type: 'inventory', node: 'n1', action: 'tagservices.add_node_tag', data: { user: 'admin', path: '/nodes/n1' } });
      expect(o.seqs()).to.deep.equal([1, 6, 8]);
    });
  });

  describe('long poll', () => {
    const viewer = admin();
    it('answers at once with the events after since', async () => {
      publishN(3);
      const r = await bus.poll({ viewer, filter: {}, since: 1, timeoutMs: 5000, limit: 100 });
      expect(r.events.map((e) => e.seq)).to.deep.equal([2, 3]);
      expect(r.next_since).to.equal(3);
    });

    it('waits for the first event for the caller, up to the timeout', async () => {
      publishN(2);
      const started = Date.now();
      const pending = bus.poll({ viewer, filter: checkFilter({ types: ['node'] }, () => true), since: 2, timeoutMs: 5000, limit: 100 });
      await sleep(50);
      expect(bus.subscribers).to.equal(1);
      publishN(1); // not a node event: passed over
      bus.publish({ type: 'node', node: 'n1', action: 'connected' });
      const r = await pending;
      expect(r.events.map((e) => [e.seq, e.type])).to.deep.equal([[4, 'node']]);
      expect(r.next_since).to.equal(4);
      expect(Date.now() - started).to.be.below(1000);
      const empty = await bus.poll({ viewer, filter: {}, since: 4, timeoutMs: 100, limit: 100 });
      expect(empty).to.deep.equal({ events: [], next_since: 4 });
      expect(bus.subscribers).to.equal(0);
    });

    it('answers a resync first for a since older than the journal', async () => {
      make({ count: 5 });
      publishN(20);
      bus.sweep();
      const r = await bus.poll({ viewer, filter: {}, since: 1, timeoutMs: 0, limit: 100 });
      expect(r.events[0]).to.include({ type: 'resync', seq: 15 });
      expect(r.events.slice(1).map((e) => e.seq)).to.deep.equal([16, 17, 18, 19, 20]);
    });

    it('without since, waits for what comes next', async () => {
      publishN(3);
      const r = await bus.poll({ viewer, filter: {}, since: undefined, timeoutMs: 0, limit: 100 });
      expect(r).to.deep.equal({ events: [], next_since: 3 });
    });
  });

  describe('filters', () => {
    it('refuses unknown types and nodes with typed errors', () => {
      const err = (f: () => unknown) => {
        try {
          f();
        } catch (e) {
          return isOmsError(e) ? e.omsName : String(e);
        }
        return 'no error';
      };
      expect(err(() => checkFilter({ types: ['kvm', 'vm'] }, () => true))).to.equal('UnknownEventTypeError');
      expect(err(() => checkFilter({ nodes: ['n9'] }, (n) => n === 'n1'))).to.equal('UnknownEventNodeError');
      expect(err(() => checkFilter({ types: ['kvm'], nodes: ['n1'] }, (n) => n === 'n1'))).to.equal('no error');
    });
  });
});
