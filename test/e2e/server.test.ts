/**
 * End to end: the real `oms serve` process with its default TLS, driven as clients drive it —
 * curl with OMS query URLs, the json-rpc-2.0 client library, a websocket client, a
 * ScriptTransport request — and the whole qooxdoo.test conformance suite in qx1 and 2.0 modes.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { JSONRPCClient } from 'json-rpc-2.0';
import { WebSocket } from 'ws';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { fetchCa } from '../helpers/https.ts';

const run = promisify(execFile);
const PASSWORD = 'e2e-admin-password';

/** The qooxdoo.test suite: [method, params, expected result | {error: origin}]. */
const conformance: [string, unknown[], unknown][] = [
  ['echo', ['Hello'], 'Client said: [Hello]'],
  ['sleep', [0.1], 0.1],
  ['getInteger', [], 1],
  ['getFloat', [], 1 / 3],
  ['getString', [], 'Hello world'],
  ['getBadString', [], '<!DOCTYPE HTML "-//IETF//DTD HTML 2.0//EN">'],
  ['getArrayInteger', [], [1, 2, 3, 4]],
  ['getArrayString', [], ['one', 'two', 'three', 'four']],
  ['getObject', [], {}],
  ['getTrue', [], true],
  ['getFalse', [], false],
  ['getNull', [], null],
  ['isInteger', [17], true],
  ['isInteger', [1.5], false],
  ['isFloat', [1.5], true],
  ['isFloat', [2], false],
  ['isString', ['s'], true],
  ['isString', [1], false],
  ['isBoolean', [false], true],
  ['isBoolean', [0], false],
  ['isArray', [[1]], true],
  ['isArray', [{}], false],
  ['isObject', [{ a: 1 }], true],
  ['isObject', [[1]], false],
  ['isNull', [null], true],
  ['isNull', [0], false],
  ['getParam', [{ nested: [1, 'two', { three: null }] }], { nested: [1, 'two', { three: null }] }],
  ['getParams', [1, 'x', true, null, [2], { k: 'v' }, 1.25, 'ünïcödé ✓'], [1, 'x', true, null, [2], { k: 'v' }, 1.25, 'ünïcödé ✓']],
];

