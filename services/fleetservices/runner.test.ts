import { expect } from 'chai';
import { runBounded, type Outcome } from './runner.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const failure = (e: unknown) => ({ name: (e as Error).name, code: 1, message: (e as Error).message });

describe('fleet runner', () => {
  it('never runs more than the bound at once, and runs every target', async () => {
    let running = 0;
    let peak = 0;
    const r = await runBounded([...Array(20).keys()], {
      concurrency: 4,
      failure,
      work: async (i) => {
        peak = Math.max(peak, ++running);
        await sleep(5 + (i % 3));
        running--;
        return i * 2;
      },
    });
    expect(peak).to.equal(4);
    expect(r.outcomes.map((o) => o.result).sort((a, b) => Number(a) - Number(b))).to.deep.equal([...Array(20).keys()].map((i) => i * 2));
    expect(r.notStarted).to.deep.equal([]);
  });

  it('a failing target is its own outcome; the others finish, each told as it arrives', async () => {
    const told: [Outcome<string>, number, number][] = [];
    const r = await runBounded(['a', 'bad', 'c'], {
      concurrency: 2,
      failure,
      work: async (t) => {
        if (t === 'bad') throw Object.assign(new Error('node bad is unreachable'), { name: 'NodeUnreachableError' });
        await sleep(10);
        return `${t} ok`;
      },
      onOutcome: (o, done, total) => told.push([o, done, total]),
    });
    expect(told.map(([o, d, t]) => [o.target, o.ok, d, t])).to.deep.equal([
      ['bad', false, 1, 3],
      ['a', true, 2, 3],
      ['c', true, 3, 3],
    ]);
    expect(r.outcomes.find((o) => o.target === 'bad')!.error).to.deep.equal({ name: 'NodeUnreachableError', code: 1, message: 'node bad is unreachable' });
  });

  it('cancelled mid-way: nothing new starts, the running ones finish', async () => {
    const ac = new AbortController();
    const started: number[] = [];
    const finished: number[] = [];
    const r = await runBounded([...Array(10).keys()], {
      concurrency: 3,
      signal: ac.signal,
      failure,
      work: async (i) => {
        started.push(i);
        if (i === 4) ac.abort();
        await sleep(20);
        finished.push(i);
      },
    });
    expect(r.cancelled).to.equal(true);
    expect(started).to.deep.equal([0, 1, 2, 3, 4]);
    expect(finished.sort()).to.deep.equal(started);
    expect(r.notStarted).to.deep.equal([5, 6, 7, 8, 9]);
  });
});
