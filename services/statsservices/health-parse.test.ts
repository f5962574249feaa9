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
    expect(r.uptime).to.equal(16196.34);
    expect(r.load1).to.equal(6.56);
    expect(r.cpus).to.equal(2);
    // cpu line: user nice system idle iowait irq softirq steal (guest time is inside user).
    expect(r.cpuTotal).to.equal(1431991 + 1390 + 739875 + 1021005 + 7147 + 0 + 16295 + 3245);
    expect(r.cpuIdle).to.equal(1021005 + 7147);
    expect(r.memTotalKb).to.equal(24684096);
    expect(r.memAvailableKb).to.equal(23813672);
    expect(r.disk).to.deep.equal({ usedKb: 26802156, availKb: 79588756 });
    expect([...r.net.keys()].sort()).to.deep.equal(['eth0', 'labp4a', 'labp4b', 'lxcbr0']);
    expect(r.net.get('eth0')).to.deep.equal({ rxBytes: 18776, txBytes: 866 });
  });

  it('two samples a second apart give the CPU share and memory/disk percentages df and free would', () => {
    const d = derive(parseHealthSample(fixture('sample.1')), parseHealthSample(fixture('sample.2')));
    // 200 jiffies passed (user +5, system +3, idle +192): 8 busy, 4 %.
    expect(d.cpu).to.equal(4);
    expect(d.memory).to.equal(Math.round((10000 * (24684096 - 23816400)) / 24684096) / 100);
    // df's Use%: used / (used + available).
    expect(d.disk).to.equal(Math.round((10000 * 26802164) / (26802164 + 79588748)) / 100);
    expect(d.load).to.equal(6.56);
    expect(d.loadPerCpu).to.equal(3.28);
    // eth0 received 70 bytes in 1.01 s of the node's uptime, the other interfaces nothing.
    expect(d.net_rx).to.equal(69.31);
    expect(d.net_tx).to.equal(0);
  });

  it('refuses an answer that is not a sample (an error message) instead of making up zeros', () => {
    expect(() => parseHealthSample('sh: 1: df: not found\n')).to.throw(/no head output/);
    expect(() => parseHealthSample('==> /proc/uptime <==\n12.0 3.0\n')).to.throw(/missing/);
  });

  it('counts CPU lists and falls back to /proc/stat without one', () => {
    expect(countCpuList('0-1\n')).to.equal(2);
    expect(countCpuList('0,2-3,8-15')).to.equal(11);
    const noList = fixture('sample.1').replace(/==> \/sys\/devices\/system\/cpu\/online <==\n0-1\n/, '');
    expect(parseHealthSample(noList).cpus).to.equal(2);
  });

  it('the sampler is one fixed script on the resident path: the request is the word `sample`, files are constants', () => {
    expect(healthResident.argv.slice(0, 2)).to.deep.equal(['sh', '-c']);
    expect(healthResident.argv.slice(3)).to.deep.equal(['oms-health-sampler', '/proc/uptime', '/proc/loadavg', '/proc/stat', '/proc/meminfo', '/proc/net/dev', '/sys/devices/system/cpu/online']);
    expect(healthResident.echo('M')).to.deep.equal(['echo', 'M']);
  });
});
