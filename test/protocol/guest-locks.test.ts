/**
 * Guest locks through the real pipeline and wire formats (in-process gateway, in-memory
 * database): a held guest refuses a second change naming the holder, a task keeps the guests
 * after the call answered, waiting by header or named param, and rpc.discover's declaration.
 */
import { expect } from 'chai';
import { z } from 'zod';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { method, service } from '../../src/rpc/declare.ts';
import { nodeName, vmName } from '../../src/rpc/fields.ts';
import { oms } from '../../src/rpc/errors.ts';
import { kvmGuest } from '../../src/locks/guest-locks.ts';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { createApp, recoverAfterStop } from '../../src/app.ts';
import { openDatabase } from '../../src/db/database.ts';

/** Handlers park on a named gate until the test opens it. */
const gates = new Map<string, () => void>();
const gate = (name: string) => new Promise<void>((r) => gates.set(name, r));
const open = (name: string) => {
  const g = gates.get(name);
  if (!g) throw new Error(`no one waits at gate ${name}`);
  gates.delete(name);
  g();
};
const parked = async (name: string) => {
  for (let i = 0; i < 200 && !gates.has(name); i++) await new Promise((r) => setTimeout(r, 5));
  expect(gates.has(name), `a handler parked at ${name}`).to.equal(true);
};

const params = [{ name: 'node', schema: nodeName }, { name: 'vm', schema: vmName }] as const;
const lock = { summary: 'vm on node', guests: (p: { node: string; vm: string }) => [kvmGuest(p.node, p.vm)] };
const lockt = service({
  name: 'lockt',
  description: 'guest lock test service',
  envelope: 'oms',
  guests: 'kvm',
  methods: [
    method({
      name: 'hold_vm',
      description: 'holds the guest until the gate opens',
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      lock,
      params: [...params, { name: 'gate', schema: z.string() }] as const,
      run: async (_c, p) => {
        await gate(p.gate);
        return Date.now();
      },
    }),
    method({
      name: 'task_vm',
      description: 'starts a task that holds the guest until the gate opens; answers at once',
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      lock,
      params: [...params, { name: 'gate', schema: z.string() }] as const,
      run: (ctx, p) => ({ task_id: ctx.startTask({ kind: 'lockt.work', node: p.node, target: p.vm }, () => gate(p.gate)).id }),
    }),
    method({
      name: 'fail_vm',
      description: 'fails',
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      lock,
      params,
      run: () => {
        throw oms('VmStateError', { vm: 'x', node: 'y', state: 'running', reason: 'test' });
      },
    }),
    method({
      name: 'touch_vm',
      description: 'a quick change',
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      lock,
      params,
      run: () => Date.now(),
    }),
  ],
});

