import { expect } from 'chai';
import { vmName } from './fields.ts';

describe('rpc/fields', () => {
  it('VM names: refuses words virsh would look up as a domain id or UUID before the name', () => {
    for (const ok of ['web1', '1web', 'guest-5', 'a', '0x1f', 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6x']) expect(vmName.safeParse(ok).success, ok).to.equal(true);
    for (const bad of ['5', '0', '12345', 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', 'F81D4FAE7DEC11D0A76500A0C91E6BF6', 'f81d4fae7-dec11d0a765-00a0c91e6bf6', 'a..b', '-x', 'a b']) expect(vmName.safeParse(bad).success, bad).to.equal(false);
  });
});
