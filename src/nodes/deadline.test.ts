import { expect } from 'chai';
import { Deadline, untilAborted } from './deadline.ts';

describe('nodes/deadline', () => {
  it('aborts with the timeout error when the budget runs out', async () => {
    const d = new Deadline(20, undefined, () => new Error('too slow'));
    let err: unknown;
    await untilAborted(() => new Promise(() => undefined), d.signal).catch((e: unknown) => (err = e));
    expect(err).to.have.property('message', 'too slow');
    d.clear();
  });

  it("aborts with the caller's reason when the caller aborts", async () => {
    const ac = new AbortController();
    const d = new Deadline(10_000, ac.signal, () => new Error('too slow'));
    setTimeout(() => ac.abort(new Error('cancelled')), 5);
    let err: unknown;
    await untilAborted(() => new Promise(() => undefined), d.signal).catch((e: unknown) => (err = e));
    expect(err).to.have.property('message', 'cancelled');
    d.clear();
  });

  it('does not start work for a signal that already fired', async () => {
    const ac = new AbortController();
    ac.abort(new Error('before'));
    let started = false;
    const d = new Deadline(1000, ac.signal, () => new Error('too slow'));
    let err: unknown;
    await untilAborted(async () => {
      started = true;
    }, d.signal).catch((e: unknown) => (err = e));
    expect(started).to.equal(false);
    expect(err).to.have.property('message', 'before');
    d.clear();
  });

  it('passes results and errors through', async () => {
    const d = new Deadline(1000, undefined, () => new Error('too slow'));
    expect(await untilAborted(async () => 7, d.signal)).to.equal(7);
    let err: unknown;
    await untilAborted(() => Promise.reject(new Error('own')), d.signal).catch((e: unknown) => (err = e));
    expect(err).to.have.property('message', 'own');
    d.clear();
  });

  it('refuses a non-positive budget', () => {
    expect(() => new Deadline(0, undefined, () => new Error('x'))).to.throw();
  });
});