describe('guest locks through the pipeline', function () {
  this.timeout(20_000);
  let gw: TestGateway;
  let sid: string;
  const get = (m: string, p: unknown[]) => gw.get('lockt', m, [sid, 0, ...p]);
  const rpc = (m: string, p: unknown, headers: Record<string, string> = {}) => gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: `lockt.${m}`, params: p }, headers).then((r) => r.body);

  before(async () => {
    gw = await startTestGateway({ services: [lockt] });
    sid = await gw.login();
  });
  after(() => gw?.close());

  it('a second change of a held guest is refused at once, naming the method; other guests are free', async () => {
    const first = get('hold_vm', ['n1', 'a', 'g1']);
    await parked('g1');
    const r = await get('touch_vm', ['n1', 'a']);
    expect(r.error).to.deep.include({ origin: 2, code: 121, message: 'TaskConflictError: n1/a is busy with lockt.hold_vm; try again when it has finished' });
    expect((await get('touch_vm', ['n1', 'b'])).error).to.equal(null);
    expect((await get('touch_vm', ['n2', 'a'])).error).to.equal(null);
    const j = await rpc('touch_vm', [sid, 0, 'n1', 'a']);
    expect(j.error.data).to.deep.include({ name: 'TaskConflictError', details: { node: 'n1', kind: 'kvm', guest: 'a', operation: 'lockt.hold_vm', task_id: null, waiting: false } });
    open('g1');
    expect((await first).error).to.equal(null);
    expect((await get('touch_vm', ['n1', 'a'])).error).to.equal(null);
    expect(gw.app.locks.list()).to.deep.equal([]);
  });

  it('two calls in one batch: the first holds, the second is refused (no interleaving)', async () => {
    setTimeout(() => void parked('g2').then(() => open('g2')), 0);
    const r = await gw.post('/jsonrpc', [
      { jsonrpc: '2.0', id: 1, method: 'lockt.hold_vm', params: [sid, 0, 'n1', 'a', 'g2'] },
      { jsonrpc: '2.0', id: 2, method: 'lockt.touch_vm', params: [sid, 0, 'n1', 'a'] },
    ]);
    const byId = Object.fromEntries(r.body.map((x: any) => [x.id, x]));
    expect(byId[1].result).to.be.a('object');
    expect(byId[2].error.data.name).to.equal('TaskConflictError');
  });

  it('a task keeps the guest after the call answered, and the refusal names the task; its end frees it', async () => {
    const r = await get('task_vm', ['n1', 'a', 'g3']);
    const taskId = r.result.result.task_id;
    await parked('g3');
    const refused = await get('touch_vm', ['n1', 'a']);
    expect(refused.error.message).to.equal(`TaskConflictError: n1/a is busy with task ${taskId} (lockt.work); try again when it has finished`);
    expect(gw.app.locks.list().map((l) => [l.guest, l.task_id, l.operation])).to.deep.equal([['a', taskId, 'lockt.work']]);
    open('g3');
    for (let i = 0; i < 100 && gw.app.tasks.get(taskId)!.state === 'running'; i++) await new Promise((res) => setTimeout(res, 10));
    expect((await get('touch_vm', ['n1', 'a'])).error).to.equal(null);
  });

  it('a failing call gives the guest back', async () => {
    expect((await get('fail_vm', ['n1', 'a'])).error.message).to.match(/^VmStateError/);
    expect((await get('touch_vm', ['n1', 'a'])).error).to.equal(null);
  });

  it('OMS-Lock-Wait: the waiting call runs once the holder finished', async () => {
    const first = get('hold_vm', ['n1', 'a', 'g4']);
    await parked('g4');
    const waiting = rpc('touch_vm', [sid, 0, 'n1', 'a'], { 'OMS-Lock-Wait': '10' });
    await new Promise((r) => setTimeout(r, 200));
    open('g4');
    const [held, touched] = await Promise.all([first, waiting]);
    expect(touched.error).to.equal(undefined);
    // It ran after the holder's handler returned, not beside it.
    expect(touched.result.result).to.be.at.least(held.result.result);
  });

  it('lock_wait as a named param (JSON-RPC over the websocket); a wait that runs out names the holder', async () => {
    const first = get('hold_vm', ['n1', 'a', 'g5']);
    await parked('g5');
    const ws = new WebSocket(gw.wsUrl);
    await new Promise((r) => ws.once('open', r));
    const answer = new Promise<any>((r) => ws.once('message', (d) => r(JSON.parse(String(d)))));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'lockt.touch_vm', params: { SESSID: sid, cache_timeout: 0, node: 'n1', vm: 'a', lock_wait: 10 } }));
    await new Promise((r) => setTimeout(r, 200));
    open('g5');
    expect((await answer).result.result).to.be.a('number');
    ws.close();
    await first;

    const again = get('hold_vm', ['n1', 'a', 'g6']);
    await parked('g6');
    const started = Date.now();
    const late = await rpc('touch_vm', [sid, 0, 'n1', 'a'], { 'OMS-Lock-Wait': '0.3' });
    expect(Date.now() - started).to.be.at.least(290);
    expect(late.error.message).to.equal('n1/a is busy with lockt.hold_vm; try again when it has finished');
    open('g6');
    await again;
  });

  it('lock_wait in the query string of a GET (for the ScriptTransport, which sets no headers)', async () => {
    const first = get('hold_vm', ['n1', 'a', 'g7']);
    await parked('g7');
    const q = new URLSearchParams({ id: '1', service: 'lockt', method: 'touch_vm', params: JSON.stringify([sid, 0, 'n1', 'a']), lock_wait: '10' });
    const waiting = fetch(`${gw.url}/?${q}`).then((r) => r.json());
    await new Promise((r) => setTimeout(r, 150));
    open('g7');
    await first;
    expect((await waiting).error).to.equal(null);
  });

  it('a bad wait is a parameter error, before anything is held', async () => {
    for (const bad of ['abc', '601', '-1']) {
      const r = await rpc('touch_vm', [sid, 0, 'n1', 'a'], { 'OMS-Lock-Wait': bad });
      expect(r.error.code, bad).to.equal(-32602);
      expect(r.error.data.details.params).to.deep.equal([{ param: 'lock_wait', reason: 'expected seconds from 0 to 600' }]);
    }
    const named = await rpc('touch_vm', { SESSID: sid, node: 'n1', vm: 'a', lock_wait: true });
    expect(named.error.code).to.equal(-32602);
  });

  it('rpc.discover declares what each method holds and the lock_wait param', async () => {
    const doc = (await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'rpc.discover' })).body.result;
    const m = (name: string) => doc.methods.find((x: any) => x.name === name);
    expect(m('kvmservices.start_vm')['x-lock']).to.deep.equal({ guests: 'the KVM guest kvm_vm_name on server_hostname', wait: { $ref: '#/components/contentDescriptors/lock_wait' } });
    expect(m('kvmservices.clone_vm')['x-lock'].guests).to.include('new_name');
    expect(m('ovzservices.migrate_vm')['x-lock'].guests).to.include('server2_hostname');
    expect(m('kvmservices.create_network')['x-lock']).to.deep.equal({ none: 'a libvirt network of the node, not a guest' });
    expect(m('kvmservices.list_vms')['x-lock']).to.equal(undefined);
    expect(doc.components.contentDescriptors.lock_wait).to.deep.include({ name: 'lock_wait', required: false, schema: { type: 'number', minimum: 0, maximum: 600 } });
    expect(doc.components.contentDescriptors.lock_wait.description).to.include('OMS-Lock-Wait');
    // Not a positional param: the OMS positional contracts stay as they are.
    expect(m('kvmservices.start_vm').params.map((p: any) => p.name)).to.deep.equal(['SESSID', 'cache_timeout', 'server_hostname', 'kvm_vm_name']);
  });

  it('only a gateway that starts serving clears the locks of its previous run; the CLI (createApp alone) leaves them', async () => {
    const config = loadConfig({ OMS_TLS: 'off', OMS_DATA_DIR: '/tmp/oms-test-unused' });
    const db = openDatabase(':memory:');
    const serving = createApp(config, pino({ level: 'silent' }), db);
    await serving.locks.hold('kvmservices.start_vm').add([kvmGuest('n1', 'a')]);
    const cli = createApp(config, pino({ level: 'silent' }), db); // e.g. `oms user add` beside the running server
    expect(serving.locks.list()).to.have.length(1);
    const restarted = createApp(config, pino({ level: 'silent' }), db); // the server itself, restarted
    recoverAfterStop(restarted);
    expect(serving.locks.list()).to.have.length(0);
    // Every app is closed, not only the one whose close() closes the shared database: the others'
    // lease-renewal timers would otherwise fire 20 s later into a closed database, failing whatever
    // test runs then with an uncaught "database connection is not open".
    for (const a of [cli, restarted, serving]) a.close();
  });
});
