import { expect } from 'chai';
import { isOmsError } from '../../src/rpc/errors.ts';
import { checkHistoryRequest, MAX_POINTS } from './history.ts';

const nameOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return isOmsError(e) ? e.omsName : String(e);
  }
  return undefined;
};

describe('statsservices.get_history: request checks', () => {
  it('a known metric and a sane range pass', () => {
    expect(checkHistoryRequest('cpu', 1000, 4600, 60)).to.equal('cpu');
  });

  it('an unknown metric is UnknownMetricError naming the known ones', () => {
    expect(nameOf(() => checkHistoryRequest('cpu_load', 0, 60, 1))).to.equal('UnknownMetricError');
    try {
      checkHistoryRequest('cpu_load', 0, 60, 1);
    } catch (e) {
      expect((e as Error).message).to.contain('reachable, load, cpu, memory, disk, net_rx, net_tx');
    }
  });

  it('to not after from is HistoryRangeError', () => {
    expect(nameOf(() => checkHistoryRequest('cpu', 100, 100, 1))).to.equal('HistoryRangeError');
    expect(nameOf(() => checkHistoryRequest('cpu', 200, 100, 1))).to.equal('HistoryRangeError');
  });

  it(`more than ${MAX_POINTS} points is TooManyPointsError; exactly ${MAX_POINTS} is fine`, () => {
    expect(nameOf(() => checkHistoryRequest('cpu', 0, MAX_POINTS * 10, 10))).to.equal(undefined);
    expect(nameOf(() => checkHistoryRequest('cpu', 0, MAX_POINTS * 10 + 1, 10))).to.equal('TooManyPointsError');
    expect(nameOf(() => checkHistoryRequest('memory', 0, 30 * 86400, 1))).to.equal('TooManyPointsError');
  });
});
