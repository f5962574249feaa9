/** cache_timeout: fresh results as `func`, cached ones as `tmp_cache`, per user and params. */
import { expect } from 'chai';
import { z } from 'zod';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { method, service } from '../../src/rpc/declare.ts';
import { nodeName } from '../../src/rpc/fields.ts';

describe('cache_timeout', () => {
  let gw: TestGateway;
  let sid: string;
  let reads = 0;
  const counter = service({
    name: 'counter',
    description: 'test',
    envelope: 'oms',
    methods: [
      method({
        name: 'read',
        description: 'cacheable read',
        auth: 'session',
        permission: { privilege: 'node.view', path: (p) => `/nodes/${p.node}` },
        cacheable: true,
        node: 'node',
        params: [
          { name: 'node', schema: nodeName },
          { name: 'what', schema: z.string().max(10), optional: true },
        ] as const,
        run: () => ++reads,
      }),
      method({
        name: 'write',
        description: 'mutation on a node',
        auth: 'session',
        permission: { privilege: 'node.admin', path: (p) => `/nodes/${p.node}` },
        mutates: true,
        node: 'node',
        params: [{ name: 'node', schema: nodeName }] as const,
        run: () => 0,
      }),
    ],
  });
  before(async () => {
    gw = await startTestGateway({ services: [counter] });
    sid = await gw.login();
    await gw.get('userservices', 'add_user', [sid, 0, 'other', 'password-other', [{ path: '/', role: 'Operator' }]]);
  });
  after(() => gw.close());
  beforeEach(() => gw.app.db.prepare('DELETE FROM rpc_cache').run());

  it('0 always runs fresh', async () => {
    const a = await gw.get('counter', 'read', [sid, 0, 'n1']);
    const b = await gw.get('counter', 'read', [sid, 0, 'n1']);
    expect(a.result.type).to.equal('func');
    expect(b.result).to.deep.equal({ type: 'func', result: { client: 'n1', result: a.result.result.result + 1 } });
  });

  it('a result younger than cache_timeout comes back as tmp_cache with the same value', async () => {
    const a = await gw.get('counter', 'read', [sid, 30, 'n1']);
    const b = await gw.get('counter', 'read', [sid, 30, 'n1']);
    expect(a.result.type).to.equal('func');
    expect(b.result).to.deep.equal({ type: 'tmp_cache', result: a.result.result });
    // cache_timeout as a string, as query URLs send it, works too.
    expect((await gw.get('counter', 'read', [sid, '30', 'n1'])).result.type).to.equal('tmp_cache');
  });

  it('an older result is refreshed', async () => {
    const a = await gw.get('counter', 'read', [sid, 5, 'n1']);
    gw.app.db.prepare('UPDATE rpc_cache SET created_at = created_at - 6000').run();
    const b = await gw.get('counter', 'read', [sid, 5, 'n1']);
    expect(b.result.type).to.equal('func');
    expect(b.result.result.result).to.equal(a.result.result.result + 1);
  });

  it('keys on params and on the user', async () => {
    await gw.get('counter', 'read', [sid, 30, 'n1']);
    expect((await gw.get('counter', 'read', [sid, 30, 'n2'])).result.type).to.equal('func');
    expect((await gw.get('counter', 'read', [sid, 30, 'n1', 'x'])).result.type).to.equal('func');
    const other = await gw.login('other', 'password-other');
    expect((await gw.get('counter', 'read', [other, 30, 'n1'])).result.type).to.equal('func');
  });

  it('a change on a node drops what was cached about it', async () => {
    await gw.get('counter', 'read', [sid, 30, 'n1']);
    await gw.get('counter', 'read', [sid, 30, 'n2']);
    await gw.get('counter', 'write', [sid, 0, 'n1']);
    expect((await gw.get('counter', 'read', [sid, 30, 'n1'])).result.type).to.equal('func');
    expect((await gw.get('counter', 'read', [sid, 30, 'n2'])).result.type).to.equal('tmp_cache');
  });

  it('a cached result is not served to a caller who lost the permission', async () => {
    const other = await gw.login('other', 'password-other');
    await gw.get('counter', 'read', [other, 30, 'n9']);
    await gw.get('userservices', 'set_roles', [sid, 0, 'other', []]);
    expect((await gw.get('counter', 'read', [other, 30, 'n9'])).error.code).to.equal(6);
  });

  it('out-of-range cache_timeout is a parameter mismatch', async () => {
    expect((await gw.get('counter', 'read', [sid, -1, 'n1'])).error.code).to.equal(5);
    expect((await gw.get('counter', 'read', [sid, 'soon', 'n1'])).error.code).to.equal(5);
  });
});
