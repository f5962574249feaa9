/**
 * The client against the real call pipeline (an in-process gateway on loopback, in-memory
 * database): password and token logins over POST and /ws, typed results, typed errors, secrets
 * kept out of what a script could print, and tasks followed to their end with progress.
 */
import { inspect } from 'node:util';
import { expect } from 'chai';
import { z } from 'zod';
import { ADMIN_PASSWORD, startTestGateway, type TestGateway } from '../../../test/helpers/gateway.ts';
import { method, service } from '../../../src/rpc/declare.ts';
import { oms } from '../../../src/rpc/errors.ts';
import { connect, isOmsError, OmsError, type OmsClient, type TaskProgress } from '../src/index.ts';

/** A service of this test only: tasks that step through progress, then succeed or fail as asked. */
/** The error a call failed with; a call that succeeds fails the test. */
const failure = (p: Promise<unknown>): Promise<OmsError> => p.then(() => expect.fail('expected an error'), (e: OmsError) => e);

const gates = new Map<string, () => void>();
const cltest = service({
  name: 'cltest',
  description: 'client test tasks',
  envelope: 'oms',
  methods: [
    method({
      name: 'work',
      description: 'a task of `steps` steps',
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      lock: { none: 'test' },
      params: [
        { name: 'steps', schema: z.number().int().min(1).max(20) },
        { name: 'fail', schema: z.boolean() },
        { name: 'gate', schema: z.string() },
      ] as const,
      run: (ctx, p) => ({
        task_id: ctx.startTask({ kind: 'cltest.work' }, async (t) => {
          await new Promise<void>((r) => gates.set(p.gate, r));
          for (let i = 0; i <= p.steps; i++) {
            t.progress(i * 1000, p.steps * 1000);
            await new Promise((r) => setTimeout(r, 300));
          }
          if (p.fail) throw oms('TaskConflictError', { target: 'cl-x', operation: 'a test' });
          return { made: 'cl-x' };
        }).id,
      }),
    }),
  ],
});

