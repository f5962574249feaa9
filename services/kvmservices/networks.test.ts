import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { networkXml, readNetwork } from './networks.ts';
import { natAddressing, type NatAddressing } from './subnets.ts';
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
    expect(readNetwork(networkXml({ name: 'n2', bridge: 'ovsbr0', ovs: true, vlan: 42 }))).to.deep.equal({ name: 'n2', bridge: 'ovsbr0', forward: 'bridge', ovs: true, vlans: [42], ip: null, dhcp: null });
  });

  it('NAT network XML: its own bridge, gateway address and DHCP range', () => {
    const ip = natAddressing('192.168.213.1/24', { start: '192.168.213.100', end: '192.168.213.150' }) as NatAddressing;
    const xml = networkXml({ forward: 'nat', name: 'kn-nat', bridge: 'kn-nat0', ip });
    expect(xml).to.equal(
      "<network>\n  <name>kn-nat</name>\n  <forward mode='nat'/>\n  <bridge name='kn-nat0' stp='on' delay='0'/>\n  <ip address='192.168.213.1' netmask='255.255.255.0'>\n    <dhcp>\n      <range start='192.168.213.100' end='192.168.213.150'/>\n    </dhcp>\n  </ip>\n</network>\n",
    );
    expect(readNetwork(xml)).to.deep.include({ forward: 'nat', bridge: 'kn-nat0', ip: { address: '192.168.213.1', netmask: '255.255.255.0', prefix: 24 }, dhcp: { start: '192.168.213.100', end: '192.168.213.150' } });
  });

  it('reads the lab networks as libvirt wrote them: bridged, and libvirt\'s default NAT network', () => {
    expect(readNetwork(fx('net-dumpxml-lab.xml'))).to.deep.equal({ name: 'lab', bridge: 'lxcbr0', forward: 'bridge', ovs: false, vlans: [], ip: null, dhcp: null });
    expect(readNetwork(fx('net-dumpxml-default-nat.xml'))).to.deep.equal({
      name: 'default',
      bridge: 'virbr0',
      forward: 'nat',
      ovs: false,
      vlans: [],
      ip: { address: '192.168.122.1', netmask: '255.255.255.0', prefix: 24 },
      dhcp: { start: '192.168.122.2', end: '192.168.122.254' },
    });
    // prefix= instead of netmask=, an IPv6 <ip> beside it, <forward/> without a mode (= nat).
    const v6 = "<network><name>m</name><forward/><bridge name='m0'/><ip family='ipv6' address='fd00::1' prefix='64'/><ip address='10.9.0.1' prefix='16'/></network>";
    expect(readNetwork(v6)).to.deep.include({ forward: 'nat', ip: { address: '10.9.0.1', netmask: '255.255.0.0', prefix: 16 }, dhcp: null });
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
    expect(linux.interfaces).to.deep.equal([]);
    const nic = readDomain(domainXml(isoGuestSpec(base, 'x86_64', '/img/v.qcow2', '/isos/lab.iso', { network: 'kn-nat', mac: '52:54:00:0a:0b:0c' })));
    expect(nic.interfaces).to.deep.equal([{ type: 'network', source: 'kn-nat', mac: '52:54:00:0a:0b:0c', model: 'virtio', targetDev: '' }]);
  });

  it('clone disk names', () => {
    const d = readDomain(fx('dumpxml-inactive.xml')).disks[0];
    expect(cloneDiskName('copy', d)).to.equal('copy-vda.qcow2');
    expect(cloneDiskName('copy', { ...d, format: 'raw' })).to.equal('copy-vda.img');
  });
});
