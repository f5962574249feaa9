import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyMigrations, loadMigrations, schemaVersion, SchemaTooNewError } from './migrate.ts';
import { migrationsDir, openDatabase } from './database.ts';

describe('migrations', () => {
  const all = loadMigrations(migrationsDir);

  it('are numbered 1..n without gaps', () => {
    expect(all.map((m) => m.version)).to.deep.equal(all.map((_, i) => i + 1));
  });

  it('a fresh database gets every migration, in one go, with foreign keys and WAL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oms-db-'));
    try {
      const db = openDatabase(join(dir, 'oms.db'));
      expect(schemaVersion(db)).to.equal(all.length);
      expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
      expect(db.pragma('foreign_keys', { simple: true })).to.equal(1);
      db.close();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  all.forEach((m, i) => {
    it(`migration ${m.version} (${m.name}) applies alone on top of its predecessors`, () => {
      const db = new Database(':memory:');
      applyMigrations(db, all.slice(0, i));
      expect(applyMigrations(db, all.slice(0, i + 1))).to.deep.equal([m.version]);
      expect(schemaVersion(db)).to.equal(m.version);
      expect(db.pragma('foreign_key_check')).to.deep.equal([]);
      db.close();
    });
  });

  it('upgrades an older database and keeps its rows', () => {
    const db = new Database(':memory:');
    const extra = { version: all.length + 1, name: 'test-extra', sql: 'CREATE TABLE extra (x INTEGER); ' };
    applyMigrations(db, all);
    db.prepare("INSERT INTO users (name, password_hash, created_at) VALUES ('keep', 'h', 1)").run();
    expect(applyMigrations(db, [...all, extra])).to.deep.equal([all.length + 1]);
    expect(db.prepare('SELECT name FROM users').all()).to.deep.equal([{ name: 'keep' }]);
  });

  it('a failing migration rolls back entirely', () => {
    const db = new Database(':memory:');
    applyMigrations(db, all);
    const bad = { version: all.length + 1, name: 'bad', sql: 'CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);' };
    expect(() => applyMigrations(db, [...all, bad])).to.throw();
    expect(schemaVersion(db)).to.equal(all.length);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").all()).to.deep.equal([]);
  });

  it('a database newer than the code is refused', () => {
    const db = new Database(':memory:');
    applyMigrations(db, all);
    db.pragma(`user_version = ${all.length + 5}`);
    expect(() => applyMigrations(db, all)).to.throw(SchemaTooNewError, /newer than this OMS knows/);
  });

  it('openDatabase closes and refuses a newer database file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oms-db-'));
    try {
      const file = join(dir, 'oms.db');
      const db = new Database(file);
      db.pragma('user_version = 999');
      db.close();
      expect(() => openDatabase(file)).to.throw(SchemaTooNewError);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