describe('client: calls, logins and errors against the call pipeline', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  const clients: OmsClient[] = [];
  const client = (o: Partial<Parameters<typeof connect>[0]> = {}) => {
    const c = connect({ url: gw.url, ...o });
    clients.push(c);
    return c;
  };

  before(async () => {
    gw = await startTestGateway({ services: [cltest] });
  });
  after(async () => {
    for (const c of clients) c.close();
    await gw?.close();
  });

  for (const transport of ['http', 'ws'] as const) {
    it(`${transport}: logs in by password, calls a method with typed result, logs out (the session is gone)`, async () => {
      const c = client({ transport });
      const sid = await c.login('admin', ADMIN_PASSWORD);
      expect(sid).to.match(/^[0-9A-F]{40}$/);
      const me = await c.userservices.whoami();
      expect(me.name).to.equal('admin');
      expect(await c.authservices.checksessid()).to.equal(0);
      await c.logout();
      // Seen from outside: the gateway no longer knows the session.
      const r = await gw.get('authservices', 'checksessid', [sid]);
      expect(r.error?.message).to.match(/^AuthError/);
      expect(c.authenticated).to.equal(false);
    });
  }

  it('authenticates by API token (Authorization: Bearer), and a revoked token is refused with AuthError', async () => {
    const admin = client();
    await admin.login('admin', ADMIN_PASSWORD);
    const { token } = await admin.userservices.create_api_token('cl-unit');
    expect(token).to.match(/^oms_/);
    for (const transport of ['http', 'ws'] as const) {
      const c = client({ token, transport });
      expect((await c.userservices.whoami()).name).to.equal('admin');
    }
    await admin.userservices.revoke_api_token('cl-unit');
    const err = await client({ token }).userservices.whoami().catch((e) => e);
    expect(isOmsError(err, 'AuthError'), String(err)).to.equal(true);
  });

  it('raises typed errors: OmsError with the OMS name, catalogue code and message, isOmsError by name', async () => {
    const bad = await client().login('admin', 'wrong password').catch((e) => e);
    expect(bad).to.be.instanceOf(OmsError);
    expect(bad.name).to.equal('AuthError');
    expect(bad.omsName).to.equal('AuthError');
    expect(bad.code).to.equal(101);
    expect(bad.message).to.equal('Authentication failed');
    expect(isOmsError(bad, 'AuthError')).to.equal(true);
    expect(isOmsError(bad, 'TaskConflictError')).to.equal(false);

    const c = client();
    await c.login('admin', ADMIN_PASSWORD);
    const unknown = await failure(c.kvmservices.list_vms('cl-no-such-node'));
    expect(isOmsError(unknown, 'UnknownNodeError'), String(unknown)).to.equal(true);
    expect(unknown.code).to.equal(200);
    expect(unknown.message).to.include('cl-no-such-node');

    // A wrong type fails at the gateway with per-param reasons (what TypeScript would refuse at build).
    const mismatch = await failure((c.tasks.task_status as (x: unknown) => Promise<unknown>)(42));
    expect(isOmsError(mismatch, 'ParameterMismatch')).to.equal(true);
    expect(mismatch.code).to.equal(5);
    expect(mismatch.rpcCode).to.equal(-32602);
    expect(JSON.stringify(mismatch.details)).to.include('task_id');
  });

  it('aliases reach the same methods (client.auth, client.kvm)', async () => {
    const c = client();
    await c.login('admin', ADMIN_PASSWORD);
    expect(c.kvm).to.equal(c.kvmservices);
    expect(await c.auth.checksessid()).to.equal(0);
  });

  it('never shows the password, session id or token: not in inspect, JSON, or error messages', async () => {
    const c = client({ transport: 'ws' });
    const sid = await c.login('admin', ADMIN_PASSWORD);
    const seen = [inspect(c, { depth: 5, showHidden: true }), JSON.stringify(c), String(c)];
    const failed = await c.tasks.task_status('00000000-0000-0000-0000-000000000000').catch((e) => e);
    seen.push(String(failed), inspect(failed, { depth: 5 }), JSON.stringify(failed));
    const wrong = await client().login('admin', 'cl-secret-password').catch((e) => e);
    seen.push(String(wrong), inspect(wrong, { depth: 5 }));
    for (const s of seen) {
      expect(s).to.not.include(sid);
      expect(s).to.not.include(ADMIN_PASSWORD);
      expect(s).to.not.include('cl-secret-password');
    }
  });

  for (const transport of ['http', 'ws'] as const) {
    it(`${transport}: follows a task with progress to its result, and a failed task rejects with its typed error`, async () => {
      const c = client({ transport });
      await c.login('admin', ADMIN_PASSWORD);
      const progress: TaskProgress[] = [];
      const gate = `${transport}-ok`;
      const started = await c.call<{ task_id: string }>('cltest.work', { steps: 4, fail: false, gate });
      const done = c.waitTask(started.task_id, { pollMs: 200, onProgress: (p) => progress.push(p) });
      gates.get(gate)!();
      const row = await done;
      expect(row.state).to.equal('succeeded');
      expect(row.result).to.deep.equal({ made: 'cl-x' });
      expect(progress.at(-1)).to.deep.equal({ done: 4000, total: 4000, percent: 100 });
      expect(progress.length, JSON.stringify(progress)).to.be.at.least(3);
      for (let i = 1; i < progress.length; i++) expect(progress[i].done).to.be.greaterThan(progress[i - 1].done);

      const failGate = `${transport}-fail`;
      const f = await c.call<{ task_id: string }>('cltest.work', { steps: 1, fail: true, gate: failGate });
      const failing = c.waitTask(f.task_id, { pollMs: 200 }).catch((e) => e);
      gates.get(failGate)!();
      const err = await failing;
      expect(isOmsError(err, 'TaskConflictError'), String(err)).to.equal(true);
      expect(err.code).to.equal(121);
      expect(err.message).to.include('cl-x is busy with a test');
    });
  }

  it('ws: progress comes from task.updated pushes between the (slow) polls', async () => {
    const c = client({ transport: 'ws' });
    await c.login('admin', ADMIN_PASSWORD);
    const progress: TaskProgress[] = [];
    const started = await c.call<{ task_id: string }>('cltest.work', { steps: 6, fail: false, gate: 'push' });
    const done = c.waitTask(started.task_id, { pollMs: 60_000, onProgress: (p) => progress.push(p) });
    await new Promise((r) => setTimeout(r, 100));
    gates.get('push')!();
    await done;
    // One poll at the start (0 done); everything after it came pushed.
    expect(progress.length, JSON.stringify(progress)).to.be.at.least(4);
    expect(progress.at(-1)!.done).to.equal(6000);
  });
});
