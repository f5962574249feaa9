import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { cgroupLimits, configKeys, cpusetCount, cpusetFor, mergeConfig, parseConfig, renderConfig, resolvConf, type CtConfig } from './config.ts';

const fx = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const base: CtConfig = { id: '9101', name: 'ct.oms.test', vcpu: 2, vcpulimit: 50, memory: 64, disk: 128, ip_address: '10.213.101.91', nameserver: '10.213.101.1', searchdomain: 'oms.test', onboot: true, template: 'ovzt-busybox', haltSignal: 'SIGUSR1' };
const defaults = { cpus: 2, memoryMiB: 24104 };

describe('ovzservices config', () => {
  it('renders the cgroup v1 config exactly (golden)', () => {
    expect(renderConfig(base, '/var/lib/lxc', 'v1')).to.equal(`# OMS container 9101: written by ovzservices; change it with update_vm_settings.
lxc.uts.name = ct.oms.test
lxc.rootfs.path = dir:/var/lib/lxc/9101/rootfs
lxc.signal.halt = SIGUSR1
lxc.autodev = 1
lxc.tty.max = 1
lxc.pty.max = 16
lxc.cap.drop = sys_module mac_admin mac_override sys_time
lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
lxc.cgroup.relative = 1
lxc.start.auto = 1
lxc.net.0.type = veth
lxc.net.0.link = lxcbr0
lxc.net.0.flags = up
lxc.net.0.name = eth0
lxc.net.0.ipv4.address = 10.213.101.91/24 10.213.101.255
lxc.net.0.ipv4.gateway = auto
lxc.cgroup.cpuset.cpus = 0-1
lxc.cgroup.cpu.cfs_period_us = 100000
lxc.cgroup.cpu.cfs_quota_us = 50000
lxc.cgroup.memory.limit_in_bytes = 67108864
# oms.disk = 128
# oms.nameserver = 10.213.101.1
# oms.searchdomain = oms.test
# oms.template = ovzt-busybox
`);
  });

  it('renders cgroup v2 keys (cpu.max, memory.max) and no limit as max / -1', () => {
    const v2 = renderConfig({ ...base, vcpulimit: 0 }, '/var/lib/lxc', 'v2');
    expect(v2).to.include('lxc.cgroup2.cpuset.cpus = 0-1\nlxc.cgroup2.cpu.max = max 100000\nlxc.cgroup2.memory.max = 67108864\n');
    expect(v2).not.to.match(/^lxc\.cgroup\.(cpu|memory)/m);
    expect(cgroupLimits({ vcpu: 1, vcpulimit: 0, memory: 16 }, 'v1')).to.deep.include(['cpu.cfs_quota_us', '-1']);
    expect(cgroupLimits({ vcpu: 1, vcpulimit: 150, memory: 16 }, 'v2')).to.deep.include(['cpu.max', '150000 100000']);
  });

  it('leaves out what is not set', () => {
    const bare = renderConfig({ ...base, ip_address: undefined, nameserver: undefined, searchdomain: undefined, template: undefined, onboot: false }, '/x', 'v1');
    expect(bare).not.to.match(/ipv4|nameserver|searchdomain|oms\.template/);
    expect(bare).to.include('lxc.start.auto = 0');
  });

  it('reads back what it renders, for both hierarchies', () => {
    for (const cg of ['v1', 'v2'] as const) expect(parseConfig('9101', renderConfig(base, '/var/lib/lxc', cg), defaults)).to.deep.equal(base);
    expect(parseConfig('9101', renderConfig({ ...base, vcpulimit: 0, onboot: false }, '/x', 'v2'), defaults)).to.include({ vcpulimit: 0, onboot: false });
  });

  it('reads the v1 config LXC ran on the lab', () => {
    expect(parseConfig('9990', fx('config-oms-v1.conf'), defaults)).to.deep.equal({ id: '9990', name: 'ct9990.example.com', vcpu: 1, vcpulimit: 50, memory: 64, disk: 0, ip_address: '10.213.101.90', onboot: false, haltSignal: 'SIGUSR1' });
  });

  it('reads a container OMS did not make (lxc-create -t busybox) as unlimited', () => {
    expect(parseConfig('9991', fx('config-lxc-busybox.conf'), defaults)).to.deep.equal({ id: '9991', name: '9991', vcpu: 2, vcpulimit: 0, memory: 24104, disk: 0, onboot: false, haltSignal: 'SIGUSR1' });
  });

  it('reads the container address in the forms LXC takes, and only an IPv4 address', () => {
    const addr = (v: string) => parseConfig('9101', `lxc.net.0.ipv4.address = ${v}\n`, defaults).ip_address;
    expect(addr('10.213.101.91/24 10.213.101.255')).to.equal('10.213.101.91');
    expect(addr('10.213.101.91/24')).to.equal('10.213.101.91');
    expect(addr('10.213.101.91')).to.equal('10.213.101.91');
    for (const v of ['10.213.101.910/24', '10.213.101.91/33', '10.213.101.91/24 10.213.101.256', '010.213.101.91/24', 'fd13::1/64', '10.213.101.91/24 x y']) expect(addr(v), v).to.equal(undefined);
    // The broadcast address LXC is given is that of the /24, whatever the host part.
    expect(renderConfig({ ...base, ip_address: '10.213.101.1' }, '/x', 'v1')).to.include('lxc.net.0.ipv4.address = 10.213.101.1/24 10.213.101.255\n');
  });

  it('parses config keys: comments, quotes, oms comments, last one wins', () => {
    const k = configKeys('# c\nlxc.a = 1\nlxc.a = 2\nlxc.uts.name = "x"\n#oms.disk=5\n  # oms.template = t \nbad line\n');
    expect([...k.entries()]).to.deep.equal([['lxc.a', '2'], ['lxc.uts.name', 'x'], ['oms.disk', '5'], ['oms.template', 't']]);
  });

  it('merging: an OMS config is replaced whole, even across hierarchies and a removed address', () => {
    const v1 = renderConfig(base, '/var/lib/lxc', 'v1');
    expect(mergeConfig(v1, v1)).to.equal(v1);
    const v2 = renderConfig({ ...base, ip_address: undefined, nameserver: undefined }, '/var/lib/lxc', 'v2');
    expect(mergeConfig(v1, v2)).to.equal(v2);
    expect(mergeConfig('', v2)).to.equal(v2);
  });

  it('merging: a config OMS did not write keeps its own mount entries and signals, loses what OMS sets', () => {
    const foreign = fx('config-lxc-busybox.conf');
    const rendered = renderConfig(parseConfig('9991', foreign, defaults), '/var/lib/lxc', 'v1');
    const merged = mergeConfig(foreign, rendered);
    expect(merged.startsWith(rendered)).to.equal(true);
    const kept = merged.slice(rendered.length).split('\n').filter(Boolean);
    expect(kept).to.deep.equal([
      "# kept from the container's previous config",
      'lxc.signal.reboot = SIGTERM',
      'lxc.mount.entry = shm dev/shm tmpfs defaults,create=dir 0 0',
      'lxc.mount.entry = mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0',
      'lxc.mount.entry = /lib lib none ro,bind 0 0',
      'lxc.mount.entry = /usr/lib usr/lib none ro,bind 0 0',
      'lxc.mount.entry = /lib64 lib64 none ro,bind 0 0',
      'lxc.mount.entry = /usr/lib64 usr/lib64 none ro,bind 0 0',
      'lxc.mount.entry = /sys/kernel/security sys/kernel/security none ro,bind,optional 0 0',
    ]);
    // Reading the merged file gives the same settings; merging again changes nothing.
    expect(parseConfig('9991', merged, defaults)).to.deep.equal(parseConfig('9991', rendered, defaults));
    expect(mergeConfig(merged, rendered)).to.equal(merged);
  });

  it('cpusets both ways; resolv.conf text', () => {
    expect([1, 2, 4].map(cpusetFor)).to.deep.equal(['0', '0-1', '0-3']);
    expect(cpusetCount('0-2,5')).to.equal(4);
    expect(cpusetCount('x')).to.be.NaN;
    expect(resolvConf(base)).to.equal('search oms.test\nnameserver 10.213.101.1\n');
    expect(resolvConf({})).to.equal('');
  });
});
