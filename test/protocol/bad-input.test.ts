/**
 * Bad input on every wire format: each case gets the right error in the caller's format, nothing
 * is executed, and the server keeps serving.
 */
import { expect } from 'chai';
import { z } from 'zod';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { method, service } from '../../src/rpc/declare.ts';
import { nodeName } from '../../src/rpc/fields.ts';

describe('bad input', () => {
  let gw: TestGateway;
  let sid: string;
  let runs = 0;
  const probe = service({
    name: 'probe',
    description: 'test service counting handler runs',
    envelope: 'oms',
    methods: [
      method({
        name: 'touch',
        description: 'counts',
        auth: 'session',
        permission: { privilege: 'node.view', path: (p) => `/nodes/${p.node}` },
        node: 'node',
        params: [
          { name: 'node', schema: nodeName },
          { name: 'count', schema: z.number().int().min(1).max(10) },
        ] as const,
        run: () => ++runs,
      }),
    ],
  });

  before(async () => {
    gw = await startTestGateway({ config: { maxBodyBytes: 64 * 1024 }, services: [probe] });
    sid = await gw.login();
  });
  after(() => gw.close());

  afterEach(async () => {
    // The server keeps serving after every case.
    const r = await gw.get('qooxdoo.test', 'getInteger', []);
    expect(r.result).to.equal(1);
  });

  it('the probe works when called correctly, wrapped per node', async () => {
    const r = await gw.get('probe', 'touch', [sid, 0, 'node1', 2]);
    expect(r.result).to.deep.equal({ type: 'func', result: { client: 'node1', result: 1 } });
    runs = 0;
  });

  const qx = (r: any) => r.error;

  it('malformed JSON in a qooxdoo POST -> origin 1 ParseError', async () => {
    const r = await gw.post('/', '{"service": "probe", ');
    expect(qx(r.body)).to.include({ origin: 1, code: 10 });
  });

  it('malformed JSON on /jsonrpc -> -32700', async () => {
    const r = await gw.post('/jsonrpc', '{"jsonrpc": "2.0", "method"');
    expect(r.body).to.deep.include({ jsonrpc: '2.0', id: null });
    expect(r.body.error.code).to.equal(-32700);
  });

  it('malformed params in the OMS query string', async () => {
    const q = new URLSearchParams({ id: '5', service: 'probe', method: 'touch', params: '["x",' });
    const r = await (await fetch(`${gw.url}/?${q}`)).json();
    expect(r).to.deep.include({ id: 5, result: null });
    expect(r.error.code).to.equal(10);
  });

  it('params that are not a list or object', async () => {
    const r = await gw.post('/', { service: 'probe', method: 'touch', id: 1, params: 'SESSID' });
    expect(r.body.error).to.include({ origin: 1, code: 5 });
    const j = await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'probe.touch', params: 7 });
    expect(j.body.error.code).to.equal(-32600);
  });

  it('unknown service, unknown method, illegal service name', async () => {
    expect((await gw.get('nosuch', 'x', [])).error).to.include({ origin: 1, code: 2 });
    expect((await gw.get('probe', 'nosuch', [])).error).to.include({ origin: 1, code: 4 });
    expect((await gw.get('../etc', 'x', [])).error).to.include({ origin: 1, code: 1 });
    const j = await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'probe.nosuch' });
    expect(j.body.error).to.include({ code: -32601 });
    expect(j.body.error.data.name).to.equal('MethodNotFound');
  });

  it('wrong types and counts -> ParameterMismatch with per-parameter reasons', async () => {
    const r = await gw.get('probe', 'touch', [sid, 0, 'node1', 'three']);
    expect(r.error).to.include({ origin: 1, code: 5 });
    expect(r.error.data.params[0].param).to.equal('count');
    const many = await gw.get('probe', 'touch', [sid, 0, 'node1', 1, 'extra']);
    expect(many.error.data.params[0].param).to.equal('(count)');
    const missing = await gw.get('probe', 'touch', [sid, 0]);
    expect(missing.error.data.params.map((p: any) => p.param)).to.deep.equal(['node', 'count']);
    const named = await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'probe.touch', params: { sessid: sid, node: 'n', count: 1, bogus: 1 } });
    expect(named.body.error.code).to.equal(-32602);
    expect(named.body.error.data.details.params).to.deep.include({ param: 'bogus', reason: 'unknown parameter' });
    expect(runs).to.equal(0);
  });

  it('hostile names are refused before the handler runs', async () => {
    for (const bad of ['node1; rm -rf /', '$(touch /tmp/x)', '`id`', '../etc', '-oProxyCommand=x', 'a\nb', 'nоde1' /* cyrillic o */, 'x'.repeat(300)]) {
      const r = await gw.get('probe', 'touch', [sid, 0, bad, 1]);
      expect(r.error, bad).to.include({ origin: 1, code: 5 });
      // The reason never echoes the hostile value.
      expect(r.error.message).to.not.include(bad.slice(0, 10));
    }
    expect(runs).to.equal(0);
  });

  it('oversized bodies are refused with 413 in the caller format', async () => {
    const big = JSON.stringify({ service: 'probe', method: 'touch', id: 1, params: ['x'.repeat(70 * 1024)] });
    const r = await gw.post('/', big);
    expect(r.status).to.equal(413);
    expect(r.body.error).to.include({ origin: 1, code: 12 });
    const j = await gw.post('/jsonrpc', big);
    expect(j.status).to.equal(413);
    expect(j.body.error.data.name).to.equal('RequestTooLarge');
  });

  it('URLs over the HTTP parser limit are answered in the qooxdoo shape', async () => {
    const q = new URLSearchParams({ id: '1', service: 'probe', method: 'touch', params: JSON.stringify([sid, 0, 'x'.repeat(100_000), 1]) });
    const res = await fetch(`${gw.url}/?${q}`);
    expect(res.status).to.equal(431);
    expect((await res.json()).error).to.include({ origin: 1, code: 12 });
  });

  it('non-UTF-8 bodies are refused', async () => {
    const body = Buffer.concat([Buffer.from('{"service":"qooxdoo.test","method":"echo","id":1,"params":["'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"]}')]);
    const res = await fetch(`${gw.url}/`, { method: 'POST', body });
    const r = await res.json();
    expect(r.error).to.include({ origin: 1, code: 10 });
    expect(r.error.message).to.include('UTF-8');
  });

  it('deeply nested JSON does not crash the server', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const r = await gw.post('/', `{"service":"qooxdoo.test","method":"getParam","id":1,"params":[${deep}]}`);
    expect(r.body.error).to.include({ origin: 1, code: 10 });
    expect(r.body.error.message).to.include('nested deeper than 64');
    const ok = await gw.post('/', `{"service":"qooxdoo.test","method":"getParam","id":1,"params":[${'['.repeat(60) + ']'.repeat(60)}]}`);
    expect(ok.body.error).to.equal(null);
  });

  it('missing, malformed, unknown and expired SESSID -> AuthError, handler not run', async () => {
    for (const s of [undefined, 17, '', 'F'.repeat(40), 'not-a-session']) {
      const r = await gw.get('probe', 'touch', s === undefined ? [] : [s, 0, 'node1', 1]);
      expect(r.error, String(s)).to.include({ origin: 2, code: 101 });
      expect(r.error.message).to.match(/^AuthError: /);
    }
    const j = await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'probe.touch', params: [0, 'node1', 1] }, { authorization: 'Bearer 0000000000000000000000000000000000000000' });
    expect(j.body.error).to.include({ code: 101 });
    expect(j.body.error.data).to.deep.equal({ name: 'AuthError', origin: 2 });
    expect(runs).to.equal(0);
  });

  it('a session is checked before params are validated (no detail for strangers)', async () => {
    const r = await gw.get('probe', 'touch', ['F'.repeat(40), 'not-a-number']);
    expect(r.error.code).to.equal(101);
  });

  it('invalid JSON-RPC envelopes', async () => {
    const cases: [unknown, number][] = [
      [null, -32600],
      [[], -32600],
      [{ jsonrpc: '1.0', id: 1, method: 'qooxdoo.test.getTrue' }, -32600],
      [{ jsonrpc: '2.0', id: {}, method: 'qooxdoo.test.getTrue' }, -32600],
      [{ jsonrpc: '2.0', id: 1, method: 42 }, -32600],
    ];
    for (const [body, code] of cases) {
      const r = await gw.post('/jsonrpc', JSON.stringify(body));
      expect(r.body.error.code, JSON.stringify(body)).to.equal(code);
    }
    const mixed = await gw.post('/jsonrpc', [null, 1, { jsonrpc: '2.0', id: 7, method: 'qooxdoo.test.getTrue' }]);
    expect(mixed.body).to.have.length(3);
    expect(mixed.body[2]).to.deep.equal({ jsonrpc: '2.0', id: 7, result: true });
  });

  it('unexpected handler failures become InternalError without internals', async () => {
    const boom = service({
      name: 'boom',
      description: 'x',
      envelope: 'plain',
      methods: [method({ name: 'fail', description: 'x', auth: 'public', permission: 'public', params: [] as const, run: () => { throw new Error('secret path /var/lib/oms/x.db'); } })],
    });
    const g2 = await startTestGateway({ services: [boom] });
    try {
      const r = await g2.get('boom', 'fail', []);
      expect(r.error.code).to.equal(199);
      expect(r.error.message).to.match(/^InternalError: Internal server error \(log id [0-9a-f]{8}\)$/);
      expect(JSON.stringify(r)).to.not.include('/var/lib');
    } finally {
      await g2.close();
    }
  });
});
