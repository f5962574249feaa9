/**
 * HTTP routes declared by a service (RouteDecl) and mounted by src/http/routes.ts: the app mounts
 * what the declaration says, with the generic checks (session, params, permission, body limit),
 * the envelope and audit; the registry refuses malformed route declarations at start-up.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { route, service, type ServiceDecl } from '../../src/rpc/declare.ts';
import { nodeName } from '../../src/rpc/fields.ts';
import { Registry } from '../../src/rpc/registry.ts';
import { z } from 'zod';

const sink = service({
  name: 'sinkservices',
  description: 'test service with an upload route',
  envelope: 'oms',
  methods: [],
  routes: [
    route({
      name: 'put_blob',
      description: 'hashes the body',
      method: 'PUT',
      path: '/blobs/:server_hostname/:blob',
      params: [
        { name: 'server_hostname', schema: nodeName },
        { name: 'blob', schema: z.string().regex(/^[a-z]{1,10}$/) },
      ] as const,
      permission: { privilege: 'node.admin', path: (p) => `/nodes/${p.server_hostname}` },
      maxBodyBytes: 1000,
      node: 'server_hostname',
      async run(ctx, { blob }, body) {
        const h = createHash('sha256');
        await pipeline(body.stream, new Writable({ write: (c: Buffer, _e, cb) => (h.update(c), cb()) }));
        return { blob, length: body.length ?? null, sha256: h.digest('hex'), user: ctx.principal?.userName };
      },
    }),
  ],
});

describe('service routes mounted from their declarations', () => {
  let gw: TestGateway;
  let sid: string;
  const put = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(gw.url + path, { method: 'PUT', body, headers });
    return { status: res.status, body: (await res.json()) as any };
  };

  before(async () => {
    gw = await startTestGateway({ services: [sink] });
    sid = await gw.login();
    // node.view but not node.admin.
    await gw.app.users.add('viewer', 'password-viewer-1', [{ path: '/', role: 'Auditor' }]);
  });
  after(() => gw?.close());

  it('serves the declared route: body streamed to run, OMS envelope with the node, audit row', async () => {
    const r = await put('/blobs/node1/abc', 'hello', { authorization: `Bearer ${sid}` });
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({
      error: null,
      id: null,
      result: { type: 'func', result: { client: 'node1', result: { blob: 'abc', length: 5, sha256: createHash('sha256').update('hello').digest('hex'), user: 'admin' } } },
    });
    const audit = gw.app.db.prepare("SELECT user_name, outcome, target FROM audit WHERE method = 'put_blob'").all();
    expect(audit).to.deep.equal([{ user_name: 'admin', outcome: 'ok', target: '/nodes/node1' }]);
  });

  it('generic checks: 401 without a session, 400 bad params, 403 without the privilege, 413 declared too large', async () => {
    const anon = await put('/blobs/node1/abc', 'x');
    expect([anon.status, anon.body.error.code]).to.deep.equal([401, 101]);
    const bad = await put('/blobs/node1/ABC', 'x', { authorization: `Bearer ${sid}` });
    expect([bad.status, bad.body.error.code]).to.deep.equal([400, 5]);
    const viewer = await gw.login('viewer', 'password-viewer-1');
    const denied = await put('/blobs/node1/abc', 'x', { authorization: `Bearer ${viewer}` });
    expect([denied.status, denied.body.error.code]).to.deep.equal([403, 6]);
    const big = await put('/blobs/node1/abc', 'x'.repeat(1001), { authorization: `Bearer ${sid}` });
    expect([big.status, big.body.error.code]).to.deep.equal([413, 12]);
  });

  it('the registry refuses route declarations that do not match their params, or collide', () => {
    const withRoute = (name: string, path: string, params: { name: string; schema: z.ZodType }[]): ServiceDecl =>
      service({ name, description: 'x', envelope: 'oms', methods: [], routes: [route({ name: 'r', description: 'x', method: 'PUT', path, params, permission: { privilege: 'node.admin', path: () => '/' }, maxBodyBytes: 1, run: async () => 0 })] });
    const p = [{ name: 'a', schema: z.string() }];
    expect(() => new Registry([withRoute('s1', '/x/:b', p)])).to.throw(/path params/);
    expect(() => new Registry([withRoute('s1', '/x/:a', p), withRoute('s2', '/x/:c', [{ name: 'c', schema: z.string() }])])).to.throw(/declared twice/);
    expect(() => new Registry([withRoute('s1', '/x/:a', p)])).to.not.throw();
  });
});
