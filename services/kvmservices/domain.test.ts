import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { cloneXml, diskXml, domainXml, interfaceXml, readDomain, type DomainSpec } from './domain.ts';
import { attr, parseXml, child, textOf, writeXml } from './xml.ts';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const spec: DomainSpec = {
  name: 'kvmt-a',
  memoryMiB: 64,
  vcpu: 1,
  arch: 'x86_64',
  bootDevs: ['cdrom', 'hd'],
  features: ['acpi', 'apic'],
  clockOffset: 'utc',
  onPoweroff: 'destroy',
  onReboot: 'restart',
  onCrash: 'destroy',
  disks: [
    { type: 'file', device: 'disk', source: '/img/kvmt-a.qcow2', format: 'qcow2', targetDev: 'vda', targetBus: 'virtio' },
    { type: 'file', device: 'cdrom', source: '/isos/lab.iso', format: 'raw', targetDev: 'sda', targetBus: 'sata' },
  ],
  interfaces: [{ type: 'bridge', source: 'lxcbr0' }],
  mouseBus: 'ps2',
  os: { type: 'linux', variant: 'generic' },
};

describe('kvmservices domain XML', () => {
  it('reads a running guest as libvirt wrote it', () => {
    const d = readDomain(fx('dumpxml-running.xml'));
    expect(d).to.deep.include({ name: 'kvmt-fx', domainType: 'kvm', virtType: 'hvm', arch: 'x86_64', memoryKiB: 65536, vcpu: 1, clockOffset: 'utc', onReboot: 'restart', emulator: '/usr/bin/qemu-system-x86_64', mouseBus: 'ps2', hasSerial: true, hasConsole: true });
    expect(d.bootDevs).to.deep.equal(['cdrom', 'hd']);
    expect(d.features).to.deep.equal(['acpi', 'apic']);
    expect(d.disks).to.deep.equal([
      { type: 'file', device: 'disk', source: '/var/lib/oms-node/images/kvmt-fx.qcow2', format: 'qcow2', targetDev: 'vda', targetBus: 'virtio' },
      { type: 'file', device: 'cdrom', source: '/var/lib/oms-node/isos/lab.iso', format: 'raw', targetDev: 'sda', targetBus: 'sata' },
    ]);
    expect(d.interfaces).to.deep.equal([{ type: 'bridge', source: 'lxcbr0', mac: '52:54:00:f2:ea:54', model: 'virtio', targetDev: 'vnet0' }]);
    expect(d.graphics).to.deep.include({ type: 'vnc', port: '5902', autoport: 'yes', listen: '127.0.0.1' });
  });

  it('the inactive definition has no runtime parts', () => {
    const d = readDomain(fx('dumpxml-running-inactive.xml'));
    expect(d.interfaces[0].targetDev).to.equal('');
    expect(d.graphics?.port).to.equal('-1');
  });

  it('writes a guest with the invariants: kvm, VNC on 127.0.0.1 autoport, serial pty console', () => {
    const xml = domainXml(spec);
    const back = readDomain(xml);
    expect(back).to.deep.include({ name: 'kvmt-a', domainType: 'kvm', memoryKiB: 65536, vcpu: 1, arch: 'x86_64', hasSerial: true, hasConsole: true });
    expect(back.graphics).to.deep.equal({ type: 'vnc', port: '-1', autoport: 'yes', listen: '127.0.0.1', keymap: '' });
    expect(back.disks.map((k) => k.source)).to.deep.equal(['/img/kvmt-a.qcow2', '/isos/lab.iso']);
    expect(back.interfaces).to.deep.equal([{ type: 'bridge', source: 'lxcbr0', mac: '', model: 'virtio', targetDev: '' }]);
    expect(xml).to.include("<oms:os xmlns:oms='https://opennode.example/oms/1' type='linux' variant='generic'/>");
    expect(xml).to.include('<readonly/>');
  });

  it('escapes whatever lands in attributes and text', () => {
    const xml = domainXml({ ...spec, name: "a'<b>&", disks: [], interfaces: [] });
    expect(readDomain(xml).name).to.equal("a'<b>&");
    expect(xml).to.include('<name>a&apos;&lt;b&gt;&amp;</name>');
  });

  it('device XML for attach/detach', () => {
    expect(diskXml(spec.disks[0])).to.equal(
      "<disk type='file' device='disk'>\n  <driver name='qemu' type='qcow2'/>\n  <source file='/img/kvmt-a.qcow2'/>\n  <target dev='vda' bus='virtio'/>\n</disk>\n",
    );
    expect(interfaceXml({ type: 'network', source: 'lab', mac: '52:54:00:00:00:01' })).to.equal(
      "<interface type='network'>\n  <mac address='52:54:00:00:00:01'/>\n  <source network='lab'/>\n  <model type='virtio'/>\n</interface>\n",
    );
  });

  it('clone XML: new name, no uuid or MACs, new disk paths, CD-ROM shared', () => {
    const xml = cloneXml(fx('dumpxml-running-inactive.xml'), 'kvmt-copy', { vda: '/var/lib/oms-node/images/kvmt-copy-vda.qcow2' });
    const d = readDomain(xml);
    expect(d.name).to.equal('kvmt-copy');
    expect(d.uuid).to.equal('');
    expect(d.interfaces[0].mac).to.equal('');
    expect(d.disks.map((k) => k.source)).to.deep.equal(['/var/lib/oms-node/images/kvmt-copy-vda.qcow2', '/var/lib/oms-node/isos/lab.iso']);
  });

  it('xml reader: entities, comments, declarations; refuses broken documents', () => {
    const el = parseXml("<?xml version='1.0'?><!-- c --><a x=\"1&amp;2\"><b>t&#65;&#x42;</b></a>");
    expect(attr(el, 'x')).to.equal('1&2');
    expect(textOf(child(el, 'b'))).to.equal('tAB');
    expect(writeXml(el)).to.equal("<a x='1&amp;2'>\n  <b>tAB</b>\n</a>\n");
    // The messages are the library's (xmldom) wording of the same four refusals.
    expect(() => parseXml('<a><b></a>')).to.throw(/tag mismatch/);
    expect(() => parseXml('<a>')).to.throw(/unclosed/);
    expect(() => parseXml('<a>&nope;</a>')).to.throw(/entity/);
    expect(() => parseXml('text')).to.throw(/missing root/);
  });

  it('reads capabilities XML', () => {
    expect(textOf(child(parseXml(fx('domcapabilities.xml')), 'path'))).to.equal('/usr/bin/qemu-system-x86_64');
  });
});
