/**
 * The stored password format is a contract with every existing database: a change of parameters,
 * salt length or encoding in hashPassword, or a verifyPassword that stops reading the parameters
 * out of the stored string, would lock every user out after an upgrade. These tests pin it.
 */
import { expect } from 'chai';
import { scryptSync } from 'node:crypto';
import { hashPassword, verifyPassword } from './passwords.ts';

// RFC 7914 section 12 test vectors. scrypt ends in PBKDF2, whose output blocks are independent,
// so the first 32 bytes of a 64-byte vector are the 32-byte key OMS stores.
const rfc = {
  // N=16384, r=8, p=1: the parameters OMS writes today.
  current: { password: 'pleaseletmein', salt: 'SodiumChloride', N: 16384, r: 8, p: 1, dk64: '7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887' },
  // N=1024, r=8, p=16: other parameters, as a database written by another setting would hold.
  other: { password: 'password', salt: 'NaCl', N: 1024, r: 8, p: 16, dk64: 'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640' },
};

const stored = (v: (typeof rfc)['current']): string =>
  ['scrypt', v.N, v.r, v.p, Buffer.from(v.salt).toString('base64'), Buffer.from(v.dk64, 'hex').subarray(0, 32).toString('base64')].join('$');

describe('password hashes (scrypt)', () => {
  it('are stored as scrypt$16384$8$1$<16-byte salt, base64>$<32-byte key, base64>', async () => {
    const h = await hashPassword('correct horse battery');
    expect(h).to.match(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    const [, n, r, p, salt, key] = h.split('$');
    expect(Buffer.from(salt, 'base64')).to.have.length(16);
    expect(Buffer.from(key, 'base64')).to.have.length(32);
    // The key is plain scrypt of the password with that salt and those parameters (no pepper, no prehash).
    const expected = scryptSync('correct horse battery', Buffer.from(salt, 'base64'), 32, { N: Number(n), r: Number(r), p: Number(p) });
    expect(Buffer.from(key, 'base64').equals(expected)).to.equal(true);
  });

  it('salt each hash afresh', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    expect(a.split('$')[4]).to.not.equal(b.split('$')[4]);
  });

  it('verify the RFC 7914 known answer at the current parameters', async () => {
    const s = stored(rfc.current);
    expect(s).to.equal('scrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=');
    expect(await verifyPassword('pleaseletmein', s)).to.equal(true);
    expect(await verifyPassword('pleaseletmeiN', s)).to.equal(false);
  });

  it('verify with the parameters the stored hash names, not the current ones', async () => {
    const s = stored(rfc.other);
    expect(s).to.equal('scrypt$1024$8$16$TmFDbA==$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWI=');
    expect(await verifyPassword('password', s)).to.equal(true);
    expect(await verifyPassword('Password', s)).to.equal(false);
  });

  it('refuse a malformed or foreign stored form instead of throwing', async () => {
    for (const bad of ['', 'scrypt$16384$8$1$abc', 'bcrypt$2b$10$abcdefghijklmnopqrstuv', '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'])
      expect(await verifyPassword('anything', bad), bad).to.equal(false);
  });
});
