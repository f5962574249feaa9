import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { NodeHandle } from '../../src/fleet/access.ts';
import { isOmsError } from '../../src/rpc/errors.ts';
import { NODE_DIRS, storageRun, test as testCmd, virshRun, type KvmNode } from './node.ts';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** A node whose every command ends with the given status and stderr (captured from a lab node). */
const fake = (code: number, stderr = '', stdout = ''): KvmNode => ({
  name: 'n1',
  uri: 'qemu:///system',
  dirs: NODE_DIRS,
  virtType: 'kvm',
  handle: { name: 'n1', settings: {}, exec: async () => ({ code, stderr, stdout }) } as unknown as NodeHandle,
});

async function failure(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isOmsError(e)) return { name: e.omsName, message: e.message };
    throw e;
  }
  throw new Error('expected a failure');
}

describe('kvmservices node runner', () => {
  it('a missing domain is UnknownVmError naming the guest', async () => {
    expect(await failure(virshRun(fake(1, fx('dominfo-unknown.err')), ['virsh'], { vm: 'web1' }))).to.deep.equal({ name: 'UnknownVmError', message: 'Unknown VM web1 on n1' });
  });
  it('other libvirt failures carry libvirt\'s own reason', async () => {
    expect(await failure(virshRun(fake(1, fx('resume-running.err')), ['virsh'], { vm: 'web1' }))).to.deep.equal({
      name: 'LibvirtError',
      message: 'libvirt on n1: Requested operation is not valid: domain is already running',
    });
  });
  it('success hands back stdout', async () => {
    expect(await virshRun(fake(0, '', 'ok\n'), ['virsh'])).to.equal('ok\n');
  });
  it('storage failures carry the tool\'s first line', async () => {
    expect(await failure(storageRun(fake(1, fx('qemu-img-info-missing.err')), ['qemu-img']))).to.deep.equal({
      name: 'NodeStorageError',
      message: "Storage command failed on n1: qemu-img: Could not open '/var/lib/oms-node/images/nope.qcow2': Could not open '/var/lib/oms-node/images/nope.qcow2': No such file or directory",
    });
  });
  it('test(): 0 true, 1 false, anything else an error', async () => {
    expect(await testCmd(fake(0), ['test'])).to.equal(true);
    expect(await testCmd(fake(1), ['test'])).to.equal(false);
    expect((await failure(testCmd(fake(2, 'test: too many arguments'), ['test']))).name).to.equal('NodeStorageError');
  });
});
