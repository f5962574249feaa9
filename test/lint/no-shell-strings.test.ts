/**
 * Lint: no remote command is built from a template string or concatenation anywhere in services/
 * or src/ (tests and src/nodes/command.ts, the one quoting helper, excepted). See shell-strings.ts
 * for what counts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { findShellStrings, runsCommand, type Finding } from './shell-strings.ts';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const EXEMPT = new Set(['src/nodes/command.ts']);

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(?:[cm]?ts|[cm]?js)$/.test(name) && !/\.test\.[cm]?[jt]s$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const BAD = `
import { pool } from './somewhere.ts';
export async function start(node, name: string, dir: string, size: number) {
  await pool.exec(node, \`virsh start \${name}\`);
  await pool.exec(node, 'virsh list --all');
  const line = 'rm -rf ' + dir;
  const other = \`cd \${dir} && tar -czf x.tgz .\`;
  const lv = "lvcreate -L " + size + "M -n " + name + " vg0";
  const joined = ['virsh', 'destroy', name].join(' ');
  await ctx.node(node).exec(['sh', '-c', \`qemu-img create \${name}\`]);
  const ssh = \`ssh root@\${node} uptime\`;
  const route = 'sudo ip route add ' + name;
  return [line, other, lv, joined, ssh, route];
}
`;

const GOOD = `
import { pool } from './somewhere.ts';
export async function ok(node, name: string, file: string, key: string) {
  await pool.exec(node, ['virsh', 'start', name]);
  await pool.exec(node, { pipeline: [['lvs', '--reportformat', 'json'], ['grep', name]] });
  await pool.exec(node, ['sh', '-c', 'grep -vF -- "$2" "$1" > "$1.tmp" && mv -f -- "$1.tmp" "$1"', 'oms', file, key]);
  const m = /^(\\d+)$/.exec(\`\${name}\`);
  const LINE_RE = /x/;
  LINE_RE.exec('abc');
  db.exec('CREATE TABLE t (x)');
  const msg = \`Unknown virsh domain \${name} on \${node}\`;
  const msg2 = \`bridge \${name} is in use\`;
  const msg3 = 'The cat ' + name + ' sat on the mat';
  const path = \`/var/lib/libvirt/images/\${file}\`;
  const total = 1 + 2;
  return [m, msg, msg2, msg3, path, total];
}
`;

describe('lint: no shell strings outside src/nodes/command.ts', () => {
  it('finds none in services/ and src/', () => {
    const findings: Finding[] = [];
    for (const file of [...sourceFiles(join(root, 'services')), ...sourceFiles(join(root, 'src'))]) {
      const rel = relative(root, file);
      if (EXEMPT.has(rel)) continue;
      findings.push(...findShellStrings(readFileSync(file, 'utf8'), rel));
    }
    const report = findings.map((f) => `${f.file}:${f.line} [${f.rule}] ${f.text}`).join('\n');
    expect(findings, `remote commands must be argv arrays (src/nodes/command.ts):\n${report}`).to.deep.equal([]);
  });

  it('catches every kind of shell string in a bad sample', () => {
    const found = findShellStrings(BAD, 'services/bad/index.ts').map((f) => `${f.line}:${f.rule}`);
    expect(found).to.deep.equal([
      '4:exec-string',
      '4:template',
      '5:exec-string',
      '6:concat',
      '7:template',
      '8:concat',
      '9:join',
      '10:template',
      '11:template',
      '12:concat',
    ]);
  });

  it('leaves argv, fixed scripts, regex/SQL exec and ordinary messages alone', () => {
    expect(findShellStrings(GOOD, 'services/good/index.ts')).to.deep.equal([]);
  });

  it('reads command position, not mere mentions', () => {
    expect(runsCommand('virsh start ·')).to.equal(true);
    expect(runsCommand('x; rm -rf ·')).to.equal(true);
    expect(runsCommand('$(cat ·)')).to.equal(true);
    expect(runsCommand('nohup timeout 5 dd if=·')).to.equal(true);
    expect(runsCommand('· | grep ·')).to.equal(true);
    expect(runsCommand('ip -j route show')).to.equal(true);
    expect(runsCommand('could not rm the file ·')).to.equal(false);
    expect(runsCommand('ls-like listing of ·')).to.equal(false);
    expect(runsCommand('Catalogue ·')).to.equal(false);
  });
});
