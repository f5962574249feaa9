/**
 * The gateway remembers sessions it found valid for a moment (OMS_SESSION_RECHECK_MS), so cached
 * calls do not read the sessions table every time. Whatever this gateway changes must still be
 * seen by the very next call: deauthenticate, idle and absolute expiry, a password change, a user
 * deletion, a token revocation, a role change. Here the recheck time is a day, so only the
 * invalidation itself can make a change visible; the last test shows that the remembering is real
 * (a change made behind the gateway's back waits for the recheck) and bounded by that time.
 */
import { expect } from 'chai';
import { startTestGateway, ADMIN_PASSWORD, type TestGateway } from '../helpers/gateway.ts';
import { method, service } from '../../src/rpc/declare.ts';
import { digest } from '../../src/auth/tokens.ts';
import WebSocket from 'ws';

const RECHECK_MS = 24 * 3_600_000; // longer than any clock jump below
const AUTH_ERROR = 101;
const PERMISSION_DENIED = 6;

/** A cacheable read guarded by a privilege, to see grants applied before the cache answers. */
const guarded = service({
  name: 'guarded',
  description: 'test',
  envelope: 'oms',
  methods: [
    method({
      name: 'view',
      description: 'cacheable read needing node.view on /nodes/n',
      auth: 'session',
      permission: { privilege: 'node.view', path: () => '/nodes/n' },
      cacheable: true,
      params: [] as const,
      run: () => 'seen',
    }),
  ],
});

/** Runs fn with the clock moved forward, as the gateway sees it. */
async function later<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const real = Date.now;
  Date.now = () => real() + ms;
  try {
    return await fn();
  } finally {
    Date.now = real;
  }
}

