/** rpc.discover declares the snapshot methods (params, permission, mutating) and their errors. */
import { expect } from 'chai';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

describe('rpc.discover: KVM snapshots', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.close());

  it('lists list/create/revert/delete_snapshot with their positional params, and the snapshot errors', async () => {
    const doc = (await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'rpc.discover' })).body.result;
    const m = (name: string) => doc.methods.find((x: any) => x.name === `kvmservices.${name}`);
    const head = ['SESSID', 'cache_timeout', 'server_hostname', 'kvm_vm_name'];
    expect(m('list_snapshots').params.map((p: any) => p.name)).to.deep.equal(head);
    expect(m('list_snapshots')).to.deep.include({ 'x-mutates': false, 'x-cacheable': true });
    expect(m('list_snapshots')['x-permission'].privilege).to.equal('vm.view');
    const create = m('create_snapshot');
    expect(create.params.map((p: any) => [p.name, p.required])).to.deep.equal([...head.map((n) => [n, true]), ['snapshot_name', true], ['description', false]]);
    expect(create.params.find((p: any) => p.name === 'snapshot_name').schema).to.deep.include({ maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$' });
    expect(create.params.find((p: any) => p.name === 'description').schema).to.deep.include({ maxLength: 1024 });
    for (const name of ['create_snapshot', 'revert_snapshot', 'delete_snapshot']) {
      expect(m(name), name).to.deep.include({ 'x-mutates': true, 'x-cacheable': false });
      expect(m(name)['x-permission'].privilege, name).to.equal('vm.config');
    }
    expect(m('revert_snapshot').params.map((p: any) => p.name)).to.deep.equal([...head, 'snapshot_name']);
    expect(m('delete_vm_recursive')['x-mutates']).to.equal(true);
    expect(doc.components.errors.SnapshotUnsupportedError.code).to.equal(560);
    expect(doc.components.errors.UnknownSnapshotError.code).to.equal(561);
    expect(doc.components.errors.SnapshotExistsError.code).to.equal(562);
  });
});
