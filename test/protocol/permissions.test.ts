/** Permissions: allowed, denied, propagated, overridden, via groups; and user management. */
import { expect } from 'chai';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { method, service } from '../../src/rpc/declare.ts';
import { nodeName, vmName } from '../../src/rpc/fields.ts';
import { ancestors } from '../../src/auth/permissions.ts';
import { kvmGuest } from '../../src/locks/guest-locks.ts';

describe('permissions', () => {
  let gw: TestGateway;
  let admin: string;
  let ran: string[] = [];
  const guarded = service({
    name: 'guarded',
    description: 'test service',
    envelope: 'oms',
    methods: [
      method({
        name: 'view_node',
        description: 'needs node.view on the node',
        auth: 'session',
        permission: { privilege: 'node.view', path: (p) => `/nodes/${p.node}` },
        params: [{ name: 'node', schema: nodeName }] as const,
        run: (_c, p) => void ran.push(`view ${p.node}`),
      }),
      method({
        name: 'start_vm',
        description: 'needs vm.state on the vm',
        auth: 'session',
        permission: { privilege: 'vm.state', path: (p) => `/nodes/${p.node}/vms/${p.vm}` },
        mutates: true,
        lock: { summary: 'the guest vm on node', guests: (p) => [kvmGuest(p.node, p.vm)] },
        params: [
          { name: 'node', schema: nodeName },
          { name: 'vm', schema: vmName },
        ] as const,
        run: (_c, p) => void ran.push(`start ${p.node}/${p.vm}`),
      }),
    ],
  });

  const as = async (user: string, password = 'password-' + user) => gw.login(user, password);
  const addUser = async (name: string, roles: { path: string; role: string }[] = []) => {
    const r = await gw.get('userservices', 'add_user', [admin, 0, name, 'password-' + name, roles]);
    expect(r.error, JSON.stringify(r.error)).to.equal(null);
  };

  before(async () => {
    gw = await startTestGateway({ services: [guarded] });
    admin = await gw.login();
  });
  after(() => gw.close());
  beforeEach(() => {
    ran = [];
  });

  it('ancestors walks from the path up to the root', () => {
    expect(ancestors('/nodes/n1/vms/v1')).to.deep.equal(['/nodes/n1/vms/v1', '/nodes/n1/vms', '/nodes/n1', '/nodes', '/']);
    expect(ancestors('/')).to.deep.equal(['/']);
  });

  it('a user with no grants is denied everything, and nothing runs', async () => {
    await addUser('nobody');
    const s = await as('nobody');
    const r = await gw.get('guarded', 'view_node', [s, 0, 'n1']);
    expect(r.error).to.deep.equal({ origin: 1, code: 6, message: 'Permission denied: node.view on /nodes/n1' });
    expect(ran).to.deep.equal([]);
    expect((await gw.get('userservices', 'list_users', [s, 0])).error.code).to.equal(6);
  });

  it('a grant on / propagates to every node and VM', async () => {
    await addUser('op', [{ path: '/', role: 'Operator' }]);
    const s = await as('op');
    expect((await gw.get('guarded', 'view_node', [s, 0, 'n7'])).error).to.equal(null);
    expect((await gw.get('guarded', 'start_vm', [s, 0, 'n7', 'web'])).error).to.equal(null);
    expect(ran).to.deep.equal(['view n7', 'start n7/web']);
    // Operator holds no user.admin.
    expect((await gw.get('userservices', 'list_users', [s, 0])).error.code).to.equal(6);
  });

  it('a grant on one node does not reach another node', async () => {
    await addUser('n1op', [{ path: '/nodes/n1', role: 'Operator' }]);
    const s = await as('n1op');
    expect((await gw.get('guarded', 'start_vm', [s, 0, 'n1', 'a'])).error).to.equal(null);
    expect((await gw.get('guarded', 'start_vm', [s, 0, 'n2', 'a'])).error.code).to.equal(6);
  });

  it('a more specific NoAccess takes away what / gave', async () => {
    await addUser('mostly', [{ path: '/', role: 'Operator' }, { path: '/nodes/secret', role: 'NoAccess' }]);
    const s = await as('mostly');
    expect((await gw.get('guarded', 'view_node', [s, 0, 'public'])).error).to.equal(null);
    expect((await gw.get('guarded', 'view_node', [s, 0, 'secret'])).error.code).to.equal(6);
    expect((await gw.get('guarded', 'start_vm', [s, 0, 'secret', 'vm1'])).error.code).to.equal(6);
  });

  it('a grant on a single VM works under a node where the user has nothing else', async () => {
    await addUser('vmuser', [{ path: '/nodes/n1/vms/mine', role: 'VMUser' }]);
    const s = await as('vmuser');
    expect((await gw.get('guarded', 'start_vm', [s, 0, 'n1', 'mine'])).error).to.equal(null);
    expect((await gw.get('guarded', 'start_vm', [s, 0, 'n1', 'other'])).error.code).to.equal(6);
    expect((await gw.get('guarded', 'view_node', [s, 0, 'n1'])).error.code).to.equal(6);
  });

  it('non-propagating grants apply to their exact path only', async () => {
    await addUser('exact');
    expect((await gw.get('userservices', 'grant', [admin, 0, '/nodes/n1', 'user', 'exact', 'Operator', false])).error).to.equal(null);
    const s = await as('exact');
    expect((await gw.get('guarded', 'view_node', [s, 0, 'n1'])).error).to.equal(null);
    expect((await gw.get('guarded', 'start_vm', [s, 0, 'n1', 'x'])).error.code).to.equal(6);
  });

  it('group grants apply to members; user grants shadow group grants at the same level', async () => {
    await addUser('g1');
    await addUser('g2');
    expect((await gw.get('userservices', 'add_group', [admin, 0, 'ops', 'operators'])).error).to.equal(null);
    expect((await gw.get('userservices', 'set_group_members', [admin, 0, 'ops', ['g1', 'g2']])).error).to.equal(null);
    expect((await gw.get('userservices', 'grant', [admin, 0, '/', 'group', 'ops', 'Operator'])).error).to.equal(null);
    expect((await gw.get('userservices', 'grant', [admin, 0, '/', 'user', 'g2', 'Auditor'])).error).to.equal(null);
    const s1 = await as('g1');
    const s2 = await as('g2');
    expect((await gw.get('guarded', 'start_vm', [s1, 0, 'n', 'v'])).error).to.equal(null);
    expect((await gw.get('guarded', 'start_vm', [s2, 0, 'n', 'v'])).error.code).to.equal(6);
    expect((await gw.get('guarded', 'view_node', [s2, 0, 'n'])).error).to.equal(null);
    const groups = (await gw.get('userservices', 'list_groups', [admin, 0])).result.result;
    expect(groups).to.deep.include({ name: 'ops', comment: 'operators', members: ['g1', 'g2'] });
  });

  it('revoking and set_roles take effect on the next call', async () => {
    await addUser('temp', [{ path: '/', role: 'Operator' }]);
    const s = await as('temp');
    expect((await gw.get('guarded', 'view_node', [s, 0, 'n'])).error).to.equal(null);
    expect((await gw.get('userservices', 'revoke', [admin, 0, '/', 'user', 'temp', 'Operator'])).result.result).to.equal(1);
    expect((await gw.get('guarded', 'view_node', [s, 0, 'n'])).error.code).to.equal(6);
    expect((await gw.get('userservices', 'set_roles', [admin, 0, 'temp', [{ path: '/nodes/n', role: 'Auditor' }]])).error).to.equal(null);
    expect((await gw.get('guarded', 'view_node', [s, 0, 'n'])).error).to.equal(null);
  });

  it('users may change their own password but not another user\'s; other sessions end', async () => {
    await addUser('alice');
    await addUser('bob');
    const a1 = await as('alice');
    const a2 = await as('alice');
    expect((await gw.get('userservices', 'change_password', [a1, 0, 'bob', 'new-password-1'])).error.code).to.equal(6);
    expect((await gw.get('userservices', 'change_password', [a1, 0, 'alice', 'new-password-1'])).error).to.equal(null);
    expect((await gw.get('authservices', 'checksessid', [a1])).result.result).to.equal(0);
    expect((await gw.get('authservices', 'checksessid', [a2])).error.code).to.equal(101);
    expect(await gw.login('alice', 'new-password-1')).to.match(/^[0-9A-F]{40}$/);
    const weak = await gw.get('userservices', 'change_password', [a1, 0, 'alice', 'short']);
    expect(weak.error.message).to.match(/^WeakPasswordError/);
  });

  it('user management errors: duplicates, unknown users and roles, the last administrator', async () => {
    await addUser('dup');
    expect((await gw.get('userservices', 'add_user', [admin, 0, 'dup', 'password-x1'])).error.message).to.match(/^UserExistsError/);
    expect((await gw.get('userservices', 'delete_user', [admin, 0, 'ghost'])).error.message).to.match(/^UnknownUserError/);
    expect((await gw.get('userservices', 'add_user', [admin, 0, 'r', 'password-x1', [{ path: '/', role: 'God' }]])).error.message).to.match(/^UnknownRoleError/);
    expect((await gw.get('userservices', 'delete_user', [admin, 0, 'admin'])).error.message).to.match(/^LastAdminError/);
    expect((await gw.get('userservices', 'revoke', [admin, 0, '/', 'user', 'admin', 'Administrator'])).error.message).to.match(/^LastAdminError/);
    expect((await gw.get('userservices', 'grant', [admin, 0, '/nodes/../etc', 'user', 'dup', 'Operator'])).error.code).to.equal(5);
  });

  it('deleting a user ends their sessions', async () => {
    await addUser('leaver', [{ path: '/', role: 'Operator' }]);
    const s = await as('leaver');
    expect((await gw.get('userservices', 'delete_user', [admin, 0, 'leaver'])).error).to.equal(null);
    expect((await gw.get('authservices', 'checksessid', [s])).error.code).to.equal(101);
  });

  it('every change is audited with outcome; list_audit needs audit.view', async () => {
    const rows = (await gw.get('userservices', 'list_audit', [admin, 0, 500])).result.result as any[];
    expect(rows.some((r) => r.method === 'add_user' && r.outcome === 'ok' && r.user === 'admin')).to.equal(true);
    expect(rows.some((r) => r.method === 'delete_user' && r.outcome === 'LastAdminError')).to.equal(true);
    expect(rows.some((r) => r.service === 'guarded' && r.method === 'start_vm' && r.target === '/nodes/n1/vms/mine')).to.equal(true);
    expect(JSON.stringify(rows)).to.not.include('password-');
  });
});
