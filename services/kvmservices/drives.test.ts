import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { channelOfTarget, channelTaken, detachDriveXml, diskIndex, diskLetters, driveXml, hotplugRefusal, cdromRefusal, readonlyRefusal, parseChannel, readDrives, scsiControllerXml, scsiControllers, targetOf, driveAddress, type Channel } from './drives.ts';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('kvmservices drives by device channel', () => {
  it('names disks as libvirt does: a..z, aa.., aaa..', () => {
    expect([0, 1, 25, 26, 27, 51, 52, 701, 702, 1023].map(diskLetters)).to.deep.equal(['a', 'b', 'z', 'aa', 'ab', 'az', 'ba', 'zz', 'aaa', 'amj']);
    for (const i of [0, 25, 26, 701, 702, 1023]) expect(diskIndex(diskLetters(i))).to.equal(i);
    expect(diskIndex('A')).to.equal(undefined);
    expect(diskIndex('')).to.equal(undefined);
  });

  it('IDE has 2 controllers x 2 units: hda hdb hdc hdd; anything else is refused with its limits', () => {
    const t = (s: string) => targetOf('ide', parseChannel('ide', s) as Channel);
    expect(['0:0', '0:1', '1:0', '1:1'].map(t)).to.deep.equal(['hda', 'hdb', 'hdc', 'hdd']);
    expect(parseChannel('ide', '2:0')).to.equal("dev_channel 2:0 is outside ide's channels: controllers 0-1, units 0-1");
    expect(parseChannel('ide', '0:2')).to.equal("dev_channel 0:2 is outside ide's channels: controllers 0-1, units 0-1");
    expect(driveAddress('ide', { controller: 1, unit: 0 })).to.deep.equal({ controller: 0, bus: 1, target: 0, unit: 0 });
  });

  it('SCSI: 8 virtio-scsi controllers x units 0-6, named in libvirt order (C*7+U)', () => {
    expect(targetOf('scsi', { controller: 0, unit: 0 })).to.equal('sda');
    expect(targetOf('scsi', { controller: 0, unit: 6 })).to.equal('sdg');
    expect(targetOf('scsi', { controller: 1, unit: 2 })).to.equal('sdj');
    expect(parseChannel('scsi', '0:7')).to.match(/outside scsi's channels: controllers 0-7, units 0-6/);
    expect(parseChannel('scsi', '8:0')).to.match(/outside scsi's channels/);
    expect(driveAddress('scsi', { controller: 1, unit: 2 })).to.deep.equal({ controller: 1, bus: 0, target: 0, unit: 2 });
  });

  it('virtio has no controller or unit: the channel is a place in the vd order, 6 per controller, 1024 in all', () => {
    expect(targetOf('virtio', { controller: 0, unit: 0 })).to.equal('vda');
    expect(targetOf('virtio', { controller: 0, unit: 5 })).to.equal('vdf');
    expect(targetOf('virtio', { controller: 1, unit: 1 })).to.equal('vdh');
    expect(parseChannel('virtio', '170:3')).to.deep.equal({ controller: 170, unit: 3 });
    expect(parseChannel('virtio', '170:4')).to.equal("dev_channel 170:4 is outside virtio's 1024 drives");
    expect(parseChannel('virtio', '0:6')).to.match(/units 0-5/);
    expect(driveAddress('virtio', { controller: 0, unit: 1 })).to.equal(undefined);
    expect(channelOfTarget('virtio', 'vdh')).to.deep.equal({ controller: 1, unit: 1 });
  });

  it('refuses what is not controller:unit', () => {
    for (const s of ['0', '0:', ':0', '0:0:0', '-1:0', '0:-1', '1e2:0', '0:0 ', ' 0:0', '0;0', '0000:0']) expect(parseChannel('virtio', s), s).to.equal(`dev_channel ${s} is not controller:unit`);
  });

  it('which buses hot-plug, and where a CD-ROM can sit', () => {
    expect(hotplugRefusal('ide')).to.match(/^IDE drives cannot be attached to or detached from a running guest/);
    expect(hotplugRefusal('virtio')).to.equal(undefined);
    expect(hotplugRefusal('scsi')).to.equal(undefined);
    expect(cdromRefusal('virtio')).to.match(/holds disks only/);
    expect(cdromRefusal('ide')).to.equal(undefined);
    expect(readonlyRefusal('ide', 'disk')).to.match(/cannot be read-only/);
    expect(readonlyRefusal('ide', 'cdrom')).to.equal(undefined);
    expect(readonlyRefusal('scsi', 'disk')).to.equal(undefined);
  });

  it('golden disk XML: a file image on virtio, an ISO on IDE, an LV on SCSI, a read-only USB stick', () => {
    expect(driveXml({ bus: 'virtio', targetDev: 'vdb', device: 'disk', source: { kind: 'file', path: '/img/a.qcow2', format: 'qcow2' }, readonly: false })).to.equal(
      "<disk type='file' device='disk'>\n  <driver name='qemu' type='qcow2'/>\n  <source file='/img/a.qcow2'/>\n  <target dev='vdb' bus='virtio'/>\n</disk>\n",
    );
    expect(driveXml({ bus: 'ide', targetDev: 'hdc', device: 'cdrom', source: { kind: 'file', path: '/isos/x.iso', format: 'raw' }, readonly: false, address: { controller: 0, bus: 1, target: 0, unit: 0 } })).to.equal(
      "<disk type='file' device='cdrom'>\n  <driver name='qemu' type='raw'/>\n  <source file='/isos/x.iso'/>\n  <target dev='hdc' bus='ide'/>\n  <readonly/>\n  <address type='drive' controller='0' bus='1' target='0' unit='0'/>\n</disk>\n",
    );
    expect(driveXml({ bus: 'scsi', targetDev: 'sdj', device: 'disk', source: { kind: 'block', path: '/dev/vg0/lv1' }, readonly: false, address: { controller: 1, bus: 0, target: 0, unit: 2 } })).to.equal(
      "<disk type='block' device='disk'>\n  <driver name='qemu' type='raw'/>\n  <source dev='/dev/vg0/lv1'/>\n  <target dev='sdj' bus='scsi'/>\n  <address type='drive' controller='1' bus='0' target='0' unit='2'/>\n</disk>\n",
    );
    expect(driveXml({ bus: 'usb', targetDev: 'sdc', device: 'disk', source: { kind: 'file', path: '/img/u.img', format: 'raw' }, readonly: true, removable: true })).to.equal(
      "<disk type='file' device='disk'>\n  <driver name='qemu' type='raw'/>\n  <source file='/img/u.img'/>\n  <target dev='sdc' bus='usb' removable='on'/>\n  <readonly/>\n</disk>\n",
    );
    expect(scsiControllerXml(3)).to.equal("<controller type='scsi' index='3' model='virtio-scsi'/>\n");
  });

  it('reads every drive of a captured definition with its channel', () => {
    const xml = fx('dumpxml-drives-inactive.xml');
    const d = readDrives(xml);
    expect(d.map((k) => [k.target_dev, k.device, k.dev_channel, k.media, k.type, k.readonly, k.removable])).to.deep.equal([
      ['vda', 'virtio', '0:0', 'disk', 'file', false, false],
      ['vdh', 'virtio', '1:1', 'disk', 'file', true, false],
      ['hdb', 'ide', '0:1', 'disk', 'file', false, false],
      ['hdc', 'ide', '1:0', 'cdrom', 'file', true, false],
      ['sda', 'scsi', '0:0', 'disk', 'block', false, false],
      ['sdj', 'scsi', '1:2', 'cdrom', 'file', true, false],
      ['sdz', 'usb', '', 'disk', 'file', true, true],
      ['sdy', 'sata', '', 'cdrom', 'file', true, false],
    ]);
    expect(d[4].source).to.equal('/dev/vg_omsnode3/kd-lv');
    expect(d[7].source).to.equal('');
    expect(scsiControllers(xml)).to.deep.equal([1, 0]);
  });

  it('a channel is taken by its target name on any bus, or by a drive on the same bus at that address', () => {
    const d = readDrives(fx('dumpxml-drives-inactive.xml'));
    expect(channelTaken(d, 'virtio', { controller: 0, unit: 1 })).to.equal(undefined);
    expect(channelTaken(d, 'virtio', { controller: 1, unit: 1 })).to.equal('virtio channel 1:1 (vdh) is taken by vdh (virtio, /var/lib/oms-node/images/kd-fx-b.img)');
    expect(channelTaken(d, 'ide', { controller: 1, unit: 0 })).to.match(/^ide channel 1:0 \(hdc\) is taken by hdc/);
    expect(channelTaken(d, 'ide', { controller: 0, unit: 0 })).to.equal(undefined);
    // scsi 3:4 would be sdz: a USB disk has that name.
    expect(channelTaken(d, 'scsi', { controller: 3, unit: 4 })).to.equal('scsi channel 3:4 (sdz) is taken by sdz (usb, /var/lib/oms-node/images/kd-fx-usb.qcow2)');
  });

  it('detach XML names the drive by its target and source', () => {
    const d = readDrives(fx('dumpxml-drives-inactive.xml'));
    expect(detachDriveXml(d[4])).to.equal("<disk type='block' device='disk'>\n  <source dev='/dev/vg_omsnode3/kd-lv'/>\n  <target dev='sda' bus='scsi'/>\n</disk>\n");
    expect(detachDriveXml(d[7])).to.equal("<disk type='file' device='cdrom'>\n  <target dev='sdy' bus='sata'/>\n</disk>\n");
  });
});
