import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { completionScript } from './completion.ts';

/** What bash completes for a command line, with the generated script loaded. */
function bashCompletes(script: string, line: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'oms-comp-'));
  try {
    writeFileSync(join(dir, 'c.sh'), script);
    const words = line.map((w) => `'${w}'`).join(' ');
    const r = spawnSync('bash', ['-c', `source ${dir}/c.sh; COMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _oms; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    return r.stdout.split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('oms shell completion (remote/completion.ts)', () => {
  const bash = completionScript('bash');
  it('bash: commands, subcommands, options, and every method after `call`, from the declarations', () => {
    expect(bashCompletes(bash, ['oms', ''])).to.include.members(['serve', 'user', 'login', 'call', 'vm', 'events', 'console']);
    expect(bashCompletes(bash, ['oms', 'vm', ''])).to.have.members(['ls', 'start', 'shutdown', 'stop', 'pause', 'resume', 'create']);
    expect(bashCompletes(bash, ['oms', 'vm', 'st'])).to.have.members(['start', 'stop']);
    expect(bashCompletes(bash, ['oms', 'call', 'kvmservices.list_v'])).to.have.members(['kvmservices.list_vms', 'kvmservices.list_vms_status']);
    expect(bashCompletes(bash, ['oms', 'vm', 'start', '--n'])).to.have.members(['--no-wait']);
    expect(bashCompletes(bash, ['oms', 'login', '--'])).to.include.members(['--user', '--token', '--profile', '--cacert', '--fingerprint', '--yes']);
    expect(bashCompletes(bash, ['oms', 'completion', ''])).to.have.members(['bash', 'zsh']);
  });
  it('zsh: a compdef function offering subcommands, options and methods with their summaries (run in zsh, test/run.sh installs it)', function () {
    const zsh = completionScript('zsh');
    expect(zsh).to.match(/^#compdef oms/).and.include("'kvmservices.start_vm:Starts a guest").and.include('compdef _oms oms');
    // zsh's own `path` (PATH) and `words` (the command line) must not be shadowed.
    expect(zsh).to.not.match(/local path=|local -a words/);
    if (spawnSync('zsh', ['-c', 'true']).error) return this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'oms-zsh-'));
    try {
      writeFileSync(join(dir, '_oms'), zsh);
      // compadd and _describe stubbed to print what they are offered.
      const offered = (...line: string[]) => {
        const r = spawnSync('zsh', ['-c', `compdef() { : }; compadd() { print -l -- "$@" }; _describe() { print -l -- "\${(@P)2}" }; _files() { print FILES }; source ${dir}/_oms; words=(${line.map((w) => `'${w}'`).join(' ')}); CURRENT=${line.length}; _oms`], { encoding: 'utf8' });
        expect(r.status, r.stderr).to.equal(0);
        return r.stdout.split('\n').filter((l) => l && l !== '--');
      };
      expect(offered('oms', 'vm', '')).to.have.members(['ls', 'start', 'shutdown', 'stop', 'pause', 'resume', 'create']);
      expect(offered('oms', 'vm', 'start', '--')).to.include.members(['--no-wait', '--wait', '--profile', '--json']);
      expect(offered('oms', 'call', 'kvm')).to.include('kvmservices.start_vm:Starts a guest; 0 (also when it is running already)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
