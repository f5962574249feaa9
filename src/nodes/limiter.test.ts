import { expect } from 'chai';
import { ChannelLimiter } from './limiter.ts';

const busy = () => new Error('busy');
const tick = () => new Promise((r) => setImmediate(r));

describe('nodes/limiter', () => {
  it('grants up to max at once, then queues in arrival order', async () => {
    const l = new ChannelLimiter(2, 10, busy);
    const r1 = await l.acquire();
    const r2 = await l.acquire();
    const order: number[] = [];
    const waiting = [3, 4, 5].map((n) => l.acquire().then((r) => (order.push(n), r)));
    await tick();
    expect([l.inUse, l.queued]).to.deep.equal([2, 3]);
    r1();
    r2();
    const [r3, r4] = await Promise.all(waiting.slice(0, 2));
    expect(order).to.deep.equal([3, 4]);
    r3();
    const r5 = await waiting[2];
    expect(order).to.deep.equal([3, 4, 5]);
    r4();
    r5();
    expect([l.inUse, l.queued]).to.deep.equal([0, 0]);
  });

  it('refuses at once when the queue is full', async () => {
    const l = new ChannelLimiter(1, 1, busy);
    await l.acquire();
    const queued = l.acquire();
    await tick();
    let err: unknown;
    await l.acquire().catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(Error).with.property('message', 'busy');
    expect(l.queued).to.equal(1);
    void queued;
  });

  it('counts a release only once', async () => {
    const l = new ChannelLimiter(1, 0, busy);
    const r = await l.acquire();
    r();
    r();
    expect(l.inUse).to.equal(0);
    const again = await l.acquire();
    expect(l.inUse).to.equal(1);
    again();
  });

  it('drops an aborted waiter from the queue with the abort reason', async () => {
    const l = new ChannelLimiter(1, 5, busy);
    const r = await l.acquire();
    const ac = new AbortController();
    const p = l.acquire(ac.signal);
    await tick();
    expect(l.queued).to.equal(1);
    ac.abort(new Error('gave up'));
    let err: unknown;
    await p.catch((e: unknown) => (err = e));
    expect(err).to.have.property('message', 'gave up');
    expect(l.queued).to.equal(0);
    r();
    expect(l.inUse).to.equal(0);
  });

  it('rejects everyone waiting on rejectWaiting()', async () => {
    const l = new ChannelLimiter(1, 5, busy);
    await l.acquire();
    const ps = [l.acquire(), l.acquire()].map((p) => p.then(() => 'granted', (e: Error) => e.message));
    l.rejectWaiting(new Error('closed'));
    expect(await Promise.all(ps)).to.deep.equal(['closed', 'closed']);
  });
});
