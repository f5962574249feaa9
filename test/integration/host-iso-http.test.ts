/**
 * The streamed ISO upload route (services/isoservices/http-upload.ts) on a real lab node: an
 * in-process gateway (real pipeline, in-memory DB, the lab's key), the route on its own loopback
 * server since mounting it in src/http is the lead's call. Objects: hostt-http*.iso, removed after.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { isoUploadRoute } from '../../services/isoservices/http-upload.ts';
import { lab } from './fixture.ts';

const DIR = '/var/lib/oms-node/isos';
const LIMIT = 2 * 1024 * 1024;

/** PUT with a body given as chunks (no Content-Length unless given). Resolves status + JSON, or the socket error. */
function put(url: string, chunks: Buffer[], headers: Record<string, string>): Promise<{ status?: number; body?: any; error?: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'PUT', headers });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    (async () => {
      for (const c of chunks) if (!req.write(c)) await new Promise((r) => req.once('drain', r));
      req.end();
    })().catch(() => undefined); // the server may close mid-body; the 'error' above reports it
  });
}

describe('isoservices HTTP upload route on the lab', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let server: Server;
  let base: string;
  let node: LabNode;
  let sid: string;

  const mine = async () => (await nodeExec(node, ['find', `${DIR}/`, '-mindepth', '1', '-maxdepth', '1', '(', '-name', 'hostt-*', '-o', '-name', '.oms-*', ')', '-printf', '%f\\n'])).stdout.split('\n').filter(Boolean).sort();
  const cleanup = async () => {
    for (const n of await mine()) expect((await nodeExec(node, ['rm', '-f', '--', `${DIR}/${n}`])).code).to.equal(0);
  };

  before(async () => {
    const l = await lab();
    node = l.nodes[0];
    gw = await startTestGateway({ config: { sshKeyFile: l.privateKey } });
    gw.app.nodes.request(node.name, node.address, node.port, node.hostKeyFingerprint, node.hostKeyPublic, 'admin');
    gw.app.nodes.sign(node.name, 'admin');
    sid = await gw.login();
    server = createServer((req, res) => void isoUploadRoute(gw.app, req, res, LIMIT));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await cleanup();
  });
  after(async () => {
    if (node) await cleanup();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await gw?.close();
  });

  it('streams an image larger than the RPC limit to the node, chunk by chunk', async () => {
    const chunks = Array.from({ length: 24 }, () => randomBytes(64 * 1024));
    const all = Buffer.concat(chunks);
    const r = await put(`${base}/isos/${node.name}/hostt-http.iso`, chunks, { authorization: `Bearer ${sid}` });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body).to.deep.equal({ error: null, id: null, result: { type: 'func', result: { client: node.name, result: { name: 'hostt-http.iso', size: all.length } } } });
    const sum = (await nodeExec(node, ['sha256sum', `${DIR}/hostt-http.iso`])).stdout.split(' ')[0];
    expect(sum).to.equal(createHash('sha256').update(all).digest('hex'));
    expect(await mine()).to.deep.equal(['hostt-http.iso']);
    const audit = gw.app.db.prepare("SELECT user_name, outcome, target FROM audit WHERE method = 'http_upload'").all();
    expect(audit).to.deep.equal([{ user_name: 'admin', outcome: 'ok', target: `/nodes/${node.name}` }]);
  });

  it('refuses: existing name 409, no session 401, bad names 400, declared size over the limit 413', async () => {
    const auth = { authorization: `Bearer ${sid}` };
    const before = await canary(node);
    const exists = await put(`${base}/isos/${node.name}/hostt-http.iso`, [Buffer.from('x')], auth);
    expect([exists.status, exists.body.error.code]).to.deep.equal([409, 841]);
    const anon = await put(`${base}/isos/${node.name}/hostt-anon.iso`, [Buffer.from('x')], {});
    expect([anon.status, anon.body.error.code]).to.deep.equal([401, 101]);
    for (const bad of ['..%2Fcanary%2Fcanary', '%2Fetc%2Fx.iso', 'x%3Bid.iso', '%24(id).iso', '-x.iso', '.x.iso', 'x.txt', 'x%0A.iso']) {
      const r = await put(`${base}/isos/${node.name}/${bad}`, [Buffer.from('x')], auth);
      expect([r.status, r.body.error.code], bad).to.deep.equal([400, 5]);
    }
    const badNode = await put(`${base}/isos/${encodeURIComponent('omsnode1;id')}/hostt-n.iso`, [Buffer.from('x')], auth);
    expect(badNode.status).to.equal(400);
    const declared = await put(`${base}/isos/${node.name}/hostt-big.iso`, [Buffer.alloc(16)], { ...auth, 'content-length': String(LIMIT + 1) });
    expect(declared.status === 413 || declared.error !== undefined, JSON.stringify(declared)).to.equal(true);
    if (declared.status) expect(declared.body.error.code).to.equal(843);
    expect(await canary(node)).to.equal(before);
    expect(await mine()).to.deep.equal(['hostt-http.iso']);
  });

  it('an undeclared body over the limit is cut off: 413, nothing left on the node', async () => {
    const chunks = Array.from({ length: 40 }, () => randomBytes(64 * 1024)); // 2.5 MiB > 2 MiB
    const r = await put(`${base}/isos/${node.name}/hostt-over.iso`, chunks, { authorization: `Bearer ${sid}` });
    // The server answers 413 and closes; a client still writing may see the reset first.
    if (r.status !== undefined) expect([r.status, r.body.error.code]).to.deep.equal([413, 843]);
    else expect(r.error).to.match(/EPIPE|ECONNRESET|socket hang up/);
    await new Promise((res) => setTimeout(res, 300));
    expect(await mine()).to.deep.equal(['hostt-http.iso']);
  });
});
