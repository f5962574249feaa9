import { expect } from 'chai';
import { shellLine } from '../../src/nodes/command.ts';
import * as cmd from './commands.ts';

const U = 'qemu:///system';

/** Golden lines: argv in, the exact shell line the node receives out. */
describe('kvmservices command builders', () => {
  it('virsh calls name their connection and quote every argument', () => {
    expect(shellLine(cmd.domstatsAll(U))).to.equal('virsh -q -c qemu:///system domstats --raw --nowait --state --cpu-total --balloon --vcpu');
    expect(shellLine(cmd.startPaused(U, 'kvmt-a'))).to.equal('virsh -q -c qemu:///system start --paused kvmt-a');
    expect(shellLine(cmd.dumpxmlSecure(U, 'kvmt-a'))).to.equal('virsh -q -c qemu:///system dumpxml --inactive --security-info kvmt-a');
    expect(shellLine(cmd.listNames(U))).to.equal('virsh -q -c qemu:///system list --all --name');
    expect(shellLine(cmd.power(U, 'start', 'kvmt-a'))).to.equal('virsh -q -c qemu:///system start kvmt-a');
    expect(shellLine(cmd.undefine(U, 'kvmt-a'))).to.equal('virsh -q -c qemu:///system undefine --managed-save --snapshots-metadata --nvram kvmt-a');
    expect(shellLine(cmd.setMaxMem(U, 'kvmt-a', 96))).to.equal('virsh -q -c qemu:///system setmaxmem kvmt-a 96M --config');
    expect(shellLine(cmd.setVcpusMax(U, 'kvmt-a', 2))).to.equal('virsh -q -c qemu:///system setvcpus kvmt-a 2 --config --maximum');
    expect(shellLine(cmd.defineStdin(U))).to.equal('virsh -q -c qemu:///system define /dev/stdin');
    expect(shellLine(cmd.autostart(U, 'a', false))).to.equal('virsh -q -c qemu:///system autostart --disable a');
    expect(shellLine(cmd.dumpxml('qemu+ssh://x/system?keyfile=/k', 'a', true))).to.equal("virsh -q -c 'qemu+ssh://x/system?keyfile=/k' dumpxml --inactive a");
  });

  it('even a name that slipped past validation stays one argument', () => {
    expect(shellLine(cmd.power(U, 'destroy', "x'; rm -rf / #"))).to.equal("virsh -q -c qemu:///system destroy 'x'\\''; rm -rf / #'");
  });

  it('storage commands', () => {
    expect(shellLine(cmd.imgCreate('/img/a.qcow2', 'qcow2', 51))).to.equal('qemu-img create -q -f qcow2 /img/a.qcow2 51M');
    expect(shellLine(cmd.imgInfo('/img/a.qcow2'))).to.equal("qemu-img info -U '--output=json' /img/a.qcow2");
    expect(shellLine(cmd.imgConvert('/t/a.qcow2', '/img/b.qcow2', 'qcow2'))).to.equal('qemu-img convert -p -O qcow2 /t/a.qcow2 /img/b.qcow2');
    expect(shellLine(cmd.listDir('/t', 2))).to.equal("find /t -mindepth 1 -maxdepth 2 -printf '%y %P\\n'");
    expect(shellLine(cmd.removeFile('/img/a'))).to.equal('rm -f -- /img/a');
    expect(shellLine(cmd.notExists('/img/a'))).to.equal("test '!' -e /img/a");
    expect(shellLine(cmd.writeFile('/t/x/template.json'))).to.equal('tee -- /t/x/template.json');
  });
});
