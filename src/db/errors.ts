/**
 * The one place where SQLite's failures become OMS errors. A database that is locked by another
 * process past busy_timeout, corrupt, read-only, full or unreadable is the operator's problem, not
 * a bug: the caller gets the OMS Database*Error that fits the operation, with a plain reason. Other
 * SQLite errors (constraint violations, misuse) are bugs and stay InternalError with a log id.
 *
 * Neither the SQL text nor SQLite's own message goes to the client: both may quote values.
 */
import Database from 'better-sqlite3';
import { oms, type OmsError } from '../rpc/errors.ts';

export type DbOperation = 'select' | 'insert' | 'update' | 'delete';

const errorOf = {
  select: 'DatabaseSelectError',
  insert: 'DatabaseInsertError',
  update: 'DatabaseUpdateError',
  delete: 'DatabaseDeleteError',
} as const;

/** SQLite primary result codes (the extended ones start with these) that describe the database's state. */
const reasons: [prefix: string, reason: string][] = [
  ['SQLITE_BUSY', 'the database is locked by another process'],
  ['SQLITE_LOCKED', 'the database is locked by another process'],
  ['SQLITE_CORRUPT', 'the database file is corrupt'],
  ['SQLITE_NOTADB', 'the database file is not an SQLite database'],
  ['SQLITE_READONLY', 'the database is read-only'],
  ['SQLITE_FULL', 'the disk is full'],
  ['SQLITE_IOERR', 'the database file could not be read or written'],
  ['SQLITE_CANTOPEN', 'the database file could not be opened'],
  ['SQLITE_PERM', 'no permission to use the database file'],
];

/** The operator-facing reason for an environmental SQLite failure, or undefined for a bug. */
export function sqliteReason(e: unknown): string | undefined {
  if (!(e instanceof Database.SqliteError)) return undefined;
  return reasons.find(([prefix]) => e.code === prefix || e.code.startsWith(`${prefix}_`))?.[1];
}

/** The operation a statement performs, from its first keyword; statements that read are selects. */
export function operationOf(sql: string, reader: boolean): DbOperation {
  const word = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase();
  if (word === 'INSERT' || word === 'REPLACE') return 'insert';
  if (word === 'DELETE') return 'delete';
  if (word === 'UPDATE') return 'update';
  if (word === 'SELECT' || (word === 'WITH' && reader) || word === 'PRAGMA') return reader ? 'select' : 'update';
  return 'update';
}

/** The OMS error for a SQLite failure during `op`, or undefined when it is not environmental. */
export function databaseError(e: unknown, op: DbOperation): OmsError | undefined {
  const reason = sqliteReason(e);
  return reason === undefined ? undefined : oms(errorOf[op], { reason });
}

/** The error for a database that cannot be opened at all (start-up, `oms migrate`). */
export function connectionError(e: unknown, file: string): OmsError | undefined {
  const reason = sqliteReason(e);
  return reason === undefined ? undefined : oms('DatabaseConnectionError', { reason: `${file}: ${reason}` });
}

type Wrapped = (...args: unknown[]) => unknown;

/**
 * Makes every statement the connection prepares report environmental failures as the
 * Database*Error of its operation. Statements are prepared once and kept, so the cost is one
 * closure per statement and a try/catch per execution.
 */
export function guardStatements(db: Database.Database): Database.Database {
  const prepare = db.prepare.bind(db);
  (db as { prepare: unknown }).prepare = (sql: string) => {
    const stmt = prepare(sql);
    const op = operationOf(sql, stmt.reader);
    for (const name of ['run', 'get', 'all', 'iterate'] as const) {
      const original = (stmt[name] as Wrapped).bind(stmt);
      (stmt as unknown as Record<string, Wrapped>)[name] = (...args: unknown[]) => {
        try {
          return original(...args);
        } catch (e) {
          throw databaseError(e, op) ?? e;
        }
      };
    }
    return stmt;
  };
  return db;
}
