/**
 * The one error catalogue of OMS.
 *
 * Every error a client can see is declared here once: its OMS name, a stable numeric code, the
 * qooxdoo origin (1 = server/transport error, 2 = application error) and a message template.
 * The wire adapters map an OmsError to qooxdoo `{origin, code, message}` and to JSON-RPC 2.0
 * `{code, message, data: {name, origin}}` in one place (src/rpc/envelope.ts). Anything thrown that
 * is not an OmsError becomes InternalError with a log id; its text never reaches the client.
 *
 * Codes are stable: never renumber, only append. Application codes are grouped by subsystem in
 * blocks of 100 so a service can grow without colliding with another.
 */

import { spec, type ErrorSpec } from './error-spec.ts';
import { kvmErrors } from './errors-kvm.ts';
import { consoleErrors } from './errors-console.ts';
import { ovzErrors } from './errors-ovz.ts';
import { hostErrors } from './errors-host.ts';
import { eventErrors } from './errors-events.ts';
import { fleetErrors } from './errors-fleet.ts';

const general = {
  // qooxdoo server errors (origin 1), codes fixed by the qooxdoo RPC backend contract.
  IllegalService: spec(1, 'Illegal service name: {service}', 1),
  ServiceNotFound: spec(2, 'Service not found: {service}', 1),
  ClassNotFound: spec(3, 'Class not found: {service}', 1),
  MethodNotFound: spec(4, 'Method not found: {method}', 1),
  ParameterMismatch: spec(5, 'Parameter mismatch: {reason}', 1),
  PermissionDenied: spec(6, 'Permission denied: {privilege} on {path}', 1),

  // Transport-level problems, reported in the caller's own wire format.
  ParseError: spec(10, 'Malformed request: {reason}', 1),
  InvalidRequest: spec(11, 'Invalid request: {reason}', 1),
  RequestTooLarge: spec(12, 'Request larger than the {limit} limit', 1),
  // Streamed request bodies (service HTTP routes such as the ISO upload): bounded by idle time.
  UploadAbortedError: spec(13, 'Upload aborted: the client went away after {bytes} bytes', 1),
  UploadIdleError: spec(14, 'Upload cut off: no progress for {seconds} s (after {bytes} bytes)', 1),

  // OMS general errors (document: "All RPC server service methods might raise ...").
  FuncManError: spec(100, 'Node manager error: {reason}'),
  AuthError: spec(101, '{reason}'),
  ConfigurationReadError: spec(102, 'Configuration could not be read: {reason}'),
  DatabaseConnectionError: spec(103, 'Database connection failed: {reason}'),
  DatabaseSelectError: spec(104, 'Database read failed: {reason}'),
  DatabaseUpdateError: spec(105, 'Database update failed: {reason}'),
  DatabaseInsertError: spec(106, 'Database insert failed: {reason}'),
  DatabaseDeleteError: spec(107, 'Database delete failed: {reason}'),
  FuncMethodTimeoutError: spec(108, 'Node {node} did not answer within {seconds} s'),
  NoFuncZabbixClientError: spec(109, 'No Zabbix client configured'),
  ZabbixAgentNotSupportedError: spec(110, 'Zabbix agent not supported'),
  DeathError: spec(111, 'Session could not be deauthenticated: it does not exist'),
  InternalError: spec(199, 'Internal server error (log id {logId})'),

  // Tasks (src/tasks).
  UnknownTaskError: spec(120, 'Unknown task: {task}'),
  // {operation}: `task <id> (<kind>)` when a task holds the target, else the method in progress.
  TaskConflictError: spec(121, '{target} is busy with {operation}; try again when it has finished'),
  TaskCancelledError: spec(122, 'Task {task} was cancelled'),
  TaskInterruptedError: spec(123, 'Task interrupted: the gateway stopped while it ran'),

  // Nodes and their transport (src/nodes).
  UnknownNodeError: spec(200, 'Unknown node: {node}'),
  NodeUnreachableError: spec(201, 'Node {node} is unreachable: {reason}'),
  HostKeyMismatchError: spec(202, 'Host key of node {node} changed (pinned {pinned}, offered {offered}); refused until an administrator re-signs the node'),
  NodeCommandError: spec(203, 'Command failed on node {node} (exit {exitCode}): {stderr}'),
  NodeBusyError: spec(204, 'Node {node} has too many operations queued; try again later'),
  UnknownSignRequestsError: spec(210, '{hosts}'),
  UnknownRemoveRequestError: spec(211, '{hosts}'),
  UnknownRemoveSignedError: spec(212, '{hosts}'),
  SSHKeyCreateError: spec(213, 'Unable to create the gateway SSH key pair: {reason}'),
  SSHKeyAddError: spec(214, 'Unable to log in to {node} with the gateway key: {reason}'),
  SSHKeyRemoveError: spec(215, 'Unable to remove the gateway key from {node}: {reason}'),
  NodeExistsError: spec(216, 'Node {node} is already known ({state})'),

  // Tags (tagservices).
  UnknownHostException: spec(300, 'Unknown host type: {type}'),
  UnknownTagError: spec(301, 'Unknown tag: {tag}'),
  TagExistsError: spec(302, 'Tag already exists: {tag}'),

  // Users and permissions (userservices).
  UnknownUserError: spec(400, 'Unknown user: {user}'),
  UserExistsError: spec(401, 'User already exists: {user}'),
  UnknownRoleError: spec(402, 'Unknown role: {role}'),
  WeakPasswordError: spec(403, 'Password too weak: {reason}'),
  LastAdminError: spec(404, 'Refusing to remove the last administrator'),

  // The qooxdoo.test conformance service's deliberate application error.
  QooxdooTestError: spec(900, '{reason}'),
} as const satisfies Record<string, ErrorSpec>;

