import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { createXml, placeMedia, type CreateSpec, type MediumSpec } from './firmware.ts';
import { readDomain } from './domain.ts';
import { readDrives } from './drives.ts';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const usb: MediumSpec = { mode: 'usb', source: { kind: 'file', path: '/img/u.img', format: 'raw' }, iso: false, readonly: true };
const iso: MediumSpec = { mode: 'virtio', source: { kind: 'file', path: '/isos/lab.iso', format: 'raw' }, iso: true, readonly: false };
const blk: MediumSpec = { mode: 'block', source: { kind: 'file', path: '/img/b.qcow2', format: 'qcow2' }, iso: false, readonly: false };

const spec: CreateSpec = {
  name: 'kd-a',
  arch: 'x86_64',
  memoryMiB: 128,
  vcpu: 1,
  firmware: 'efi',
  kvm: false,
  disk: { path: '/img/kd-a.qcow2', format: 'qcow2' },
  displays: [
    { width: 1280, height: 800 },
    { width: 1024, height: 768 },
  ],
  media: [usb, iso, blk],
};

describe('kvmservices create_vm XML (firmware, displays, media)', () => {
  it('golden: UEFI without secure boot, two displays, a USB stick, a CD-ROM on virtio-scsi, a virtio-blk disk', () => {
    expect(createXml(spec).xml).to.equal(fx('create-efi.golden.xml'));
  });

  it('keeps the invariants of every guest OMS writes', () => {
    const d = readDomain(createXml({ ...spec, kvm: true }).xml);
    expect(d).to.deep.include({ domainType: 'kvm', hasSerial: true, hasConsole: true });
    expect(d.graphics).to.deep.include({ type: 'vnc', listen: '127.0.0.1', autoport: 'yes' });
  });

  it('BIOS is libvirt\'s default: no firmware attribute, no <firmware>', () => {
    const xml = createXml({ ...spec, firmware: 'bios', kvm: true, displays: [], media: [] }).xml;
    expect(xml).to.include("<domain type='kvm'>");
    expect(xml).to.include("<os>\n    <type arch='x86_64'>hvm</type>\n    <boot dev='hd'/>\n  </os>");
    expect(xml).to.not.include('firmware');
    expect(xml).to.not.include('<video');
    expect(xml).to.not.include("<controller type='scsi'");
  });

  it('read-only is in the definition for every mode; an ISO is read-only even when not asked', () => {
    const drives = readDrives(createXml({ ...spec, media: [{ ...usb, readonly: true }, { ...iso, readonly: false }, { ...blk, readonly: true }, { ...blk, readonly: false }] }).xml);
    expect(drives.map((k) => [k.target_dev, k.device, k.media, k.readonly, k.removable])).to.deep.equal([
      ['vda', 'virtio', 'disk', false, false],
      ['sdb', 'usb', 'disk', true, true],
      ['sda', 'scsi', 'cdrom', true, false],
      ['vdb', 'virtio', 'disk', true, false],
      ['vdc', 'virtio', 'disk', false, false],
    ]);
  });

  it('places media without clashes: vd after the own disk, SCSI units from 0, USB after them in the sd space', () => {
    const p = placeMedia([usb, iso, blk, iso, usb, blk], false);
    expect(p.map((d) => d.targetDev)).to.deep.equal(['sdc', 'sda', 'vda', 'sdb', 'sdd', 'vdb']);
    expect(p.filter((d) => d.bus === 'scsi').map((d) => d.address?.unit)).to.deep.equal([0, 1]);
    expect(p.map((d) => d.bus)).to.deep.equal(['usb', 'scsi', 'virtio', 'scsi', 'usb', 'virtio']);
  });
});
