/** Every wire format on one port, with the OMS envelope, against the in-process gateway. */
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { JSONRPCClient } from 'json-rpc-2.0';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

describe('wire formats', () => {
  let gw: TestGateway;
  let sid: string;
  before(async () => {
    gw = await startTestGateway();
    sid = await gw.login();
  });
  after(() => gw.close());

  it('OMS query string: the documented envelope, numeric id, type auth for AuthService', async () => {
    const r = await gw.get('authservices', 'checksessid', [sid], 1);
    expect(r).to.deep.equal({ error: null, id: 1, result: { type: 'auth', result: 0 } });
    expect(Object.keys(r)).to.deep.equal(['error', 'id', 'result']);
  });

  it('OMS query string ignores extra query parameters such as nocache', async () => {
    const q = new URLSearchParams({ id: '3', service: 'qooxdoo.test', method: 'echo', params: '["x"]', nocache: '1712' });
    const r = await (await fetch(`${gw.url}/?${q}`)).json();
    expect(r).to.deep.equal({ error: null, id: 3, result: 'Client said: [x]' });
  });

  it('OMS services answer type func for non-auth services', async () => {
    const r = await gw.get('userservices', 'whoami', [sid, 0]);
    expect(r.result.type).to.equal('func');
    expect(r.result.result.name).to.equal('admin');
    expect(r.result.result.privileges).to.include('user.admin');
  });

  it('service aliases resolve to the same service', async () => {
    const a = await gw.get('auth', 'checksessid', [sid]);
    const b = await gw.get('AuthService', 'checksessid', [sid]);
    expect(a.result).to.deep.equal({ type: 'auth', result: 0 });
    expect(b.result).to.deep.equal({ type: 'auth', result: 0 });
  });

  it('qooxdoo POST (qx 1.x): {service, method, id, params, server_data}', async () => {
    const r = await gw.post('/', { service: 'qooxdoo.test', method: 'getParams', id: 42, params: [1, 'two', [3], { four: 4 }], server_data: { any: 'thing' } });
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ error: null, id: 42, result: [1, 'two', [3], { four: 4 }] });
  });

  it('qooxdoo POST in 2.0 mode on the same URL answers JSON-RPC 2.0', async () => {
    const r = await gw.post('/', { jsonrpc: '2.0', method: 'qooxdoo.test.echo', params: ['v2'], id: 'a' });
    expect(r.body).to.deep.equal({ jsonrpc: '2.0', id: 'a', result: 'Client said: [v2]' });
  });

  it('qooxdoo date literals in requests arrive as ISO strings', async () => {
    const body = '{"service":"qooxdoo.test","method":"getParam","id":1,"params":[new Date(Date.UTC(2006,5,20,22,18,42,223))]}';
    const r = await gw.post('/', body);
    expect(r.body.result).to.equal('2006-06-20T22:18:42.223Z');
  });

  it('ScriptTransport: GET answered as JavaScript calling the qooxdoo callback', async () => {
    const data = JSON.stringify({ service: 'qooxdoo.test', method: 'getBadString', id: 9, params: [] });
    const res = await fetch(`${gw.url}/?_ScriptTransport_id=9&_ScriptTransport_data=${encodeURIComponent(data)}`);
    expect(res.headers.get('content-type')).to.match(/^application\/javascript/);
    const text = await res.text();
    const m = /^qx\.io\.remote\.transport\.Script\._requestFinished\(9, (.*)\);$/.exec(text);
    expect(m, text).to.not.equal(null);
    // The page evaluates it; evaluating the argument must give back the original string.
    const finished: unknown[] = [];
    new Function('qx', text)({ io: { remote: { transport: { Script: { _requestFinished: (...a: unknown[]) => finished.push(a) } } } } });
    expect(finished[0]).to.deep.equal([9, { error: null, id: 9, result: '<!DOCTYPE HTML "-//IETF//DTD HTML 2.0//EN">' }]);
  });

  /** Fetches a ScriptTransport URL and evaluates the answer as the page would: the callback's arguments. */
  async function scriptCall(id: number, data: unknown): Promise<unknown[]> {
    const res = await fetch(`${gw.url}/?_ScriptTransport_id=${id}&_ScriptTransport_data=${encodeURIComponent(JSON.stringify(data))}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/javascript/);
    const finished: unknown[][] = [];
    new Function('qx', await res.text())({ io: { remote: { transport: { Script: { _requestFinished: (...a: unknown[]) => finished.push(a) } } } } });
    expect(finished).to.have.length(1);
    return finished[0];
  }

  it("ScriptTransport in qooxdoo's 2.0 mode: a JSON-RPC 2.0 body is answered in JSON-RPC 2.0, errors included", async () => {
    // What qx.io.remote.Rpc sends with protocol "2.0" and crossDomain true.
    expect(await scriptCall(4, { jsonrpc: '2.0', method: 'qooxdoo.test.echo', id: 7, params: ['v2'] })).to.deep.equal([4, { jsonrpc: '2.0', id: 7, result: 'Client said: [v2]' }]);
    expect(await scriptCall(5, { jsonrpc: '2.0', method: 'authservices.checksessid', id: 8, params: [sid] })).to.deep.equal([5, { jsonrpc: '2.0', id: 8, result: { type: 'auth', result: 0 } }]);
    const [, unknown] = (await scriptCall(6, { jsonrpc: '2.0', method: 'qooxdoo.test.nope', id: 9, params: [] })) as [number, any];
    expect(unknown).to.deep.include({ jsonrpc: '2.0', id: 9 });
    expect(unknown.error).to.include({ code: -32601 });
    expect(unknown.error.data).to.include({ name: 'MethodNotFound', origin: 1 });
    const [, app] = (await scriptCall(7, { jsonrpc: '2.0', method: 'qooxdoo.test.getError', id: 10, params: [] })) as [number, any];
    expect(app.error).to.include({ code: 900 });
    expect(app.error.data).to.include({ name: 'QooxdooTestError', origin: 2 });
    // The qx 1.x body on the same transport still gets the qx 1.x answer.
    expect(await scriptCall(8, { service: 'qooxdoo.test', method: 'echo', id: 11, params: ['qx1'] })).to.deep.equal([8, { error: null, id: 11, result: 'Client said: [qx1]' }]);
  });

  it('ScriptTransport refuses a non-integer callback id (no script injection)', async () => {
    const res = await fetch(`${gw.url}/?_ScriptTransport_id=${encodeURIComponent('1);alert(1')}&_ScriptTransport_data=%7B%7D`);
    expect(res.status).to.equal(400);
    expect(await res.text()).to.not.include('alert');
  });

  it('JSON-RPC 2.0 on /jsonrpc with the json-rpc-2.0 client library, positional and named params, bearer auth', async () => {
    const client = new JSONRPCClient(async (req) => {
      const r = await fetch(`${gw.url}/jsonrpc`, { method: 'POST', body: JSON.stringify(req), headers: { 'content-type': 'application/json', authorization: `Bearer ${sid}` } });
      if (r.status === 200) client.receive(await r.json());
    });
    expect(await client.request('qooxdoo.test.echo', ['lib'])).to.equal('Client said: [lib]');
    expect(await client.request('userservices.whoami', [0])).to.have.nested.property('result.name', 'admin');
    expect(await client.request('userservices.whoami', { path: '/nodes/n1' })).to.have.nested.property('result.path', '/nodes/n1');
    expect(await client.request('authservices.checksessid', [])).to.deep.equal({ type: 'auth', result: 0 });
    // The SESSID may still be sent first when a bearer is given.
    expect(await client.request('userservices.whoami', [sid, 0])).to.have.nested.property('result.name', 'admin');
  });

  it('JSON-RPC 2.0 batch answers an array; notifications get no answer; all-notification batch gives 204', async () => {
    const r = await gw.post('/jsonrpc', [
      { jsonrpc: '2.0', id: 1, method: 'qooxdoo.test.getInteger' },
      { jsonrpc: '2.0', method: 'qooxdoo.test.echo', params: ['note'] },
      { jsonrpc: '2.0', id: 2, method: 'nope.nothing' },
    ]);
    expect(r.body).to.be.an('array').with.length(2);
    expect(r.body[0]).to.deep.equal({ jsonrpc: '2.0', id: 1, result: 1 });
    expect(r.body[1].error.code).to.equal(-32601);
    expect(r.body[1].error.data.name).to.equal('ServiceNotFound');
    const n = await gw.post('/jsonrpc', [{ jsonrpc: '2.0', method: 'qooxdoo.test.getTrue' }]);
    expect(n.status).to.equal(204);
    const single = await gw.post('/jsonrpc', { jsonrpc: '2.0', method: 'qooxdoo.test.getTrue' });
    expect(single.status).to.equal(204);
  });

  it('JSON-RPC 2.0 over the /ws websocket, including batch', async () => {
    const ws = new WebSocket(gw.wsUrl);
    await new Promise((r) => ws.once('open', r));
    const answers: unknown[] = [];
    ws.on('message', (d) => answers.push(JSON.parse(String(d))));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'authservices.checksessid', params: [sid] }));
    ws.send(JSON.stringify([{ jsonrpc: '2.0', id: 2, method: 'qooxdoo.test.getNull' }, { jsonrpc: '2.0', id: 3, method: 'qooxdoo.test.getFalse' }]));
    ws.send('{not json');
    while (answers.length < 3) await new Promise((r) => setTimeout(r, 10));
    ws.close();
    expect(answers).to.deep.include({ jsonrpc: '2.0', id: 1, result: { type: 'auth', result: 0 } });
    expect(answers).to.deep.include([{ jsonrpc: '2.0', id: 2, result: null }, { jsonrpc: '2.0', id: 3, result: false }]);
    expect(answers.find((a: any) => a.error)).to.have.nested.property('error.code', -32700);
  });

  it('a websocket bound to a session is notified and closed when the session ends', async () => {
    const own = await gw.login();
    const ws = new WebSocket(gw.wsUrl, { headers: { authorization: `Bearer ${own}` } });
    await new Promise((r) => ws.once('open', r));
    const got: any[] = [];
    ws.on('message', (d) => got.push(JSON.parse(String(d))));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await gw.get('authservices', 'deauthenticate', [own]);
    expect(await closed).to.equal(4001);
    expect(got).to.deep.include({ jsonrpc: '2.0', method: 'session.ended', params: {} });
  });

  it('rpc.discover returns an OpenRPC document generated from the declarations', async () => {
    const r = await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'rpc.discover' });
    const doc = r.body.result;
    expect(doc.openrpc).to.equal('1.2.6');
    const whoami = doc.methods.find((m: any) => m.name === 'userservices.whoami');
    expect(whoami.params.map((p: any) => p.name)).to.deep.equal(['SESSID', 'cache_timeout', 'path']);
    const auth = doc.methods.find((m: any) => m.name === 'authservices.authenticate');
    expect(auth.params.map((p: any) => p.name)).to.deep.equal(['username', 'password']);
    expect(doc.components.errors.AuthError.code).to.equal(101);
    // The network install keeps DataCentred's names; each param carries its schema.
    const ni = doc.methods.find((m: any) => m.name === 'kvmservices.create_vm_from_location');
    expect(ni.params.map((p: any) => p.name)).to.deep.equal(['SESSID', 'cache_timeout', 'server_hostname', 'kvm_vm_name', 'memory', 'disks', 'networks', 'location', 'cmdline', 'console']);
    const disks = ni.params.find((p: any) => p.name === 'disks').schema;
    expect([disks.type, disks.minItems, disks.maxItems]).to.deep.equal(['array', 1, 8]);
    expect(ni.params.find((p: any) => p.name === 'cmdline')).to.deep.include({ required: false });
    expect(doc.components.errors.InstallTreeError.code).to.equal(540);
  });
});
