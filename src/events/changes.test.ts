import { expect } from 'chai';
import { changeEvent } from './changes.ts';

describe('events: inventory changes from the audit path', () => {
  it('names the service and method, the node and guest of the path, the user, and the params', () => {
    const e = changeEvent({ service: 'tagservices', method: 'add_vm_tag', path: '/nodes/n1/vms/web', user: 'admin', params: { server_hostname: 'n1', vm_name: 'web', tag: 'prod', level: undefined } });
    expect(e).to.deep.equal({
      type: 'inventory',
      node: 'n1',
      target: 'web',
      action: 'tagservices.add_vm_tag',
      data: { service: 'tagservices', method: 'add_vm_tag', user: 'admin', path: '/nodes/n1/vms/web', params: { server_hostname: 'n1', vm_name: 'web', tag: 'prod' } },
    });
  });

  it('drops secret params (declared, and by name), never redacts them into the event', () => {
    const e = changeEvent({ service: 'userservices', method: 'add_user', path: '/access', user: 'admin', params: { username: 'bob', password: 'hunter2-secret', roles: [] }, secretParams: ['password'] });
    expect(e!.data!.params).to.deep.equal({ username: 'bob', roles: [] });
    const f = changeEvent({ service: 'x', method: 'y', params: { new_password: 'p', api_token: 't', client_secret: 's', name: 'ok' } });
    expect(f!.data!.params).to.deep.equal({ name: 'ok' });
    expect(JSON.stringify([e, f])).not.to.match(/hunter2|"p"|"t"|"s"/);
  });

  it('leaves changes with sources of their own to them', () => {
    for (const service of ['authservices', 'funcservices', 'tasks']) expect(changeEvent({ service, method: 'm', params: {} })).to.equal(undefined);
  });

  it('leaves bulky params out', () => {
    const e = changeEvent({ service: 's', method: 'm', params: { blob: 'x'.repeat(10_000) } });
    expect(e!.data).to.include({ params_omitted: true });
    expect(e!.data).not.to.have.property('params');
  });
});
