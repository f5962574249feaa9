/** AuthService, sessions, expiry, throttling, API tokens. */
import { expect } from 'chai';
import { startTestGateway, ADMIN_PASSWORD, type TestGateway } from '../helpers/gateway.ts';
import { digest } from '../../src/auth/tokens.ts';

describe('authservices and sessions', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway({ config: { authMaxFailures: 3, sessionIdleSeconds: 60, sessionMaxSeconds: 3600 } });
  });
  afterEach(() => gw.close());

  it('authenticate returns a 160-bit SESSID; the database holds only its digest', async () => {
    const r = await gw.get('authservices', 'authenticate', ['admin', ADMIN_PASSWORD]);
    expect(r.result.type).to.equal('auth');
    expect(r.result.result).to.match(/^[0-9A-F]{40}$/);
    const rows = gw.app.db.prepare('SELECT id_hash FROM sessions').all() as { id_hash: string }[];
    expect(rows.map((x) => x.id_hash)).to.deep.equal([digest(r.result.result)]);
    expect(JSON.stringify(rows)).to.not.include(r.result.result);
  });

  it('session ids are unique across many logins', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add(await gw.login());
    expect(ids.size).to.equal(20);
  });

  it('wrong password and unknown user fail alike with AuthError', async () => {
    const a = await gw.get('authservices', 'authenticate', ['admin', 'wrong']);
    const b = await gw.get('authservices', 'authenticate', ['nobody', 'wrong']);
    expect(a.error).to.deep.equal(b.error);
    expect(a.error).to.deep.equal({ origin: 2, code: 101, message: 'AuthError: Authentication failed' });
  });

  it('checksessid: 0 for a valid session, AuthError otherwise; deauthenticate ends it; DeathError after', async () => {
    const sid = await gw.login();
    expect((await gw.get('authservices', 'checksessid', [sid])).result).to.deep.equal({ type: 'auth', result: 0 });
    expect((await gw.get('authservices', 'checksessid', [sid.toLowerCase()])).result.result).to.equal(0);
    expect((await gw.get('authservices', 'deauthenticate', [sid])).result).to.deep.equal({ type: 'auth', result: 0 });
    expect((await gw.get('authservices', 'checksessid', [sid])).error.code).to.equal(101);
    const again = await gw.get('authservices', 'deauthenticate', [sid]);
    expect(again.error).to.include({ origin: 2, code: 111 });
    expect(again.error.message).to.match(/^DeathError: /);
  });

  it('idle expiry and absolute expiry', async () => {
    const sid = await gw.login();
    const key = digest(sid);
    gw.app.db.prepare('UPDATE sessions SET last_seen = last_seen - 61 WHERE id_hash = ?').run(key);
    expect((await gw.get('authservices', 'checksessid', [sid])).error.code).to.equal(101);
    expect(gw.app.db.prepare('SELECT count(*) n FROM sessions WHERE id_hash = ?').get(key)).to.deep.equal({ n: 0 });

    const sid2 = await gw.login();
    gw.app.db.prepare('UPDATE sessions SET created_at = created_at - 3601 WHERE id_hash = ?').run(digest(sid2));
    expect((await gw.get('authservices', 'checksessid', [sid2])).error.code).to.equal(101);
  });

  it('a session in use stays alive past the idle time (last_seen is touched)', async () => {
    const sid = await gw.login();
    gw.app.db.prepare('UPDATE sessions SET last_seen = last_seen - 50 WHERE id_hash = ?').run(digest(sid));
    expect((await gw.get('authservices', 'checksessid', [sid])).result.result).to.equal(0);
    gw.app.db.prepare('UPDATE sessions SET last_seen = last_seen - 50 WHERE id_hash = ?').run(digest(sid));
    expect((await gw.get('authservices', 'checksessid', [sid])).result.result).to.equal(0);
  });

  it('sweep removes expired sessions and announces them', async () => {
    const sid = await gw.login();
    const ended: string[] = [];
    gw.app.events.on('session-ended', (k: string) => ended.push(k));
    gw.app.db.prepare('UPDATE sessions SET last_seen = last_seen - 61').run();
    expect(gw.app.sessions.sweep()).to.deep.equal([digest(sid)]);
    expect(ended).to.deep.equal([digest(sid)]);
  });

  it('throttles repeated failures per user, even with the right password afterwards', async () => {
    for (let i = 0; i < 3; i++) await gw.get('authservices', 'authenticate', ['admin', 'bad']);
    const r = await gw.get('authservices', 'authenticate', ['admin', ADMIN_PASSWORD]);
    expect(r.error.code).to.equal(101);
    expect(r.error.message).to.match(/Too many failed attempts; try again in \d+ s/);
    expect(r.error.data.retryAfter).to.be.greaterThan(0);
    // Once the lock has passed, the right password works and clears the counter.
    gw.app.db.prepare('UPDATE auth_failures SET locked_until = 0').run();
    expect((await gw.get('authservices', 'authenticate', ['admin', ADMIN_PASSWORD])).result.result).to.match(/^[0-9A-F]{40}$/);
    expect(gw.app.db.prepare("SELECT count(*) n FROM auth_failures WHERE key = 'user:admin'").get()).to.deep.equal({ n: 0 });
  });

  it('throttles per address across user names', async () => {
    for (const u of ['a1', 'a2', 'a3']) await gw.get('authservices', 'authenticate', [u, 'bad']);
    const r = await gw.get('authservices', 'authenticate', ['admin', ADMIN_PASSWORD]);
    expect(r.error.message).to.include('Too many failed attempts');
  });

  it('each further lockout doubles, capped at an hour', () => {
    const keys = ['user:x'];
    for (let i = 0; i < 3; i++) gw.app.throttle.fail(keys);
    const first = gw.app.throttle.waitFor(keys);
    gw.app.throttle.fail(keys);
    const second = gw.app.throttle.waitFor(keys);
    expect(first).to.be.within(59, 60);
    expect(second).to.be.within(119, 120);
    for (let i = 0; i < 20; i++) gw.app.throttle.fail(keys);
    expect(gw.app.throttle.waitFor(keys)).to.be.at.most(3600);
  });

  it('authenticate attempts are audited without the password', async () => {
    await gw.get('authservices', 'authenticate', ['admin', 'hunter2-secret']);
    const rows = gw.app.db.prepare("SELECT * FROM audit WHERE method = 'authenticate'").all() as any[];
    expect(rows[0]).to.include({ user_name: 'admin', outcome: 'AuthError' });
    expect(JSON.stringify(rows)).to.not.include('hunter2');
  });

  it('API tokens work as bearer, are shown once, stored hashed, and can be revoked', async () => {
    const sid = await gw.login();
    const created = await gw.get('userservices', 'create_api_token', [sid, 0, 'ci']);
    const token = created.result.result.token as string;
    expect(token).to.match(/^oms_/);
    expect(JSON.stringify(gw.app.db.prepare('SELECT * FROM api_tokens').all())).to.not.include(token);
    const r = await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'userservices.whoami', params: [0] }, { authorization: `Bearer ${token}` });
    expect(r.body.result.result.name).to.equal('admin');
    const listed = await gw.get('userservices', 'list_api_tokens', [sid, 0]);
    expect(listed.result.result[0].name).to.equal('ci');
    expect(JSON.stringify(listed)).to.not.include(token);
    await gw.get('userservices', 'revoke_api_token', [sid, 0, 'ci']);
    const after = await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'userservices.whoami', params: [0] }, { authorization: `Bearer ${token}` });
    expect(after.body.error.code).to.equal(101);
  });
});
