/**
 * Numbered migrations (`NNNN-name.sql`), tracked by SQLite's user_version. Append-only: a
 * released migration never changes. A database whose version is newer than the code knows is
 * refused, so an older gateway never writes into a schema it does not understand.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export class SchemaTooNewError extends Error {
  constructor(readonly dbVersion: number, readonly codeVersion: number) {
    super(`database schema version ${dbVersion} is newer than this OMS knows (${codeVersion}); refusing to open it — upgrade OMS`);
    this.name = 'SchemaTooNewError';
  }
}

export function loadMigrations(dir: string): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => {
      const m = /^(\d{4})-([a-z0-9-]+)\.sql$/.exec(f);
      if (!m) throw new Error(`migration file name ${f} is not NNNN-name.sql`);
      return { version: Number(m[1]), name: m[2], sql: readFileSync(join(dir, f), 'utf8') };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 1..n without gaps; found ${m.version} at position ${i + 1}`);
  });
  return migrations;
}

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies pending migrations; returns the versions applied. */
export function applyMigrations(db: Database.Database, migrations: Migration[]): number[] {
  const current = schemaVersion(db);
  const latest = migrations.length ? migrations[migrations.length - 1].version : 0;
  if (current > latest) throw new SchemaTooNewError(current, latest);
  const applied: number[] = [];
  for (const m of migrations.filter((x) => x.version > current)) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied.push(m.version);
  }
  return applied;
}
