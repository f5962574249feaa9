/**
 * What a cached call may cost (OMS issue 13): compiling SQL per call was the largest share of a
 * cached call's time, and an API token call wrote its last_used on every call; then reading and
 * parsing the cached row was. A cached call now compiles no statement, runs none (the session and
 * the result are held in memory) and writes nothing; last_seen / last_used are written at most
 * once per few seconds.
 */
import { expect } from 'chai';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { digest } from '../../src/auth/tokens.ts';

describe('cost of a cached call', () => {
  let gw: TestGateway;
  let sid: string;
  let token: string;

  const changes = () => (gw.app.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  /** Counts statements compiled while fn runs. */
  async function compiled(fn: () => Promise<unknown>): Promise<string[]> {
    const db = gw.app.db;
    const original = db.prepare;
    const prepared: string[] = [];
    db.prepare = ((sql: string) => {
      prepared.push(sql);
      return original.call(db, sql);
    }) as typeof db.prepare;
    try {
      await fn();
    } finally {
      db.prepare = original;
    }
    return prepared;
  }

  beforeEach(async () => {
    gw = await startTestGateway();
    sid = await gw.login();
    token = (await gw.get('userservices', 'create_api_token', [sid, 0, 'bench'])).result.result.token;
  });
  afterEach(() => gw.close());

  const bySession = () => gw.get('tagservices', 'list_tags', [sid, 60]);
  const byToken = () => gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'tagservices.list_tags', params: [60] }, { authorization: `Bearer ${token}` });

  it('a cached call compiles no SQL, by session and by API token', async () => {
    await bySession();
    await byToken();
    const sql = await compiled(async () => {
      for (let i = 0; i < 3; i++) {
        expect((await bySession()).result.type).to.equal('tmp_cache');
        expect((await byToken()).body.result.type).to.equal('tmp_cache');
      }
    });
    expect(sql).to.deep.equal([]);
  });

  it('cached calls write nothing to the database; a token records its last use once, not per call', async () => {
    await bySession();
    await byToken();
    const before = changes();
    for (let i = 0; i < 5; i++) {
      await bySession();
      await byToken();
    }
    expect(changes() - before).to.equal(0);
    const row = gw.app.db.prepare('SELECT last_used FROM api_tokens WHERE token_hash = ?').get(digest(token)) as { last_used: number | null };
    expect(row.last_used).to.be.a('number');
  });

  it('a cache hit runs no SQL at all: no session or token row, no cached row read, nothing written', async () => {
    await gw.close();
    let tracing = false;
    const ran: string[] = [];
    // Recheck times long enough that nothing falls due while the test runs.
    gw = await startTestGateway({ config: { sessionRecheckMs: 60_000, cacheRecheckMs: 60_000 }, sqlTrace: (sql) => void (tracing && ran.push(sql)) });
    sid = await gw.login();
    token = (await gw.get('userservices', 'create_api_token', [sid, 0, 'bench'])).result.result.token;
    await bySession();
    await byToken();
    tracing = true;
    for (let i = 0; i < 3; i++) {
      expect((await bySession()).result.type).to.equal('tmp_cache');
      expect((await byToken()).body.result.type).to.equal('tmp_cache');
    }
    tracing = false;
    expect(ran).to.deep.equal([]);
    // The trace does see what a call that is not a hit runs.
    tracing = true;
    await gw.get('tagservices', 'list_tags', [sid, 0]);
    expect(ran.join('\n')).to.match(/FROM tags/i);
  });

  it('a cache hit answers through the fast path with the headers express gives the same endpoint', async () => {
    await bySession();
    // POST /jsonrpc is taken by the fast path; /jsonrpc/ (a form express also routes there) is not.
    const body = { jsonrpc: '2.0', id: 1, method: 'tagservices.list_tags', params: [sid, 60] };
    const fast = await gw.post('/jsonrpc', body);
    const slow = await gw.post('/jsonrpc/', body);
    const shown = (h: Headers) => Object.fromEntries([...h].filter(([k]) => !['date', 'x-request-id'].includes(k)));
    expect(fast.text).to.equal(slow.text);
    expect(shown(fast.headers)).to.deep.equal(shown(slow.headers));
    expect(shown(fast.headers)).to.include({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' });
    expect(fast.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    expect(fast.headers.get('x-request-id')).to.not.equal(slow.headers.get('x-request-id'));
  });

  it('an API token used again after some seconds records the later use', async () => {
    await gw.close();
    // Read on every call, so the database decides and the time of the row is what counts.
    gw = await startTestGateway({ config: { sessionRecheckMs: 0 } });
    sid = await gw.login();
    token = (await gw.get('userservices', 'create_api_token', [sid, 0, 'bench'])).result.result.token;
    gw.app.db.prepare('UPDATE api_tokens SET last_used = 1000 WHERE token_hash = ?').run(digest(token));
    await byToken();
    const row = gw.app.db.prepare('SELECT last_used FROM api_tokens WHERE token_hash = ?').get(digest(token)) as { last_used: number };
    expect(row.last_used).to.be.closeTo(Date.now() / 1000, 5);
  });
});
