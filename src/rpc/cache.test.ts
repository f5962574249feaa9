import { expect } from 'chai';
import { openDatabase } from '../db/database.ts';
import { ResultCache } from './cache.ts';

describe('result cache: what it holds in memory', () => {
  let ran: string[];
  const open = (opts: ConstructorParameters<typeof ResultCache>[1] = {}) => {
    ran = [];
    const db = openDatabase(':memory:', undefined, { trace: (sql) => void ran.push(sql) });
    return { db, cache: new ResultCache(db, opts) };
  };
  const key = (n: number | string) => ResultCache.key(1, 's', 'm', [n]);
  const rowReads = () => ran.filter((sql) => /^SELECT .* FROM rpc_cache/i.test(sql)).length;

  it('a hit on a held result reads no row; the row key is the SHA-256 of the call key', () => {
    const { db, cache } = open();
    cache.put(key(1), undefined, { a: [1] });
    ran = [];
    expect(cache.get(key(1), 60)).to.deep.equal({ hit: true, value: { a: [1] } });
    expect(rowReads()).to.equal(0);
    expect((db.prepare('SELECT key FROM rpc_cache').get() as { key: string }).key).to.equal(ResultCache.rowKey(key(1))).and.match(/^[0-9a-f]{64}$/);
  });

  it('hands out a frozen copy, so no caller can change what the next one gets', () => {
    const { cache } = open();
    const mine = { a: [1] };
    cache.put(key(1), undefined, mine);
    const got = cache.get(key(1), 60) as { value: { a: number[] } };
    expect(got.value).to.not.equal(mine);
    expect(Object.isFrozen(got.value) && Object.isFrozen(got.value.a)).to.equal(true);
    expect(Object.isFrozen(mine)).to.equal(false);
  });

  it('drops the oldest beyond its count bound and its byte bound; the dropped are read from their rows', () => {
    const { cache } = open({ maxHeld: 2 });
    for (const n of [1, 2, 3]) cache.put(key(n), undefined, n);
    expect(cache.heldStats().results).to.equal(2);
    ran = [];
    expect(cache.get(key(3), 60)).to.deep.equal({ hit: true, value: 3 });
    expect(rowReads()).to.equal(0);
    expect(cache.get(key(1), 60)).to.deep.equal({ hit: true, value: 1 });
    expect(rowReads(), 'the oldest was dropped from memory').to.equal(1);

    const small = open({ maxHeldBytes: 25 }).cache;
    small.put(key('a'), undefined, 'x'.repeat(10)); // 12 bytes of JSON
    small.put(key('b'), undefined, 'y'.repeat(10));
    small.put(key('c'), undefined, 'z'.repeat(10));
    expect(small.heldStats()).to.deep.equal({ results: 2, bytes: 24 });
    small.put(key('big'), undefined, 'w'.repeat(100));
    expect(small.heldStats(), 'too large to hold: kept only as a row').to.deep.equal({ results: 2, bytes: 24 });
    expect(small.get(key('big'), 60)).to.deep.equal({ hit: true, value: 'w'.repeat(100) });
  });

  it("a node's invalidation drops its held results and rows at once, and only its own", () => {
    const { cache } = open({ recheckMs: 60_000 });
    cache.put(key(1), 'n1', 1);
    cache.put(key(2), 'n2', 2);
    cache.put(key(3), undefined, 3);
    cache.invalidateNode('n1');
    expect(cache.get(key(1), 60)).to.deep.equal({ hit: false });
    expect(cache.get(key(2), 60)).to.deep.equal({ hit: true, value: 2 });
    expect(cache.get(key(3), 60)).to.deep.equal({ hit: true, value: 3 });
    expect(cache.heldStats().results).to.equal(2);
  });

  it('a held result past the recheck time is checked against its row: gone or replaced elsewhere is not served', () => {
    const { db, cache } = open({ recheckMs: 0 });
    cache.put(key(1), undefined, 1);
    ran = [];
    expect(cache.get(key(1), 60)).to.deep.equal({ hit: true, value: 1 });
    expect(ran, 'only the timestamp is read').to.have.length(1);
    db.prepare('UPDATE rpc_cache SET result = ?, created_at = created_at + 1').run('2');
    expect(cache.get(key(1), 60)).to.deep.equal({ hit: true, value: 2 });
    db.prepare('DELETE FROM rpc_cache').run();
    expect(cache.get(key(1), 60)).to.deep.equal({ hit: false });
  });

  it('a result older than the caller asks for is a miss, held or not', () => {
    const { cache } = open();
    cache.put(key(1), undefined, 1);
    const realNow = Date.now;
    Date.now = () => realNow() + 5000;
    try {
      expect(cache.get(key(1), 4)).to.deep.equal({ hit: false });
      expect(cache.get(key(1), 6)).to.deep.equal({ hit: true, value: 1 });
    } finally {
      Date.now = realNow;
    }
  });
});
