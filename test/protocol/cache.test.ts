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
  // An object the service keeps and returns as its result (a store's own state, say).
  const kept = { n: 1, list: [1] };
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
        name: 'kept',
        description: 'cacheable read returning an object the service keeps',
        auth: 'session',
        permission: 'authenticated',
        cacheable: true,
        params: [] as const,
        run: () => kept,
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
  beforeEach(() => gw.app.cache.clear());

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
    const a = await gw.get('counter', 'read', [sid, 1, 'n1']);
    // Held in memory or read from its row, a result is as old as when it was made.
    await new Promise((r) => setTimeout(r, 1100));
    const b = await gw.get('counter', 'read', [sid, 1, 'n1']);
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

  it("what is held is a copy: a handler's own object changed later does not change the cached answer, nor is it frozen", async () => {
    const a = await gw.get('counter', 'kept', [sid, 30]);
    kept.n = 2;
    kept.list.push(2);
    const b = await gw.get('counter', 'kept', [sid, 30]);
    expect(a.result).to.deep.equal({ type: 'func', result: { n: 1, list: [1] } });
    expect(b.result).to.deep.equal({ type: 'tmp_cache', result: { n: 1, list: [1] } });
  });

  it('out-of-range cache_timeout is a parameter mismatch', async () => {
    expect((await gw.get('counter', 'read', [sid, -1, 'n1'])).error.code).to.equal(5);
    expect((await gw.get('counter', 'read', [sid, 'soon', 'n1'])).error.code).to.equal(5);
  });
});

/**
 * Results are held in memory per gateway; the database (rpc_cache) stays the truth. A row another
 * gateway drops (its own invalidateNode, on the same database) or a hand edit is noticed within
 * the recheck time; the gateway's own invalidations apply at once (above).
 */
describe('cache_timeout results held in memory', () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const tags = (sid: string) => gw!.get('tagservices', 'list_tags', [sid, 60]);
  const dropBehindTheGateway = () => gw!.app.db.prepare('DELETE FROM rpc_cache').run();

  it('a row dropped behind the gateway is served for at most the recheck time', async () => {
    gw = await startTestGateway({ config: { cacheRecheckMs: 1000 } });
    const sid = await gw.login();
    await tags(sid);
    dropBehindTheGateway();
    expect((await tags(sid)).result.type, 'held until the recheck time').to.equal('tmp_cache');
    await sleep(1050);
    expect((await tags(sid)).result.type).to.equal('func');
  });

  it('with a recheck time of 0 every hit checks its row', async () => {
    gw = await startTestGateway({ config: { cacheRecheckMs: 0 } });
    const sid = await gw.login();
    await tags(sid);
    expect((await tags(sid)).result.type).to.equal('tmp_cache');
    dropBehindTheGateway();
    expect((await tags(sid)).result.type).to.equal('func');
  });

  it('a row written by another gateway is served from the database and then held', async () => {
    gw = await startTestGateway({ config: { cacheRecheckMs: 60_000 } });
    const sid = await gw.login();
    await tags(sid);
    const row = gw.app.db.prepare('SELECT key, result FROM rpc_cache').get() as { key: string; result: string };
    // What another gateway on the same database leaves: the row only, nothing in this gateway's memory.
    gw.app.cache.clear();
    gw.app.db.prepare('INSERT INTO rpc_cache (key, node, result, created_at) VALUES (?, NULL, ?, ?)').run(row.key, JSON.stringify([{ tag: 'from-elsewhere', level: 3 }]), Date.now());
    expect((await tags(sid)).result).to.deep.equal({ type: 'tmp_cache', result: [{ tag: 'from-elsewhere', level: 3 }] });
    dropBehindTheGateway();
    expect((await tags(sid)).result.result, 'now held').to.deep.equal([{ tag: 'from-elsewhere', level: 3 }]);
  });
});
