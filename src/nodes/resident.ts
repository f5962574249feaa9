/**
 * A resident command: one long-running program on a node (`virsh` in shell mode) that takes
 * requests on stdin and answers on stdout, so hot read-only calls skip the program's start-up and
 * connect each time (virsh: ~7 ms per process, ~0.1 ms per command in a running one).
 *
 * Requests go one at a time. Each is followed by a line that makes the program print a random
 * marker; the answer is what the program printed before it. The program's stderr is merged into
 * stdout by a fixed wrapper, so an error message arrives in order, inside its request's answer.
 * A request line has no quoting at all: requests are argv of plain words (command.ts plainLine),
 * and anything else is refused before a byte is written. Callers send fixed commands; the one
 * exception is a guest name checked by the VM name schema (src/rpc/fields.ts), whose characters
 * are all plain words (the console virsh, src/consoles/commands.ts).
 *
 * A request that outlives its budget stops the program (the next request starts a new one); the
 * program also ends after `idleMs` without requests, and whenever its connection goes.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { oms } from '../rpc/errors.ts';
import { plainLine, type Argv } from './command.ts';
import type { ExecResult } from './types.ts';

export interface ResidentSpec {
  /** Identity on the node: one resident per key (e.g. the program and its libvirt URI). */
  readonly key: string;
  /** The program, run through the quoting executor like any command. */
  readonly argv: Argv;
  /** The request that makes the program print `marker` alone, e.g. ['echo', marker]. */
  readonly echo: (marker: string) => readonly string[];
  /** The program ends after this long without requests. */
  readonly idleMs: number;
}

/** Starts the program with stdin and stdout wired to these streams; settles when it ends. */
export type StartResident = (argv: Argv, stdin: PassThrough, stdout: Writable, stop: AbortSignal) => Promise<ExecResult>;

/** stderr into stdout (order kept), then the program in place of the shell. */
export const residentArgv = (argv: Argv): Argv => ['sh', '-c', 'exec 2>&1; exec "$@"', 'oms-resident', ...argv];

/**
 * A long-lived reporting program (follow()): stderr into stdout, and the program ends when the
 * gateway's side goes away. A program that only writes when something happens (an event reader
 * on a quiet node) would otherwise outlive a dropped connection, orphaned, until it next writes:
 * sshd sends no signal to a session without a terminal. So the channel's stdin stays open while
 * the gateway follows, and a watcher beside the program stops it at EOF; when the program ends by
 * itself the script exits with its status. The watcher writes nothing, so the channel closes as
 * soon as the script has exited.
 */
export const followArgv = (argv: Argv): Argv => [
  'sh',
  '-c',
  // fd 3: the channel's stdin, which a background job of a non-interactive shell would not get.
  'exec 2>&1 3<&0; "$@" </dev/null 3<&- & p=$!; { cat <&3 >/dev/null; kill -TERM "$p"; } >/dev/null 2>&1 & w=$!; exec 3<&-; wait "$p"; rc=$?; kill "$w" 2>/dev/null; exit "$rc"',
  'oms-follow',
  ...argv,
];

/** A request as the program's reader takes it (plain words only; see plainLine). */
export const requestLine = plainLine;

/**
 * The answer to `line` in `text`, once the marker has been printed: undefined until then. The
 * marker is looked for where the program printed it, not where an echo of the request line shows
 * it (programs reading stdin through readline echo the line after their prompt).
 */
export function takeAnswer(text: string, line: string, echoLine: string, marker: string): { answer: string; rest: string } | undefined {
  for (let i = text.indexOf(marker); i >= 0; i = text.indexOf(marker, i + 1)) {
    if (text.slice(0, i).endsWith(`${echoLine.slice(0, -marker.length)}`)) continue; // the echoed request
    const lines = text.slice(0, i).split('\n');
    const kept = lines.filter((l, n) => !(n === 0 && l.endsWith(line)) && !l.endsWith(echoLine));
    // The marker's own line end, where the program prints one (a prompt follows it otherwise).
    return { answer: kept.join('\n'), rest: text.slice(i + marker.length).replace(/^\r?\n/, '') };
  }
  return undefined;
}

export class Resident {
  #stdin: PassThrough | undefined;
  #stop: AbortController | undefined;
  #text = '';
  /** Notified on every chunk of output and when the program ends. */
  #wake: (() => void) | undefined;
  #ended: unknown;
  #queue: Promise<unknown> = Promise.resolve();
  #idle: NodeJS.Timeout | undefined;

