/**
 * Runs one supervised command line on an open link: collects output up to a cap, maps the exit
 * status, and when the call ends early (timeout, abort, output cap, lost link) stops the remote
 * process group: SIGTERM, then SIGKILL after a grace period if the channel is still open.
 *
 * The promise settles exactly once (guarded by `settled`); the channel slot is released exactly
 * once, when the channel has really closed, so a command that outlives its caller still counts
 * against the node's limit until it is gone.
 */
import { constants as osConstants } from 'node:os';
import { Readable, type Writable } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import type { Logger } from 'pino';
import { oms } from '../rpc/errors.ts';
import { killGroupArgv, shellLine, takePgidReport } from './command.ts';
import type { SshLink } from './connection.ts';
import type { Release } from './limiter.ts';
import { unreachable } from './ssh-errors.ts';
import type { ExecResult } from './types.ts';

export interface RunSpec {
  readonly node: string;
  /** Output of supervisedLine(): reports its process group first. */
  readonly line: string;
  readonly input?: string | Buffer | Readable;
  /** Receives stdout (piped, with backpressure) instead of the result. */
  readonly stdout?: Writable;
  readonly maxOutputBytes: number;
  readonly okExitCodes: readonly number[];
  /** Fires with the error to reject with (timeout or caller abort). */
  readonly signal: AbortSignal;
  /** Gives the channel slot back; called once, when the channel has closed. */
  readonly release: Release;
  readonly killGraceMs: number;
  readonly log: Logger;
}

/** How much of stderr goes into NodeCommandError. */
const STDERR_IN_ERROR = 500;
/** The process-group report is looked for only in this much leading stderr. */
const REPORT_WINDOW = 4096;

const exitCodeOfSignal = (name: string): number => {
  const n = (osConstants.signals as Record<string, number | undefined>)[name];
  return 128 + (n ?? 127);
};

function summarize(stderr: string): string {
  const t = stderr.trim();
  return t.length > STDERR_IN_ERROR ? `${t.slice(0, STDERR_IN_ERROR)}...` : t;
}

/** Sends `kill -s SIG -- -PGID` on its own short-lived channel; failures are logged, not thrown. */
function signalGroup(link: SshLink, node: string, pgid: number, sig: 'TERM' | 'KILL', log: Logger): void {
  if (link.isDown) return; // the session died with the link; nothing left to reach it through
  const onError = (err: unknown): void => log.warn({ node, pgid, signal: sig, error: String(err) }, 'could not signal a stopped command');
  try {
    link.client.exec(shellLine(killGroupArgv(pgid, sig)), (err, ch) => {
      if (err) return onError(err);
      ch.on('error', onError);
      ch.resume();
      ch.stderr.resume();
      ch.end();
    });
  } catch (e) {
    onError(e);
  }
}

