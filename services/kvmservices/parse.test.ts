import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  diskStats,
  isActiveState,
  isNoDomain,
  parseDominfo,
  parseDomstate,
  parseDomstats,
  parseFindListing,
  parseNetList,
  parseNodeinfo,
  parseQemuImgInfo,
  stateName,
  virshMessage,
} from './parse.ts';

/** Captured on a lab node: see fixtures/README.md. */
const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('kvmservices readers', () => {
  describe('parseDomstats', () => {
    it('reads a shut-off guest', () => {
      const m = parseDomstats(fx('domstats-inactive.out'));
      expect([...m.keys()]).to.deep.equal(['kvmt-fx']);
      expect(m.get('kvmt-fx')).to.include({ 'state.state': '5', 'balloon.maximum': '65536', 'vcpu.current': '1' });
      expect(stateName(m.get('kvmt-fx')!['state.state'])).to.equal('shutdown');
      expect(isActiveState(m.get('kvmt-fx')!['state.state'])).to.equal(false);
    });
    it('reads running and paused guests', () => {
      const r = parseDomstats(fx('domstats-running.out')).get('kvmt-fx')!;
      expect(stateName(r['state.state'])).to.equal('running');
      expect(Number(r['cpu.time'])).to.be.greaterThan(0);
      const p = parseDomstats(fx('domstats-paused.out')).get('kvmt-fx')!;
      expect(stateName(p['state.state'])).to.equal('paused');
      expect(isActiveState(p['state.state'])).to.equal(true);
    });
    it('reads block and interface counters', () => {
      const f = parseDomstats(fx('domstats-io.out')).get('kvmt-fx')!;
      expect(f['block.0.path']).to.equal('/var/lib/oms-node/images/kvmt-fx.qcow2');
      expect(f['block.1.path']).to.equal('/var/lib/oms-node/isos/lab.iso');
      expect(f['net.0.name']).to.equal('vnet0');
    });
    it('diskStats: every counter of each disk, in libvirt\'s order (vm_runtime_info and get_vm_runtime)', () => {
      const f = parseDomstats(fx('domstats-io.out')).get('kvmt-fx')!;
      expect(diskStats(f)).to.deep.equal([
        { dev: 'vda', path: '/var/lib/oms-node/images/kvmt-fx.qcow2', rd_reqs: 0, rd_bytes: 0, wr_reqs: 0, wr_bytes: 0, fl_reqs: 0, capacity: 67108864, allocation: 0, physical: 200704 },
        { dev: 'sda', path: '/var/lib/oms-node/isos/lab.iso', rd_reqs: 0, rd_bytes: 0, wr_reqs: 0, wr_bytes: 0, fl_reqs: 0, capacity: 372736, allocation: 0, physical: 372736 },
      ]);
      // Counters that move, and a field libvirt leaves out, which reads 0.
      const moved = { 'block.count': '1', 'block.0.name': 'sda', 'block.0.rd.reqs': '7', 'block.0.rd.bytes': '28672', 'block.0.wr.reqs': '3', 'block.0.wr.bytes': '1536', 'block.0.fl.reqs': '2' };
      expect(diskStats(moved)).to.deep.equal([{ dev: 'sda', path: '', rd_reqs: 7, rd_bytes: 28672, wr_reqs: 3, wr_bytes: 1536, fl_reqs: 2, capacity: 0, allocation: 0, physical: 0 }]);
      expect(diskStats({})).to.deep.equal([]);
    });
    it('splits several guests and ignores blank lines', () => {
      const two = `Domain: 'a'\n  state.state=1\n\nDomain: 'b b'\n  state.state=5\n\n`;
      const m = parseDomstats(two);
      expect([...m.keys()]).to.deep.equal(['a', 'b b']);
      expect(m.get('b b')).to.deep.equal({ 'state.state': '5' });
      expect(parseDomstats('').size).to.equal(0);
    });
    it('maps every libvirt state number', () => {
      expect(['0', '1', '2', '3', '4', '5', '6', '7', '9'].map(stateName)).to.deep.equal(['running', 'running', 'running', 'paused', 'shutdown', 'shutdown', 'crashed', 'suspended', 'unknown']);
    });
  });

  it('parseNodeinfo: CPUs, memory and architecture', () => {
    expect(parseNodeinfo(fx('nodeinfo.out'))).to.deep.equal({ cpus: 2, memoryKiB: 5072672, arch: 'x86_64' });
    expect(() => parseNodeinfo('CPU model: x86_64\n')).to.throw(/missing/);
  });

  it('parseDominfo: running and shut off', () => {
    expect(parseDominfo(fx('dominfo-running.out'))).to.deep.equal({ state: 'running', vcpu: 1, maxMemoryKiB: 65536, usedMemoryKiB: 65536, autostart: false, persistent: true });
    expect(parseDominfo(fx('dominfo-inactive.out')).state).to.equal('shut off');
  });

  it('parseDomstate takes the first line', () => {
    expect(parseDomstate(fx('domstate-paused.out'))).to.equal('paused (user)');
    expect(parseDomstate('shut off\n\n')).to.equal('shut off');
  });

  describe('virshMessage', () => {
    it('prefers libvirt\'s specific reason over virsh\'s generic line', () => {
      expect(virshMessage(fx('resume-running.err'))).to.equal('Requested operation is not valid: domain is already running');
      expect(virshMessage(fx('destroy-inactive.err'))).to.equal('Requested operation is not valid: domain is not running');
    });
    it('keeps a single line', () => {
      expect(virshMessage(fx('start-running.err'))).to.equal('Domain is already active');
      expect(virshMessage(fx('dominfo-unknown.err'))).to.equal("failed to get domain 'no-such-vm'");
      expect(virshMessage('')).to.equal('virsh failed without a message');
    });
    it('recognizes a missing domain', () => {
      expect(isNoDomain(fx('dominfo-unknown.err'))).to.equal(true);
      expect(isNoDomain(fx('resume-running.err'))).to.equal(false);
    });
  });

  it('parseQemuImgInfo', () => {
    expect(parseQemuImgInfo(fx('qemu-img-info.json'))).to.deep.equal({ virtualSize: 67108864, actualSize: 200704, format: 'qcow2' });
  });

  it('parseFindListing: type and relative path', () => {
    expect(parseFindListing(fx('find-templates.out'))).to.deep.equal([
      { type: 'f', path: 'lab-template.qcow2' },
      { type: 'd', path: 'cache' },
      { type: 'f', path: 'cache/ovzt-busybox.tar.gz' },
      { type: 'f', path: 'cache/ovzt-busybox.json' },
    ]);
  });

  it('parseNetList with and without virsh -q', () => {
    const want = [
      { name: 'default', active: false, autostart: false, persistent: true },
      { name: 'lab', active: true, autostart: true, persistent: true },
    ];
    expect(parseNetList(fx('net-list.out'))).to.deep.equal(want);
    expect(parseNetList(fx('net-list-q.out'))).to.deep.equal(want);
  });
});
