import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countCpuList, parseHealthSample } from './health-parse.ts';
import { derive } from '../../src/health/rates.ts';
import { healthResident } from './health-sampler.ts';

const fixture = (name: string) => readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'health', name), 'utf8');

describe('health sampler: parsing its answer (captured on lab node omsnode4)', () => {
  it('reads uptime, load, CPUs, CPU jiffies, memory, the root filesystem and the interfaces but lo', () => {
    const r = parseHealthSample(fixture('sample.1'));
    expect(r.uptime).to.equal(16388.28);
    expect(r.load1).to.equal(2.94);
    expect(r.cpus).to.equal(2);
    // cpu line: user nice system idle iowait irq softirq steal (guest time is inside user).
    expect(r.cpuTotal).to.equal(1448128 + 1452 + 751004 + 1031490 + 7164 + 0 + 16395 + 3274);
    expect(r.cpuIdle).to.equal(1031490 + 7164);
    expect(r.memTotalKb).to.equal(24684096);
    expect(r.memAvailableKb).to.equal(22933504);
    expect(r.disk).to.deep.equal({ usedKb: 26806328, availKb: 79584584 });
    expect([...r.net.keys()].sort()).to.deep.equal(['eth0', 'labp4a', 'labp4b', 'lxcbr0']);
    expect(r.net.get('eth0')).to.deep.equal({ rxBytes: 119784, txBytes: 317261 });
  });

  it('two samples a second apart give the CPU share, network rates and memory/disk percentages', () => {
    const d = derive(parseHealthSample(fixture('sample.1')), parseHealthSample(fixture('sample.2')));
    // 204 jiffies passed (user +142, system +30, idle +32): 172 busy.
    expect(d.cpu).to.equal(84.31);
    // eth0: 1720 bytes in, 2065 out, over 1.05 s of the node's uptime; the other interfaces nothing.
    expect(d.net_rx).to.equal(1638.1);
    expect(d.net_tx).to.equal(1966.67);
    expect(d.memory).to.equal(Math.round((10000 * (24684096 - 22927512)) / 24684096) / 100);
    // df's Use%: used / (used + available).
    expect(d.disk).to.equal(Math.round((10000 * 26806972) / (26806972 + 79583940)) / 100);
    expect(d.load).to.equal(2.95);
    expect(d.loadPerCpu).to.be.closeTo(1.475, 0.006);
  });

  it('whole files (head -c, an earlier form of the sampler) parse the same way: extra lines are ignored', () => {
    const r = parseHealthSample(fixture('full.1'));
    expect(r.cpuTotal).to.equal(1431991 + 1390 + 739875 + 1021005 + 7147 + 0 + 16295 + 3245);
    expect(r.memAvailableKb).to.equal(23813672);
    expect(r.cpus).to.equal(2);
    const d = derive(r, parseHealthSample(fixture('full.2')));
    expect(d.cpu).to.equal(4); // 200 jiffies, 192 idle
    expect(d.net_rx).to.equal(69.31); // eth0: 70 bytes in 1.01 s
  });

  it('refuses an answer that is not a sample (an error message) instead of making up zeros', () => {
    expect(() => parseHealthSample('sh: 1: df: not found\n')).to.throw(/no head output/);
    expect(() => parseHealthSample('==> /proc/uptime <==\n12.0 3.0\n')).to.throw(/missing/);
  });

  it('counts CPU lists and falls back to the per-CPU lines of /proc/stat without one', () => {
    expect(countCpuList('0-1\n')).to.equal(2);
    expect(countCpuList('0,2-3,8-15')).to.equal(11);
    const noList = fixture('full.1').replace(/==> \/sys\/devices\/system\/cpu\/online <==\n0-1\n/, '');
    expect(parseHealthSample(noList).cpus).to.equal(2);
  });

  it('the sampler is one fixed script on the resident path: the request is the word `sample`, files are constants', () => {
    expect(healthResident.argv.slice(0, 2)).to.deep.equal(['sh', '-c']);
    expect(healthResident.argv.slice(3)).to.deep.equal(['oms-health-sampler', '/proc/meminfo', '/proc/net/dev', '/proc/uptime', '/proc/loadavg', '/proc/stat', '/sys/devices/system/cpu/online']);
    expect(healthResident.echo('M')).to.deep.equal(['echo', 'M']);
  });
});
