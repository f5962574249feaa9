/**
 * How services reach a node: by name, through the one pool, with the pinned key read from the
 * database for each call. A node that is not signed does not exist as far as services are
 * concerned (UnknownNodeError), whatever address a caller might know for it.
 */
import type { Duplex } from 'node:stream';
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import type { Argv, Command } from '../nodes/command.ts';
import type { NodePool, UnixListener, ConverseOptions, ExecOptions, ExecResult, FollowOptions, NodeTarget, ShellOptions, OpenOptions } from '../nodes/pool.ts';
import type { ResidentSpec } from '../nodes/resident.ts';
import type { NodeRecord, NodeSettings, NodeStore } from './nodes.ts';

export interface NodeHandle {
  readonly name: string;
  readonly settings: NodeSettings;
  exec(cmd: Command, opts?: ExecOptions): Promise<ExecResult>;
  forwardOut(host: string, port: number, opts?: OpenOptions): Promise<Duplex>;
  /** A stream to a Unix socket on the node (see NodePool.forwardOutUnix). */
  forwardOutUnix(socketPath: string, opts?: OpenOptions): Promise<Duplex>;
  /** A Unix socket on the node whose connections come to the gateway (see NodePool.listenUnix). */
  listenUnix(socketPath: string, onConnection: (stream: Duplex) => void, opts?: OpenOptions & { onDown?: (reason: string) => void }): Promise<UnixListener>;
  shell(pty: ShellOptions, opts?: OpenOptions): Promise<ClientChannel>;
  sftp(opts?: OpenOptions): Promise<SFTPWrapper>;
  /** One request to a resident command on the node (fixed words only; see nodes/resident.ts). */
  converse(spec: ResidentSpec, words: readonly string[], opts?: ConverseOptions): Promise<string>;
  /** A long-lived reporting program (an event reader) streaming into `opts.stdout`; see NodePool.follow. */
  follow(argv: Argv, opts: FollowOptions): Promise<ExecResult>;
}

export const targetOf = (n: NodeRecord): NodeTarget => ({ name: n.name, address: n.address, port: n.port, hostKeyFingerprint: n.hostKeyFingerprint! });

export class NodeAccess {
  constructor(
    private readonly store: NodeStore,
    readonly pool: NodePool,
    private readonly defaults: { timeoutMs: number },
  ) {}

  /** A handle on a signed node; `signal` (the caller's) cancels its commands when the caller goes away. */
  get(name: string, signal?: AbortSignal): NodeHandle {
    return this.handleOf(this.store.signed(name), signal);
  }

  /**
   * A handle from a record the caller already read (the health monitor reads the nodes table
   * once for the fleet, not once per node per sample). The record must be a signed node's.
   */
  handleOf(record: NodeRecord, signal?: AbortSignal): NodeHandle {
    const name = record.name;
    const target = targetOf(record);
    const withDefaults = <T extends { signal?: AbortSignal; timeoutMs?: number }>(o: T | undefined): T => ({ timeoutMs: this.defaults.timeoutMs, signal, ...o }) as T;
    return {
      name,
      settings: record.settings,
      exec: (cmd, opts) => this.pool.exec(target, cmd, withDefaults(opts)),
      forwardOut: (host, port, opts) => this.pool.forwardOut(target, host, port, withDefaults(opts)),
      forwardOutUnix: (path, opts) => this.pool.forwardOutUnix(target, path, withDefaults(opts)),
      listenUnix: (path, onConnection, opts) => this.pool.listenUnix(target, path, onConnection, withDefaults(opts)),
      shell: (pty, opts) => this.pool.shell(target, pty, withDefaults(opts)),
      sftp: (opts) => this.pool.sftp(target, withDefaults(opts)),
      converse: (spec, words, opts) => this.pool.converse(target, spec, words, withDefaults(opts)),
      // The caller's signal, not the handle's: a reader outlives any one call.
      follow: (argv, opts) => this.pool.follow(target, argv, { timeoutMs: this.defaults.timeoutMs, ...opts }),
    };
  }
}
