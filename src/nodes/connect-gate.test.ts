import { expect } from 'chai';
import { ConnectGate } from './connect-gate.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An attempt that records how many run at once and ends after `ms`. */
function attempts(ms: number) {
  let running = 0;
  let most = 0;
  const startedAt: number[] = [];
  const t0 = performance.now();
  const attempt = async () => {
    startedAt.push(performance.now() - t0);
    running++;
    most = Math.max(most, running);
    await sleep(ms);
    running--;
  };
  return { attempt, most: () => most, startedAt };
}

describe('nodes/connect-gate', () => {
  it('never runs more than max attempts at once, and runs them all', async () => {
    const g = new ConnectGate({ max: 4, jitterMs: 0 });
    const a = attempts(15);
    await Promise.all(Array.from({ length: 40 }, () => g.run(a.attempt)));
    expect(a.most()).to.equal(4);
    expect(a.startedAt).to.have.length(40);
    expect(g.stats()).to.deep.equal({ inFlight: 0, waiting: 0, peak: 4, started: 40 });
  });

  it('spreads a burst over the jitter window: attempts start at the random delay drawn for each', async () => {
    // Delays 0, 10, 20 ... 90 % of 200 ms, in a shuffled order of arrival.
    const draws = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6];
    let i = 0;
    const g = new ConnectGate({ max: 100, jitterMs: 200, random: () => draws[i++] });
    const a = attempts(5);
    await Promise.all(Array.from({ length: 10 }, () => g.run(a.attempt)));
    // The first found the gate idle and started at once; each other waited its own draw.
    expect(a.startedAt[0]).to.be.below(15);
    const later = a.startedAt.slice(1);
    const expected = [...draws].sort((x, y) => x - y).map((d) => d * 200);
    later.forEach((t, k) => {
      expect(t).to.be.at.least(expected[k] - 1);
      expect(t).to.be.below(expected[k] + 60);
    });
    expect(Math.max(...later) - Math.min(...later)).to.be.at.least(150);
  });

  it('keeps the bound with jitter too, and a lone attempt on an idle gate waits for nothing', async () => {
    const g = new ConnectGate({ max: 3, jitterMs: 30 });
    const a = attempts(10);
    await Promise.all(Array.from({ length: 30 }, () => g.run(a.attempt)));
    expect(a.most()).to.be.at.most(3);
    expect(g.stats().peak).to.be.at.most(3);
    const t0 = performance.now();
    await g.run(async () => undefined);
    expect(performance.now() - t0).to.be.below(10);
  });

  it('frees the slot of a failed attempt', async () => {
    const g = new ConnectGate({ max: 1, jitterMs: 0 });
    await g.run(() => Promise.reject(new Error('refused'))).catch(() => undefined);
    expect(await g.run(async () => 'next')).to.equal('next');
    expect(g.stats().inFlight).to.equal(0);
  });

  it('refuses a bad configuration', () => {
    expect(() => new ConnectGate({ max: 0, jitterMs: 0 })).to.throw(/max/);
    expect(() => new ConnectGate({ max: 2, jitterMs: -1 })).to.throw(/jitter/);
  });
});