  constructor(
    readonly spec: ResidentSpec,
    private readonly node: string,
    private readonly start: StartResident,
  ) {}

  /**
   * One request; requests wait for the ones before them, and `timeoutMs` counts from `since`
   * (performance.now(); default now), waits included, so a caller queued behind a stuck request
   * still gets its answer or its timeout within its own budget. Rejects with the program's failure.
   */
  request(words: readonly string[], timeoutMs: number, since = performance.now()): Promise<string> {
    const line = requestLine(words); // refused here, before the queue
    const due = since + timeoutMs;
    return new Promise<string>((resolve, reject) => {
      // While queued: given up at the deadline, and then never sent. Once sent, #send's timer
      // takes over (it also stops the program, which a request still waiting must not do).
      let gaveUp = false;
      const waiting = setTimeout(() => {
        gaveUp = true;
        reject(oms('FuncMethodTimeoutError', { node: this.node, seconds: timeoutMs / 1000 }));
      }, Math.max(0, due - performance.now()));
      const run = this.#queue.then(() => {
        if (gaveUp) return undefined;
        clearTimeout(waiting);
        return this.#send(line, due, timeoutMs).then(resolve, reject);
      });
      this.#queue = run.catch(() => undefined);
    });
  }

  /** Ends the program (gateway shutdown, node dropped). */
  close(): void {
    this.#retire(oms('NodeUnreachableError', { node: this.node, reason: 'connection closed by the gateway' }));
  }

  /**
   * Lets go of the running program at once, so the next request starts a new one rather than
   * writing to one on its way out; with a reason it is stopped (a waiting request fails with
   * it), without one its stdin is closed.
   */
  #retire(reason?: unknown): void {
    const stdin = this.#stdin;
    const stop = this.#stop;
    this.#detach(reason);
    if (reason === undefined) stdin?.end(); // EOF: the program exits by itself
    else stop?.abort(reason);
  }

  /** Forgets the running program; a request waiting on it fails with `why`. */
  #detach(why: unknown): void {
    this.#stdin = undefined;
    this.#stop = undefined;
    clearTimeout(this.#idle);
    this.#ended = why;
    this.#wake?.();
  }

  #ensure(): void {
    if (this.#stdin) return;
    const stdin = new PassThrough();
    const stop = new AbortController();
    this.#stdin = stdin;
    this.#stop = stop;
    this.#text = '';
    this.#ended = undefined;
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (this.#stdin === stdin) {
          this.#text += chunk.toString('utf8');
          this.#wake?.();
        }
        cb();
      },
    });
    sink.on('error', () => undefined); // the ending is reported through the exec's promise
    const ended = (why: unknown): void => {
      if (this.#stdin === stdin) this.#detach(why);
    };
    this.start(residentArgv(this.spec.argv), stdin, sink, stop.signal).then(
      (r) => ended(oms('FuncManError', { reason: `the resident command on ${this.node} ended (exit ${r.code})` })),
      (e) => ended(e),
    );
  }

  async #send(line: string, due: number, timeoutMs: number): Promise<string> {
    const left = Math.max(1, due - performance.now());
    clearTimeout(this.#idle);
    this.#ensure();
    const stdin = this.#stdin!;
    const marker = `OMS-END-${randomBytes(8).toString('hex')}`;
    const echoLine = requestLine(this.spec.echo(marker));
    stdin.write(`${line}\n${echoLine}\n`);
    try {
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          const e = oms('FuncMethodTimeoutError', { node: this.node, seconds: timeoutMs / 1000 });
          if (this.#stdin === stdin) this.#retire(e);
          reject(e);
        }, left);
        this.#wake = () => {
          const got = takeAnswer(this.#text, line, echoLine, marker);
          if (got) {
            this.#text = got.rest;
            clearTimeout(timer);
            resolve(got.answer);
          } else if (this.#stdin !== stdin) {
            clearTimeout(timer);
            reject(this.#ended);
          }
        };
        this.#wake();
      });
    } finally {
      this.#wake = undefined;
      if (this.#stdin === stdin) this.#idle = setTimeout(() => this.#stdin === stdin && this.#retire(), this.spec.idleMs);
    }
  }
}
