/**
 * The database in trouble, produced for real against the gateway process: another process holding
 * the write lock past busy_timeout, a corrupt database file at start. Callers get the OMS
 * Database*Error of the operation (not InternalError), operators a plain message (no stack).
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { repoRoot, startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { fetchCa } from '../helpers/https.ts';

const PASSWORD = 'db-errors-admin-pw';

describe('database failures reach callers as Database*Error', function () {
  this.timeout(60_000);
  let gw: GatewayProcess;
  let holder: Database.Database | undefined;

  const rpc = async (method: string, params: unknown[]) =>
    (await fetchCa(`${gw.url}/jsonrpc`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), headers: { 'content-type': 'application/json' } })).json();
  const login = async () => (await rpc('authservices.authenticate', ['admin', PASSWORD])).result.result as string;
  /** Another process (this test) takes the write lock on the gateway's database and keeps it. */
  const lock = () => {
    holder = new Database(join(gw.dataDir, 'oms.db'));
    holder.exec('BEGIN EXCLUSIVE');
  };
  const unlock = () => {
    holder?.exec('COMMIT');
    holder?.close();
    holder = undefined;
  };

  before(async () => {
    gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off' });
    const sid = await login();
    expect((await rpc('userservices.add_user', [sid, 0, 'dbe-victim', 'victim-password-1'])).error).to.equal(undefined);
  });
  afterEach(unlock);
  after(() => gw?.stop());

  // A fresh session each time: a session older than 5 s is touched (an UPDATE) before the method runs.
  const cases: [string, string, (sid: string) => unknown[], string][] = [
    ['an insert', 'userservices.add_user', (sid) => [sid, 0, 'dbe-new', 'new-user-password'], 'DatabaseInsertError'],
    ['an update', 'userservices.change_password', (sid) => [sid, 0, 'dbe-victim', 'another-password-2'], 'DatabaseUpdateError'],
    ['a delete', 'userservices.delete_user', (sid) => [sid, 0, 'dbe-victim'], 'DatabaseDeleteError'],
  ];
  for (const [what, method, params, name] of cases) {
    it(`${what} blocked by another process's lock past busy_timeout answers ${name}, without SQL or paths`, async () => {
      const sid = await login();
      lock();
      const r = await rpc(method, params(sid));
      expect(r.error?.data?.name, JSON.stringify(r)).to.equal(name);
      expect(r.error.message).to.match(/locked by another process/);
      expect(JSON.stringify(r)).to.not.match(/INSERT|UPDATE|DELETE|SELECT|SQLITE_|oms\.db|\/tmp/);
      unlock();
      // Nothing of it happened, and once the lock is gone the same call goes through.
      const again = await rpc(method, params(await login()));
      expect(again.error, JSON.stringify(again)).to.equal(undefined);
    });
  }

  it('a gateway whose database file is corrupt refuses to start with DatabaseConnectionError naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oms-dbe-'));
    try {
      writeFileSync(join(dir, 'oms.db'), Buffer.concat([Buffer.from('this is not a database '), randomBytes(8192)]));
      for (const cmd of ['serve', 'migrate']) {
        const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), cmd], {
          cwd: repoRoot,
          env: { ...process.env, OMS_DATA_DIR: dir, OMS_PORT: '0', OMS_BIND: '127.0.0.1', OMS_TLS: 'off', OMS_ADMIN_PASSWORD: PASSWORD },
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect(r.status, `${cmd}: ${r.stderr}`).to.equal(1);
        expect(r.stderr).to.match(/DatabaseConnectionError/);
        expect(r.stderr).to.include(join(dir, 'oms.db'));
        expect(r.stderr).to.match(/not an SQLite database|corrupt/);
        expect(r.stderr, 'no stack trace').to.not.match(/^\s+at /m);
        expect(r.stdout).to.not.match(/listening/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