export function runCommand(link: SshLink, spec: RunSpec): Promise<ExecResult> {
  const { node, log } = spec;
  return new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    let channel: ClientChannel | undefined;
    let closed = false;
    let stopping = false;
    let pgid: number | undefined;
    let escalation: NodeJS.Timeout | undefined; // SIGKILL after the grace period, or a plain close
    let exitCode: number | undefined;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    let released = false;

    const releaseOnce = (): void => {
      if (released) return;
      released = true;
      spec.release();
    };

    const stopRemote = (): void => {
      // A dead link took the session with it (sshd ends it), and ssh2 closes the channel itself.
      if (!channel || closed || stopping || link.isDown) return;
      const ch = channel;
      if (pgid === undefined) {
        // The report has not arrived yet; the stderr handler calls us again when it does. Should
        // it never come, at least give the channel back after the grace period.
        escalation ??= setTimeout(() => {
          if (!closed) ch.close();
        }, spec.killGraceMs);
        return;
      }
      stopping = true;
      clearTimeout(escalation);
      const group = pgid;
      signalGroup(link, node, group, 'TERM', log);
      ch.close();
      escalation = setTimeout(() => {
        if (!closed) signalGroup(link, node, group, 'KILL', log);
      }, spec.killGraceMs);
    };

    const settle = (err: unknown, result?: ExecResult): void => {
      if (settled) return;
      settled = true;
      unwatch();
      spec.signal.removeEventListener('abort', onAbort);
      if (result) {
        resolve(result);
      } else {
        // If the report has not arrived yet, the stderr handler stops the command when it does.
        stopRemote();
        detachStreams(err);
        reject(err);
      }
    };

    /**
     * A failed call lets go of the caller's streams: input stops feeding the channel, the rest of
     * stdout drains away unread (so the channel can close), and the stdout stream is destroyed
     * with the error, so whoever reads it sees a failure rather than a clean but cut-short end.
     */
    const detachStreams = (err: unknown): void => {
      if (spec.input instanceof Readable && channel) spec.input.unpipe(channel);
      if (spec.stdout) {
        if (channel) {
          channel.unpipe(spec.stdout);
          channel.resume();
        }
        // Heard at least here: a call that failed before its channel opened has no other
        // listener yet, and an unheard 'error' event would bring the whole gateway down.
        spec.stdout.once('error', () => undefined);
        spec.stdout.destroy(err instanceof Error ? err : new Error('the command failed'));
      }
    };

    const onAbort = (): void => settle(spec.signal.reason);
    const unwatch = link.watch((reason) => settle(unreachable(node, reason)));
    if (spec.signal.aborted) {
      settle(spec.signal.reason);
      releaseOnce();
      return;
    }
    spec.signal.addEventListener('abort', onAbort, { once: true });

    const take = (into: Buffer[], chunk: Buffer): void => {
      if (settled) return; // keep draining so the channel can close, but keep nothing
      bytes += chunk.length;
      if (bytes > spec.maxOutputBytes) {
        settle(oms('FuncManError', { reason: `output of a command on ${node} exceeded ${spec.maxOutputBytes} bytes` }));
        return;
      }
      into.push(chunk);
    };

    const finish = (): void => {
      if (settled) return;
      if (exitCode === undefined) {
        settle(link.isDown ? unreachable(node, link.downReason) : oms('FuncManError', { reason: `a command on ${node} ended without an exit status` }));
        return;
      }
      const out = Buffer.concat(stdout).toString('utf8');
      const err = takePgidReport(Buffer.concat(stderr).toString('utf8')).rest;
      if (spec.okExitCodes.includes(exitCode)) {
        spec.stdout?.end();
        settle(undefined, { stdout: out, stderr: err, code: exitCode });
      }
      else settle(oms('NodeCommandError', { node, exitCode, stderr: summarize(err) }));
    };

    const onChannel = (ch: ClientChannel): void => {
      channel = ch;
      // Streams are wired only while the call is live; a channel that opens after the call ended
      // is drained and stopped.
      const sink = settled ? undefined : spec.stdout;
      if (sink) {
        // Piped, so a slow reader slows the command rather than filling memory. Ended only once
        // the command has succeeded (finish), so a reader never takes cut-short output for all.
        ch.pipe(sink, { end: false });
        sink.on('error', (err: Error) => settle(oms('FuncManError', { reason: `output of a command on ${node} could not be passed on: ${err.message.slice(0, 120)}` })));
      } else {
        ch.on('data', (chunk: Buffer) => take(stdout, chunk));
      }
      let head = ''; // leading stderr, scanned for the process-group report
      ch.stderr.on('data', (chunk: Buffer) => {
        if (pgid === undefined && head.length < REPORT_WINDOW) {
          head += chunk.toString('latin1'); // the report is ASCII; latin1 never fails on a split character
          pgid = takePgidReport(head).pgid;
          if (pgid !== undefined && settled) stopRemote();
        }
        take(stderr, chunk);
      });
      ch.on('exit', (code: number | null, signalName?: string) => {
        exitCode = code ?? exitCodeOfSignal(signalName ?? '');
      });
      ch.on('error', (err: Error) => {
        settle(link.isDown ? unreachable(node, link.downReason) : oms('FuncManError', { reason: `channel error on ${node}: ${err.message.slice(0, 120)}` }));
      });
      ch.once('close', () => {
        closed = true;
        clearTimeout(escalation);
        releaseOnce();
        finish();
      });
      const input = spec.input;
      if (input instanceof Readable) {
        if (settled) ch.end();
        else {
          input.once('error', (err: Error) => settle(err));
          input.pipe(ch);
        }
      } else if (input !== undefined) ch.end(input);
      else ch.end(); // EOF on stdin, so a command that reads it does not wait forever
      if (settled) stopRemote(); // the call ended while the channel was opening
    };

    try {
      link.client.exec(spec.line, (err, ch) => {
        if (err) {
          releaseOnce();
          settle(link.isDown ? unreachable(node, link.downReason) : oms('FuncManError', { reason: `could not open a channel on ${node}: ${err.message.slice(0, 120)}` }));
          return;
        }
        onChannel(ch);
      });
    } catch (e) {
      // ssh2 throws synchronously when the socket is already gone.
      releaseOnce();
      settle(link.isDown ? unreachable(node, link.downReason) : unreachable(node, e instanceof Error ? e.message.slice(0, 120) : 'not connected'));
    }
  });
}
