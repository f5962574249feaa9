import { expect } from 'chai';
import { getMetricsFromIterator, type PromHistogramData } from 'prom2javascript';
import { Metrics, UNKNOWN } from './metrics.ts';

/** An hrtime start that lies `seconds` in the past. */
const ago = (seconds: number): bigint => process.hrtime.bigint() - BigInt(Math.round(seconds * 1e9));

const parse = async (m: Metrics) => getMetricsFromIterator((await m.scrape()).split('\n')[Symbol.iterator]());

describe('metrics: call counters and latency', () => {
  it('counts calls per service, method, transport and outcome, each registry on its own', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.call('kvmservices', 'list_vms', 'oms-get', 'ok', ago(0));
    a.call('kvmservices', 'list_vms', 'oms-get', 'ok', ago(0));
    a.call('kvmservices', 'list_vms', 'jsonrpc', 'FuncMethodTimeoutError', ago(0));
    a.unresolved('qooxdoo', 'ServiceNotFound');
    a.cacheHit('kvmservices', 'list_vms');
    const calls = (await parse(a)).oms_rpc_calls_total;
    expect(calls.type).to.equal('counter');
    expect(calls.data).to.deep.equal([
      { labels: { service: 'kvmservices', method: 'list_vms', transport: 'oms-get', outcome: 'ok' }, value: 2 },
      { labels: { service: 'kvmservices', method: 'list_vms', transport: 'jsonrpc', outcome: 'FuncMethodTimeoutError' }, value: 1 },
      { labels: { service: UNKNOWN, method: UNKNOWN, transport: 'qooxdoo', outcome: 'ServiceNotFound' }, value: 1 },
    ]);
    expect((await parse(a)).oms_rpc_cache_hits_total.data).to.deep.equal([{ labels: { service: 'kvmservices', method: 'list_vms' }, value: 1 }]);
    expect((await parse(b)).oms_rpc_calls_total.data).to.deep.equal([]);
  });

  it('puts each latency in the first bucket at or above it, cumulatively, with sum and count', async () => {
    const m = new Metrics();
    for (const s of [0.0001, 0.003, 0.004, 0.7, 120]) m.call('statsservices', 'get_stats', 'oms-get', 'ok', ago(s));
    const h = (await parse(m)).oms_rpc_call_duration_seconds;
    expect(h.type).to.equal('histogram');
    const [series] = h.data as PromHistogramData[];
    expect(series.labels).to.deep.equal({ service: 'statsservices', method: 'get_stats' });
    expect(series.count).to.equal(5);
    expect(series.sum).to.be.within(120.7071, 120.72);
    expect(series.buckets).to.include({ '0.0005': 1, '0.0025': 1, '0.005': 3, '0.5': 3, '1': 4, '60': 4, '+Inf': 5 });
  });
});
