/**
 * The one way a remote command becomes a shell line.
 *
 * OpenSSH hands a command string to the node's login shell, so every command OMS runs passes
 * through a shell whether we like it or not. This module is the only place allowed to build that
 * string: callers give argument vectors (or a list of them for a pipeline) and every element is
 * quoted here, so caller data can only ever arrive as one literal argv element. Shell syntax that
 * must stay unquoted (a redirection such as `2>/dev/null`) has to be marked with `raw()`, which
 * only accepts a string literal known at compile time.
 *
 * Pure: no I/O, no state.
 */

/** Deliberately unquoted shell text. Built only by `raw()`; the token keeps others from forging one. */
const rawToken: unique symbol = Symbol('raw shell text');

export class RawShell {
  readonly text: string;
  constructor(token: typeof rawToken, text: string) {
    if (token !== rawToken) throw new Error('RawShell must be created with raw()');
    this.text = text;
  }
}

/**
 * Marks a piece of shell syntax to be passed through unquoted, e.g. `raw('2>/dev/null')`.
 * The type only admits a string literal: `raw(someVariable)` with a `string` fails to compile,
 * so caller data cannot reach this path by accident. At run time one line of plain text only.
 */
export function raw<T extends string>(text: string extends T ? never : T): RawShell {
  const s = text as string;
  if (typeof s !== 'string' || s.length === 0 || /[\0\n\r]/.test(s)) {
    throw new Error('raw() takes one non-empty line of shell text');
  }
  return new RawShell(rawToken, s);
}

export type Arg = string | RawShell;
/** One command: program and arguments, exactly as the program should receive them. */
export type Argv = readonly Arg[];
/** Commands joined with ` | `, run under `set -o pipefail` so a failing stage fails the line. */
export interface Pipeline {
  readonly pipeline: readonly Argv[];
}
export type Command = Argv | Pipeline;

export interface ShellLineOptions {
  /** Exported before the command runs; names are checked, values quoted. */
  readonly env?: Readonly<Record<string, string>>;
  /** Directory to run in; the command does not run if it cannot be entered. */
  readonly cwd?: string;
}

/*
 * Words made only of these characters mean the same thing quoted or not, so they stay bare and
 * the logged line stays readable. '=' is left out (a bare `A=b` in command position would be an
 * assignment), as are glob, tilde, brace, quote, comment and expansion characters.
 */
const SAFE_WORD = /^[A-Za-z0-9_@%+:,./-]+$/;

/** Reserved words are only special when unquoted; quoting them keeps them literal. */
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'case', 'esac', 'while', 'until', 'for', 'in', 'function', 'select', 'time', 'coproc']);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * POSIX single-quote quoting: inside '...' nothing is special except the closing quote, which is
 * written as '\'' (close, escaped quote, reopen). A NUL byte cannot be part of any argv element,
 * and a shell would silently cut the string there, so it is refused rather than mangled.
 */
