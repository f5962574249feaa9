import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { describeCommand, killGroupArgv, quote, raw, shellLine, supervisedLine, takePgidReport, type Argv } from './command.ts';

/** Runs a line the way a node's shell would, locally. */
function sh(shell: string, line: string): { stdout: Buffer; stderr: string; status: number | null } {
  const r = spawnSync(shell, ['-c', line], { encoding: 'buffer' });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr.toString('utf8'), status: r.status };
}

/** argv as received by a program: `printf '%s\0' ARGS...` prints each argument NUL-terminated. */
function receivedArgs(shell: string, args: readonly string[]): string[] {
  const r = sh(shell, shellLine(['printf', '%s\\0', ...args]));
  expect(r.status, r.stderr).to.equal(0);
  const parts = r.stdout.toString('utf8').split('\0');
  expect(parts.pop()).to.equal('');
  return parts;
}

describe('nodes/command', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'oms-command-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const hostile = (): string[] => [
    '; rm -rf /',
    `$(touch ${join(dir, 'pwned-dollar')})`,
    `\`touch ${join(dir, 'pwned-backtick')}\``,
    "it's",
    "'",
    "''",
    '"double" quotes',
    '\\',
    '\\$HOME',
    'a\nb',
    '\n',
    '\r\t\x01\x7f',
    '-rf',
    '--help',
    '-',
    '',
    ' ',
    'a b  c',
    '*',
    '?',
    '[a]',
    '~',
    '~root',
    '{a,b}',
    '!',
    '#not a comment',
    '& | > < && || ;;',
    '$HOME ${HOME} $$ $0 $@',
    'A=b',
    'if',
    'done',
    '%1',
    'ünïcødé ✓ 日本語 🦀',
    '\u202etxt.exe',
    'x'.repeat(10_000),
    "end with quote'",
  ];

  describe('quote', () => {
    const golden: Array<[string, string]> = [
      ['virsh', 'virsh'],
      ['qemu:///system', 'qemu:///system'],
      ['--all', '--all'],
      ['-rf', '-rf'],
      ['vm-01.example_2+x@y,z%', 'vm-01.example_2+x@y,z%'],
      ['', "''"],
      ['a b', "'a b'"],
      ["it's", "'it'\\''s'"],
      ["'", "''\\'''"],
      ['$(x)', "'$(x)'"],
      ['`id`', "'`id`'"],
      ['; rm -rf /', "'; rm -rf /'"],
      ['a\nb', "'a\nb'"],
      ['A=b', "'A=b'"],
      ['if', "'if'"],
      ['~', "'~'"],
      ['*', "'*'"],
      ['ü', "'ü'"],
    ];
    for (const [input, want] of golden) {
      it(`quotes ${JSON.stringify(input)} as ${want}`, () => expect(quote(input)).to.equal(want));
    }

    it('refuses NUL bytes', () => {
      expect(() => quote('a\0b')).to.throw(/NUL/);
    });

    it('refuses non-strings at run time', () => {
      expect(() => quote(42 as unknown as string)).to.throw(TypeError);
    });
  });

  describe('shellLine goldens', () => {
    it('joins a plain command', () => {
      expect(shellLine(['virsh', '-c', 'qemu:///system', 'list', '--all'])).to.equal('virsh -c qemu:///system list --all');
    });

    it('quotes caller data', () => {
      expect(shellLine(['virsh', 'start', "vm'; reboot #"])).to.equal("virsh start 'vm'\\''; reboot #'");
    });

    it('builds a pipeline under pipefail', () => {
      expect(shellLine({ pipeline: [['lvs', '--reportformat', 'json'], ['grep', '-v', 'x y']] })).to.equal(
        "set -o pipefail; lvs --reportformat json | grep -v 'x y'",
      );
    });

    it('passes marked raw pieces unquoted', () => {
      expect(shellLine(['virsh', 'list', raw('2>/dev/null')])).to.equal('virsh list 2>/dev/null');
    });

    it('adds cwd and env, quoted', () => {
      expect(shellLine(['ls'], { cwd: '/var/lib/x y', env: { LANG: 'C', X: "a'b" } })).to.equal("cd -- '/var/lib/x y' && export LANG=C X='a'\\''b' && ls");
      expect(shellLine({ pipeline: [['a'], ['b']] }, { cwd: '/tmp' })).to.equal('set -o pipefail; cd -- /tmp && a | b');
    });

    it('refuses what it cannot express literally', () => {
      expect(() => shellLine([])).to.throw(/program/);
      expect(() => shellLine({ pipeline: [] })).to.throw(/pipeline/);
      expect(() => shellLine({ pipeline: [['a'], []] })).to.throw(/program/);
      expect(() => shellLine(['echo', 'a\0b'])).to.throw(/NUL/);
      expect(() => shellLine(['ls'], { env: { 'A B': 'x' } })).to.throw(/environment/);
      expect(() => shellLine(['ls'], { env: { '1A': 'x' } })).to.throw(/environment/);
      expect(() => shellLine(['ls'], { cwd: '' })).to.throw(/cwd/);
      expect(() => shellLine([raw('2>/dev/null'), 'x'])).to.throw(/program name/);
      expect(() => shellLine(['echo', 7 as unknown as string])).to.throw(TypeError);
    });

    it('only takes string literals for raw()', () => {
      const fromCaller: string = 'x; reboot';
      // @ts-expect-error a `string` (not a literal) is refused at compile time
      raw(fromCaller);
      expect(() => raw('a\nb' as 'a')).to.throw(/one non-empty line/);
      expect(() => raw('' as 'a')).to.throw(/one non-empty line/);
    });

    it('describes commands by program names only', () => {
      expect(describeCommand(['virsh', 'secret-value'])).to.equal('virsh');
      expect(describeCommand({ pipeline: [['lvs', 'x'], ['grep', 'y']] })).to.equal('lvs | grep');
    });
  });

  for (const shell of ['/bin/sh', '/bin/bash']) {
    describe(`lines run by ${shell}`, () => {
      it('deliver every hostile argument as one literal argv element', () => {
        const args = hostile();
        expect(receivedArgs(shell, args)).to.deep.equal(args);
        expect(existsSync(join(dir, 'pwned-dollar'))).to.equal(false);
        expect(existsSync(join(dir, 'pwned-backtick'))).to.equal(false);
      });

      it('deliver each hostile argument alone, too', () => {
        for (const a of hostile()) expect(receivedArgs(shell, [a]), JSON.stringify(a)).to.deep.equal([a]);
      });

      it('apply cwd and env literally', () => {
        const weird = join(dir, "we'ird $(dir)");
        spawnSync('mkdir', ['-p', weird]);
        const value = "a'b $(touch x) `y` \n z";
        const r = sh(shell, shellLine(['sh', '-c', 'printf "%s|%s" "$PWD" "$X"'], { cwd: weird, env: { X: value } }));
        expect(r.stdout.toString('utf8')).to.equal(`${weird}|${value}`);
      });

      it('do not run the command when cwd cannot be entered', () => {
        const marker = join(dir, `not-run-${shell.replaceAll('/', '_')}`);
        const r = sh(shell, shellLine(['touch', marker], { cwd: join(dir, 'missing') }));
        expect(r.status).to.not.equal(0);
        expect(existsSync(marker)).to.equal(false);
      });

      it('keep raw redirections working', () => {
        const r = sh(shell, shellLine(['ls', join(dir, 'does-not-exist'), raw('2>/dev/null')]));
        expect(r.status).to.not.equal(0);
        expect(r.stderr).to.equal('');
      });

      it('report the process group first on stderr, then run the command', () => {
        const r = sh(shell, supervisedLine(shellLine(['sh', '-c', 'echo out; echo err >&2'])));
        const { pgid, rest } = takePgidReport(r.stderr);
        expect(pgid).to.be.a('number').greaterThan(1);
        expect(rest).to.equal('err\n');
        expect(r.stdout.toString()).to.equal('out\n');
      });
    });
  }

  describe('pipelines', () => {
    it('fail when an early stage fails (bash, the login shell of nodes)', () => {
      expect(sh('/bin/bash', shellLine({ pipeline: [['false'], ['cat']] })).status).to.equal(1);
      expect(sh('/bin/bash', shellLine({ pipeline: [['printf', 'a\\nb\\n'], ['grep', 'b']] })).stdout.toString()).to.equal('b\n');
    });

    it('refuse to run at all under a shell without pipefail (dash) rather than run unchecked', () => {
      const marker = join(dir, 'dash-pipeline');
      const r = sh('/bin/dash', shellLine({ pipeline: [['touch', marker], ['cat']] }));
      expect(r.status).to.not.equal(0);
      expect(existsSync(marker)).to.equal(false);
    });
  });

  describe('process-group report', () => {
    it('is found after unrelated leading stderr and removed', () => {
      expect(takePgidReport('oms-pgid:123\nboom\n')).to.deep.equal({ pgid: 123, rest: 'boom\n' });
      expect(takePgidReport('warning: x\noms-pgid:77\nboom')).to.deep.equal({ pgid: 77, rest: 'warning: x\nboom' });
      expect(takePgidReport('oms-pgid:12')).to.deep.equal({ pgid: undefined, rest: 'oms-pgid:12' });
      expect(takePgidReport('no report')).to.deep.equal({ pgid: undefined, rest: 'no report' });
    });

    it('builds a group kill as argv', () => {
      const argv: Argv = killGroupArgv(4242, 'TERM');
      expect(shellLine(argv)).to.equal('kill -s TERM -- -4242');
      expect(() => killGroupArgv(1, 'KILL')).to.throw();
      expect(() => killGroupArgv(0.5, 'KILL')).to.throw();
    });
  });
});

describe('nodes/command supervised lines', () => {
  it('a plain command replaces the shell: the reported process group is the command itself', async () => {
    const { execFile } = await import('node:child_process');
    const { supervisedLine, isPlainCommand, shellLine, takePgidReport } = await import('./command.ts');
    const cmd = ['sh', '-c', 'echo $$'] as const;
    expect(isPlainCommand(cmd)).to.equal(true);
    expect(isPlainCommand({ pipeline: [['a'], ['b']] })).to.equal(false);
    const out = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile('bash', ['-c', supervisedLine(shellLine(cmd), true)], (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr }))),
    );
    expect(takePgidReport(out.stderr).pgid).to.equal(Number(out.stdout.trim()));
  });
});
