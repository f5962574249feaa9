import { expect } from 'chai';
import { nodeSettings } from './index.ts';

describe('funcservices node settings', () => {
  it('guestVirtType: kvm, qemu or null (the default, kvm); nothing else', () => {
    expect(nodeSettings.parse({ guestVirtType: 'qemu' })).to.deep.equal({ guestVirtType: 'qemu' });
    expect(nodeSettings.parse({ guestVirtType: 'kvm' })).to.deep.equal({ guestVirtType: 'kvm' });
    expect(nodeSettings.parse({ guestVirtType: null })).to.deep.equal({ guestVirtType: null });
    for (const bad of ['tcg', 'QEMU', 'xen', '', 'qemu;id', 1, true]) {
      const r = nodeSettings.safeParse({ guestVirtType: bad });
      expect(r.success, String(bad)).to.equal(false);
      expect(r.error?.issues.map((i) => [i.path.join('.'), i.message]), String(bad)).to.deep.equal([['guestVirtType', "'kvm', 'qemu' or null"]]);
    }
  });
});