export function quote(arg: string): string {
  if (typeof arg !== 'string') throw new TypeError(`argv elements must be strings, got ${typeof arg}`);
  if (arg.includes('\0')) throw new Error('argv element contains a NUL byte');
  if (SAFE_WORD.test(arg) && !RESERVED.has(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

export const isPipeline = (cmd: Command): cmd is Pipeline =>
  !Array.isArray(cmd) && typeof cmd === 'object' && cmd !== null && 'pipeline' in cmd;

function commandText(argv: Argv): string {
  if (!Array.isArray(argv) || argv.length === 0) throw new Error('a command needs at least a program name');
  if (argv[0] instanceof RawShell) throw new Error('the program name must be a plain argument, not raw()');
  return argv.map((a) => (a instanceof RawShell ? a.text : quote(a))).join(' ');
}

/** The shell line for a command or pipeline; throws on anything that cannot be expressed literally. */
export function shellLine(cmd: Command, opts: ShellLineOptions = {}): string {
  const parts: string[] = [];
  let body: string;
  if (isPipeline(cmd)) {
    if (!Array.isArray(cmd.pipeline) || cmd.pipeline.length === 0) throw new Error('a pipeline needs at least one command');
    parts.push('set -o pipefail;');
    body = cmd.pipeline.map(commandText).join(' | ');
  } else {
    body = commandText(cmd);
  }

  // `&&` binds looser than `|`, so `cd x && export A && a | b` runs the whole pipeline only
  // after both succeeded, and the line's status is the first failure's.
  const prefix: string[] = [];
  if (opts.cwd !== undefined) {
    if (opts.cwd === '') throw new Error('cwd must not be empty');
    prefix.push(`cd -- ${quote(opts.cwd)}`);
  }
  const env = Object.entries(opts.env ?? {});
  if (env.length > 0) {
    for (const [name] of env) if (!ENV_NAME.test(name)) throw new Error(`not a valid environment variable name: ${JSON.stringify(name)}`);
    prefix.push(`export ${env.map(([name, value]) => `${name}=${quote(value)}`).join(' ')}`);
  }
  parts.push([...prefix, body].join(' && '));
  return parts.join(' ');
}

/** Program names only (e.g. `lvs | grep`), for logs: arguments may hold data that should not be logged. */
export function describeCommand(cmd: Command): string {
  const first = (argv: Argv): string => {
    const a = argv[0];
    return typeof a === 'string' ? a : '?';
  };
  return isPipeline(cmd) ? cmd.pipeline.map(first).join(' | ') : first(cmd);
}

/*
 * Stopping a command that ran too long. OpenSSH refuses `signal` channel requests for root
 * sessions (root logins run without privilege separation, and sshd only signals through it), and
 * closing the channel leaves a command that does not read or write running. So every command line
 * first reports its shell's pid on stderr; sshd started that shell with setsid(), making it the
 * leader of the command's process group, so `kill -- -PGID` over a second channel reaches the
 * command and everything it forked. The report is removed from stderr before callers see it.
 */
const PGID_REPORT = /(?:^|\n)oms-pgid:(\d{1,10})\n/;

/**
 * `line` preceded by the process-group report; the line the pool actually sends. For a single
 * plain command (`replaceShell`), `exec` makes the shell become the command: one fork less per
 * command, same pid and process group, so the group kill still reaches it.
 */
export const supervisedLine = (line: string, replaceShell = false): string => `echo oms-pgid:$$ >&2; ${replaceShell ? 'exec ' : ''}${line}`;

/**
 * Words a line for a program's own command reader may hold (a resident `virsh` shell, see
 * resident.ts). That reader has quoting rules of its own, so nothing is quoted at all: no spaces,
 * quotes, variables or shell-like syntax. Options are allowed; these lines are fixed commands,
 * never a caller's name.
 */
const PLAIN_WORD = /^[A-Za-z0-9/-][A-Za-z0-9:/._=+-]{0,200}$/;

/** A command line for a program's own reader; refuses any word that would need quoting. */
export function plainLine(words: readonly string[]): string {
  if (words.length === 0 || !words.every((w) => typeof w === 'string' && PLAIN_WORD.test(w))) throw new Error('resident request: only plain words');
  return words.join(' ');
}

/** A single command of plain arguments: safe to run with `exec` (raw pieces might hold `|| x`). */
export const isPlainCommand = (cmd: Command): boolean => !isPipeline(cmd) && cmd.every((a) => typeof a === 'string');

/** Finds and removes the process-group report in (the start of) a command's stderr. */
export function takePgidReport(stderr: string): { pgid: number | undefined; rest: string } {
  const m = PGID_REPORT.exec(stderr);
  if (!m) return { pgid: undefined, rest: stderr };
  const keepNewline = m[0].startsWith('\n') ? '\n' : '';
  return { pgid: Number(m[1]), rest: stderr.slice(0, m.index) + keepNewline + stderr.slice(m.index + m[0].length) };
}

/** argv that signals a reported process group (the shell's `kill` builtin accepts `-s NAME -- -PGID`). */
export function killGroupArgv(pgid: number, signal: 'TERM' | 'KILL'): Argv {
  if (!Number.isInteger(pgid) || pgid < 2) throw new Error('not a process group id');
  return ['kill', '-s', signal, '--', `-${pgid}`];
}
