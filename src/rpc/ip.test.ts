import { expect } from 'chai';
import { ipv4, netmask } from './fields.ts';
import { canonicalIpv6, isIpv4, isIpv6, specialIpv4, urlHost } from './ip.ts';

describe('rpc/ip (ipaddr.js) and the address field types', () => {
  it('dotted quads: only the plain form, the same for the field pattern and the library', () => {
    const good = ['0.0.0.0', '10.213.7.11', '255.255.255.255', '1.2.3.4', '100.0.10.0'];
    // inet_aton forms the library's general parser takes (short, hex, octal) are refused by both.
    const bad = ['10.1', '10.0.1', '167772161', '0x0a.0.0.1', '010.0.0.1', '1.2.3.04', '256.1.1.1', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.4.5', '::1', '', '1..2.3'];
    for (const a of good) expect([isIpv4(a), ipv4.safeParse(a).success], a).to.deep.equal([true, true]);
    for (const a of bad) expect([isIpv4(a), ipv4.safeParse(a).success], a).to.deep.equal([false, false]);
    // One issue per bad value, not one per check.
    expect(ipv4.safeParse('10.1').error?.issues).to.have.length(1);
  });

  it('netmasks: every contiguous mask, nothing else, and garbage is refused without throwing', () => {
    for (let p = 0; p <= 32; p++) {
      // An independent oracle: p ones then zeros, read as four bytes.
      const mask = ('1'.repeat(p) + '0'.repeat(32 - p)).match(/.{8}/g)!.map((b) => parseInt(b, 2)).join('.');
      expect(netmask.safeParse(mask).success, mask).to.equal(true);
    }
    for (const m of ['255.0.255.0', '255.255.255.1', '0.255.255.255', '128.128.0.0']) expect(netmask.safeParse(m).error?.issues[0].message, m).to.equal('not a contiguous netmask');
    expect(netmask.safeParse('x').error?.issues.map((i) => i.message)).to.deep.equal(['not an IPv4 address']);
  });

  it('IPv6: valid forms without a zone, written canonically', () => {
    for (const a of ['::', '::1', 'fe80::3c2a:23ff:fe5c:697a', 'fd13:7::1', '2001:db8::ffff:10.0.0.1']) expect(isIpv6(a), a).to.equal(true);
    for (const a of ['fe80::1%eth0', '10.0.0.1', 'fd13::7::1', 'g::1', '']) expect(isIpv6(a), a).to.equal(false);
    expect(canonicalIpv6('FD13:0007:0000:0000:0000:0000:0000:0001')).to.equal('fd13:7::1');
    expect(canonicalIpv6('2001:db8:0:0:1:0:0:1')).to.equal('2001:db8::1:0:0:1');
  });

  it('special IPv4 ranges: 0/8, loopback, multicast, reserved and broadcast; documentation networks are hosts', () => {
    expect(specialIpv4('0.255.255.255')).to.equal('in 0.0.0.0/8');
    expect(specialIpv4('127.0.0.1')).to.equal('a loopback address');
    expect(specialIpv4('224.0.0.0')).to.equal('a multicast or reserved address');
    expect(specialIpv4('240.0.0.1')).to.equal('a multicast or reserved address');
    expect(specialIpv4('255.255.255.255')).to.equal('a multicast or reserved address');
    // ipaddr.js calls these `reserved`; they are routable, and tests and labs use them.
    for (const a of ['1.0.0.0', '126.255.255.255', '128.0.0.0', '223.255.255.255', '192.0.2.10', '198.18.0.1', '203.0.113.9', '10.213.7.1']) expect(specialIpv4(a), a).to.equal(undefined);
  });

  it('URL hosts for a listen address: wildcards on loopback, IPv6 in brackets', () => {
    expect(['0.0.0.0', '::', '0:0::0', '10.213.7.1', '127.0.0.1', '::1', 'FD13:7::0001', 'localhost'].map(urlHost)).to.deep.equal(['127.0.0.1', '127.0.0.1', '127.0.0.1', '10.213.7.1', '127.0.0.1', '[::1]', '[fd13:7::1]', 'localhost']);
    expect(new URL(`https://${urlHost('::1')}:8000/`).hostname).to.equal('[::1]');
  });
});
