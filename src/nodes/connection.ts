/**
 * SSH connections to nodes: opening one with the pinned host key (`openLink`), the live link
 * itself (`SshLink`), and the per-node holder that shares one connect attempt between concurrent
 * callers and spaces out retries after failures (`NodeConnection`).
 */
import ssh2, { type Client } from 'ssh2';
import type { Logger } from 'pino';
import { oms, type OmsError } from '../rpc/errors.ts';
import { Backoff } from './backoff.ts';
import type { ConnectGate } from './connect-gate.ts';
import { fingerprintOf, fingerprintsEqual } from './host-key.ts';
import { isAuthFailure, KEY_REFUSED, sshErrorReason, unreachable } from './ssh-errors.ts';
import type { ConnectionChange, ConnectionState, DisconnectReason, NodeTarget } from './types.ts';

export interface LinkConfig {
  readonly username: string;
  /** Secret: passed to ssh2 only, never logged. */
  readonly privateKey: string | Buffer;
  readonly connectTimeoutMs: number;
  readonly keepaliveIntervalMs: number;
  readonly log: Logger;
}

/** Unanswered keepalives before the link is declared dead. */
const KEEPALIVE_COUNT_MAX = 3;

/**
 * One established, authenticated SSH connection. Operations riding on it register with
 * `watch()` so a dropped connection fails them at once rather than after their timeouts.
 */
export class SshLink {
  #downReason: string | undefined;
  readonly #watchers = new Set<(reason: string) => void>();

  constructor(readonly client: Client) {}

  get isDown(): boolean {
    return this.#downReason !== undefined;
  }

  get downReason(): string {
    return this.#downReason ?? 'connection is up';
  }

  /** Calls `onDown` once if the link goes down while registered; returns the unregister function. */
  watch(onDown: (reason: string) => void): () => void {
    if (this.#downReason !== undefined) {
      const reason = this.#downReason;
      queueMicrotask(() => onDown(reason));
      return () => undefined;
    }
    this.#watchers.add(onDown);
    return () => {
      this.#watchers.delete(onDown);
    };
  }

