/**
 * Running the `oms` command as a user does: through pipes (scripts: stdout, stderr, exit code),
 * or on a real terminal (a pseudo-terminal from @lydell/node-pty, node-pty with prebuilt
 * binaries, so nothing is compiled at install) for what only happens on a TTY: prompts without
 * echo, confirmations, progress bars redrawn in place, the raw-mode console.
 */
import { spawn } from 'node:child_process';
import * as pty from '@lydell/node-pty';
import { join } from 'node:path';
import { repoRoot } from './process.ts';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const argv = (args: string[]) => [process.execPath, '--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args];

/** `oms ARGS` with pipes; `input` is written to its standard input, which is then closed. */
export function omsPiped(args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const [cmd, ...rest] = argv(args);
    const child = spawn(cmd!, rest, { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

export interface PtySession {
  /** Everything the terminal showed so far (stdout and stderr both, as on a screen). */
  readonly screen: () => string;
  /** Resolves when the screen shows `re` (after `from`, a screen length), rejects after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<void>;
  /** Types text (a line needs its own "\r"). */
  type(text: string): void;
  /** Resolves with the exit code of oms. */
  exited: Promise<number | null>;
  kill(): void;
}

/** `oms ARGS` on a pseudo-terminal (80x24): stdin, stdout and stderr are all that terminal. */
export function omsPty(args: string[], env: NodeJS.ProcessEnv): PtySession {
  const [cmd, ...rest] = argv(args);
  const term = pty.spawn(cmd!, rest, { cwd: repoRoot, env: { ...env, TERM: 'xterm' } as Record<string, string>, cols: 80, rows: 24, name: 'xterm' });
  let screen = '';
  const waiters: (() => void)[] = [];
  term.onData((d) => {
    screen += d;
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<number | null>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  return {
    screen: () => screen,
    exited,
    kill: () => term.kill(),
    type: (text) => term.write(text),
    waitFor(re, timeoutMs = 60_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(screen.slice(from))) {
            waiters.splice(waiters.indexOf(check), 1);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`the terminal did not show ${re} within ${timeoutMs} ms; it shows:\n${screen.slice(from)}`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
  };
}
