/**
 * Assembly of get_stats over a fake executor that serves the captured fixtures by argv. The real
 * node path (SSH, quoting, exit codes from a real head) is covered by the lab integration tests.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { collectStats, type ExecOutput, type StatsExec } from './collect.ts';
import { statNames, type StatName } from './commands.ts';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/**
 * A file's successive reads (the last one repeats); null stands for a file that opens but fails
 * to read (EINVAL from a down link's speed), a path not listed for a file that does not exist.
 */
type Files = Record<string, string | null | readonly (string | null)[]>;

interface FakeNode {
  readonly files: Files;
  readonly df?: string;
  readonly route?: string;
  readonly addr?: string;
}

/** GNU head -v over several files, byte for byte (checked against a real capture below). */
function gnuHead(paths: readonly string[], read: (p: string) => string | null | undefined): ExecOutput {
  let stdout = '';
  let stderr = '';
  let code = 0;
  for (const p of paths) {
    const content = read(p);
    if (content === undefined) {
      stderr += `head: cannot open '${p}' for reading: No such file or directory\n`;
      code = 1;
      continue;
    }
    stdout += `${stdout === '' ? '' : '\n'}==> ${p} <==\n`;
    if (content === null) {
      stderr += `head: error reading '${p}': Invalid argument\n`;
      code = 1;
    } else {
      stdout += content;
    }
  }
  return { stdout, stderr, code };
}

/** Serves a fake node; like the node pool, rejects exit codes the caller did not accept. */
function fakeExec(node: FakeNode): { exec: StatsExec; calls: string[][] } {
  const calls: string[][] = [];
  const reads = new Map<string, number>();
  const read = (p: string): string | null | undefined => {
    const v = node.files[p];
    if (!Array.isArray(v)) return v as string | null | undefined;
    const n = reads.get(p) ?? 0;
    reads.set(p, n + 1);
    return v[Math.min(n, v.length - 1)];
  };
  const respond = (argv: readonly string[]): ExecOutput => {
    const key = argv.join(' ');
    if (argv[0] === 'head' && argv.slice(1, 5).join(' ') === '-v -c 1000000 --') return gnuHead(argv.slice(5), read);
    if (key === 'df -P -k -T -l' && node.df !== undefined) return { stdout: node.df, stderr: '', code: 0 };
    if (key === 'ip -j route show default' && node.route !== undefined) return { stdout: node.route, stderr: '', code: 0 };
    if (key === 'ip -j addr show' && node.addr !== undefined) return { stdout: node.addr, stderr: '', code: 0 };
    return { stdout: '', stderr: `unexpected command: ${key}`, code: 127 };
  };
  const exec: StatsExec = async (argv, opts) => {
    calls.push([...argv]);
    const out = respond(argv);
    if (!(opts?.okExitCodes ?? [0]).includes(out.code)) throw new Error(`exit ${out.code}: ${out.stderr}`);
    return out;
  };
  return { exec, calls };
}

/** This machine as captured: two samples of the counters, the rest read once. */
function debian12(): FakeNode {
  const r = (n: string): string => fixture(`debian12/${n}`);
  return {
    files: {
      '/proc/stat': [r('proc-stat.1'), r('proc-stat.2')],
      '/proc/meminfo': r('proc-meminfo'),
      '/proc/cpuinfo': r('proc-cpuinfo'),
      '/proc/uptime': r('proc-uptime.1'),
      '/proc/swaps': r('proc-swaps'),
      '/proc/net/dev': [r('proc-net-dev.1'), r('proc-net-dev.2')],
      '/proc/sys/kernel/osrelease': r('proc-sys-kernel-osrelease'),
      '/etc/os-release': r('etc-os-release'),
      '/usr/lib/os-release': r('etc-os-release'),
      '/sys/class/net/eth0/speed': '-1\n',
    },
    df: r('df-PkTl.out'),
    route: r('ip-route-default.json'),
    addr: r('ip-addr.json'),
  };
}

