/**
 * The `oms` command as an operator runs it: the real CLI process on a temp data dir, judged by
 * its effects (the database through a gateway, a real sshd's host key) and exit codes, never by
 * its exact wording, which its argument parser owns.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { fetchCa } from '../helpers/https.ts';
import { startSshd, type Sshd } from '../fixtures/sshd.ts';

const ADMIN = 'cli-admin-password';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the oms command line', function () {
  this.timeout(120_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'oms-cli-'));
  const env = { ...process.env, OMS_DATA_DIR: dataDir, OMS_ADMIN_PASSWORD: ADMIN, OMS_TLS: 'off', OMS_LOG_LEVEL: 'warn', OMS_CONFIG: '', OMS_SSH_KEY: '' };
  let gw: GatewayProcess | undefined;
  let sshd: Sshd | undefined;
  after(async () => {
    await gw?.stop();
    await sshd?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const oms = (args: string[], input?: string): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(input);
    });
  const ok = async (args: string[], input?: string) => {
    const r = await oms(args, input);
    expect(r.code, `oms ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r;
  };
  const gateway = async () => (gw ??= await startGatewayProcess({ OMS_ADMIN_PASSWORD: ADMIN, OMS_TLS: 'off', OMS_LOG_LEVEL: 'warn' }, { dataDir }));
  const rpc = async (method: string, params: unknown[]) =>
    (await fetchCa(`${(await gateway()).url}/jsonrpc`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), headers: { 'content-type': 'application/json' } })).json();

  it('migrate applies every migration to a new database and exits 0', async () => {
    await ok(['migrate']);
    const db = new Database(join(dataDir, 'oms.db'), { readonly: true });
    try {
      const { loadMigrations } = await import('../../src/db/migrate.ts');
      const { migrationsDir } = await import('../../src/db/database.ts');
      const latest = Math.max(...loadMigrations(migrationsDir).map((m) => m.version));
      expect(db.pragma('user_version', { simple: true })).to.equal(latest);
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
      expect(tables).to.include.members(['users', 'sessions', 'nodes', 'acl']);
    } finally {
      db.close();
    }
    // Running it again changes nothing and still succeeds.
    await ok(['migrate']);
    // The gateway serving the same data dir from here on (it creates admin on a database without users).
    await gateway();
  });

  it('user add creates a user who can authenticate through a gateway, with the role given', async () => {
    await ok(['user', 'add', 'cli-alice', '--role', 'Auditor'], 'alice-first-password\n');
    const list = await ok(['user', 'list']);
    expect(list.stdout).to.match(/^cli-alice\b.*Auditor/m);
    const auth = await rpc('authservices.authenticate', ['cli-alice', 'alice-first-password']);
    expect(auth.result?.result, JSON.stringify(auth)).to.match(/^[0-9A-F]{40}$/);
    const me = await rpc('userservices.whoami', [auth.result.result, 0]);
    expect(JSON.stringify(me.result)).to.include('audit.view');
  });

  it('user passwd changes the password and ends the user\'s sessions', async () => {
    const sid = (await rpc('authservices.authenticate', ['cli-alice', 'alice-first-password'])).result.result;
    expect((await rpc('authservices.checksessid', [sid])).error).to.equal(undefined);
    await ok(['user', 'passwd', 'cli-alice'], 'alice-second-password\n');
    // Another process changed the database: the gateway sees it within OMS_SESSION_RECHECK_MS
    // (default 1 s; sessions it found valid are remembered that long). Asked again until then.
    let answer: any;
    for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      answer = await rpc('authservices.checksessid', [sid]);
      if (answer.error) break;
    }
    expect(answer.error?.data?.name).to.equal('AuthError');
    expect((await rpc('authservices.authenticate', ['cli-alice', 'alice-first-password'])).error?.data?.name).to.equal('AuthError');
    expect((await rpc('authservices.authenticate', ['cli-alice', 'alice-second-password'])).result?.result).to.match(/^[0-9A-F]{40}$/);
  });

  it('node key prints the public line of the gateway key kept in the data dir', async () => {
    const r = await ok(['node', 'key']);
    const pub = readFileSync(join(dataDir, 'ssh', 'id_ed25519.pub'), 'utf8').trim();
    expect(pub).to.match(/^ssh-ed25519 [A-Za-z0-9+/=]+/);
    expect(r.stdout.trim()).to.equal(pub);
  });

  it("node request records a request with the node's host key fingerprint, and node list shows it", async () => {
    sshd = await startSshd({ authorizedKey: readFileSync(join(dataDir, 'ssh', 'id_ed25519.pub'), 'utf8') });
    const fingerprint = /SHA256:[A-Za-z0-9+/]+/.exec(sshd.hostKeyFingerprint)![0];
    const r = await ok(['node', 'request', 'cli-node1', '127.0.0.1', '--port', String(sshd.port)]);
    expect(r.stdout).to.include(fingerprint);
    const list = await ok(['node', 'list']);
    const line = list.stdout.split('\n').find((l) => l.includes('cli-node1'));
    expect(line, list.stdout).to.include(fingerprint);
    expect(line).to.include(`127.0.0.1:${sshd.port}`);
    // The gateway sees the same request, with the same fingerprint.
    const admin = (await rpc('authservices.authenticate', ['admin', ADMIN])).result.result;
    const requests = JSON.stringify((await rpc('funcservices.list_requests', [admin, 0])).result);
    expect(requests).to.include('cli-node1').and.to.include(fingerprint);
  });

  const bad: [string, string[], string?][] = [
    ['no subcommand', []],
    ['an unknown subcommand', ['frobnicate']],
    ['user without an action', ['user']],
    ['user add without a name', ['user', 'add'], 'some-password-1\n'],
    ['user add with an invalid name', ['user', 'add', '../etc'], 'some-password-1\n'],
    ['user add with an unknown role', ['user', 'add', 'cli-bob', '--role', 'NoSuchRole'], 'some-password-1\n'],
    ['user passwd of an unknown user', ['user', 'passwd', 'cli-nobody'], 'some-password-1\n'],
    ['node request without an address', ['node', 'request', 'cli-node2']],
    ['node request with a bad port', ['node', 'request', 'cli-node2', '127.0.0.1', '--port', '70000']],
  ];
  for (const [what, args, input] of bad) {
    it(`exits non-zero on ${what}, changing nothing`, async () => {
      const r = await oms(args, input);
      expect(r.code, r.stdout + r.stderr).to.be.a('number').and.not.equal(0);
      expect(r.stderr, 'no stack trace').to.not.match(/^\s+at /m);
    });
  }

  it('the failed commands above added no user and no node', async () => {
    const users = (await ok(['user', 'list'])).stdout;
    expect(users).to.not.match(/cli-bob|\.\.\/etc/);
    expect((await ok(['node', 'list'])).stdout).to.not.include('cli-node2');
  });
});
