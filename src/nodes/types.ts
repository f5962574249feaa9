/** Request and result types of the node transport, in one place for services and tests. */
import type { ConnectGateStats } from './connect-gate.ts';
import type { Logger } from 'pino';
import type { Readable, Writable } from 'node:stream';

/** Where and how to reach one enrolled node. Comes from the nodes table on every call. */
export interface NodeTarget {
  /** The node's OMS name (host name); used in errors and as the pool key. */
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** Pinned host key, `SHA256:` + unpadded base64, as `ssh-keygen -lf` prints it. */
  readonly hostKeyFingerprint: string;
}

export interface NodePoolOptions {
  /** The gateway's private key (OpenSSH or PEM). Secret: never logged. */
  readonly privateKey: string | Buffer;
  /** Login user on nodes; default `root`. */
  readonly username?: string;
  /** TCP connect + SSH handshake + authentication; default 10000. */
  readonly connectTimeoutMs?: number;
  /** SSH-level keepalive interval; default 15000 (0 disables). Three missed answers drop the link. */
  readonly keepaliveIntervalMs?: number;
  /** Commands and SFTP sessions open at once per node (and shells per shell connection); default 8, below OpenSSH's MaxSessions 10. */
  readonly maxChannelsPerNode?: number;
  /** Callers waiting for a channel per node before NodeBusyError; default 1024. */
  readonly maxQueuedPerNode?: number;
  /** Connections for interactive shells per node, each carrying up to maxChannelsPerNode shells; default 8. */
  readonly maxShellLinksPerNode?: number;
  /**
   * SSH connection attempts (TCP connect, key exchange, authentication) running at once over all
   * nodes; default 32. More wait in arrival order (connect-gate.ts).
   */
  readonly connectConcurrency?: number;
  /**
   * An attempt made while others are running first waits a random delay of up to this many ms,
   * so a burst (gateway restart, a network blip) is spread out; default 250. An attempt on an
   * idle gate starts at once.
   */
  readonly connectJitterMs?: number;
  /** Delay between failed connection attempts to a node; default {min: 500, max: 30000}. */
  readonly reconnectBackoffMs?: { readonly min: number; readonly max: number };
  /** How long a timed-out command gets after SIGTERM before SIGKILL; default 2000. */
  readonly killGraceMs?: number;
  readonly log?: Logger;
  /**
   * Told when a node's command connection comes up, or goes down or fails to connect (with why),
   * once per change: the gateway publishes these as node events. Never throws into the pool.
   */
  readonly onConnection?: (node: string, change: ConnectionChange) => void;
}

/** Why a node's connection is down, in the words of node events. */
export type DisconnectReason = 'unreachable' | 'host_key_mismatch' | 'auth_failure';

export type ConnectionChange =
  | { readonly state: 'connected' }
  /** `message`: the secret-free reason (e.g. `connection refused`) as NodeUnreachableError carries it. */
  | { readonly state: 'disconnected'; readonly reason: DisconnectReason; readonly message: string };

export interface ExecOptions {
  /** Whole-call budget (queue + connect + run); default 30000. Exceeded: FuncMethodTimeoutError. */
  readonly timeoutMs?: number;
  /** Exit codes that count as success; default [0]. Others: NodeCommandError. */
  readonly okExitCodes?: readonly number[];
  /**
   * Written to the command's stdin, then EOF. A stream is piped with backpressure (bulk data such
   * as a container's filesystem, never held whole); if it fails, the command is stopped and the
   * call rejects with the stream's error. Without input stdin is closed at once.
   */
  readonly input?: string | Buffer | Readable;
  /**
   * Where stdout goes instead of the result, with backpressure; the result's stdout is then ''.
   * The stream is ended once the command has succeeded; when the call fails it is destroyed
   * with the error instead, so a reader never takes cut-short output for the whole.
   */
  readonly stdout?: Writable;
  /** Cap on collected stdout + stderr bytes (stderr only with `stdout`); default 16 MiB. Exceeded: the command is stopped, FuncManError. */
  readonly maxOutputBytes?: number;
  /** Cancels the call; it rejects with the signal's reason and the remote command is stopped. */
  readonly signal?: AbortSignal;
  /**
   * A read the gateway makes on its own (an event watcher's listing), not for a caller: it runs
   * on a shell connection like the resident commands, so it never holds one of the node's command
   * slots nor counts toward its queue bound (the slots and the bound are the callers').
   */
  readonly background?: boolean;
}

/** Options of converse(): one request to a resident command (resident.ts). */
export interface ConverseOptions {
  /** Whole-request budget (slot wait + queue behind earlier requests + answer); default 30000. */
  readonly timeoutMs?: number;
  /** Hold one of the node's command slots while the request waits and runs (exec()'s bounds). */
  readonly commandSlot?: boolean;
  /** Stops waiting for a command slot; a request already sent runs to its answer or timeout. */
  readonly signal?: AbortSignal;
}

/** Options of follow(): a long-lived reporting program (see pool.ts). */
export interface FollowOptions {
  /** Receives the program's output (stdout and stderr merged), with backpressure. */
  readonly stdout: Writable;
  /** Stops the program; the call then rejects with the signal's reason. */
  readonly signal: AbortSignal;
  /** Budget for finding a place and a link only; default 30000. */
  readonly timeoutMs?: number;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit status; a command killed by a signal reports 128 + signal number, as shells do. */
  readonly code: number;
}

export interface ShellOptions {
  readonly cols: number;
  readonly rows: number;
  /** $TERM for the pty, e.g. `xterm-256color`. */
  readonly term: string;
}

/** Options for forwardOut() and shell(): how long to wait for a channel slot and the link. */
export interface OpenOptions {
  /** Default 30000. Exceeded: FuncMethodTimeoutError. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface HostKeyProbe {
  /** `SHA256:...` as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
  /** OpenSSH one-line form without comment: `ssh-ed25519 AAAA...`. */
  readonly publicKey: string;
  /** Key type, e.g. `ssh-ed25519`. */
  readonly algorithm: string;
}

export type ConnectionState = 'idle' | 'connecting' | 'ready' | 'backoff';

export interface NodeStats {
  readonly name: string;
  readonly state: ConnectionState;
  readonly channelsInUse: number;
  readonly queued: number;
  /** Port forwards (VNC tunnels) open; they take no command slot. */
  readonly forwardsOpen: number;
  /** Interactive shells open, on connections of their own. */
  readonly shellsOpen: number;
  /** Consecutive failed connection attempts. */
  readonly failures: number;
  /** OMS error name of the last failed attempt (HostKeyMismatchError, NodeUnreachableError ...), until one succeeds. */
  readonly lastError?: string;
}

export interface PoolStats {
  /** Nodes with an established SSH connection. */
  readonly openConnections: number;
  readonly channelsInUse: number;
  readonly queued: number;
  readonly nodes: readonly NodeStats[];
  /** Connection attempts over all nodes (the connect gate). */
  readonly connects: ConnectGateStats;
}