/** A Proxmox-like bridge host: traffic on vmbr0, 64 CPUs, a gigabit link, no /usr/lib/os-release. */
function bridgeHost(): FakeNode {
  const e = (n: string): string => fixture(`edge/${n}`);
  return {
    files: {
      '/proc/stat': [e('proc-stat-64cpu.1'), e('proc-stat-64cpu.2')],
      '/proc/cpuinfo': e('proc-cpuinfo-64cpu'),
      '/proc/net/dev': [e('proc-net-dev-reset.1'), e('proc-net-dev-growth.2')],
      '/sys/class/net/vmbr0/speed': '1000\n',
    },
    route: e('ip-route-metrics.json'),
    addr: e('ip-addr-bridge.json'),
  };
}

/** A clock that only moves when the collector sleeps, by `extraMs` more than it asked for. */
function fakeTime(extraMs = 0): { slept: number[]; sleep: (ms: number) => Promise<void>; now: () => number } {
  const clock = { t: 1000 };
  const slept: number[] = [];
  return {
    slept,
    sleep: async (ms) => {
      slept.push(ms);
      clock.t += ms + extraMs;
    },
    now: () => clock.t,
  };
}

async function run(node: FakeNode, names: readonly StatName[], extraMs = 0) {
  const time = fakeTime(extraMs);
  const { exec, calls } = fakeExec(node);
  const result = await collectStats(exec, names, { sleep: time.sleep, now: time.now });
  return { result, calls, slept: time.slept };
}