describe('session changes are seen by the next call on the same gateway', () => {
  let gw: TestGateway;
  let admin: string;

  const tags = (secret: string) => gw.get('tagservices', 'list_tags', [secret, 60]);
  const bearerTags = (token: string) => gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'tagservices.list_tags', params: [60] }, { authorization: `Bearer ${token}` });
  /** Two cached calls: the session is remembered and the result cached. */
  const warm = async (secret: string) => {
    expect((await tags(secret)).error).to.equal(null);
    const again = await tags(secret);
    expect(again.error).to.equal(null);
    expect(again.result.type).to.equal('tmp_cache');
  };
  const addUser = async (name: string, roles: { path: string; role: string }[] = []) => {
    expect((await gw.get('userservices', 'add_user', [admin, 0, name, `${name}-password-1`, roles])).error).to.equal(null);
    return gw.login(name, `${name}-password-1`);
  };

  beforeEach(async () => {
    gw = await startTestGateway({ config: { sessionRecheckMs: RECHECK_MS, sessionIdleSeconds: 60, sessionMaxSeconds: 3600 }, services: [guarded] });
    admin = await gw.login();
  });
  afterEach(() => gw.close());

  it('deauthenticate: the next call is refused', async () => {
    const sid = await gw.login();
    await warm(sid);
    expect((await gw.get('authservices', 'deauthenticate', [sid])).error).to.equal(null);
    expect((await tags(sid)).error.code).to.equal(AUTH_ERROR);
  });

  it('idle expiry: the next call after the idle time is refused, and the row is gone', async () => {
    const sid = await gw.login();
    await warm(sid);
    expect((await later(61_000, () => tags(sid))).error.code).to.equal(AUTH_ERROR);
    expect(gw.app.db.prepare('SELECT count(*) n FROM sessions WHERE id_hash = ?').get(digest(sid))).to.deep.equal({ n: 0 });
  });

  it('a session in use is touched in the database while remembered, so it does not go idle', async () => {
    const sid = await gw.login();
    await warm(sid);
    // 40 s later a call touches last_seen (kept in memory and in the row); 40 s after that it is still alive.
    expect((await later(40_000, () => tags(sid))).error).to.equal(null);
    const row = gw.app.db.prepare('SELECT last_seen - created_at AS idle FROM sessions WHERE id_hash = ?').get(digest(sid)) as { idle: number };
    expect(row.idle).to.be.within(39, 41);
    expect((await later(80_000, () => tags(sid))).error).to.equal(null);
  });

  it('absolute expiry: refused past the lifetime even while in use', async () => {
    await gw.close();
    gw = await startTestGateway({ config: { sessionRecheckMs: RECHECK_MS, sessionIdleSeconds: 86_400, sessionMaxSeconds: 3600 } });
    const sid = await gw.login();
    await warm(sid);
    expect((await later(3_000_000, () => tags(sid))).error).to.equal(null);
    expect((await later(3_601_000, () => tags(sid))).error.code).to.equal(AUTH_ERROR);
  });

  it('password change: the user\'s other sessions are refused at once, the changing one goes on', async () => {
    const a1 = await addUser('alice');
    const a2 = await gw.login('alice', 'alice-password-1');
    await warm(a1);
    await warm(a2);
    expect((await gw.get('userservices', 'change_password', [a1, 0, 'alice', 'alice-password-2'])).error).to.equal(null);
    expect((await tags(a2)).error.code).to.equal(AUTH_ERROR);
    expect((await tags(a1)).error).to.equal(null);
    // An administrator setting it ends every session of hers.
    expect((await gw.get('userservices', 'change_password', [admin, 0, 'alice', 'alice-password-3'])).error).to.equal(null);
    expect((await tags(a1)).error.code).to.equal(AUTH_ERROR);
  });

  it('user deletion: their sessions and API tokens are refused at once', async () => {
    const b = await addUser('bob', [{ path: '/', role: 'Operator' }]);
    const token = (await gw.get('userservices', 'create_api_token', [b, 0, 'ci'])).result.result.token as string;
    await warm(b);
    expect((await bearerTags(token)).body.error).to.equal(undefined);
    expect((await bearerTags(token)).body.result.type).to.equal('tmp_cache');
    expect((await gw.get('userservices', 'delete_user', [admin, 0, 'bob'])).error).to.equal(null);
    expect((await tags(b)).error.code).to.equal(AUTH_ERROR);
    expect((await bearerTags(token)).body.error.code).to.equal(AUTH_ERROR);
  });

  it('token revocation: the next call with the token is refused', async () => {
    const token = (await gw.get('userservices', 'create_api_token', [admin, 0, 'ci'])).result.result.token as string;
    expect((await bearerTags(token)).body.error).to.equal(undefined);
    expect((await bearerTags(token)).body.result.type).to.equal('tmp_cache');
    expect((await gw.get('userservices', 'revoke_api_token', [admin, 0, 'ci'])).error).to.equal(null);
    expect((await bearerTags(token)).body.error.code).to.equal(AUTH_ERROR);
  });

  /** A websocket opened with `bearer`; `closed` resolves with the close code and the notifications seen before it. */
  const socketWith = async (bearer: string) => {
    const ws = new WebSocket(gw.wsUrl, { headers: { authorization: `Bearer ${bearer}` } });
    const seen: string[] = [];
    ws.on('message', (m) => seen.push(JSON.parse(String(m)).method));
    const closed = new Promise<{ code: number; seen: string[] }>((resolve) => ws.on('close', (code) => resolve({ code, seen })));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return { ws, closed };
  };
  const within = <T>(p: Promise<T>, ms = 2000) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms))]);

  it('token revocation: a websocket opened with the token is told and closed at once, one opened with another token stays', async () => {
    const token = (await gw.get('userservices', 'create_api_token', [admin, 0, 'ci'])).result.result.token as string;
    const other = (await gw.get('userservices', 'create_api_token', [admin, 0, 'other'])).result.result.token as string;
    const revoked = await socketWith(token);
    const kept = await socketWith(other);
    expect((await gw.get('userservices', 'revoke_api_token', [admin, 0, 'ci'])).error).to.equal(null);
    expect(await within(revoked.closed)).to.deep.equal({ code: 4001, seen: ['session.ended'] });
    expect(kept.ws.readyState).to.equal(WebSocket.OPEN);
    kept.ws.close();
  });

  it('user deletion: a websocket opened with one of their API tokens is closed at once', async () => {
    const b = await addUser('carol', [{ path: '/', role: 'Operator' }]);
    const token = (await gw.get('userservices', 'create_api_token', [b, 0, 'ci'])).result.result.token as string;
    const s = await socketWith(token);
    expect((await gw.get('userservices', 'delete_user', [admin, 0, 'carol'])).error).to.equal(null);
    expect((await within(s.closed)).code).to.equal(4001);
  });

  it('role change: a revoked grant refuses the next call even with its result cached', async () => {
    const c = await addUser('carol', [{ path: '/', role: 'Operator' }]);
    expect((await gw.get('guarded', 'view', [c, 60])).result).to.deep.equal({ type: 'func', result: 'seen' });
    expect((await gw.get('guarded', 'view', [c, 60])).result).to.deep.equal({ type: 'tmp_cache', result: 'seen' });
    expect((await gw.get('userservices', 'revoke', [admin, 0, '/', 'user', 'carol', 'Operator'])).error).to.equal(null);
    expect((await gw.get('guarded', 'view', [c, 60])).error.code).to.equal(PERMISSION_DENIED);
    expect((await gw.get('userservices', 'grant', [admin, 0, '/nodes/n', 'user', 'carol', 'Auditor'])).error).to.equal(null);
    expect((await gw.get('guarded', 'view', [c, 60])).result.result).to.equal('seen');
  });

  it('a change made behind the gateway (CLI, another gateway) is seen after the recheck time, not before', async () => {
    await gw.close();
    gw = await startTestGateway({ config: { sessionRecheckMs: 300 } });
    const sid = await gw.login();
    await warm(sid);
    // What `oms user passwd` in another process, or another gateway's deauthenticate, does to the row.
    gw.app.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(digest(sid));
    expect((await tags(sid)).error, 'remembered for up to the recheck time').to.equal(null);
    await new Promise((r) => setTimeout(r, 350));
    expect((await tags(sid)).error.code).to.equal(AUTH_ERROR);
  });

  it('with a recheck time of 0 every call reads the database', async () => {
    await gw.close();
    gw = await startTestGateway({ config: { sessionRecheckMs: 0 } });
    const sid = await gw.login('admin', ADMIN_PASSWORD);
    await warm(sid);
    gw.app.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(digest(sid));
    expect((await tags(sid)).error.code).to.equal(AUTH_ERROR);
  });
});
