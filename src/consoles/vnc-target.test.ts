import { expect } from 'chai';
import type { NodeHandle } from '../fleet/access.ts';
import type { Command } from '../nodes/command.ts';
import { plainLine } from '../nodes/command.ts';
import { isOmsError, oms } from '../rpc/errors.ts';
import { consoleVirsh, vncDisplayWords } from './commands.ts';
import { vncTarget } from './vnc-target.ts';

/** A node whose resident virsh answers `resident` and whose one-off commands answer `exec`. */
function fakeNode(resident: (words: readonly string[]) => Promise<string>, exec: { code: number; stdout: string; stderr: string }) {
  const asked: string[][] = [];
  const ran: Command[] = [];
  const node = {
    name: 'node1',
    settings: {},
    converse: async (spec: { key: string }, words: readonly string[]) => {
      expect(spec.key).to.equal(consoleVirsh('qemu:///system').key);
      asked.push([...words]);
      return resident(words);
    },
    exec: async (cmd: Command) => {
      ran.push(cmd);
      return exec;
    },
  } as unknown as NodeHandle;
  return { node, asked, ran };
}

const opts = { timeoutMs: 1000 };

describe('consoles/vnc-target', () => {
  it("asks the node's resident virsh, and runs nothing when it answers", async () => {
    const f = fakeNode(async () => '127.0.0.1:3\n', { code: 0, stdout: '', stderr: '' });
    expect(await vncTarget(f.node, 'cons-vm1', opts)).to.deep.equal({ host: '127.0.0.1', port: 5903 });
    expect(f.asked).to.deep.equal([['vncdisplay', '--', 'cons-vm1']]);
    expect(f.ran).to.deep.equal([]);
  });

  it('an error from the resident (guest down) is asked again of a one-off virsh, for the typed error', async () => {
    const f = fakeNode(async () => 'error: Domain is not running\n', { code: 1, stdout: '', stderr: 'error: Domain is not running\n' });
    const e = await vncTarget(f.node, 'cons-vm1', opts).catch((x) => x);
    expect(isOmsError(e) && e.omsName).to.equal('VNCRemoteSetUpError');
    expect(e.message).to.match(/Domain is not running$/);
    expect(f.ran).to.deep.equal([['virsh', '-c', 'qemu:///system', 'vncdisplay', '--', 'cons-vm1']]);
  });

  it('a resident that cannot start falls back to a one-off virsh; a timeout is final', async () => {
    const down = fakeNode(async () => Promise.reject(oms('FuncManError', { reason: 'ended' })), { code: 0, stdout: '127.0.0.1:0\n', stderr: '' });
    expect(await vncTarget(down.node, 'cons-vm1', opts)).to.deep.equal({ host: '127.0.0.1', port: 5900 });
    expect(down.ran).to.have.length(1);
    const stuck = fakeNode(async () => Promise.reject(oms('FuncMethodTimeoutError', { node: 'node1', seconds: 1 })), { code: 0, stdout: '127.0.0.1:0\n', stderr: '' });
    const e = await vncTarget(stuck.node, 'cons-vm1', opts).catch((x) => x);
    expect(isOmsError(e) && e.omsName).to.equal('FuncMethodTimeoutError');
    expect(stuck.ran).to.deep.equal([]);
  });

  it('a name outside the VM name schema never reaches the resident; the quoting executor gets it', async () => {
    const f = fakeNode(async () => '127.0.0.1:0\n', { code: 1, stdout: '', stderr: "error: failed to get domain 'a b'\n" });
    await vncTarget(f.node, 'a b', opts).catch(() => undefined);
    expect(f.asked).to.deep.equal([]);
    expect(f.ran).to.have.length(1);
  });

  it('the resident request is plain words for any valid name', () => {
    expect(plainLine(vncDisplayWords('cons-vm1.b+c_d'))).to.equal('vncdisplay -- cons-vm1.b+c_d');
    expect(() => plainLine(vncDisplayWords("x';id;'"))).to.throw();
    expect(consoleVirsh('qemu:///system').argv).to.deep.equal(['virsh', '-q', '-c', 'qemu:///system']);
  });
});
