import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { readDomain } from './domain.ts';
import { isMovablePath, parseAvail, parseMigrateStep, parseSha256, parseSize, planMove, spaceNeeded } from './migrate-parse.ts';
import * as mc from './migrate-commands.ts';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const plan = (xml: string) => planMove(readDomain(xml), xml);

describe('kvmservices migration: commands and readers', () => {
  it('reads df, sha256sum and stat as captured on a lab node', () => {
    expect(parseAvail(fx('df-avail.out'))).to.equal(81457946624);
    expect(parseSha256(fx('sha256sum.out'))).to.equal('cc00982947f61c78493719abc54368b382bd4a964e2183f2337fab09cfd2c79a');
    expect(parseSize('9\n')).to.equal(9);
    expect(() => parseAvail('df: /nope: No such file or directory\n')).to.throw(/unexpected/);
    expect(() => parseSha256('')).to.throw(/unexpected/);
    expect(() => parseSize('12 bytes')).to.throw(/unexpected/);
  });

  it('writes a disk on the target without ever overwriting, and reads it back as it was', () => {
    expect(mc.writeFrom('/var/lib/oms-node/images/a.qcow2')).to.deep.equal(['dd', 'of=/var/lib/oms-node/images/a.qcow2', 'bs=1M', 'iflag=fullblock', 'conv=sparse,excl', 'status=none']);
    expect(mc.readTo('/x/a.img')).to.deep.equal(['cat', '--', '/x/a.img']);
    expect(mc.freeBytes('/x')).to.deep.equal(['df', '-B1', '--output=avail', '--', '/x']);
  });

  it('plans a captured guest: its qcow2 disk moves, the ISO on the read-only CD-ROM is shared', () => {
    const p = plan(fx('dumpxml-inactive.xml'));
    expect(p).to.not.have.property('refuse');
    const d = readDomain(fx('dumpxml-inactive.xml'));
    const disk = d.disks.find((k) => k.device === 'disk')!;
    const cd = d.disks.find((k) => k.device === 'cdrom')!;
    expect(p).to.deep.equal({ disks: [{ target: disk.targetDev, path: disk.source }], shared: cd.source ? [cd.source] : [] });
  });

  it('refuses block devices, UEFI variable stores, odd paths and one file twice', () => {
    const withDisk = (disk: string, os = '') => `<domain type='kvm'><name>g</name><os><type>hvm</type>${os}</os><devices>${disk}</devices></domain>`;
    const file = (path: string, dev: string) => `<disk type='file' device='disk'><source file='${path}'/><target dev='${dev}' bus='virtio'/></disk>`;
    expect(plan(withDisk(`<disk type='block' device='disk'><source dev='/dev/vg/lv'/><target dev='vda' bus='virtio'/></disk>`))).to.deep.equal({ refuse: 'disk vda is a block device; only file disks are copied' });
    expect(plan(withDisk(file('/i/a.qcow2', 'vda'), `<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram>/var/lib/libvirt/qemu/nvram/g_VARS.fd</nvram>`))).to.have.property('refuse').that.match(/UEFI/);
    expect(plan(withDisk(file('/i/../etc/a', 'vda')))).to.deep.equal({ refuse: 'disk vda has a path that is not plain absolute' });
    expect(plan(withDisk(file('/i/a', 'vda') + file('/i/a', 'vdb')))).to.deep.equal({ refuse: 'two of its disks are the same file' });
    expect(isMovablePath('/var/lib/oms-node/images/a.qcow2')).to.equal(true);
    expect(isMovablePath('rel/a')).to.equal(false);
  });

  it("reads virsh migrate --verbose steps as captured (stderr, each after a carriage return)", () => {
    const steps = fx('virsh-migrate-verbose.err').split(/[\r\n]/).map(parseMigrateStep).filter((p) => p !== undefined);
    expect(steps).to.deep.equal([0, 100]);
    expect(parseMigrateStep('error: operation failed: migration job: unexpectedly failed')).to.equal(undefined);
    expect(parseMigrateStep('Migration: [ 45 %]')).to.equal(45);
  });

  it('builds the live migration: peer to peer over the relayed socket, data to the target address', () => {
    expect(mc.migrateLive('qemu:///system', 'g1', '/run/oms-migrate-x.sock', '10.213.7.12')).to.deep.equal([
      'virsh', '-q', '-c', 'qemu:///system', 'migrate', '--live', '--p2p', '--persistent', '--undefinesource', '--copy-storage-all', '--verbose',
      '--migrateuri', 'tcp://10.213.7.12', '--disks-uri', 'tcp://10.213.7.12', 'g1', 'qemu+unix:///system?socket=/run/oms-migrate-x.sock',
    ]);
    expect(mc.probeTcp('10.213.7.12', 22)).to.deep.equal(['timeout', '5', 'bash', '-c', 'exec 3<>"/dev/tcp/$1/$2"', 'oms-probe', '10.213.7.12', '22']);
  });

  it('adds up the space needed per target directory', () => {
    expect([...spaceNeeded([{ path: '/a/x', bytes: 5 }, { path: '/b/y', bytes: 2 }, { path: '/a/z', bytes: 1 }])]).to.deep.equal([['/a', 6], ['/b', 2]]);
  });
});
