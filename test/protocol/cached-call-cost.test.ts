/**
 * What a cached call may cost (OMS issue 13): compiling SQL per call was the largest share of a
 * cached call's time, and an API token call wrote its last_used on every call. A cached call now
 * compiles no statement and writes nothing; last_seen / last_used are written at most once per
 * few seconds.
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
