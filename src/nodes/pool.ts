/**
 * NodePool: the gateway's only way to talk to nodes.
 *
 * One multiplexed SSH connection per node, opened on first use and re-opened on the next call
 * after it drops (with backoff after failed attempts). Commands and SFTP are SSH sessions, which
 * OpenSSH caps per connection (MaxSessions, 10 by default): each holds one of the node's limited
 * slots while open, further callers queue FIFO up to a bound. Consoles live for hours and must
 * never starve commands, so they are counted apart: port forwards (VNC) ride the same connection
 * but are not sessions; interactive shells (terminals, serial consoles) and resident commands
 * (resident.ts) get connections of their own. Commands are argv (see command.ts), each call has a
 * time budget, and the host key is checked against the pinned fingerprint on every connect.
 */
import pino, { type Logger } from 'pino';
import ssh2, { type ClientChannel, type SFTPWrapper } from 'ssh2';
import { Duplex, PassThrough, type Writable } from 'node:stream';
import { isOmsError, oms, type OmsError } from '../rpc/errors.ts';
import { Backoff } from './backoff.ts';
import { ConnectGate } from './connect-gate.ts';
import { describeCommand, isPlainCommand, shellLine, supervisedLine, type Argv, type Command } from './command.ts';
import { NodeConnection, openLink, type LinkConfig, type SshLink } from './connection.ts';
import { Deadline, untilAborted } from './deadline.ts';
import { isFingerprint } from './host-key.ts';
import { ChannelLimiter, type Release } from './limiter.ts';
import { probeHostKey } from './probe.ts';
import { followArgv, Resident, type ResidentSpec } from './resident.ts';
import { runCommand } from './run-command.ts';
import type { ConnectionChange, ConverseOptions, DisconnectReason, ExecOptions, ExecResult, FollowOptions, HostKeyProbe, NodePoolOptions, NodeTarget, OpenOptions, PoolStats, ShellOptions } from './types.ts';

export type { ConnectionChange, ConverseOptions, ExecOptions, ExecResult, FollowOptions, HostKeyProbe, NodePoolOptions, NodeTarget, OpenOptions, PoolStats, ShellOptions } from './types.ts';

const DEFAULTS = {
  username: 'root',
  connectTimeoutMs: 10_000,
  keepaliveIntervalMs: 15_000,
  maxChannelsPerNode: 8,
  maxQueuedPerNode: 1024,
  /** Port forwards open at once per node: a bound, not a budget (they are not SSH sessions). */
  maxForwardsPerNode: 256,
  maxShellLinksPerNode: 8,
  reconnectBackoffMs: { min: 500, max: 30_000 },
  connectConcurrency: 32,
  connectJitterMs: 250,
  killGraceMs: 2_000,
  timeoutMs: 30_000,
  maxOutputBytes: 16 * 1024 * 1024,
} as const;

/** A connection and the count of sessions open on it. */
interface Lane {
  conn: NodeConnection;
  /** Outlives a replaced connection: slots held on the old one are still counted. */
  readonly limiter: ChannelLimiter;
}

/** Per-node state owned by the pool. */
interface NodeEntry extends Lane {
  /** Port forwards open on `conn`; counted apart from the sessions in `limiter`. */
  readonly forwards: ChannelLimiter;
  /** Connections carrying interactive shells; the first stays open when idle, others close. */
  readonly shells: Lane[];
  /** Resident commands by key; they run on the shell connections, never in a command slot. */
  readonly residents: Map<string, Resident>;
  /** What onConnection last said of the node: each change is told once. */
  reported?: 'up' | DisconnectReason;
}

/** A channel's place: the link to open it on and the slot to give back when it closes. */
interface Slot {
  link: SshLink;
  release: Release;
}

