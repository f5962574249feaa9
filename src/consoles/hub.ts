/**
 * The websocket side of consoles: `/consoles/ws?ticket=...` accepts only a valid ticket (see
 * store.ts), then opens the node-side stream through the node's SSH connection and pipes bytes.
 * A spot's own port (spot-listeners.ts) accepts a ticket for that spot, or the session id of the
 * session that reserved it (`?SESSID=`, as the OMS document's pages connect), with the guest's or
 * node's console permission checked again. Guest VNC servers stay bound to the node's loopback;
 * no node port is ever opened.
 *
 * Live connections are the one thing that cannot live in SQLite; they are held by this object
 * (one per server), keyed by tunnel, and end when their tunnel is removed or its session ends.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppServices } from '../rpc/context.ts';
import { isOmsError, oms } from '../rpc/errors.ts';
import { shellLine } from '../nodes/command.ts';
import { bridge } from './bridge.ts';
import { serialConsole } from './commands.ts';
import { vncTarget } from './vnc-target.ts';
import { CONSOLE_CLOSED, closeTunnels, consoleStore, type ConsoleClosed } from './tunnels.ts';
import type { ConsoleKind, Ticket } from './store.ts';
import { paths } from '../auth/permissions.ts';

export const CONSOLE_WS_PATH = '/consoles/ws';

const OPEN_TIMEOUT_MS = 15_000;

interface Live {
  readonly sessionKey: string;
  close(): void;
}

const dim = (raw: string | null, fallback: number): number => {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 2 && n <= 1000 ? n : fallback;
};

export class ConsoleHub {
  readonly #app: AppServices;
  readonly #wss: WebSocketServer;
  readonly #live = new Map<string, Set<Live>>();
  readonly #onSessionEnded: (key: string) => void;
  readonly #onClosed: (c: ConsoleClosed) => void;

  constructor(app: AppServices) {
    this.#app = app;
    // noVNC may offer the 'binary' subprotocol (websockify's name for raw bytes); anything else is declined.
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 4 << 20, handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false) });
    const store = consoleStore(app);
    const stale = store.clear();
    if (stale) app.log.info({ tunnels: stale }, 'dropped console tunnels of a previous gateway process');
    this.#onSessionEnded = (key) => {
      const rows = store.removeSession(key);
      // Announced like any removal, so the spots' own ports close too.
      closeTunnels(app, rows);
      // Connections whose tunnel row was already gone still belong to the session.
      for (const set of this.#live.values()) for (const l of [...set]) if (l.sessionKey === key) l.close();
      if (rows.length) app.log.info({ tunnels: rows.length }, 'console tunnels closed with their session');
    };
    this.#onClosed = (c) => this.#closeLive(c.kind, c.handle);
    app.events.on('session-ended', this.#onSessionEnded);
    app.events.on(CONSOLE_CLOSED, this.#onClosed);
  }

  /** Open live connections (for tests and the benchmark). */
  get liveCount(): number {
    let n = 0;
    for (const s of this.#live.values()) n += s.size;
    return n;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const ticket = consoleStore(this.#app).redeem(url.searchParams.get('ticket'));
    if (!ticket) return refuse(socket);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      void this.#open(ws, ticket, url);
    });
  }

  /** A websocket on a spot's own port: a ticket for this spot, or the id of the session that reserved it. */
  handleSpotUpgrade(kind: ConsoleKind, handle: number, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const access = this.#spotAccess(kind, handle, url);
    if (!access) return refuse(socket);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      void this.#open(ws, access, url);
    });
  }

  #spotAccess(kind: ConsoleKind, handle: number, url: URL): Ticket | undefined {
    const store = consoleStore(this.#app);
    if (url.searchParams.has('ticket')) {
      const t = store.redeem(url.searchParams.get('ticket'));
      return t && t.kind === kind && t.handle === handle ? t : undefined;
    }
    const sessid = url.searchParams.get('SESSID');
    if (!sessid) return undefined;
    let principal;
    try {
      // Also ends an expired session, which closes this very spot.
      principal = this.#app.sessions.resolve(sessid);
    } catch {
      return undefined;
    }
    const row = store.mine(kind, handle, principal.sessionKey);
    if (!row) return undefined;
    // Set-up checked the permission; it may have been taken away since.
    const [privilege, path] = kind === 'vnc' || kind === 'serial' ? (['vm.console', paths.vm(row.node, row.vm)] as const) : (['node.admin', paths.node(row.node)] as const);
    if (!this.#app.permissions.has(principal.userId, principal.userName, privilege, path)) return undefined;
    return { kind, handle, sessionKey: row.sessionKey, node: row.node, vm: row.vm };
  }

  close(): void {
    this.#app.events.off('session-ended', this.#onSessionEnded);
    this.#app.events.off(CONSOLE_CLOSED, this.#onClosed);
    for (const set of this.#live.values()) for (const l of [...set]) l.close();
    for (const c of this.#wss.clients) c.terminate();
    this.#wss.close();
  }

  #closeLive(kind: ConsoleKind, handle: number): void {
    for (const l of [...(this.#live.get(`${kind}:${handle}`) ?? [])]) l.close();
  }

  async #open(ws: WebSocket, t: Ticket, url: URL): Promise<void> {
    const key = `${t.kind}:${t.handle}`;
    const set = this.#live.get(key) ?? new Set<Live>();
    this.#live.set(key, set);
    const abort = new AbortController();
    let end: () => void = () => {
      abort.abort();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(4000, 'console closed');
    };
    const entry: Live = { sessionKey: t.sessionKey, close: () => end() };
    const forget = (): void => {
      set.delete(entry);
      if (set.size === 0 && this.#live.get(key) === set) this.#live.delete(key);
    };
    set.add(entry);
    ws.once('close', () => {
      abort.abort();
      forget();
    });
    // Keystrokes sent while the node side is still opening are kept and replayed, in order.
    const early: [Buffer, boolean][] = [];
    const keep = (data: Buffer, isBinary: boolean): void => void early.push([data, isBinary]);
    ws.on('message', keep);
    const log = this.#app.log.child({ part: 'consoles', kind: t.kind, port: t.handle, node: t.node, ...(t.vm ? { vm: t.vm } : {}) });
    try {
      const stream = await this.#connect(t, url, abort.signal);
      if (abort.signal.aborted) {
        stream.destroy();
        return;
      }
      const resize = 'setWindow' in stream ? (text: string) => resizeFrom(text, stream as Duplex & { setWindow(r: number, c: number, h: number, w: number): void }) : undefined;
      // Opened and closed are told to event subscribers (who may view the guest or node).
      const told = { type: 'console' as const, node: t.node, ...(t.vm ? { target: t.vm } : {}), data: { kind: t.kind, port: t.handle } };
      end = bridge(ws, stream, {
        onText: resize,
        onClose: () => {
          forget();
          this.#app.bus.publish({ ...told, action: 'closed' });
        },
      });
      ws.off('message', keep);
      for (const [data, isBinary] of early) ws.emit('message', data, isBinary);
      log.info('console connected');
      this.#app.bus.publish({ ...told, action: 'opened' });
    } catch (e) {
      // The page gets the error name only; the detail (node output) goes to the log.
      const name = isOmsError(e) ? e.omsName : 'FuncManError';
      log.warn({ error: name, reason: isOmsError(e) ? e.message : undefined }, 'console could not be opened');
      if (!isOmsError(e)) log.error({ err: e }, 'unexpected console failure');
      forget();
      ws.off('message', keep);
      if (ws.readyState === ws.OPEN) ws.close(4002, name);
    }
  }

  async #connect(t: Ticket, url: URL, signal: AbortSignal): Promise<Duplex> {
    const node = this.#app.access.get(t.node, signal);
    const uri = node.settings.libvirtUri ?? 'qemu:///system';
    const opts = { signal, timeoutMs: OPEN_TIMEOUT_MS };
    if (t.kind === 'vnc') {
      // Asked on every connect (vnc-target.ts says why), of a virsh already running on the node.
      const target = await vncTarget(node, t.vm, opts);
      try {
        return await node.forwardOut(target.host, target.port, opts);
      } catch (e) {
        throw oms('VNCTunnelSetUpError', { node: t.node, vm: t.vm, reason: isOmsError(e) ? e.omsName : 'channel refused' });
      }
    }
    const pty = { cols: dim(url.searchParams.get('cols'), 80), rows: dim(url.searchParams.get('rows'), 24), term: 'xterm-256color' };
    let ch;
    try {
      ch = await node.shell(pty, opts);
    } catch (e) {
      if (t.kind === 'ssh') throw oms('SSHTunnelSetUpError', { node: t.node, reason: isOmsError(e) ? e.omsName : 'channel refused' });
      throw oms('ConsoleRemoteSetUpError', { node: t.node, vm: t.vm, reason: isOmsError(e) ? e.omsName : 'channel refused' });
    }
    // The serial console replaces the shell (exec), quoted by the one quoting helper.
    if (t.kind === 'serial') ch.write(`${shellLine(serialConsole(uri, t.vm))}\n`);
    return ch;
  }
}

/** Same answer for unknown, used, expired and foreign tickets or sessions: nothing to learn by probing. */
function refuse(socket: Duplex): void {
  socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 29\r\n\r\nconsole ticket is not valid.\n');
}

function resizeFrom(text: string, ch: { setWindow(rows: number, cols: number, height: number, width: number): void }): void {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return; // not a control message: ignored, like any unknown one
  }
  const r = (msg as { resize?: unknown }).resize;
  if (Array.isArray(r) && r.length === 2) {
    const [cols, rows] = r.map((x) => dim(String(x), 0));
    if (cols && rows) ch.setWindow(rows, cols, 0, 0);
  }
}
