/**
 * Exit codes of the remote `oms` commands, for scripts to test, and the one plain line printed
 * for a failure (never a stack trace, never a token). Documented in README's CLI section.
 */
import { isConnectionError, isOmsError } from '../../../clients/typescript/src/errors.ts';

export const EXIT = {
  ok: 0,
  /** The gateway refused the call for a reason not listed below (the OMS error name is printed). */
  failed: 1,
  /** Wrong command, option, argument count or type: nothing was sent. */
  usage: 2,
  /** Not logged in, token expired or revoked, wrong password, or permission denied. */
  auth: 3,
  /** The node, guest, task, image ... named does not exist. */
  notFound: 4,
  /** Busy (another task holds the guest: TaskConflictError) or already exists. */
  conflict: 5,
  /** No answer in time (the gateway, a node, or a task followed with --timeout). */
  timeout: 6,
  /** The gateway could not be reached or did not speak JSON-RPC. */
  unreachable: 7,
  /** The gateway's certificate is not the one pinned at login (or given with --cacert). */
  certificate: 8,
} as const;

/** An error of the CLI itself (bad input, no profile): its message and exit code, no stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const CONFLICT = /^(TaskConflictError|NodeBusyError|.*ExistsError|.*InUseError|VNCAready.*|SSHAlready.*|ConsoleAlreadyOpenAnotherSessionError)$/;
const NOT_FOUND = /^(Unknown.*|ServiceNotFound|MethodNotFound|ClassNotFound|ConsoleNotOpenError|OpenVZUnknown.*)$/;
const TIMEOUT = /^(FuncMethodTimeoutError|ShutdownTimeoutError|UploadIdleError)$/;

/** What a script sees of a failure: an exit code and one line for stderr. */
export function describeFailure(e: unknown, profile?: string): { code: number; message: string } {
  if (e instanceof CliError) return { code: e.exitCode, message: e.message };
  if (isOmsError(e)) {
    const name = e.omsName;
    if (name === 'AuthError') {
      const login = profile && profile !== 'default' ? `oms login URL --profile ${profile}` : 'oms login URL';
      return { code: EXIT.auth, message: `AuthError: ${e.message}: the stored token was refused (expired or revoked?); log in again with \`${login}\`` };
    }
    if (name === 'PermissionDenied') return { code: EXIT.auth, message: `${name}: ${e.message}` };
    if (name === 'ParameterMismatch') return { code: EXIT.usage, message: `${name}: ${e.message}` };
    if (NOT_FOUND.test(name)) return { code: EXIT.notFound, message: `${name}: ${e.message}` };
    if (CONFLICT.test(name)) return { code: EXIT.conflict, message: `${name}: ${e.message}` };
    if (TIMEOUT.test(name)) return { code: EXIT.timeout, message: `${name}: ${e.message}` };
    return { code: EXIT.failed, message: `${name}: ${e.message}` };
  }
  if (isConnectionError(e)) {
    if (e.reason === 'certificate')
      return { code: EXIT.certificate, message: `certificate mismatch: ${e.message.replace(/ \(give the gateway.*\)$/, '')}. If the gateway's certificate was replaced on purpose, log in again to pin the new one.` };
    if (e.reason === 'timeout') return { code: EXIT.timeout, message: `timeout: ${e.message}` };
    if (e.reason === 'aborted') return { code: EXIT.failed, message: `stopped: ${e.message}` };
    return { code: EXIT.unreachable, message: `gateway unreachable: ${e.message}` };
  }
  const err = e as NodeJS.ErrnoException | undefined;
  if (err?.code === 'ENOENT' || err?.code === 'EACCES' || err?.code === 'EISDIR') return { code: EXIT.failed, message: err.message };
  return { code: EXIT.failed, message: err?.message ?? String(e) };
}