const positive = (v: number, what: string): number => {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${what} must be a positive number`);
  return v;
};

function checkTarget(t: NodeTarget): void {
  if (typeof t?.name !== 'string' || t.name === '') throw new Error('node target needs a name');
  if (typeof t.address !== 'string' || t.address === '') throw new Error(`node ${t.name}: no address`);
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`node ${t.name}: bad port`);
  // A node without a pinned key is not enrolled; connecting would mean trusting any key.
  if (!isFingerprint(t.hostKeyFingerprint)) throw new Error(`node ${t.name}: no pinned host key fingerprint`);
}

const sameTarget = (a: NodeTarget, b: NodeTarget): boolean =>
  a.address === b.address && a.port === b.port && a.hostKeyFingerprint === b.hostKeyFingerprint;

export class NodePool {
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #link: LinkConfig;
  readonly #log: Logger;
  readonly #maxChannels: number;
  readonly #maxQueued: number;
  readonly #maxShellLinks: number;
  readonly #backoff: { readonly min: number; readonly max: number };
  readonly #killGraceMs: number;
  readonly #onConnection: NodePoolOptions['onConnection'];
  readonly #gate: ConnectGate;
  #closed = false;

  constructor(opts: NodePoolOptions) {
    // Parse once, up front: a bad key is a configuration error at start-up, and ssh2 then never
    // gets a chance to put key-parsing details into a per-connection error.
    const parsed = ssh2.utils.parseKey(opts.privateKey);
    if (parsed instanceof Error || !(Array.isArray(parsed) ? parsed[0] : parsed)?.isPrivateKey()) {
      throw new Error('NodePool: privateKey is not a usable private key');
    }
    const username = opts.username ?? DEFAULTS.username;
    if (!/^[a-z_][a-z0-9_.-]{0,31}$/.test(username)) throw new Error('NodePool: bad username');
    this.#log = opts.log ?? pino({ enabled: false });
    this.#link = {
      username,
      privateKey: opts.privateKey,
      connectTimeoutMs: positive(opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, 'connectTimeoutMs'),
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs,
      log: this.#log,
    };
    if (!(this.#link.keepaliveIntervalMs >= 0)) throw new Error('keepaliveIntervalMs must be >= 0');
    this.#maxChannels = opts.maxChannelsPerNode ?? DEFAULTS.maxChannelsPerNode;
    this.#maxQueued = opts.maxQueuedPerNode ?? DEFAULTS.maxQueuedPerNode;
    this.#maxShellLinks = opts.maxShellLinksPerNode ?? DEFAULTS.maxShellLinksPerNode;
    if (!Number.isInteger(this.#maxShellLinks) || this.#maxShellLinks < 1) throw new Error('maxShellLinksPerNode must be a positive integer');
    if (!Number.isInteger(this.#maxChannels) || this.#maxChannels < 1) throw new Error('maxChannelsPerNode must be a positive integer');
    if (!Number.isInteger(this.#maxQueued) || this.#maxQueued < 0) throw new Error('maxQueuedPerNode must be a non-negative integer');
    this.#backoff = opts.reconnectBackoffMs ?? DEFAULTS.reconnectBackoffMs;
    if (!(this.#backoff.min >= 0) || !(this.#backoff.max >= this.#backoff.min)) throw new Error('reconnectBackoffMs needs 0 <= min <= max');
    this.#killGraceMs = positive(opts.killGraceMs ?? DEFAULTS.killGraceMs, 'killGraceMs');
    this.#onConnection = opts.onConnection;
    this.#gate = new ConnectGate({ max: opts.connectConcurrency ?? DEFAULTS.connectConcurrency, jitterMs: opts.connectJitterMs ?? DEFAULTS.connectJitterMs });
  }

  /**
   * Opens the node's command connection now if it is not open (gateway start, node signed), so
   * the first call finds it warm. Through the connect gate like every attempt; a failure is only
   * remembered (the next call retries after the backoff, and onConnection has told it).
   */
  warm(target: NodeTarget): void {
    this.#entry(target)
      .conn.link()
      .catch(() => undefined);
  }

  /**
   * Runs a command on a node. Resolves with its output when the exit code is accepted; rejects
   * with NodeCommandError (other exit code), FuncMethodTimeoutError, NodeUnreachableError,
   * HostKeyMismatchError, NodeBusyError, FuncManError (output cap), or the abort reason.
   */
  async exec(target: NodeTarget, cmd: Command, opts: ExecOptions = {}): Promise<ExecResult> {
    const line = supervisedLine(shellLine(cmd), isPlainCommand(cmd));
    const timeoutMs = positive(opts.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs');
    const maxOutputBytes = positive(opts.maxOutputBytes ?? DEFAULTS.maxOutputBytes, 'maxOutputBytes');
    const okExitCodes = opts.okExitCodes ?? [0];
    const entry = this.#entry(target);
    const node = target.name;
    const started = performance.now();
    const deadline = new Deadline(timeoutMs, opts.signal, () => oms('FuncMethodTimeoutError', { node, seconds: timeoutMs / 1000 }));
    try {
      // The gateway's own background reads ride a shell connection, as residents do: they never
      // take a caller's command slot nor count toward the node's queue bound.
      const { link, release } = opts.background ? await this.#shellSlot(entry, deadline.signal) : await this.#slotOn(entry, entry.limiter, deadline.signal);
      return await runCommand(link, {
        node,
        line,
        input: opts.input,
        stdout: opts.stdout,
        maxOutputBytes,
        okExitCodes,
        signal: deadline.signal,
        release,
        killGraceMs: this.#killGraceMs,
        log: this.#log,
      });
    } catch (e) {
      // Name and exit code only: a message may quote the command's stderr, which is node data.
      const error = isOmsError(e) ? e.omsName : 'aborted';
      this.#log.debug({ node, command: describeCommand(cmd), error, exitCode: isOmsError(e) ? e.vars.exitCode : undefined }, 'node exec failed');
      throw e;
    } finally {
      deadline.clear();
      this.#log.trace({ node, command: describeCommand(cmd), ms: Math.round(performance.now() - started) }, 'node exec');
    }
  }

  /**
   * Opens a TCP connection from the node to host:port (a direct-tcpip channel, e.g. to a guest's
   * VNC port on the node's loopback). Rides the node's connection without taking a command slot
   * (OpenSSH does not count forwards as sessions), so open consoles never hold commands back;
   * past maxForwardsPerNode open at once it is refused with NodeBusyError. The caller owns the
   * stream and must listen for its 'error'.
   */
  async forwardOut(target: NodeTarget, host: string, port: number, opts: OpenOptions = {}): Promise<Duplex> {
    if (typeof host !== 'string' || host === '' || host.includes('\0')) throw new Error('forwardOut: bad host');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('forwardOut: bad port');
    return this.#openChannel(target, opts, `${host}:${port}`, (entry, signal) => this.#slotOn(entry, entry.forwards, signal), (link, cb) => link.client.forwardOut('127.0.0.1', 0, host, port, cb));
  }

  /**
   * Opens a connection from the node to a Unix socket on it (a direct-streamlocal channel, e.g.
   * libvirtd's socket for a live migration's control connection). Counted as forwardOut is.
   */
  async forwardOutUnix(target: NodeTarget, socketPath: string, opts: OpenOptions = {}): Promise<Duplex> {
    if (!isSocketPath(socketPath)) throw new Error('forwardOutUnix: bad socket path');
    return this.#openChannel(target, opts, socketPath, (entry, signal) => this.#slotOn(entry, entry.forwards, signal), (link, cb) => link.client.openssh_forwardOutStreamLocal(socketPath, cb));
  }

  /**
   * Asks the node's sshd to listen on a new Unix socket (streamlocal-forward) and hands every
   * connection a program on the node makes to it to `onConnection`, as a stream the caller owns.
   * Holds one forward slot until close(), which stops the listener (sshd leaves the socket file:
   * the caller removes it). A dropped connection ends the listener; `onDown` is told.
   */
  async listenUnix(target: NodeTarget, socketPath: string, onConnection: (stream: Duplex) => void, opts: OpenOptions & { onDown?: (reason: string) => void } = {}): Promise<UnixListener> {
    if (!isSocketPath(socketPath)) throw new Error('listenUnix: bad socket path');
    const entry = this.#entry(target);
    const timeoutMs = positive(opts.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs');
    const deadline = new Deadline(timeoutMs, opts.signal, () => oms('FuncMethodTimeoutError', { node: target.name, seconds: timeoutMs / 1000 }));
    try {
      const { link, release } = await this.#slotOn(entry, entry.forwards, deadline.signal);
      const client = link.client;
      // Another listener on the same connection (another migration) takes its own socket's connections.
      const onUnix = (info: { socketPath: string }, accept: () => Duplex): void => {
        if (info.socketPath !== socketPath) return;
        const stream = accept();
        drainOnDestroy(stream);
        onConnection(stream);
      };
      let closed = false;
      const close = (): Promise<void> =>
        new Promise((resolve) => {
          if (closed) return resolve();
          closed = true;
          unwatch();
          client.removeListener('unix connection', onUnix);
          if (link.isDown) {
            release();
            return resolve();
          }
          client.openssh_unforwardInStreamLocal(socketPath, () => {
            release();
            resolve();
          });
        });
      const unwatch = link.watch((reason) => {
        void close();
        opts.onDown?.(reason);
      });
      client.on('unix connection', onUnix);
      try {
        await untilAborted(
          () => new Promise<void>((resolve, reject) => client.openssh_forwardInStreamLocal(socketPath, (err) => (err ? reject(link.isDown ? oms('NodeUnreachableError', { node: target.name, reason: link.downReason }) : channelRefused(target.name, `a listener on ${socketPath}`, err)) : resolve()))),
          deadline.signal,
        );
      } catch (e) {
        closed = true;
        unwatch();
        client.removeListener('unix connection', onUnix);
        release();
        throw e;
      }
      return { close };
    } finally {
      deadline.clear();
    }
  }

  /**
   * Interactive login shell with a pty (terminal and serial consoles). Shells are sessions that
   * stay open for hours, so they get connections of their own (up to maxChannelsPerNode shells
   * each, up to maxShellLinksPerNode connections) and never take a command slot.
   */
  async shell(target: NodeTarget, pty: ShellOptions, opts: OpenOptions = {}): Promise<ClientChannel> {
    const dim = (n: number): boolean => Number.isInteger(n) && n > 0 && n <= 10_000;
    if (!dim(pty.cols) || !dim(pty.rows)) throw new Error('shell: bad terminal size');
    if (!/^[A-Za-z0-9._+-]{1,64}$/.test(pty.term)) throw new Error('shell: bad terminal type');
    return this.#openChannel(target, opts, 'shell', (entry, signal) => this.#shellSlot(entry, signal), (link, cb) => link.client.shell({ cols: pty.cols, rows: pty.rows, term: pty.term }, cb));
  }

  /**
   * An SFTP session on the node's connection (file uploads). Holds one of the node's command
   * slots until the session closes: the caller must end() it, also on failure, and listen for
   * its 'error'. Needs the node's sshd to offer the sftp subsystem.
   */
  async sftp(target: NodeTarget, opts: OpenOptions = {}): Promise<SFTPWrapper> {
    return this.#openChannel<SFTPWrapper>(
      target,
      opts,
      'sftp',
      (entry, signal) => this.#slotOn(entry, entry.limiter, signal),
      (link, cb) => link.client.sftp(cb),
      (s) => s.end(),
    );
  }

  /**
   * One request to the node's resident command `spec` (see resident.ts), started on first use
   * and kept until idle. It runs on a shell connection, so the program never takes a command slot.
   * With `commandSlot`, each request holds one of the node's command slots while it waits and
   * runs, so a call moved from exec() to a resident keeps exec()'s per-node bounds (the queue,
   * NodeBusyError past it). The budget covers all of it, waits included.
   * Rejects with FuncMethodTimeoutError (a request that was running stops the program),
   * NodeBusyError, NodeUnreachableError, the caller's abort reason while waiting for a slot, or
   * the program's own failure; the next request starts it again.
   */
  async converse(target: NodeTarget, spec: ResidentSpec, words: readonly string[], opts: ConverseOptions = {}): Promise<string> {
    const entry = this.#entry(target);
    const timeoutMs = positive(opts.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs');
    let r = entry.residents.get(spec.key);
    if (!r) {
      r = new Resident(spec, target.name, (argv, stdin, stdout, stop) => this.#startResident(entry, argv, stdin, stdout, stop, timeoutMs));
      entry.residents.set(spec.key, r);
    }
    if (!opts.commandSlot) return r.request(words, timeoutMs);
    const node = target.name;
    const started = performance.now();
    const deadline = new Deadline(timeoutMs, opts.signal, () => oms('FuncMethodTimeoutError', { node, seconds: timeoutMs / 1000 }));
    let release: Release | undefined;
    try {
      release = await entry.limiter.acquire(deadline.signal);
      // The same budget, counted from the call: the wait for the slot is part of it.
      return await r.request(words, timeoutMs, started);
    } finally {
      release?.();
      deadline.clear();
    }
  }

  /**
   * Runs a long-lived program that reports as it goes (an event reader: `virsh event --loop`,
   * `lxc-monitor`) until it ends by itself or `opts.signal` stops it. Like a resident command it
   * runs on a shell connection, so however long it runs it never holds a command slot; its
   * stderr is merged into `stdout` (residentArgv), so an error message arrives in order. The
   * budget `timeoutMs` bounds only finding a place and a link; the program then runs unbounded.
   * Resolves with the exit status when the program ends (`stdout` is then ended); rejects with
   * NodeUnreachableError when the link drops, the signal's reason when stopped, NodeBusyError or
   * FuncMethodTimeoutError when it could not start (`stdout` is then destroyed with the error).
   */
  async follow(target: NodeTarget, argv: Argv, opts: FollowOptions): Promise<ExecResult> {
    const entry = this.#entry(target);
    const timeoutMs = positive(opts.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs');
    // Never written to nor ended: its EOF is the connection going away (followArgv).
    const stdin = new PassThrough();
    return this.#startResident(entry, followArgv(argv), stdin, opts.stdout, opts.signal, timeoutMs);
  }

  async #startResident(entry: NodeEntry, argv: Argv, stdin: PassThrough | undefined, stdout: Writable, stop: AbortSignal, openTimeoutMs: number): Promise<ExecResult> {
    const node = entry.conn.target.name;
    // Only finding a place and a link are bounded here; the program itself runs until stopped.
    const opening = new Deadline(openTimeoutMs, stop, () => oms('FuncMethodTimeoutError', { node, seconds: openTimeoutMs / 1000 }));
    let slot: Slot;
    try {
      slot = await this.#shellSlot(entry, opening.signal);
    } finally {
      opening.clear();
    }
    return runCommand(slot.link, {
      node,
      line: supervisedLine(shellLine(argv), true),
      input: stdin,
      stdout,
      maxOutputBytes: 64 * 1024, // stderr is merged into stdout: only the process-group report comes here
      okExitCodes: Array.from({ length: 256 }, (_, i) => i),
      signal: stop,
      release: slot.release,
      killGraceMs: this.#killGraceMs,
      log: this.#log,
    });
  }

  /** The host key a server offers, without logging in (enrollment). */
  probeHostKey(address: string, port: number, timeoutMs?: number): Promise<HostKeyProbe> {
    return probeHostKey(address, port, timeoutMs ?? this.#link.connectTimeoutMs);
  }

  /**
   * Proves a fresh login works: pinned host key, gateway key accepted, `true` runs. Uses its own
   * short-lived connection so it says something about now, not about a link opened earlier.
   * Rejects with HostKeyMismatchError, SSHKeyAddError (key refused), NodeUnreachableError,
   * FuncMethodTimeoutError or NodeCommandError.
   */
  async checkLogin(target: NodeTarget, timeoutMs?: number): Promise<void> {
    checkTarget(target);
    const node = target.name;
    const budget = positive(timeoutMs ?? this.#link.connectTimeoutMs, 'timeoutMs');
    const deadline = new Deadline(budget, undefined, () => oms('FuncMethodTimeoutError', { node, seconds: budget / 1000 }));
    let link: SshLink | undefined;
    try {
      const opened = openLink(target, this.#link, { authFailure: (n, reason) => oms('SSHKeyAddError', { node: n, reason }) });
      const live = await untilAborted(
        () =>
          opened.then((l) => {
            // The deadline won while the link was still opening: nobody will use it.
            if (deadline.signal.aborted) l.close('login check timed out');
            return l;
          }),
        deadline.signal,
      );
      link = live;
      await runCommand(live, {
        node,
        line: supervisedLine(shellLine(['true'])),
        maxOutputBytes: 64 * 1024,
        okExitCodes: [0],
        signal: deadline.signal,
        release: () => undefined, // not a pooled connection: no slot to give back
        killGraceMs: this.#killGraceMs,
        log: this.#log,
      });
    } finally {
      deadline.clear();
      link?.close('login check done');
    }
  }

  /** Closes one node's connection (node removed or re-signed); its in-flight calls fail now. */
  drop(name: string): void {
    const entry = this.#nodes.get(name);
    if (!entry) return;
    this.#nodes.delete(name);
    entry.conn.close('connection closed by the gateway');
    for (const r of entry.residents.values()) r.close();
    for (const lane of entry.shells.splice(0)) lane.conn.close('connection closed by the gateway');
    entry.limiter.rejectWaiting(oms('NodeUnreachableError', { node: name, reason: 'connection closed by the gateway' }));
  }

  /** Closes every connection; later calls are refused. */
  closeAll(): void {
    this.#closed = true;
    for (const name of [...this.#nodes.keys()]) this.drop(name);
  }

  stats(): PoolStats {
    const nodes = [...this.#nodes.entries()].map(([name, e]) => ({
      name,
      state: e.conn.state,
      channelsInUse: e.limiter.inUse,
      queued: e.limiter.queued,
      forwardsOpen: e.forwards.inUse,
      shellsOpen: e.shells.reduce((n, l) => n + l.limiter.inUse, 0),
      failures: e.conn.failures,
      ...(e.conn.lastErrorName ? { lastError: e.conn.lastErrorName } : {}),
    }));
    return {
      openConnections: nodes.filter((n) => n.state === 'ready').length,
      channelsInUse: nodes.reduce((s, n) => s + n.channelsInUse, 0),
      queued: nodes.reduce((s, n) => s + n.queued, 0),
      nodes,
      connects: this.#gate.stats(),
    };
  }

  #entry(target: NodeTarget): NodeEntry {
    if (this.#closed) throw oms('FuncManError', { reason: 'the gateway is shutting down' });
    checkTarget(target);
    const fresh = (): NodeConnection => this.#connectionTo(target);
    const entry = this.#nodes.get(target.name);
    if (!entry) {
      const busy = () => oms('NodeBusyError', { node: target.name });
      const created: NodeEntry = {
        conn: fresh(),
        limiter: new ChannelLimiter(this.#maxChannels, this.#maxQueued, busy),
        forwards: new ChannelLimiter(DEFAULTS.maxForwardsPerNode, 0, busy),
        shells: [],
        residents: new Map(),
      };
      this.#nodes.set(target.name, created);
      return created;
    }
    if (!sameTarget(entry.conn.target, target)) {
      // Address or pinned key changed (node re-signed): the old link was verified against
      // something that no longer holds, so it goes, and its in-flight calls fail.
      entry.conn.close('node settings changed');
      entry.conn = fresh();
      for (const r of entry.residents.values()) r.close();
      for (const lane of entry.shells.splice(0)) lane.conn.close('node settings changed');
      this.#log.info({ node: target.name }, 'node target changed; reconnecting');
    }
    return entry;
  }

  /** A new (lazily opened) connection to the node, with its own reconnect backoff. */
  #connectionTo(target: NodeTarget): NodeConnection {
    return new NodeConnection({ ...target }, this.#link, new Backoff(this.#backoff.min, this.#backoff.max), (conn, change) => this.#connectionChanged(target.name, conn, change), this.#gate);
  }

  /**
   * A node is connected while any of its connections (commands, shells, residents) is up, and
   * disconnected when the last one drops or a connect fails with none up: told once per change,
   * with why. Connections the gateway closes itself (node removed, re-signed, idle) tell nothing.
   */
  #connectionChanged(name: string, conn: NodeConnection, change: ConnectionChange): void {
    const entry = this.#nodes.get(name);
    // The node answered on this connection: the others' remembered failures are stale.
    if (entry && change.state === 'connected') for (const c of [entry.conn, ...entry.shells.map((l) => l.conn)]) if (c !== conn) c.reachedElsewhere();
    if (!this.#onConnection || !entry) return;
    const now = change.state === 'connected' ? 'up' : change.reason;
    if (change.state === 'disconnected' && [entry.conn, ...entry.shells.map((l) => l.conn)].some((c) => c !== conn && c.state === 'ready')) return;
    if (entry.reported === now) return;
    entry.reported = now;
    this.#onConnection(name, change);
  }

  /** A slot counted by `limiter` on the lane's connection, within the call's budget. */
  async #slotOn(lane: Lane, limiter: ChannelLimiter, signal: AbortSignal): Promise<Slot> {
    const release = await limiter.acquire(signal);
    return { link: await this.#linkFor(lane, signal, release), release };
  }

  /**
   * A shell's place: the first shell connection with room, or a new one while there are fewer
   * than maxShellLinksPerNode. Extra connections close once their last shell has.
   */
  async #shellSlot(entry: NodeEntry, signal: AbortSignal): Promise<Slot> {
    if (signal.aborted) throw signal.reason;
    let lane = entry.shells.find((l) => l.limiter.inUse < l.limiter.max);
    if (!lane) {
      if (entry.shells.length >= this.#maxShellLinks) throw oms('NodeBusyError', { node: entry.conn.target.name });
      lane = { conn: this.#connectionTo(entry.conn.target), limiter: new ChannelLimiter(this.#maxChannels, 0, () => oms('NodeBusyError', { node: entry.conn.target.name })) };
      entry.shells.push(lane);
    }
    const chosen = lane;
    // Taken in the same tick as the check above: a lane with room cannot fill up in between.
    const held = await chosen.limiter.acquire(signal);
    const release: Release = () => {
      held();
      const i = entry.shells.indexOf(chosen);
      if (chosen.limiter.inUse === 0 && i > 0) {
        entry.shells.splice(i, 1);
        chosen.conn.close('no shells left on this connection');
      }
    };
    return { link: await this.#linkFor(chosen, signal, release), release };
  }

  /** The lane's link within the call's budget; gives the slot back if that fails. */
  async #linkFor(lane: Lane, signal: AbortSignal, release: Release): Promise<SshLink> {
    try {
      return await untilAborted(() => lane.conn.link(), signal);
    } catch (e) {
      release();
      throw e;
    }
  }

  async #openChannel<T extends NodeJS.EventEmitter = ClientChannel>(
    target: NodeTarget,
    opts: OpenOptions,
    what: string,
    slot: (entry: NodeEntry, signal: AbortSignal) => Promise<Slot>,
    open: (link: SshLink, cb: (err: Error | undefined, ch: T | undefined) => void) => void,
    /** Closes a channel nobody will use; an SFTP session has end() (its close() closes file handles). */
    discard: (ch: T) => void = (ch) => (ch as unknown as ClientChannel).close(),
  ): Promise<T> {
    const entry = this.#entry(target);
    const node = target.name;
    const timeoutMs = positive(opts.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs');
    const deadline = new Deadline(timeoutMs, opts.signal, () => oms('FuncMethodTimeoutError', { node, seconds: timeoutMs / 1000 }));
    try {
      const { link, release } = await slot(entry, deadline.signal);
      return await new Promise<T>((resolve, reject) => {
        let settled = false;
        const fail = (err: unknown): void => {
          if (settled) return;
          settled = true;
          reject(err);
        };
        const onAbort = (): void => fail(deadline.signal.reason);
        deadline.signal.addEventListener('abort', onAbort, { once: true });
        const unwatch = link.watch((reason) => fail(oms('NodeUnreachableError', { node, reason })));
        const done = (err: Error | undefined, ch: T | undefined): void => {
          deadline.signal.removeEventListener('abort', onAbort);
          unwatch();
          if (err || !ch) {
            release();
            fail(link.isDown ? oms('NodeUnreachableError', { node, reason: link.downReason }) : channelRefused(node, what, err));
            return;
          }
          ch.once('close', release);
          drainOnDestroy(ch);
          if (settled) {
            discard(ch); // the caller gave up while the channel was opening
            return;
          }
          settled = true;
          resolve(ch);
        };
        try {
          open(link, done);
        } catch (e) {
          done(e instanceof Error ? e : new Error('channel open failed'), undefined);
        }
      });
    } finally {
      deadline.clear();
    }
  }
}

/**
 * ssh2 emits a channel's 'close' (which gives its slot back) only once the readable side has
 * ended, so a caller that destroys a channel without reading it to the end would hold the slot
 * for good. Destroying also lets the rest of the data flow away unread.
 */
function drainOnDestroy(ch: NodeJS.EventEmitter): void {
  if (!(ch instanceof Duplex)) return; // an SFTP session is not a stream; it closes on end()
  const destroy = ch.destroy.bind(ch);
  ch.destroy = (error?: Error) => {
    ch.resume();
    return destroy(error);
  };
}

/** A listener made by listenUnix: close() stops it (idempotent). */
export interface UnixListener {
  close(): Promise<void>;
}

/** An absolute socket path of plain characters (it travels in an SSH request, not a shell line). */
const isSocketPath = (p: string): boolean => typeof p === 'string' && /^\/[A-Za-z0-9._/-]{1,100}$/.test(p) && !p.includes('..');

function channelRefused(node: string, what: string, err: Error | undefined): OmsError {
  const why = (err?.message ?? 'refused').replace(/^\(SSH\)\s*/, '').slice(0, 120);
  return oms('FuncManError', { reason: `node ${node} could not open ${what}: ${why}` });
}
