import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { shellLine } from '../../src/nodes/command.ts';
import type { DiskInfo } from './domain.ts';
import * as snap from './snapshot-commands.ts';
import { isNoCurrentSnapshot, isNoSnapshot, parseSnapshotNames, parseSnapshotXml, snapshotBlocker } from './snapshot-parse.ts';
import { isNoDomain } from './parse.ts';

/** Captured on a lab node: see fixtures/README.md. */
const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const disk = (d: Partial<DiskInfo>): DiskInfo => ({ type: 'file', device: 'disk', source: '/img/a.qcow2', format: 'qcow2', targetDev: 'vda', targetBus: 'virtio', ...d });

describe('kvmservices snapshots: readers and rules', () => {
  it('snapshot-list --name', () => {
    expect(parseSnapshotNames(fx('snapshot-list-name.out'))).to.deep.equal(['s1', 's2']);
    expect(parseSnapshotNames('')).to.deep.equal([]);
  });

  it('a snapshot of a running guest: memory in it, the disk internal, no parent', () => {
    expect(parseSnapshotXml(fx('snapshot-dumpxml-running.xml'))).to.deep.equal({
      name: 's1',
      description: 'first one',
      state: 'running',
      creation_time: 1795946312,
      parent: null,
      memory: true,
      disks: [{ name: 'vda', snapshot: 'internal' }],
    });
  });

  it('a snapshot of a stopped guest: disks only, with its parent', () => {
    expect(parseSnapshotXml(fx('snapshot-dumpxml-shutoff.xml'))).to.deep.include({ name: 's2', description: 'stopped one', state: 'shutoff', parent: 's1', memory: false });
  });

  it('something else than a snapshot document is refused', () => {
    expect(() => parseSnapshotXml(fx('dumpxml-inactive.xml'))).to.throw(/not a domainsnapshot/);
    expect(() => parseSnapshotXml('<domainsnapshot>')).to.throw(/^XML: /);
  });

  it('virsh errors: unknown snapshot, no current snapshot (and neither is an unknown guest)', () => {
    const unknown = "error: Domain snapshot not found: no domain snapshot with matching name 'nosuch'\n";
    expect(isNoSnapshot(unknown)).to.equal(true);
    expect(isNoDomain(unknown)).to.equal(false);
    expect(isNoCurrentSnapshot(fx('snapshot-current-none.err'))).to.equal(true);
    expect(isNoSnapshot(fx('snapshot-current-none.err'))).to.equal(false);
  });

  it('which guests can take internal snapshots: raw files and block devices are named, CD-ROMs do not count', () => {
    expect(snapshotBlocker([disk({}), disk({ device: 'cdrom', format: 'raw', source: '/isos/x.iso', targetDev: 'sda' }), disk({ device: 'cdrom', source: '', format: '' })])).to.equal(undefined);
    expect(snapshotBlocker([disk({}), disk({ source: '/img/b.img', format: 'raw', targetDev: 'vdb' })])).to.deep.equal({ disk: 'vdb', path: '/img/b.img', reason: 'is raw; internal snapshots need qcow2' });
    expect(snapshotBlocker([disk({ type: 'block', source: '/dev/vg/lv', format: 'raw' })])).to.deep.equal({ disk: 'vda', path: '/dev/vg/lv', reason: 'is a block device; internal snapshots live inside qcow2 files' });
    // libvirt's own refusal of the raw case, for comparison: it only comes once libvirt tried.
    expect(fx('snapshot-create-raw.err')).to.include('internal snapshot for disk vda unsupported for storage type raw');
  });

  it('command lines: names and the description stay single arguments', () => {
    const U = 'qemu:///system';
    expect(shellLine(snap.snapshotNames(U, 'ks-a'))).to.equal('virsh -q -c qemu:///system snapshot-list ks-a --name --topological');
    expect(shellLine(snap.snapshotCreate(U, 'ks-a', 's1'))).to.equal('virsh -q -c qemu:///system snapshot-create-as ks-a s1 --atomic');
    expect(shellLine(snap.snapshotCreate(U, 'ks-a', 's1', "--halt'; $(id) <x>"))).to.equal("virsh -q -c qemu:///system snapshot-create-as ks-a s1 --atomic --description '--halt'\\''; $(id) <x>'");
    expect(shellLine(snap.snapshotRevert(U, 'ks-a', 's1'))).to.equal('virsh -q -c qemu:///system snapshot-revert ks-a s1');
    expect(shellLine(snap.snapshotDelete(U, 'ks-a', 's1'))).to.equal('virsh -q -c qemu:///system snapshot-delete ks-a s1');
    expect(shellLine(snap.snapshotCurrent(U, 'ks-a'))).to.equal('virsh -q -c qemu:///system snapshot-current ks-a --name');
    expect(shellLine(snap.snapshotXml(U, 'ks-a', 's1'))).to.equal('virsh -q -c qemu:///system snapshot-dumpxml ks-a s1');
  });
});
