import { expect } from 'chai';
import { shellLine } from '../../src/nodes/command.ts';
import * as cmd from './commands.ts';

const lab = { driverLoaded: true };
const noDm = { driverLoaded: false };

describe('lvmservices/commands', () => {
  it('golden command lines', () => {
    expect(shellLine(cmd.lvcreate(lab, 'vg_omsnode1', 'hostt-a', 64))).to.equal("env 'LC_ALL=C' lvcreate --yes -n hostt-a -L 64m -- vg_omsnode1");
    expect(shellLine(cmd.lvresize(lab, 'vg_omsnode1', 'hostt-a', 128, false))).to.equal("env 'LC_ALL=C' lvresize -L 128m -- vg_omsnode1/hostt-a");
    expect(shellLine(cmd.lvresize(lab, 'vg_omsnode1', 'hostt-a', 8, true))).to.equal("env 'LC_ALL=C' lvresize -f -L 8m -- vg_omsnode1/hostt-a");
    expect(shellLine(cmd.lvremove(lab, 'vg_omsnode1', 'hostt-a'))).to.equal("env 'LC_ALL=C' lvremove -y -- vg_omsnode1/hostt-a");
    expect(shellLine(cmd.vgdisplay(lab))).to.equal("env 'LC_ALL=C' vgdisplay");
  });

  it('--driverloaded n on every command when the node has no device-mapper driver', () => {
    for (const argv of [cmd.vgdisplay(noDm), cmd.lvdisplay(noDm), cmd.vgs(noDm), cmd.lvs(noDm), cmd.lvcreate(noDm, 'v', 'l', 1), cmd.lvresize(noDm, 'v', 'l', 1, true), cmd.lvremove(noDm, 'v', 'l')]) {
      expect(argv.slice(3, 5)).to.deep.equal(['--driverloaded', 'n']);
    }
    for (const argv of [cmd.vgs(lab), cmd.lvcreate(lab, 'v', 'l', 1)]) expect(argv).to.not.include('--driverloaded');
  });
});

describe('lvmservices/node setting lvmDriverLoaded', () => {
  it('is read loosely from the node settings: only an explicit false switches the flag on', async () => {
    const { lvmOptions } = await import('./index.ts');
    const handle = (settings: object) => ({ name: 'n', settings, exec: () => Promise.reject(new Error('not used')) }) as never;
    expect(lvmOptions(handle({ lvmDriverLoaded: false }))).to.deep.equal({ driverLoaded: false });
    expect(lvmOptions(handle({}))).to.deep.equal({ driverLoaded: true });
    expect(lvmOptions(handle({ lvmDriverLoaded: 'no' }))).to.deep.equal({ driverLoaded: true });
  });
});
