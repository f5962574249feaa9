/**
 * Running the `oms` command as a user does: through pipes (scripts: stdout, stderr, exit code),
 * or on a real terminal (a pty made by util-linux `script`, as node-pty would need a compiler) for
 * what only happens on a TTY: prompts without echo, confirmations, progress bars redrawn in place.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
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

/** Quoted for `script -c`, which hands its command to a shell: every word in single quotes. */
const shellWord = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;

export interface PtySession {
  /** Everything the terminal showed so far (stdout and stderr both, as on a screen). */
  readonly screen: () => string;
  /** Resolves when the screen shows `re` (after `from`, a screen length), rejects after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<void>;
  /** Types text (a line needs its own "\r"). */
  type(text: string): void;
  /** Resolves with the exit code of oms (script -e passes it on). */
  exited: Promise<number | null>;
  child: ChildProcessWithoutNullStreams;
}

/** `oms ARGS` on a pseudo-terminal: stdin, stdout and stderr are all that terminal. */
export function omsPty(args: string[], env: NodeJS.ProcessEnv): PtySession {
  const line = argv(args).map(shellWord).join(' ');
  const child = spawn('script', ['-q', '-e', '-f', '-c', line, '/dev/null'], { cwd: repoRoot, env: { ...env, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  const waiters: (() => void)[] = [];
  const seen = (d: Buffer) => {
    screen += d.toString('utf8');
    for (const w of [...waiters]) w();
  };
  child.stdout.on('data', seen);
  child.stderr.on('data', seen);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    screen: () => screen,
    child,
    exited,
    type: (text) => void child.stdin.write(text),
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
