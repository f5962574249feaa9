import { expect } from 'chai';
import { openDatabase } from '../db/database.ts';
import { Permissions } from './permissions.ts';
import { PoolStore } from '../fleet/pools.ts';

describe('permissions: pool grants reach pool members', () => {
  const db = openDatabase(':memory:');
  const perms = new Permissions(db);
  const pools = new PoolStore(db);
  before(() => {
    db.prepare("INSERT INTO users (name, password_hash, created_at) VALUES ('pooluser', 'x', 0)").run();
    for (const n of ['n1', 'n2']) db.prepare("INSERT INTO nodes (name, address, port, signed, host_key_fingerprint) VALUES (?, '192.0.2.1', 22, 1, 'SHA256:x')").run(n);
    pools.create('web', '', 'admin');
    pools.create('db', '', 'admin');
    pools.add('web', { kind: 'kvm', node: 'n1', guest: 'web1' });
    pools.add('web', { kind: 'ct', node: 'n2', guest: '101' });
    pools.add('db', { kind: 'kvm', node: 'n1', guest: 'db1' });
    const grant = (path: string, role: string) => db.prepare("INSERT INTO acl (path, subject_type, subject, role, propagate) VALUES (?, 'user', 'pooluser', ?, 1)").run(path, role);
    grant('/pools/web', 'VMUser');
    grant('/nodes/n1/vms/web1', 'NoAccess');
  });
  const user = () => {
    const id = (db.prepare("SELECT id FROM users WHERE name = 'pooluser'").get() as { id: number }).id;
    return perms.forUser(id, 'pooluser');
  };

  it('a grant on /pools/web gives its privileges on every member, on any node', () => {
    const u = user();
    expect(u.has('vm.state', '/nodes/n2/vms/101')).to.equal(true);
    expect(u.has('vm.view', '/nodes/n2/vms/101')).to.equal(true);
    expect(u.has('vm.delete', '/nodes/n2/vms/101')).to.equal(false);
  });

  it('and nothing on guests outside the pool, nor on the nodes', () => {
    const u = user();
    expect(u.has('vm.view', '/nodes/n1/vms/db1')).to.equal(false);
    expect(u.has('vm.view', '/nodes/n2/vms/102')).to.equal(false);
    expect(u.has('vm.view', '/nodes/n1')).to.equal(false);
  });

  it('a grant on the guest itself still decides first', () => {
    expect(user().has('vm.view', '/nodes/n1/vms/web1')).to.equal(false);
  });

  it('follows membership: a guest moved out of the pool is out of reach', () => {
    pools.add('db', { kind: 'ct', node: 'n2', guest: '101' });
    expect(user().has('vm.state', '/nodes/n2/vms/101')).to.equal(false);
    pools.add('web', { kind: 'ct', node: 'n2', guest: '101' });
    expect(user().has('vm.state', '/nodes/n2/vms/101')).to.equal(true);
  });
});
