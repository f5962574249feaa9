import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  bandwidthStat,
  cpuStat,
  dfStat,
  iowaitStat,
  kernelStat,
  mainInterface,
  memoryStat,
  networkStat,
  osReleaseStat,
  parseCpuinfo,
  parseDf,
  parseHeadFiles,
  parseIpAddrJson,
  parseIpRouteJson,
  parseLinkSpeed,
  parseMeminfo,
  parseNetDev,
  parseOsRelease,
  parseProcStat,
  parseSwaps,
  parseUptime,
  percent,
  swapStat,
  uptimeStat,
} from './parse.ts';

/** Captured on Debian 12 (debian12/) or written by hand for cases that machine lacks (edge/). */
const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const real = (name: string): string => fixture(`debian12/${name}`);
const edge = (name: string): string => fixture(`edge/${name}`);

describe('statsservices readers', () => {
  describe('parseHeadFiles', () => {
    it('splits a real multi-file head into the files as they are', () => {
      const files = parseHeadFiles(real('head-first.out'));
      expect([...files.keys()]).to.deep.equal([
        '/proc/stat',
        '/proc/meminfo',
        '/proc/cpuinfo',
        '/proc/uptime',
        '/proc/swaps',
        '/proc/net/dev',
        '/proc/sys/kernel/osrelease',
        '/etc/os-release',
        '/usr/lib/os-release',
      ]);
      // Files that do not change between captures must come back byte for byte.
      expect(files.get('/proc/sys/kernel/osrelease')).to.equal(real('proc-sys-kernel-osrelease'));
      expect(files.get('/etc/os-release')).to.equal(real('etc-os-release'));
      expect(files.get('/proc/swaps')).to.equal(real('proc-swaps'));
      expect(files.get('/proc/stat')?.split('\n')[0]).to.equal(real('proc-stat.1').split('\n')[0]);
    });

    it('leaves out a file head could not open and keeps an unreadable one empty', () => {
      expect(Number(real('head-missing.rc'))).to.equal(1);
      const files = parseHeadFiles(real('head-missing.out'));
      expect([...files.keys()]).to.deep.equal(['/proc/uptime', '/sys/class/net/lo/speed', '/proc/sys/kernel/osrelease']);
      expect(files.get('/sys/class/net/lo/speed')).to.equal('');
      expect(files.get('/proc/sys/kernel/osrelease')).to.equal('6.18.44-fc-v782\n');
    });

    it('keeps content without a final newline intact, and reads nothing without headers', () => {
      expect([...parseHeadFiles('==> /a <==\nabc\n==> /b <==\nxyz')]).to.deep.equal([
        ['/a', 'abc'],
        ['/b', 'xyz'],
      ]);
      expect([...parseHeadFiles('==> /a <==\n\n\n==> /b <==\n')]).to.deep.equal([
        ['/a', '\n'],
        ['/b', ''],
      ]);
      expect(parseHeadFiles('').size).to.equal(0);
      expect(parseHeadFiles('6.1.0\n').size).to.equal(0);
    });
  });

  it('parseProcStat sums the first eight fields of the aggregate cpu line', () => {
    expect(parseProcStat(real('proc-stat.1'))).to.deep.equal({ total: 12294 + 1501 + 193872 + 136 + 95 + 1, idle: 193872, iowait: 136 });
    expect(parseProcStat(edge('proc-stat-64cpu.2'))).to.deep.equal({ total: 84640 + 32320 + 5762720 + 6440 + 640, idle: 5762720, iowait: 6440 });
    expect(parseProcStat('cpu  10 0 5 85\nintr 1\n')).to.deep.equal({ total: 100, idle: 85, iowait: 0 });
    expect(parseProcStat('cpu0 1 2 3 4\n')).to.equal(undefined);
    expect(parseProcStat('')).to.equal(undefined);
  });

  it('parseMeminfo reads kB values by key', () => {
    const m = parseMeminfo(real('proc-meminfo'));
    expect(m.get('MemTotal')).to.equal(24683656);
    expect(m.get('MemAvailable')).to.equal(24290148);
    expect(m.get('HugePages_Total')).to.equal(0);
  });

  it('parseCpuinfo takes the first processor and counts them all', () => {
    expect(parseCpuinfo(real('proc-cpuinfo'))).to.deep.equal({ modelName: 'AMD EPYC', mhz: '2695.950', cacheSize: '1024 KB', count: 2 });
    expect(parseCpuinfo(edge('proc-cpuinfo-64cpu')).count).to.equal(64);
    expect(parseCpuinfo(edge('proc-cpuinfo-aarch64'))).to.deep.equal({ modelName: '', mhz: '', cacheSize: '', count: 2 });
    expect(parseCpuinfo('')).to.deep.equal({ modelName: '', mhz: '', cacheSize: '', count: 0 });
  });

  it('parseUptime reads seconds since boot', () => {
    expect(parseUptime(real('proc-uptime.1'))).to.equal(1041.15);
    expect(parseUptime('')).to.equal(undefined);
  });

  it('parseSwaps reads devices and unescapes paths', () => {
    expect(parseSwaps(real('proc-swaps'))).to.deep.equal([]);
    expect(parseSwaps(edge('proc-swaps-two'))).to.deep.equal([
      { path: '/dev/mapper/VolGroup00-swap', type: 'partition', sizeKb: 8388600, usedKb: 1024 },
      { path: '/var/swap file', type: 'file', sizeKb: 1048572, usedKb: 512 },
    ]);
  });

  it('parseNetDev reads byte counters, also where a long name touches its number', () => {
    const d = parseNetDev(real('proc-net-dev.1'));
    expect([...d.keys()]).to.deep.equal(['lo', 'ifb0', 'ifb1', 'eth0', 'omslab0', 'omslabv1']);
    expect(d.get('eth0')).to.deep.equal({ rxBytes: 113661178, txBytes: 534673 });
    expect(parseNetDev('omslabv1:40792     183    0    0    0     0          0         0    36558     182    0    0    0     0       0          0\n').get('omslabv1')).to.deep.equal({ rxBytes: 40792, txBytes: 36558 });
  });

  it('parseOsRelease unquotes shell-style values', () => {
    expect(parseOsRelease(real('etc-os-release')).get('PRETTY_NAME')).to.equal('Debian GNU/Linux 12 (bookworm)');
    const m = parseOsRelease('A="x \\"y\\" \\$z"\nB=\'single $q\'\nC=plain\n# comment\nD=\n');
    expect([...m]).to.deep.equal([
      ['A', 'x "y" $z'],
      ['B', 'single $q'],
      ['C', 'plain'],
      ['D', ''],
    ]);
  });

  it('parseDf reads df -P -k -T lines, mount points with spaces included', () => {
    const d = parseDf(real('df-PkTl.out'));
    expect(d.map((e) => e.mount)).to.deep.equal(['/dev', '/dev/shm', '/', '/mnt/sandboxing/model_tools_env/v1/python', '/sys/fs/cgroup', '/run/oms-lab']);
    expect(d[2]).to.deep.equal({ dev: '/dev/vda', type: 'ext4', totalKb: 264212084, usedKb: 22994396, availKb: 83396516, mount: '/' });
    const mixed = parseDf(edge('df-mixed.out'));
    expect(mixed).to.have.length(10);
    expect(mixed[4]).to.deep.include({ dev: '/dev/sdb1', mount: '/mnt/My Backups' });
    expect(mixed[6]).to.deep.include({ dev: '/dev/sdc1', type: 'btrfs', usedKb: 20000000, mount: '/srv/a b  1 2 3 4% /x' });
  });

  describe('iproute2 JSON', () => {
    it('reads default routes, skipping those without a device', () => {
      expect(parseIpRouteJson(real('ip-route-default.json'))).to.deep.equal([{ dev: 'eth0', gateway: '192.0.2.1', metric: 0 }]);
      expect(parseIpRouteJson(edge('ip-route-multipath.json'))).to.deep.equal([{ dev: 'bond0', gateway: '10.0.0.1', metric: 0 }]);
      expect(parseIpRouteJson(edge('ip-route-metrics.json')).map((r) => [r.dev, r.metric])).to.deep.equal([
        ['wlan0', 600],
        ['vmbr0', 100],
      ]);
      expect(parseIpRouteJson(edge('ip-route-none.json'))).to.deep.equal([]);
      expect(parseIpRouteJson('')).to.deep.equal([]);
      expect(() => parseIpRouteJson('Option "-j" is unknown')).to.throw(/did not print JSON/);
      expect(() => parseIpRouteJson('{}')).to.throw(/JSON array/);
    });

    it('reads interfaces with their IPv4 addresses, primary first', () => {
      const real4 = parseIpAddrJson(real('ip-addr.json'));
      expect(real4.map((i) => [i.name, i.loopback, i.ipv4])).to.deep.equal([
        ['lo', true, ['127.0.0.1']],
        ['ifb0', false, []],
        ['ifb1', false, []],
        ['eth0', false, ['192.0.2.2']],
        ['omslab0', false, ['10.213.7.1']],
        ['omslabv1', false, []],
      ]);
      expect(parseIpAddrJson(edge('ip-addr-bridge.json')).find((i) => i.name === 'vmbr0')?.ipv4).to.deep.equal(['192.168.1.40', '192.168.1.99']);
    });
  });

  it('parseLinkSpeed gives Mbit/s or 0 when the kernel does not know', () => {
    const speeds = Object.fromEntries(real('sys-class-net-speed.txt').trim().split('\n').map((l) => l.split(': ', 2) as [string, string]));
    expect(parseLinkSpeed(speeds['/sys/class/net/omslab0/speed'])).to.equal(10000);
    expect(parseLinkSpeed(speeds['/sys/class/net/eth0/speed'])).to.equal(0); // -1 from virtio
    expect(parseLinkSpeed(parseHeadFiles(real('head-second.out')).get('/sys/class/net/eth0/speed'))).to.equal(0);
    expect(parseLinkSpeed('')).to.equal(0); // EINVAL on a down or virtual link: header, no content
    expect(parseLinkSpeed(undefined)).to.equal(0);
    expect(parseLinkSpeed('1000\n')).to.equal(1000);
    expect(parseLinkSpeed('1e3\n')).to.equal(1000);
    expect(parseLinkSpeed('fast\n')).to.equal(0);
  });
});

