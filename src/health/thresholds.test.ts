import { expect } from 'chai';
import { HYSTERESIS_BAND, ThresholdState } from './thresholds.ts';

describe('health thresholds (hysteresis)', () => {
  const limits = { memory: 90, disk: 90, load_per_cpu: 2 };

  it('a value hovering at the limit crosses once, not once per sample', () => {
    const t = new ThresholdState();
    const events = [89.9, 90.1, 89.8, 90.2, 89.7, 90.3, 88, 91].flatMap((memory) => t.update({ memory }, limits));
    expect(events).to.deep.equal([{ metric: 'memory', value: 90.1, limit: 90, direction: 'above' }]);
  });

  it('clears only below limit * (1 - band), then can cross again', () => {
    const t = new ThresholdState();
    const clear = 90 * (1 - HYSTERESIS_BAND);
    const seq = [95, clear + 0.1, clear - 0.1, 89, 91];
    const events = seq.map((memory) => t.update({ memory }, limits).map((c) => c.direction).join());
    expect(events).to.deep.equal(['above', '', 'below', '', 'above']);
  });

  it('each metric on its own; load per CPU is fractional', () => {
    const t = new ThresholdState();
    expect(t.update({ memory: 10, disk: 95, load_per_cpu: 2.5 }, limits).map((c) => c.metric)).to.deep.equal(['disk', 'load_per_cpu']);
    expect(t.update({ memory: 10, disk: 95, load_per_cpu: 1.8 }, limits).map((c) => `${c.metric}:${c.direction}`)).to.deep.equal(['load_per_cpu:below']);
  });

  it('a limit of 0 is off, and turning it off clears silently', () => {
    const t = new ThresholdState();
    expect(t.update({ disk: 99 }, { disk: 0 })).to.deep.equal([]);
    expect(t.update({ disk: 99 }, { disk: 90 })).to.have.length(1);
    expect(t.update({ disk: 99 }, { disk: 0 })).to.deep.equal([]);
    expect(t.isAbove('disk')).to.equal(false);
  });

  it('an unmeasured value (undefined) changes nothing', () => {
    const t = new ThresholdState();
    t.update({ memory: 95 }, limits);
    expect(t.update({}, limits)).to.deep.equal([]);
    expect(t.isAbove('memory')).to.equal(true);
  });
});
