/**
 * The `oms` command as an operator runs it (src/cli/oms.js, the package's bin): help on stdout
 * with exit 0 and nothing done; usage errors on stderr with exit 2; a failing command one `oms:`
 * line with exit 1; never a stack trace.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/process.ts';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function oms(dataDir: string, ...args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [join(repoRoot, 'src/cli/oms.js'), ...args],
      { cwd: repoRoot, env: { ...process.env, OMS_DATA_DIR: dataDir, OMS_ADMIN_PASSWORD: 'cli-usage-admin-pw', OMS_LOG_LEVEL: 'warn' }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

const STACK = /^\s+at /m;

describe('oms command line (the real command)', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oms-cli-usage-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('--help lists the subcommands on stdout, exits 0 and touches no database', async () => {
    const top = await oms(dir, '--help');
    expect(top.code).to.equal(0);
    for (const c of ['serve', 'migrate', 'user', 'node']) expect(top.stdout).to.match(new RegExp(`^  ${c} `, 'm'));
    expect(top.stderr).to.equal('');
    const add = await oms(dir, 'user', 'add', '--help');
    expect(add.code).to.equal(0);
    expect(add.stdout).to.include('Usage: oms user add [options] <name>').and.include('--role <role>');
    const request = await oms(dir, 'node', 'request', '--help');
    expect(request.stdout).to.include('--authorized-keys-file <file>');
    expect(existsSync(join(dir, 'oms.db')), 'help ran a command').to.equal(false);
  });

  it('an unknown subcommand or option: the usage on stderr, exit 2, no stack trace, nothing done', async () => {
    for (const args of [['frob'], ['user', 'list', '--foo'], ['user', 'add']]) {
      const r = await oms(dir, ...args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr).to.match(/^error: /).and.include('Usage: oms');
      expect(r.stderr).to.not.match(STACK);
      expect(r.stdout).to.equal('');
    }
    expect(existsSync(join(dir, 'oms.db'))).to.equal(false);
  });

  it('a command that fails: one oms: line on stderr, exit 1, no stack trace', async () => {
    const r = await oms(dir, 'user', 'passwd', 'nosuchuser');
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/^oms: /).and.include('nosuchuser');
    expect(r.stderr).to.not.match(STACK);
  });
});
