/**
 * The streamed ISO upload route, PUT /isos/<node>/<name>, through the real gateway process over
 * TLS (its own route as operators run it, not a copy of the handler), on a real lab node.
 *
 * The gateway runs with OMS_REQUEST_TIMEOUT=3 and OMS_UPLOAD_IDLE_TIMEOUT=3: an upload longer
 * than the request timeout must still succeed (idle time bounds it, not total time); a client
 * that is killed or stops sending mid-body must leave no task running, no temp file on the node,
 * and the name free for an immediate retry. Objects: isoup-*.iso in the node's ISO directory.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { expect } from 'chai';
import { canary, nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';

const LIMIT = 8 * 1024 * 1024;
const CHUNK = 64 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PutReply {
  status?: number;
  body?: any;
  error?: string;
  ms: number;
}

describe('isoservices HTTP upload through the gateway over TLS', function () {
  this.timeout(120_000);
  let e: Env;
  let node: LabNode;
  let dir: string;

  /** PUT chunks over TLS, gapMs apart; resolves with the answer or the socket error. */
  const put = (name: string, chunks: Buffer[], opts: { headers?: Record<string, string>; gapMs?: number; stopAfter?: number } = {}): Promise<PutReply> => {
    const started = Date.now();
    return new Promise((resolve) => {
      const req = request(`${e.gw.url}/isos/${node.name}/${name}`, { method: 'PUT', ca: e.gw.ca, agent: false, headers: { authorization: `Bearer ${e.sid}`, ...opts.headers } });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined, ms: Date.now() - started }));
      });
      req.on('error', (err) => resolve({ error: err.message, ms: Date.now() - started }));
      (async () => {
        for (const [i, c] of chunks.entries()) {
          if (opts.stopAfter !== undefined && i >= opts.stopAfter) return; // goes silent, socket kept open
          if (!req.write(c)) await new Promise((r) => req.once('drain', r));
          if (opts.gapMs) await sleep(opts.gapMs);
        }
        req.end();
      })().catch(() => undefined); // the server may close mid-body; 'error' above reports it
    });
  };
  const chunksOf = (b: Buffer) => Array.from({ length: Math.ceil(b.length / CHUNK) }, (_, i) => b.subarray(i * CHUNK, (i + 1) * CHUNK));

  /** This file's objects in the ISO directory, and every upload temp file (whoever left it). */
  const onNode = async () => {
    const r = await nodeExec(node, ['find', `${dir}/`, '-mindepth', '1', '-maxdepth', '1', '(', '-name', 'isoup-*', '-o', '-name', '.oms-upload-*', ')', '-printf', '%f\\n']);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout.split('\n').filter(Boolean).sort();
  };
  const shaOnNode = async (name: string) => (await nodeExec(node, ['sha256sum', `${dir}/${name}`])).stdout.split(' ')[0];
  const cleanup = async () => {
    for (const n of await onNode()) if (n.startsWith('isoup-')) expect((await nodeExec(node, ['rm', '-f', '--', `${dir}/${n}`])).code).to.equal(0);
  };
  const tasksOf = async (name: string) => ((await e.ok('tasks', 'list_tasks', [e.sid, 0, node.name])) as any[]).filter((t) => t.kind === 'iso.upload' && t.target === `iso:${name}`);
  /** Waits (up to ms) for the upload task of name to leave 'running'; returns it as last seen. */
  const settled = async (name: string, ms = 15_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const [t] = await tasksOf(name);
      if ((t && t.state !== 'running') || Date.now() > deadline) return t;
      await sleep(200);
    }
  };

  before(async () => {
    e = await startEnv({ OMS_TLS: 'on', OMS_REQUEST_TIMEOUT: '3', OMS_UPLOAD_IDLE_TIMEOUT: '3', OMS_UPLOAD_MAX: String(LIMIT), OMS_NODE_TIMEOUT: '20' });
    expect(e.gw.url).to.match(/^https:/);
    // The third node: the other ISO tests use the first.
    node = e.lab.nodes[2] ?? e.lab.nodes[0];
    dir = node.dirs?.isos ?? '/var/lib/oms-node/isos';
    await enroll(e, [node]);
    await cleanup();
  });
  after(async () => {
    if (node) await cleanup();
    await e?.stop();
  });

  it('a throttled upload lasting longer than OMS_REQUEST_TIMEOUT arrives whole, with byte progress on its task', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const seen: { done: number; total: number }[] = [];
    let uploading = true;
    const watch = (async () => {
      while (uploading) {
        const [t] = await tasksOf('isoup-slow.iso');
        if (t?.state === 'running' && t.progress) seen.push(t.progress);
        await sleep(300);
      }
    })();
    // 64 chunks, 100 ms apart: about 6.5 s, over twice the 3 s request timeout.
    const r = await put('isoup-slow.iso', chunksOf(data), { headers: { 'content-length': String(data.length) }, gapMs: 100 });
    uploading = false;
    await watch;
    expect(r.status, JSON.stringify(r)).to.equal(200);
    expect(r.ms).to.be.above(5000);
    expect(r.body).to.deep.equal({ error: null, id: null, result: { type: 'func', result: { client: node.name, result: { name: 'isoup-slow.iso', size: data.length } } } });
    expect(await shaOnNode('isoup-slow.iso')).to.equal(sha(data));
    expect(await onNode()).to.deep.equal(['isoup-slow.iso']);
    const [task] = await tasksOf('isoup-slow.iso');
    expect(task).to.include({ state: 'succeeded' });
    expect(task.progress).to.deep.equal({ done: data.length, total: data.length, percent: 100 });
    // Progress moved in bytes while the body streamed, against the declared length.
    const mid = seen.filter((p) => p.done > 0 && p.done < data.length);
    expect(mid.length, JSON.stringify(seen)).to.be.above(2);
    expect(mid.every((p) => p.total === data.length)).to.equal(true);
  });

  it('a client killed midway: its task fails with UploadAbortedError, no temp file, and a retry of the name works at once', async () => {
    const name = 'isoup-killed.iso';
    // A separate process, so the kill is real: its TLS socket dies with it, mid-body.
    const client = spawn(process.execPath, ['-e', `
      const req = require('node:https').request(process.env.URL, { method: 'PUT', ca: process.env.CA, headers: { authorization: 'Bearer ' + process.env.SID, 'content-length': String(6 * 1024 * 1024) } });
      req.on('error', () => {});
      setInterval(() => req.write(Buffer.alloc(${CHUNK}, 7)), 100); // about 10 s for the 6 MiB declared
    `], { env: { ...process.env, URL: `${e.gw.url}/isos/${node.name}/${name}`, CA: e.gw.ca, SID: e.sid }, stdio: 'ignore' });
    try {
      // Killed only once bytes are on their way to the node (the temp file exists there).
      const deadline = Date.now() + 15_000;
      for (;;) {
        const [t] = await tasksOf(name);
        if (t?.progress?.done > 4 * CHUNK && (await onNode()).some((n) => n.startsWith('.oms-upload-'))) break;
        expect(Date.now(), 'the upload never got going').to.be.below(deadline);
        await sleep(200);
      }
    } finally {
      client.kill('SIGKILL');
    }
    const task = await settled(name);
    expect(task.state, JSON.stringify(task)).to.equal('failed');
    expect(task.error.name).to.equal('UploadAbortedError');
    expect(task.error.message).to.match(/client went away after \d+ bytes/);
    expect((await onNode()).filter((n) => n === name || n.startsWith('.oms-upload-'))).to.deep.equal([]);

    const data = randomBytes(300 * 1024);
    const retry = await put(name, [data]);
    expect(retry.status, JSON.stringify(retry)).to.equal(200);
    expect(await shaOnNode(name)).to.equal(sha(data));
    expect((await onNode()).filter((n) => n === name || n.startsWith('.oms-upload-'))).to.deep.equal([name]);
  });

  it('a client that stops sending mid-body is cut off after the idle timeout: 408, task failed, nothing left', async () => {
    const name = 'isoup-idle.iso';
    const data = randomBytes(4 * 1024 * 1024);
    const r = await put(name, chunksOf(data), { headers: { 'content-length': String(data.length) }, stopAfter: 4 });
    expect(r.status, JSON.stringify(r)).to.equal(408);
    expect(r.body.error).to.include({ origin: 1, code: 14 });
    expect(r.body.error.message).to.match(/no progress for 3 s/);
    expect(r.ms).to.be.within(2500, 10_000);
    const task = await settled(name);
    expect(task.state, JSON.stringify(task)).to.equal('failed');
    expect(task.error.name).to.equal('UploadIdleError');
    expect((await onNode()).filter((n) => n === name || n.startsWith('.oms-upload-'))).to.deep.equal([]);
    // And the name is free.
    const retry = await put(name, [Buffer.from('x')]);
    expect(retry.status, JSON.stringify(retry)).to.equal(200);
    await nodeExec(node, ['rm', '-f', '--', `${dir}/${name}`]);
  });

  it('tasks.cancel_task stops a running upload: task cancelled, 409 to the client, no temp file', async () => {
    const name = 'isoup-cancel.iso';
    const data = randomBytes(3 * 1024 * 1024);
    const reply = put(name, chunksOf(data), { headers: { 'content-length': String(data.length) }, gapMs: 100 });
    let task: any;
    for (const deadline = Date.now() + 15_000; !(task?.progress?.done > 0); await sleep(200)) {
      expect(Date.now(), 'the upload never got going').to.be.below(deadline);
      [task] = await tasksOf(name);
    }
    expect(await e.ok('tasks', 'cancel_task', [e.sid, 0, task.id])).to.equal(1);
    const r = await reply;
    expect([r.status, r.body?.error?.code], JSON.stringify(r)).to.deep.equal([409, 122]);
    expect((await settled(name)).state).to.equal('cancelled');
    expect((await onNode()).filter((n) => n === name || n.startsWith('.oms-upload-'))).to.deep.equal([]);
  });

  it('refuses: existing name 409, no session 401, bad names 400, declared size over OMS_UPLOAD_MAX 413', async () => {
    const before = await canary(node);
    const exists = await put('isoup-slow.iso', [Buffer.from('x')]);
    expect([exists.status, exists.body.error.code]).to.deep.equal([409, 841]);
    const anon = await put('isoup-anon.iso', [Buffer.from('x')], { headers: { authorization: '' } });
    expect([anon.status, anon.body.error.code]).to.deep.equal([401, 101]);
    for (const bad of ['..%2Fcanary%2Fcanary', '%2Fetc%2Fx.iso', 'x%3Bid.iso', '%24(id).iso', '-x.iso', '.x.iso', 'x.txt', 'x%0A.iso']) {
      const r = await put(bad, [Buffer.from('x')]);
      expect([r.status, r.body.error.code], bad).to.deep.equal([400, 5]);
    }
    const declared = await put('isoup-big.iso', [Buffer.alloc(16)], { headers: { 'content-length': String(LIMIT + 1) } });
    expect(declared.status === 413 || declared.error !== undefined, JSON.stringify(declared)).to.equal(true);
    if (declared.status) expect(declared.body.error.code).to.equal(12);
    expect(await canary(node)).to.equal(before);
    expect((await onNode()).filter((n) => n !== 'isoup-slow.iso' && n !== 'isoup-killed.iso')).to.deep.equal([]);
  });

  it('an undeclared body over OMS_UPLOAD_MAX is cut off: 413, nothing left on the node, its task failed', async () => {
    const r = await put('isoup-over.iso', chunksOf(randomBytes(LIMIT + 512 * 1024)));
    // The server answers 413 and closes; a client still writing may see the reset first.
    if (r.status !== undefined) expect([r.status, r.body.error.code]).to.deep.equal([413, 12]);
    else expect(r.error).to.match(/EPIPE|ECONNRESET|socket hang up/);
    const task = await settled('isoup-over.iso');
    expect(task.state).to.equal('failed');
    expect((await onNode()).filter((n) => n === 'isoup-over.iso' || n.startsWith('.oms-upload-'))).to.deep.equal([]);
  });
});