  /** Marks the link dead and notifies every watcher; idempotent. */
  markDown(reason: string): void {
    if (this.#downReason !== undefined) return;
    this.#downReason = reason;
    const watchers = [...this.#watchers];
    this.#watchers.clear();
    for (const w of watchers) w(reason);
  }

  /** Ends the connection from our side (SSH disconnect, then socket close). */
  close(reason: string): void {
    this.markDown(reason);
    this.client.end();
  }
}

export interface OpenLinkOptions {
  /** Error for a refused gateway key; default NodeUnreachableError. */
  readonly authFailure?: (node: string, reason: string) => OmsError;
}

/**
 * Connects, checks the host key against the pinned fingerprint, authenticates with the gateway
 * key. Resolves with the live link; rejects with HostKeyMismatchError (nothing was run: the check
 * happens during key exchange, before authentication) or NodeUnreachableError.
 */
export function openLink(target: NodeTarget, cfg: LinkConfig, opts: OpenLinkOptions = {}): Promise<SshLink> {
  const node = target.name;
  return new Promise<SshLink>((resolve, reject) => {
    const client = new ssh2.Client();
    let offered: string | undefined;
    let mismatch = false;
    let lastError: unknown;
    let link: SshLink | undefined;
    let settled = false;

    const fail = (err: OmsError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.destroy();
      reject(err);
    };
    // ssh2's readyTimeout covers the handshake; this also covers a TCP connect that never answers.
    const timer = setTimeout(() => fail(unreachable(node, 'timed out connecting')), cfg.connectTimeoutMs);

    client.on('error', (err: Error) => {
      lastError = err;
      if (settled) return; // after 'ready': the 'close' that follows reports it to the link
      if (mismatch) fail(oms('HostKeyMismatchError', { node, pinned: target.hostKeyFingerprint, offered: offered ?? 'unknown' }));
      else if (isAuthFailure(err) && opts.authFailure) fail(opts.authFailure(node, sshErrorReason(err)));
      else fail(unreachable(node, sshErrorReason(err)));
    });
    client.on('close', () => {
      const reason = lastError === undefined ? 'connection closed' : sshErrorReason(lastError);
      if (!settled) fail(unreachable(node, lastError === undefined ? 'connection closed during the handshake' : reason));
      link?.markDown(reason);
    });
    client.once('ready', () => {
      if (settled) return; // our own timer fired first and destroyed the client
      settled = true;
      clearTimeout(timer);
      // Request/response traffic of small packets: Nagle would only add latency.
      client.setNoDelay(true);
      link = new SshLink(client);
      resolve(link);
    });

    try {
      client.connect({
        host: target.address,
        port: target.port,
        username: cfg.username,
        privateKey: cfg.privateKey,
        readyTimeout: cfg.connectTimeoutMs,
        keepaliveInterval: cfg.keepaliveIntervalMs,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        // Called with the raw key blob during key exchange; false aborts before authentication.
        hostVerifier: (key: Buffer): boolean => {
          offered = fingerprintOf(key);
          mismatch = !fingerprintsEqual(offered, target.hostKeyFingerprint);
          return !mismatch;
        },
      });
    } catch (e) {
      fail(unreachable(node, sshErrorReason(e)));
    }
  });
}

/**
 * The one connection to one node. `link()` returns the live link, connecting on demand: the
 * first call after a drop reconnects, concurrent callers share one attempt, and after failed
 * attempts further ones wait out an exponential backoff (calls in that window fail fast with the
 * last error, so a dead node does not hold every caller for a full connect timeout).
 */
export class NodeConnection {
  #link: SshLink | undefined;
  #connecting: Promise<SshLink> | undefined;
  #lastError: OmsError | undefined;
  #closed = false;

  constructor(
    readonly target: NodeTarget,
    private readonly cfg: LinkConfig,
    private readonly backoff: Backoff,
    /** Told of each link that comes up, drops, or fails to connect (the pool makes node events of them). */
    private readonly report?: (conn: NodeConnection, change: ConnectionChange) => void,
    /** Shared by every connection of the gateway: bounds attempts at once and spreads bursts (connect-gate.ts). */
    private readonly gate?: ConnectGate,
  ) {}

  #tell(change: ConnectionChange): void {
    try {
      this.report?.(this, change);
    } catch (e) {
      this.cfg.log.error({ err: e, node: this.target.name }, 'connection change not reported');
    }
  }

  get state(): ConnectionState {
    if (this.#link && !this.#link.isDown) return 'ready';
    if (this.#connecting) return 'connecting';
    return this.backoff.remainingMs() > 0 ? 'backoff' : 'idle';
  }

  get failures(): number {
    return this.backoff.failures;
  }

  /** OMS name of the last failed connect (e.g. HostKeyMismatchError); cleared by a success. */
  get lastErrorName(): string | undefined {
    return this.#lastError?.omsName;
  }

  link(): Promise<SshLink> {
    const node = this.target.name;
    if (this.#closed) return Promise.reject(unreachable(node, 'connection closed by the gateway'));
    if (this.#link && !this.#link.isDown) return Promise.resolve(this.#link);
    if (this.#connecting) return this.#connecting;
    const wait = this.backoff.remainingMs();
    if (wait > 0 && this.#lastError) return Promise.reject(this.#again(this.#lastError, wait));

    const open = (): Promise<SshLink> =>
      // Closed while waiting at the gate: no attempt is made at all.
      this.#closed ? Promise.reject(unreachable(node, 'connection closed by the gateway')) : openLink(this.target, this.cfg);
    const attempt = (this.gate ? this.gate.run(open) : open()).then(
      (link) => {
        this.#connecting = undefined;
        if (this.#closed) {
          link.close('connection closed by the gateway');
          throw unreachable(node, 'connection closed by the gateway');
        }
        this.backoff.success();
        this.#lastError = undefined;
        this.#link = link;
        link.watch((reason) => {
          if (this.#link === link) this.#link = undefined;
          this.cfg.log.warn({ node, reason }, 'node connection lost');
          // Closed by the gateway itself (node removed, re-signed): not something the node did.
          if (!this.#closed) this.#tell({ state: 'disconnected', reason: 'unreachable', message: reason });
        });
        this.cfg.log.info({ node, address: this.target.address, port: this.target.port }, 'node connected');
        this.#tell({ state: 'connected' });
        return link;
      },
      (err: OmsError) => {
        this.#connecting = undefined;
        this.backoff.failure();
        this.#lastError = err;
        if (!this.#closed) this.#tell({ state: 'disconnected', reason: disconnectReason(err), message: err.message });
        this.cfg.log.warn({ node, error: err.message, retryInMs: this.backoff.remainingMs() }, 'node connection failed');
        throw err;
      },
    );
    this.#connecting = attempt;
    return attempt;
  }

  /**
   * Another connection to the same node has just connected: a failure remembered here (sshd was
   * down a moment ago) says nothing any more, so the next call tries at once instead of failing
   * with the old error until this connection's own backoff runs out.
   */
  reachedElsewhere(): void {
    if (this.#link && !this.#link.isDown) return;
    this.backoff.success();
    this.#lastError = undefined;
  }

  /** Closes the link for good; in-flight operations fail with NodeUnreachableError now. */
  close(reason: string): void {
    this.#closed = true;
    this.#link?.close(reason);
    this.#link = undefined;
  }

  /** The last connect error again, fresh, with the wait until the next attempt where it helps. */
  #again(err: OmsError, waitMs: number): OmsError {
    if (err.omsName !== 'NodeUnreachableError') return oms(err.omsName, err.vars);
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return unreachable(this.target.name, `${err.vars.reason}; next attempt in ${seconds} s`);
  }
}

/** How a failed connect reads in a node event. */
export function disconnectReason(err: OmsError): DisconnectReason {
  if (err.omsName === 'HostKeyMismatchError') return 'host_key_mismatch';
  if (err.omsName === 'SSHKeyAddError' || err.vars.reason === KEY_REFUSED) return 'auth_failure';
  return 'unreachable';
}
