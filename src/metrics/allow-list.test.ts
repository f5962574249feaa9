import { expect } from 'chai';
import { parseAllowList } from './allow-list.ts';

describe('metrics allow-list (OMS_METRICS_ALLOW)', () => {
  it('is empty by default: no address is allowed', () => {
    const l = parseAllowList('');
    expect(l.size).to.equal(0);
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.0.0.1']) expect(l.allows(a), a).to.equal(false);
  });

  it('matches single addresses and CIDR ranges of both families, mapped IPv4 included', () => {
    const l = parseAllowList(' 127.0.0.2 , 10.213.0.0/16,fd00::/8, ::1');
    expect(l.entries).to.deep.equal(['127.0.0.2', '10.213.0.0/16', 'fd00::/8', '::1']);
    expect(l.allows('127.0.0.2')).to.equal(true);
    expect(l.allows('::ffff:127.0.0.2')).to.equal(true);
    expect(l.allows('127.0.0.1')).to.equal(false);
    expect(l.allows('10.213.7.11')).to.equal(true);
    expect(l.allows('10.214.0.1')).to.equal(false);
    expect(l.allows('fd12::1')).to.equal(true);
    expect(l.allows('fe80::1')).to.equal(false);
    expect(l.allows('::1')).to.equal(true);
    expect(l.allows(undefined)).to.equal(false);
    expect(l.allows('not-an-address')).to.equal(false);
  });

  it('refuses malformed entries instead of ignoring them', () => {
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/x', '::1/129', '999.1.1.1', '*']) {
      expect(() => parseAllowList(bad), bad).to.throw(/OMS_METRICS_ALLOW/);
    }
  });
});