describe('statsservices combiners', () => {
  it('percent has two decimals and no division by zero', () => {
    expect(percent(1, 3)).to.equal('33.33');
    expect(percent(0, 0)).to.equal('0.00');
    expect(percent(5, 0)).to.equal('0.00');
  });

  it('cpu busy share comes from the delta of two real samples', () => {
    const info = parseCpuinfo(real('proc-cpuinfo'));
    const a = parseProcStat(real('proc-stat.1'));
    const b = parseProcStat(real('proc-stat.2'));
    // One of two cores was spinning: 51 of 100 jiffies busy.
    expect(cpuStat(a, b, info)).to.deep.equal({ percentage: '51.00', cpu_cache: '1024 KB', cpu_type: 'AMD EPYC', cpu_mhz: '2695.950' });
    expect(cpuStat(a, a, info).percentage).to.equal('0.00');
    expect(cpuStat(undefined, b, info).percentage).to.equal('0.00');
    // 64 CPUs: 480 user + 320 system of 3560 jiffies; guest is inside user and not counted twice.
    const many = cpuStat(parseProcStat(edge('proc-stat-64cpu.1')), parseProcStat(edge('proc-stat-64cpu.2')), parseCpuinfo(edge('proc-cpuinfo-64cpu')));
    expect(many.percentage).to.equal('22.47');
  });

  it('iowait share comes from the iowait delta', () => {
    expect(iowaitStat(parseProcStat(real('proc-stat.1')), parseProcStat(real('proc-stat.2')))).to.deep.equal({ percentage: '0.00' });
    expect(iowaitStat(parseProcStat(edge('proc-stat-64cpu.1')), parseProcStat(edge('proc-stat-64cpu.2')))).to.deep.equal({ percentage: '1.12' });
    // Per-CPU iowait can run backwards on tickless kernels; that is no negative share.
    expect(iowaitStat({ total: 100, idle: 50, iowait: 10 }, { total: 200, idle: 140, iowait: 5 })).to.deep.equal({ percentage: '0.00' });
  });

  it('memory used is total minus available, estimated where MemAvailable is missing', () => {
    expect(memoryStat(parseMeminfo(real('proc-meminfo')))).to.deep.equal({ percentage: '1.59', total: '24683656', used: '393508' });
    expect(memoryStat(parseMeminfo(edge('proc-meminfo-no-memavailable')))).to.deep.equal({ percentage: '23.92', total: '262144', used: '62700' });
    expect(memoryStat(new Map())).to.deep.equal({ percentage: '0.00', total: '0', used: '0' });
  });

  it('df counts disk filesystems once each and lists them in details', () => {
    expect(dfStat(parseDf(real('df-PkTl.out')))).to.deep.equal({
      df: { percentage: '21.61', total: '264212084', used: '22994396' },
      details: [{ mount: '/', used: '22994396', dev: '/dev/vda', free: '83396516' }],
    });
    const mixed = dfStat(parseDf(edge('df-mixed.out')));
    expect(mixed.details.map((d) => d.mount)).to.deep.equal(['/', '/boot/efi', '/mnt/My Backups', '/srv/data', '/srv/a b  1 2 3 4% /x', '/rpool/data']);
    expect(mixed.df.total).to.equal(String(98497780 + 523248 + 961301000 + 488386584 + 400000000));
    expect(mixed.df.used).to.equal(String(12345678 + 348 + 100000000 + 20000000 + 5000000));
    expect(dfStat([])).to.deep.equal({ df: { percentage: '0.00', total: '0', used: '0' }, details: [] });
  });

  it('uptime, kernel and osrelease are plain strings', () => {
    expect(uptimeStat(parseUptime(real('proc-uptime.2')))).to.equal('1041');
    expect(uptimeStat(undefined)).to.equal('0');
    expect(kernelStat(real('proc-sys-kernel-osrelease'))).to.equal('6.18.44-fc-v782');
    expect(osReleaseStat(real('etc-os-release'))).to.equal('Debian GNU/Linux 12 (bookworm)');
    expect(osReleaseStat('ID=alpine\n')).to.equal('Linux');
    expect(osReleaseStat(undefined)).to.equal('');
  });

  it('the main interface is the default route with the lowest metric, else the first with IPv4', () => {
    expect(mainInterface(parseIpRouteJson(real('ip-route-default.json')), parseIpAddrJson(real('ip-addr.json')))).to.deep.equal({ name: 'eth0', ip: '192.0.2.2' });
    const bridge = parseIpAddrJson(edge('ip-addr-bridge.json'));
    expect(mainInterface(parseIpRouteJson(edge('ip-route-metrics.json')), bridge)).to.deep.equal({ name: 'vmbr0', ip: '192.168.1.40' });
    expect(mainInterface(parseIpRouteJson(edge('ip-route-multipath.json')), bridge)).to.deep.equal({ name: 'bond0', ip: '' });
    expect(mainInterface([], bridge)).to.deep.equal({ name: 'vmbr0', ip: '192.168.1.40' });
    expect(mainInterface([], parseIpAddrJson(real('ip-addr.json')))).to.deep.equal({ name: 'eth0', ip: '192.0.2.2' });
    expect(mainInterface([], [])).to.equal(undefined);
    expect(networkStat(undefined)).to.deep.equal({ ip: '', name: '' });
  });

  it('bandwidth is bytes per second over the measured interval against the link speed', () => {
    const a = parseNetDev(edge('proc-net-dev-reset.1')).get('vmbr0');
    const grown = parseNetDev(edge('proc-net-dev-growth.2')).get('vmbr0');
    const reset = parseNetDev(edge('proc-net-dev-reset.2')).get('vmbr0');
    // +1048576 B in, +262144 B out in half a second on a 1 Gbit link.
    expect(bandwidthStat(a, grown, 0.5, 1000)).to.deep.equal({ percentage: '2.00', received: 2097152, maximum: 1048576000, sent: 524288 });
    expect(bandwidthStat(a, grown, 0.5, 0)).to.deep.equal({ percentage: '0.00', received: 2097152, maximum: 0, sent: 524288 });
    expect(bandwidthStat(a, reset, 0.5, 100)).to.deep.equal({ percentage: '0.00', received: 0, maximum: 104857600, sent: 0 });
    expect(bandwidthStat(a, grown, 0, 100).received).to.equal(0);
    const r = parseNetDev(real('proc-net-dev.1')).get('eth0');
    expect(bandwidthStat(r, parseNetDev(real('proc-net-dev.2')).get('eth0'), 0.51, 0)).to.deep.equal({ percentage: '0.00', received: 0, maximum: 0, sent: 0 });
  });

  it('swap sums all devices and names the first', () => {
    expect(swapStat(parseSwaps(real('proc-swaps')))).to.deep.equal({ path: '', percentage: '0.00', total: '0', used: '0' });
    expect(swapStat(parseSwaps(edge('proc-swaps-two')))).to.deep.equal({ path: '/dev/mapper/VolGroup00-swap', percentage: '0.02', total: '9437172', used: '1536' });
  });
});
