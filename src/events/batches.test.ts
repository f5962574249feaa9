import { expect } from 'chai';
import { SerialBatches } from './batches.ts';

describe('events/batches (a node reader publishing loop)', () => {
  it('publishes what arrives while a step runs as one later batch, in order, one step at a time', async () => {
    const log: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const q = new SerialBatches<number>(async (batch) => {
      log.push(`batch ${batch.join(',')}`);
    }, () => log.push('error'));
    const listing = q.run(async () => {
      log.push('listing starts');
      await held;
      log.push('listing ends');
    });
    q.add(1);
    q.add(2);
    q.add(3);
    release();
    await listing;
    await q.run(async () => undefined);
    expect(log).to.deep.equal(['listing starts', 'listing ends', 'batch 1,2,3']);
  });

  it('a failing step goes to onError and the loop goes on', async () => {
    const seen: number[][] = [];
    const errors: unknown[] = [];
    const q = new SerialBatches<number>(async (b) => {
      seen.push(b);
      if (b[0] === 1) throw new Error('boom');
    }, (e) => errors.push(e));
    q.add(1);
    await q.run(async () => undefined);
    q.add(2);
    await q.run(async () => undefined);
    expect(seen).to.deep.equal([[1], [2]]);
    expect(errors).to.have.length(1);
  });
});