describe('end to end: the real gateway process', function () {
  this.timeout(60_000);
  let gw: GatewayProcess;
  let caFile: string;
  let sid: string;

  const curl = async (url: string, extra: string[] = []) => {
    const { stdout } = await run('curl', ['-sS', '-g', '--cacert', caFile, ...extra, url]);
    return stdout;
  };

  before(async () => {
    gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD });
    caFile = join(gw.dataDir, 'ca.pem');
    writeFileSync(caFile, gw.ca!);
  });
  after(() => gw?.stop());

  it('serves HTTPS by default with a generated certificate whose key is private', () => {
    expect(gw.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(statSync(join(gw.dataDir, 'tls', 'server.key')).mode & 0o077).to.equal(0);
  });

  it('curl: authenticate and checksessid by the OMS query URLs of the document', async () => {
    const auth = JSON.parse(await curl(`${gw.url}/?id=1&service=authservices&method=authenticate&params=["admin","${PASSWORD}"]`));
    expect(auth).to.have.keys(['error', 'id', 'result']);
    expect(auth.error).to.equal(null);
    expect(auth.result.type).to.equal('auth');
    sid = auth.result.result;
    expect(sid).to.match(/^[0-9A-F]{40}$/);
    const check = JSON.parse(await curl(`${gw.url}/?id=1&service=authservices&method=checksessid&params=["${sid}"]`));
    expect(check).to.deep.equal({ error: null, id: 1, result: { type: 'auth', result: 0 } });
  });

  it('curl: a bad password is AuthError in the qooxdoo error shape', async () => {
    const r = JSON.parse(await curl(`${gw.url}/?id=2&service=authservices&method=authenticate&params=["admin","nope"]`));
    expect(r).to.deep.equal({ error: { origin: 2, code: 101, message: 'AuthError: Authentication failed' }, id: 2, result: null });
  });

  it('curl: a cached call is refused right after deauthenticate, though the gateway remembers sessions', async () => {
    const own = JSON.parse(await curl(`${gw.url}/?id=1&service=authservices&method=authenticate&params=["admin","${PASSWORD}"]`)).result.result;
    const tags = async () => JSON.parse(await curl(`${gw.url}/?id=4&service=tagservices&method=list_tags&params=["${own}",60]`));
    expect((await tags()).result.type).to.equal('func');
    expect((await tags()).result.type).to.equal('tmp_cache');
    expect(JSON.parse(await curl(`${gw.url}/?id=5&service=authservices&method=deauthenticate&params=["${own}"]`)).error).to.equal(null);
    expect((await tags()).error).to.deep.equal({ origin: 2, code: 101, message: 'AuthError: Invalid or expired session' });
  });

  it('the json-rpc-2.0 client library over HTTPS with a bearer session', async () => {
    const client = new JSONRPCClient(async (req) => {
      const r = await fetchCa(`${gw.url}/jsonrpc`, { method: 'POST', body: JSON.stringify(req), ca: gw.ca, headers: { 'content-type': 'application/json', authorization: `Bearer ${sid}` } });
      if (r.status === 200) client.receive(r.json());
    });
    expect(await client.request('userservices.whoami', [0])).to.have.nested.property('result.name', 'admin');
    const roles = (await client.request('userservices.list_roles', { cache_timeout: 0 })) as { result: { name: string }[] };
    expect(roles.result.map((r) => r.name)).to.include.members(['Administrator', 'Operator', 'NoAccess']);
    try {
      await client.request('userservices.add_user', [0, 'bad name', 'x']);
      expect.fail('accepted a bad user name');
    } catch (e) {
      expect((e as { code: number }).code).to.equal(-32602);
    }
  });

  it('a websocket client on /ws (wss)', async () => {
    const ws = new WebSocket(gw.url.replace('https', 'wss') + '/ws', { ca: gw.ca });
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const answer = new Promise<any>((r) => ws.once('message', (d) => r(JSON.parse(String(d)))));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 'w1', method: 'authservices.checksessid', params: [sid] }));
    expect(await answer).to.deep.equal({ jsonrpc: '2.0', id: 'w1', result: { type: 'auth', result: 0 } });
    ws.close();
  });

  it('a ScriptTransport request answered as JavaScript', async () => {
    const data = encodeURIComponent(JSON.stringify({ service: 'qooxdoo.test', method: 'echo', id: 3, params: ['script'] }));
    const out = await curl(`${gw.url}/?_ScriptTransport_id=3&_ScriptTransport_data=${data}`, ['-i']);
    expect(out).to.match(/content-type: application\/javascript/i);
    expect(out.trim().split('\n').pop()).to.equal('qx.io.remote.transport.Script._requestFinished(3, {"error":null,"id":3,"result":"Client said: [script]"});');
  });

  describe('the qooxdoo.test suite', () => {
    for (const [method, params, expected] of conformance) {
      it(`qx1: ${method}(${JSON.stringify(params).slice(1, -1)})`, async () => {
        const r = await fetchCa(gw.url + '/', { method: 'POST', ca: gw.ca, body: JSON.stringify({ service: 'qooxdoo.test', method, id: 11, params }) });
        expect(r.json()).to.deep.equal({ error: null, id: 11, result: expected });
      });
      it(`2.0: ${method}(${JSON.stringify(params).slice(1, -1)})`, async () => {
        const r = await fetchCa(gw.url + '/', { method: 'POST', ca: gw.ca, body: JSON.stringify({ jsonrpc: '2.0', method: `qooxdoo.test.${method}`, id: 12, params }) });
        expect(r.json()).to.deep.equal({ jsonrpc: '2.0', id: 12, result: expected });
      });
    }
    it('qx1: getError is an application error (origin 2)', async () => {
      const r = (await fetchCa(gw.url + '/', { method: 'POST', ca: gw.ca, body: JSON.stringify({ service: 'qooxdoo.test', method: 'getError', id: 13, params: [] }) })).json();
      expect(r.result).to.equal(null);
      expect(r.error).to.include({ origin: 2, code: 900 });
    });
    it('2.0: getError is a JSON-RPC error naming the error', async () => {
      const r = (await fetchCa(gw.url + '/', { method: 'POST', ca: gw.ca, body: JSON.stringify({ jsonrpc: '2.0', method: 'qooxdoo.test.getError', id: 14, params: [] }) })).json();
      expect(r.error.code).to.equal(900);
      expect(r.error.data).to.deep.equal({ name: 'QooxdooTestError', origin: 2 });
    });
    it('qx1 and 2.0: getCurrentTimestamp is now', async () => {
      const a = (await fetchCa(gw.url + '/', { method: 'POST', ca: gw.ca, body: JSON.stringify({ service: 'qooxdoo.test', method: 'getCurrentTimestamp', id: 1, params: [] }) })).json();
      expect(Math.abs(a.result.now - Date.now() / 1000)).to.be.below(5);
      expect(Date.parse(a.result.json)).to.be.closeTo(a.result.now * 1000, 1000);
      const b = (await fetchCa(gw.url + '/', { method: 'POST', ca: gw.ca, body: JSON.stringify({ jsonrpc: '2.0', method: 'qooxdoo.test.getCurrentTimestamp', id: 2 }) })).json();
      expect(Math.abs(b.result.now - Date.now() / 1000)).to.be.below(5);
    });
    it('sink does not answer until the client gives up, and the server keeps serving', async () => {
      const aborted = await run('curl', ['-sS', '--cacert', caFile, '-m', '1', '-X', 'POST', '-d', '{"service":"qooxdoo.test","method":"sink","id":1,"params":[]}', gw.url + '/']).then(
        () => false,
        (e: { code: number }) => e.code === 28,
      );
      expect(aborted).to.equal(true);
      expect(JSON.parse(await curl(`${gw.url}/?id=1&service=qooxdoo.test&method=getTrue&params=[]`)).result).to.equal(true);
    });
  });

  it('a slow-body (slowloris) client is cut off while others are served', async () => {
    const slow = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off', OMS_REQUEST_TIMEOUT: '2' });
    try {
      const { connect } = await import('node:net');
      const sock = connect(slow.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
      const started = Date.now();
      let answer = '';
      sock.on('data', (d) => (answer += d.toString()));
      const drip = setInterval(() => sock.writable && sock.write(' '), 300);
      // Meanwhile the gateway answers others.
      const r = (await fetchCa(`${slow.url}/?id=1&service=qooxdoo.test&method=getTrue&params=%5B%5D`)).json();
      expect(r.result).to.equal(true);
      await new Promise((r2) => sock.once('close', r2));
      clearInterval(drip);
      expect(Date.now() - started).to.be.below(6000);
      expect(answer).to.match(/^HTTP\/1\.1 408/);
    } finally {
      await slow.stop();
    }
  });

  it('the qooxdoo.test service can be switched off', async () => {
    const off = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off', OMS_QOOXDOO_TEST: 'off' });
    try {
      const r = (await fetchCa(`${off.url}/?id=1&service=qooxdoo.test&method=echo&params=${encodeURIComponent('["x"]')}`)).json();
      expect(r.error).to.include({ origin: 1, code: 2 });
    } finally {
      await off.stop();
    }
  });

  it('listening on an IPv6 address, the announced URL has it in brackets and serves', async () => {
    const v6 = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off', OMS_BIND: '::1' });
    try {
      expect(v6.url).to.equal(`http://[::1]:${v6.port}`);
      const r = (await fetchCa(`${v6.url}/?id=1&service=qooxdoo.test&method=echo&params=${encodeURIComponent('["v6"]')}`)).json();
      expect(r.result).to.equal('Client said: [v6]');
    } finally {
      await v6.stop();
    }
  });

  it('a random admin password is printed once to the terminal and never logged', async () => {
    const p = await startGatewayProcess({ OMS_TLS: 'off', OMS_ADMIN_PASSWORD: '' });
    try {
      const banner = p.logs.find((l) => l.includes('created user "admin" with password'));
      expect(banner, p.logs.join('\n')).to.not.equal(undefined);
      const pw = /password (\S+)/.exec(banner!)![1];
      const jsonLines = p.logs.filter((l) => l.startsWith('{'));
      expect(jsonLines.join('\n')).to.not.include(pw);
      const r = (await fetchCa(`${p.url}/?id=1&service=authservices&method=authenticate&params=${encodeURIComponent(JSON.stringify(['admin', pw]))}`)).json();
      expect(r.result.result).to.match(/^[0-9A-F]{40}$/);
    } finally {
      await p.stop();
    }
  });
});
