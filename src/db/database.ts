/**
 * The embedded database: better-sqlite3 in WAL mode with foreign keys on. Schema changes are the
 * numbered, append-only SQL files in migrations/, applied at open in one transaction each.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyMigrations, loadMigrations, type Migration } from './migrate.ts';
import { connectionError, guardStatements } from './errors.ts';

export type Db = Database.Database;

export const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

/** `trace`: told every SQL statement the connection runs (tests count what a call costs). */
export function openDatabase(file: string, migrations: Migration[] = loadMigrations(migrationsDir), opts: { trace?: (sql: string) => void } = {}): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let db: Db | undefined;
  try {
    db = new Database(file, opts.trace ? { verbose: (sql) => opts.trace!(String(sql)) } : {});
    // A writer waits for a concurrent writer (a second process such as `oms user add`) instead of
    // failing; set first, so that opening a database another process holds waits as well.
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    applyMigrations(db, migrations);
  } catch (e) {
    db?.close();
    // A corrupt, foreign, locked or unopenable file: a plain DatabaseConnectionError naming it.
    throw connectionError(e, file) ?? e;
  }
  return guardStatements(db);
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
