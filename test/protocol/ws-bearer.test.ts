/**
 * How a browser's session reaches /ws: as the subprotocol `oms.bearer.<secret>` beside
 * `oms.jsonrpc` (a browser cannot set headers on a websocket), so the secret is in no URL. The
 * gateway answers `oms.jsonrpc` and never echoes the bearer back.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const AUTH_ERROR = 101;

/** Opens a socket with the given subprotocols, sends one call and resolves with the chosen protocol and the answer. */
async function callOver(url: string, protocols: string[], method: string, params: unknown[] = []) {
  const ws = new WebSocket(url, protocols);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const answer = new Promise<any>((resolve) => ws.once('message', (m) => resolve(JSON.parse(String(m)))));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
  const out = { protocol: ws.protocol, answer: await answer };
  ws.close();
  return out;
}

describe('/ws: the bearer as a subprotocol', () => {
  let gw: TestGateway;
  let sid: string;
  before(async () => {
    gw = await startTestGateway();
    sid = await gw.login();
  });
  after(() => gw.close());

  it('a session id offered as oms.bearer.<sid> authenticates; the gateway answers oms.jsonrpc only', async () => {
    const r = await callOver(gw.wsUrl, ['oms.jsonrpc', `oms.bearer.${sid}`], 'tagservices.list_tags', [0]);
    expect(r.protocol).to.equal('oms.jsonrpc');
    expect(r.answer.error).to.equal(undefined);
    expect(r.answer.result.type).to.be.a('string');
  });

  it('an API token works the same way, and a wrong one is refused', async () => {
    const token = (await gw.get('userservices', 'create_api_token', [sid, 0, 'ws'])).result.result.token as string;
    expect((await callOver(gw.wsUrl, ['oms.jsonrpc', `oms.bearer.${token}`], 'tagservices.list_tags', [0])).answer.error).to.equal(undefined);
    expect((await callOver(gw.wsUrl, ['oms.jsonrpc', 'oms.bearer.oms_nottherealtoken'], 'tagservices.list_tags', [0])).answer.error.code).to.equal(AUTH_ERROR);
  });

  it('without a bearer the socket opens but a session method is refused', async () => {
    const r = await callOver(gw.wsUrl, ['oms.jsonrpc'], 'tagservices.list_tags', [0]);
    expect(r.protocol).to.equal('oms.jsonrpc');
    expect(r.answer.error.code).to.equal(AUTH_ERROR);
  });

  it('?bearer= in the URL still works for clients written before', async () => {
    const r = await callOver(`${gw.wsUrl}?bearer=${sid}`, [], 'tagservices.list_tags', [0]);
    expect(r.answer.error).to.equal(undefined);
  });
});
