import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOmsError } from '../rpc/errors.ts';
import { guardStatements, operationOf } from './errors.ts';

describe('database errors (src/db/errors.ts)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'oms-dberr-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the operation of a statement from its SQL', () => {
    expect(operationOf('SELECT 1', true)).to.equal('select');
    expect(operationOf('  insert or replace into t values (1)', false)).to.equal('insert');
    expect(operationOf('REPLACE INTO t VALUES (1)', false)).to.equal('insert');
    expect(operationOf('UPDATE t SET x = 1', false)).to.equal('update');
    expect(operationOf('DELETE FROM t RETURNING x', true)).to.equal('delete');
    expect(operationOf('WITH a AS (SELECT 1) SELECT * FROM a', true)).to.equal('select');
  });

  it('a read blocked by another connection holding an exclusive lock is DatabaseSelectError', () => {
    // The gateway's database is WAL, where readers are never blocked; a rollback-journal file
    // is how a read lock conflict is made for real here.
    const file = join(dir, 'x.db');
    const holder = new Database(file);
    holder.exec('CREATE TABLE t (x)');
    const db = guardStatements(new Database(file));
    db.pragma('busy_timeout = 50');
    const read = db.prepare('SELECT x FROM t');
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const e = (() => {
        try {
          read.all();
        } catch (err) {
          return err;
        }
      })();
      expect(isOmsError(e) && e.omsName).to.equal('DatabaseSelectError');
      expect((e as Error).message).to.equal('Database read failed: the database is locked by another process');
      for (const [sql, name] of [
        ['INSERT INTO t VALUES (1)', 'DatabaseInsertError'],
        ['UPDATE t SET x = 2', 'DatabaseUpdateError'],
        ['DELETE FROM t', 'DatabaseDeleteError'],
      ])
        expect(() => db.prepare(sql).run(), sql).to.throw().that.satisfies((e: unknown) => isOmsError(e) && e.omsName === name);
    } finally {
      holder.exec('COMMIT');
    }
    // Chained statement helpers keep the guard, and the statement works once the lock is gone.
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).to.equal(0);
    db.close();
    holder.close();
  });

  it('leaves errors that are bugs (a constraint violation) as they are, for InternalError', () => {
    const db = guardStatements(new Database(':memory:'));
    db.exec('CREATE TABLE t (x UNIQUE)');
    db.prepare('INSERT INTO t VALUES (1)').run();
    expect(() => db.prepare('INSERT INTO t VALUES (1)').run()).to.throw(Database.SqliteError, /UNIQUE/);
    db.close();
  });
});
