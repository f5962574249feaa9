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
  it('zsh: a compdef function listing methods with their summaries, loadable by zsh when present', () => {
    const zsh = completionScript('zsh');
    expect(zsh).to.match(/^#compdef oms/).and.include("'kvmservices.start_vm:Starts a guest").and.include('compdef _oms oms');
    expect(zsh).to.not.match(/local path=|local -a words/);
    const has = spawnSync('zsh', ['-c', 'true']);
    if (has.error) return;
    const r = spawnSync('zsh', ['-n'], { input: zsh, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
  });
});
