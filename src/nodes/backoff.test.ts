import { expect } from 'chai';
import { Backoff } from './backoff.ts';

describe('nodes/backoff', () => {
  it('doubles the wait per consecutive failure up to max, and resets on success', () => {
    let now = 1000;
    const b = new Backoff(100, 1000, () => now);
    expect(b.remainingMs()).to.equal(0);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      b.failure();
      waits.push(b.remainingMs());
    }
    expect(waits).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
    now += 400;
    expect(b.remainingMs()).to.equal(600);
    b.success();
    expect([b.remainingMs(), b.failures]).to.deep.equal([0, 0]);
  });

  it('refuses nonsense bounds', () => {
    expect(() => new Backoff(10, 5)).to.throw();
    expect(() => new Backoff(-1, 5)).to.throw();
  });
});