describe('collectStats', () => {
  it('the fake head matches a real GNU head capture, missing and unreadable files included', () => {
    const files: Record<string, string | null> = {
      '/proc/uptime': fixture('debian12/head-missing.out').split('\n')[1] + '\n',
      '/sys/class/net/lo/speed': null,
      '/proc/sys/kernel/osrelease': fixture('debian12/proc-sys-kernel-osrelease'),
    };
    const out = gnuHead(['/proc/uptime', '/nonexistent', '/sys/class/net/lo/speed', '/proc/sys/kernel/osrelease'], (p) => files[p]);
    expect(out.stdout).to.equal(fixture('debian12/head-missing.out'));
    expect(out.stderr).to.equal(fixture('debian12/head-missing.err'));
    expect(out.code).to.equal(Number(fixture('debian12/head-missing.rc')));
  });

  it('returns every stat in the OMS shapes from five calls in two rounds', async () => {
    const { result, calls, slept } = await run(debian12(), []);
    expect(calls).to.deep.equal([
      ['head', '-v', '-c', '1000000', '--', '/proc/stat', '/proc/meminfo', '/proc/cpuinfo', '/proc/uptime', '/proc/swaps', '/proc/net/dev', '/proc/sys/kernel/osrelease', '/etc/os-release', '/usr/lib/os-release'],
      ['df', '-P', '-k', '-T', '-l'],
      ['ip', '-j', 'route', 'show', 'default'],
      ['ip', '-j', 'addr', 'show'],
      ['head', '-v', '-c', '1000000', '--', '/proc/stat', '/proc/net/dev', '/sys/class/net/eth0/speed'],
    ]);
    expect(slept).to.deep.equal([250]);
    expect(result).to.deep.equal({
      cpu: { percentage: '51.00', cpu_cache: '1024 KB', cpu_type: 'AMD EPYC', cpu_mhz: '2695.950' },
      memory: { percentage: '1.59', total: '24683656', used: '393508' },
      df: { percentage: '21.61', total: '264212084', used: '22994396' },
      details: [{ mount: '/', used: '22994396', dev: '/dev/vda', free: '83396516' }],
      uptime: '1041',
      kernel: '6.18.44-fc-v782',
      network: { ip: '192.0.2.2', name: 'eth0' },
      bandwidth: { percentage: '0.00', received: 0, maximum: 0, sent: 0 },
      swap: { path: '', percentage: '0.00', total: '0', used: '0' },
      iowait: { percentage: '0.00' },
      osrelease: 'Debian GNU/Linux 12 (bookworm)',
    });
    expect(Object.keys(await run(debian12(), statNames).then((r) => r.result))).to.deep.equal(Object.keys(result));
  });

  it('cpu and iowait follow the two samples, not a constant', async () => {
    const pct = async (node: FakeNode) => {
      const { result } = await run(node, ['cpu_load', 'iowait']);
      return [(result.cpu as { percentage: string }).percentage, (result.iowait as { percentage: string }).percentage];
    };
    expect(await pct(debian12())).to.deep.equal(['51.00', '0.00']);
    expect(await pct(bridgeHost())).to.deep.equal(['22.47', '1.12']);
    const still = debian12();
    expect(await pct({ ...still, files: { ...still.files, '/proc/stat': fixture('debian12/proc-stat.1') } })).to.deep.equal(['0.00', '0.00']);
  });

  it('divides traffic by the interval actually measured, not the nominal one', async () => {
    const nominal = await run(bridgeHost(), ['bandwidth']);
    expect(nominal.slept).to.deep.equal([250]);
    // +1048576 B in, +262144 B out over 250 ms on a 1000 Mbit link.
    expect(nominal.result).to.deep.equal({ bandwidth: { percentage: '4.00', received: 4194304, maximum: 1048576000, sent: 1048576 } });
    // The node answered late: the same bytes spread over 500 ms.
    const late = await run(bridgeHost(), ['bandwidth'], 250);
    expect(late.result).to.deep.equal({ bandwidth: { percentage: '2.00', received: 2097152, maximum: 1048576000, sent: 524288 } });
  });

  it('makes only the calls the requested stats need and returns only their keys', async () => {
    const cases: [StatName[], string[], number, number][] = [
      [['kernel'], ['kernel'], 1, 0],
      [['memory', 'uptime', 'kernel', 'swap', 'osrelease'], ['memory', 'uptime', 'kernel', 'swap', 'osrelease'], 1, 0],
      [['df'], ['df', 'details'], 1, 0],
      [['network', 'kernel'], ['kernel', 'network'], 3, 0],
      [['network'], ['network'], 2, 0],
      [['cpu_load'], ['cpu'], 2, 1],
      [['iowait', 'iowait'], ['iowait'], 2, 1],
      [['bandwidth'], ['bandwidth'], 4, 1],
    ];
    for (const [names, keys, nCalls, nSleeps] of cases) {
      const { result, calls, slept } = await run(debian12(), names);
      expect(Object.keys(result).sort(), names.join()).to.deep.equal([...keys].sort());
      expect(calls, names.join()).to.have.length(nCalls);
      expect(slept, names.join()).to.have.length(nSleeps);
    }
  });

  it('a node without a default route or any IPv4 address has no rates to sample', async () => {
    const node: FakeNode = { ...debian12(), route: '[]\n', addr: '[]\n' };
    const { result, calls, slept } = await run(node, ['bandwidth', 'network']);
    expect(calls).to.have.length(3);
    expect(slept).to.deep.equal([]);
    expect(result).to.deep.equal({ network: { ip: '', name: '' }, bandwidth: { percentage: '0.00', received: 0, maximum: 0, sent: 0 } });
  });

  it('takes files head could not read as absent, and an unreadable link speed as unknown', async () => {
    const node = bridgeHost();
    const files = { ...node.files, '/sys/class/net/vmbr0/speed': null, '/proc/uptime': 'not a number\n' };
    const { result } = await run({ ...node, files }, ['osrelease', 'kernel', 'memory', 'uptime', 'bandwidth']);
    expect(result).to.deep.equal({
      memory: { percentage: '0.00', total: '0', used: '0' },
      uptime: '0',
      kernel: '',
      bandwidth: { percentage: '0.00', received: 4194304, maximum: 0, sent: 1048576 },
      osrelease: '',
    });
  });

  it('falls back to /usr/lib/os-release', async () => {
    const node = debian12();
    const files: Files = { ...node.files, '/usr/lib/os-release': 'PRETTY_NAME="Proxmox VE 8"\n' };
    delete files['/etc/os-release'];
    expect((await run({ ...node, files }, ['osrelease'])).result).to.deep.equal({ osrelease: 'Proxmox VE 8' });
  });

  it('fails when a command fails, and refuses names outside the enum', async () => {
    const node: FakeNode = { ...debian12(), route: undefined };
    let err: unknown;
    await run(node, ['network']).catch((e: unknown) => (err = e));
    expect(String(err)).to.match(/exit 127/);
    const { exec, calls } = fakeExec(debian12());
    let refused: unknown;
    await collectStats(exec, ['memory; id' as StatName]).catch((e: unknown) => (refused = e));
    expect(refused).to.be.instanceOf(TypeError);
    expect(calls).to.deep.equal([]);
  });
});
