import { expect } from 'chai';
import { isMulticast, macAddress, newMac } from './macs.ts';

describe('kvmservices MAC addresses', () => {
  it('accepts unicast MACs in either case, written lower case', () => {
    expect(macAddress.parse('52:54:00:AB:cd:0e')).to.equal('52:54:00:ab:cd:0e');
    expect(macAddress.parse('02:00:00:00:00:01')).to.equal('02:00:00:00:00:01');
  });

  it('refuses multicast, broadcast, all-zero and malformed MACs', () => {
    for (const bad of ['01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '33:33:00:00:00:01', '00:00:00:00:00:00', '52:54:00:12:34', '52-54-00-12-34-56', '525400123456', '52:54:00:12:34:5g', ' 52:54:00:12:34:56', '52:54:00:12:34:56\n', '52:54:00:12:34:56;x'])
      expect(macAddress.safeParse(bad).success, bad).to.equal(false);
    expect(isMulticast('01:00:5e:00:00:01')).to.equal(true);
    expect(isMulticast('52:54:00:00:00:01')).to.equal(false);
  });

  it('new MACs are in 52:54:00 and skip the ones in use', () => {
    const seq = [Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3), Uint8Array.of(0xab, 0, 0xff)];
    let i = 0;
    const mac = newMac(new Set(['52:54:00:01:02:03']), () => seq[i++]);
    expect(mac).to.equal('52:54:00:ab:00:ff');
    expect(i).to.equal(3);
    expect(newMac(new Set())).to.match(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(() => newMac(new Set(['52:54:00:00:00:00']), () => Uint8Array.of(0, 0, 0))).to.throw(/no free MAC/);
  });
});
