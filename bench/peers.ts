/**
 * The programs OMS is measured against ("peers"), each from a Debian package. A section that needs
 * one calls ensurePeers first, so `npm run bench` works on a fresh machine: what is missing is
 * installed by bench/peers.sh the way the lab installs its packages. A failed install throws with
 * apt's own words, and the section prints them.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Peer {
  /** The Debian package that provides it. */
  pkg: string;
  /** The command the benchmark runs; present on PATH means installed. */
  command: string;
}

export const peers = {
  websockify: { pkg: 'websockify', command: 'websockify' },
  // ansible-core is enough for `ansible all -m raw` (a builtin module) and far smaller than ansible.
  ansible: { pkg: 'ansible-core', command: 'ansible' },
  parallelSsh: { pkg: 'pssh', command: 'parallel-ssh' },
} as const satisfies Record<string, Peer>;

const PEERS_SH = fileURLToPath(new URL('./peers.sh', import.meta.url));

/** The command's path on PATH, or undefined (what `command -v` answers, without a shell). */
export function onPath(command: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** Runs bench/peers.sh for the packages; rejects with the tail of its stderr on failure. */
export function installPackages(pkgs: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [PEERS_SH, ...pkgs], { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const tail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-15).join('\n');
      reject(new Error(`installing ${pkgs.join(', ')} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}

/**
 * Makes sure every peer's command is there, installing the missing ones' packages in one go;
 * resolves with the packages it installed (for the section to say so).
 */
export async function ensurePeers(list: readonly Peer[], deps: { onPath: (command: string) => string | undefined; install: (pkgs: string[]) => Promise<void> } = { onPath, install: installPackages }): Promise<string[]> {
  const missing = list.filter((p) => !deps.onPath(p.command));
  if (!missing.length) return [];
  const pkgs = [...new Set(missing.map((p) => p.pkg))];
  await deps.install(pkgs);
  const still = missing.filter((p) => !deps.onPath(p.command));
  if (still.length) throw new Error(`installed ${still.map((p) => p.pkg).join(', ')}, yet ${still.map((p) => p.command).join(', ')} is not on PATH`);
  return pkgs;
}

/** ensurePeers for a section: prints what it had to install. */
export async function needPeers(list: readonly Peer[], out: (line: string) => void): Promise<void> {
  const installed = await ensurePeers(list);
  if (installed.length) out(`installed the Debian package(s) ${installed.join(', ')}`);
}