export const catalogue = { ...general, ...kvmErrors, ...consoleErrors, ...ovzErrors, ...hostErrors, ...eventErrors, ...fleetErrors } as const;

// Blocks live in their own files; a name or code used twice would make errors ambiguous on the wire.
{
  const blocks: [string, Record<string, ErrorSpec>][] = [
    ['errors.ts', general],
    ['errors-kvm.ts', kvmErrors],
    ['errors-console.ts', consoleErrors],
    ['errors-ovz.ts', ovzErrors],
    ['errors-host.ts', hostErrors],
    ['errors-events.ts', eventErrors],
    ['errors-fleet.ts', fleetErrors],
  ];
  const names = new Map<string, string>();
  const codes = new Map<string, string>();
  for (const [file, block] of blocks) {
    for (const [name, e] of Object.entries(block)) {
      const code = `${e.origin}:${e.code}`;
      if (names.has(name)) throw new Error(`error catalogue: ${name} is declared in both ${names.get(name)} and ${file}; rename the one in your own block`);
      if (codes.has(code)) throw new Error(`error catalogue: code ${e.code} of ${name} (${file}) is already used by ${codes.get(code)}`);
      names.set(name, file);
      codes.set(code, `${name} (${file})`);
    }
  }
}

export type ErrorName = keyof typeof catalogue;
export type ErrorVars = Record<string, string | number>;

const render = (template: string, vars: ErrorVars): string =>
  template.replace(/\{(\w+)\}/g, (_, key: string) => (key in vars ? String(vars[key]) : `{${key}}`));

export class OmsError extends Error {
  readonly code: number;
  readonly origin: 1 | 2;

  constructor(
    readonly omsName: ErrorName,
    readonly vars: ErrorVars = {},
    /** Structured detail for the client (e.g. per-parameter reasons); must hold no secrets. */
    readonly details?: unknown,
  ) {
    const s = catalogue[omsName];
    super(render(s.message, vars));
    this.name = omsName;
    this.code = s.code;
    this.origin = s.origin;
  }
}

/** Shorthand: `throw oms('UnknownNodeError', { node })`. */
export const oms = (name: ErrorName, vars: ErrorVars = {}, details?: unknown): OmsError =>
  new OmsError(name, vars, details);

export const isOmsError = (e: unknown): e is OmsError => e instanceof OmsError;

