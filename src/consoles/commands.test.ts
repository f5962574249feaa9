import { expect } from 'chai';
import { shellLine } from '../nodes/command.ts';
import { serialConsole, ttyConsole, vncDisplay } from './commands.ts';

describe('consoles/commands', () => {
  it('golden command lines', () => {
    expect(shellLine(vncDisplay('qemu:///system', 'cons-vm1'))).to.equal('virsh -c qemu:///system vncdisplay -- cons-vm1');
    expect(shellLine(ttyConsole('qemu:///system', 'cons-vm1'))).to.equal('virsh -c qemu:///system ttyconsole -- cons-vm1');
    expect(shellLine(serialConsole('qemu:///system', 'cons-vm1'))).to.equal('exec virsh -c qemu:///system console --force -- cons-vm1');
  });
  it('a hostile name stays one quoted argument', () => {
    expect(shellLine(serialConsole('qemu:///system', "a';touch /tmp/x;'"))).to.equal(`exec virsh -c qemu:///system console --force -- 'a'\\'';touch /tmp/x;'\\'''`);
  });
});
