import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseGuestDisks, userOf } from './guest-disks.ts';
import { allocated, lvPaths, parseDisplay, parseLvs, parseVgs } from './parse.ts';
import { lvmReason } from './index.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('lvmservices/parse', () => {
  it('list_vg shape: vgdisplay lines split into words, as in the OMS document', () => {
    const vgs = parseDisplay(fixture('vgdisplay.txt'));
    expect(vgs).to.have.length(1);
    const vg = vgs[0];
    expect(vg[0]).to.deep.equal(['VG', 'Name', 'vg_omsnode1']);
    expect(vg[1]).to.deep.equal(['System', 'ID']);
    expect(vg).to.deep.include(['Format', 'lvm2']);
    expect(vg).to.deep.include(['Metadata', 'Sequence', 'No', vg.find((l) => l[1] === 'Sequence')![3]]);
    expect(vg).to.deep.include(['VG', 'Size', '1020.00', 'MiB']);
    expect(vg).to.deep.include(['Total', 'PE', '255']);
    expect(vg.find((l) => l[0] === 'Alloc')!.slice(0, 5)).to.deep.equal(['Alloc', 'PE', '/', 'Size', '7']);
    expect(vg.at(-1)![0]).to.equal('VG');
    expect(vg.at(-1)![1]).to.equal('UUID');
    expect(vg).to.have.length(19);
  });

  it('list_lv shape: one entry per LV from lvdisplay', () => {
    const lvs = parseDisplay(fixture('lvdisplay.txt'));
    expect(lvs.map((l) => l.find((w) => w[1] === 'Name' && w[0] === 'LV')![2])).to.deep.equal(['hostt-cap-a', 'hostt-cap-b']);
    expect(lvs[0]).to.deep.include(['LV', 'Size', '8.00', 'MiB']);
    expect(lvs[1]).to.deep.include(['LV', 'Path', '/dev/vg_omsnode1/hostt-cap-b']);
    expect(parseDisplay('')).to.deep.equal([]);
  });

  it('structured VGs and LVs, sizes in bytes', () => {
    expect(parseVgs(fixture('vgs.json'))).to.deep.equal([
      { name: 'vg_omsnode1', uuid: '1x1Ffi-N2AF-V5CL-g963-n9uG-KcK2-qmHXfM', attr: 'wz--n-', size: 1069547520, free: 1069547520 - 7 * 4194304, extent_size: 4194304, extent_count: 255, free_extents: 248, lv_count: 2, pv_count: 1 },
    ]);
    const lvs = parseLvs(fixture('lvs.json'));
    expect(lvs[1]).to.deep.equal({ name: 'hostt-cap-b', vg: 'vg_omsnode1', uuid: 'IGB7sn-b6uf-S9BY-njB3-tWcb-91tC-veJDhj', attr: '-wi-XX----', size: 20971520, path: '/dev/vg_omsnode1/hostt-cap-b', origin: '' });
    expect(() => parseVgs('WARNING')).to.throw(/unreadable/);
  });

  it('sizes round up to whole extents', () => {
    expect(allocated(8, 4194304)).to.equal(8388608);
    expect(allocated(5, 4194304)).to.equal(8388608);
    expect(allocated(1, 4194304)).to.equal(4194304);
  });

  it('LVM errors: the last real line, without activation warnings and fd-leak noise', () => {
    expect(lvmReason(fixture('lvcreate-insufficient.stderr'))).to.equal('Volume group "vg_omsnode1" has insufficient free space (248 extents): 500 required.');
  });

  it('guest disks: parsed from the real script output, duplicates folded, LV paths matched', () => {
    const disks = parseGuestDisks(fixture('guest-disks.txt'));
    expect(disks).to.deep.include({ guest: 'kvmt-fx', source: '/var/lib/oms-node/isos/lab.iso' });
    expect(new Set(disks.map((d) => `${d.guest}\t${d.source}`)).size).to.equal(disks.length);
    expect(userOf(disks, ['/var/lib/oms-node/isos/lab.iso'])).to.be.oneOf(['cons-vm1', 'kvmt-fx']);
    expect(lvPaths('vg-a', 'lv-b')).to.deep.equal(['/dev/vg-a/lv-b', '/dev/mapper/vg--a-lv--b']);
    expect(userOf([{ guest: 'g1', source: '/dev/mapper/vg--a-lv--b' }], lvPaths('vg-a', 'lv-b'))).to.equal('g1');
    expect(userOf(disks, lvPaths('vg_omsnode1', 'hostt-x'))).to.equal(undefined);
  });
});
