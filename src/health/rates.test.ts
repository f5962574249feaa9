import { expect } from 'chai';
import { derive } from './rates.ts';
import type { HealthReading } from './sample.ts';

const reading = (o: Partial<HealthReading> & { nets?: Record<string, [number, number]> } = {}): HealthReading => ({
  uptime: 100,
  load1: 1,
  cpus: 4,
  cpuTotal: 10_000,
  cpuIdle: 8_000,
  memTotalKb: 1000,
  memAvailableKb: 250,
  disk: { usedKb: 30, availKb: 70 },
  net: new Map(Object.entries(o.nets ?? { eth0: [1000, 5000] }).map(([k, [rx, tx]]) => [k, { rxBytes: rx, txBytes: tx }])),
  ...o,
});

describe('health rates', () => {
  it('the first reading has levels but no rates', () => {
    const d = derive(undefined, reading());
    expect(d).to.include({ load: 1, loadPerCpu: 0.25, memory: 75, disk: 30 });
    expect(d.cpu).to.equal(undefined);
    expect(d.net_rx).to.equal(undefined);
  });

  it('CPU busy share from jiffy deltas; bytes per second over the node clock, not the gateway one', () => {
    const a = reading();
    const b = reading({ uptime: 110, cpuTotal: 10_400, cpuIdle: 8_100, nets: { eth0: [21_000, 6_000] } });
    const d = derive(a, b);
    expect(d.cpu).to.equal(75); // 300 of 400 jiffies busy
    expect(d.net_rx).to.equal(2000); // 20000 bytes in 10 s
    expect(d.net_tx).to.equal(100);
  });

  it('sums interfaces, leaving out one that appeared or was reset', () => {
    const a = reading({ nets: { eth0: [0, 0], br0: [1000, 1000] } });
    const b = reading({ uptime: 102, nets: { eth0: [400, 200], br0: [10, 10], veth1: [9_999_999, 9_999_999] } });
    const d = derive(a, b);
    expect(d.net_rx).to.equal(200);
    expect(d.net_tx).to.equal(100);
  });

  it('a reboot between readings (uptime went back) gives no rates rather than negative ones', () => {
    const d = derive(reading({ uptime: 5000 }), reading({ uptime: 20, cpuTotal: 50, cpuIdle: 40 }));
    expect(d.cpu).to.equal(undefined);
    expect(d.net_rx).to.equal(undefined);
    expect(d.memory).to.equal(75);
  });

  it('jiffies that went backwards give no CPU share', () => {
    expect(derive(reading(), reading({ uptime: 101, cpuTotal: 9_000 })).cpu).to.equal(undefined);
  });

  it('no root filesystem line: disk unknown, not 0 %', () => {
    expect(derive(undefined, reading({ disk: undefined })).disk).to.equal(undefined);
  });
});
