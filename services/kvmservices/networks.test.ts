import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { networkXml, readNetwork } from './networks.ts';
import { isoGuestSpec } from './images.ts';
import { cloneDiskName } from './manage.ts';
import { readDomain, domainXml } from './domain.ts';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('kvmservices networks and generated guests', () => {
  it('bridged network XML, plain and Open vSwitch with a VLAN tag', () => {
    expect(networkXml({ name: 'n1', bridge: 'br0', ovs: false })).to.equal("<network>\n  <name>n1</name>\n  <forward mode='bridge'/>\n  <bridge name='br0'/>\n</network>\n");
    expect(networkXml({ name: 'n2', bridge: 'ovsbr0', ovs: true, vlan: 42 })).to.equal(
      "<network>\n  <name>n2</name>\n  <forward mode='bridge'/>\n  <bridge name='ovsbr0'/>\n  <virtualport type='openvswitch'/>\n  <vlan>\n    <tag id='42'/>\n  </vlan>\n</network>\n",
    );
    expect(readNetwork(networkXml({ name: 'n2', bridge: 'ovsbr0', ovs: true, vlan: 42 }))).to.deep.equal({ name: 'n2', bridge: 'ovsbr0', forward: 'bridge', ovs: true, vlans: [42] });
  });

  it('reads the lab network as libvirt wrote it', () => {
    expect(readNetwork(fx('net-dumpxml-lab.xml'))).to.deep.equal({ name: 'lab', bridge: 'lxcbr0', forward: 'bridge', ovs: false, vlans: [] });
  });

  it('create_vm_from_iso guest: virtio for Linux, IDE for Windows, ACPI/APIC switches', () => {
    const base = { vm: 'v', osVariant: 'generic', osType: 'linux', iso: 'lab.iso', diskGb: 1 as const, blockDevice: '', memoryMiB: 64, noApic: false, noAcpi: false };
    const linux = readDomain(domainXml(isoGuestSpec(base, 'x86_64', '/img/v.qcow2', '/isos/lab.iso')));
    expect(linux.disks.map((d) => `${d.device}:${d.targetDev}:${d.targetBus}:${d.source}`)).to.deep.equal(['disk:vda:virtio:/img/v.qcow2', 'cdrom:sda:sata:/isos/lab.iso']);
    expect(linux.bootDevs).to.deep.equal(['cdrom', 'hd']);
    expect(linux.features).to.deep.equal(['acpi', 'apic']);
    const win = readDomain(domainXml(isoGuestSpec({ ...base, osType: 'windows', noApic: true, blockDevice: '/dev/vg/win' }, 'x86_64', '', '/isos/w.iso')));
    expect(win.disks.map((d) => `${d.type}:${d.targetDev}:${d.targetBus}:${d.source}`)).to.deep.equal(['block:hda:ide:/dev/vg/win', 'file:hdc:ide:/isos/w.iso']);
    expect(win.features).to.deep.equal(['acpi']);
    expect(win.clockOffset).to.equal('localtime');
  });

  it('clone disk names', () => {
    const d = readDomain(fx('dumpxml-inactive.xml')).disks[0];
    expect(cloneDiskName('copy', d)).to.equal('copy-vda.qcow2');
    expect(cloneDiskName('copy', { ...d, format: 'raw' })).to.equal('copy-vda.img');
  });
});
