/**
 * One HTTP(S) server per reserved VNC/SSH spot, on the spot's own port, bound to the gateway's
 * address (OMS_BIND) with the gateway's certificate. It exists only while the spot is reserved:
 * opened by set-up, closed on every removal (remove methods, deauthenticate, session expiry,
 * shutdown). What it answers is given by the caller (mount.ts): a websocket upgrade for any spot,
 * and for an SSH spot the terminal page at `/`.
 *
 * Live sockets are the one thing that cannot live in SQLite; they are held here, keyed by spot.
 */
import { createServer as createHttp, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.ts';
import { SpotPortError, type SpotPortOpener } from './spots.ts';
import type { ConsoleKind } from './store.ts';

export interface SpotListenerOptions {
  /** Address to listen on: the gateway's own (OMS_BIND). */
  readonly bind: string;
  /** The gateway's certificate; absent: plain HTTP (OMS_TLS off). */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Ordinary HTTP requests on a spot's port, by kind. */
  readonly requests: (kind: ConsoleKind) => RequestListener;
  /** Websocket upgrades on a spot's port: the caller authenticates and pipes. */
  readonly upgrade: (kind: ConsoleKind, handle: number, req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly log: Logger;
}

interface Listening {
  readonly server: Server;
  readonly sockets: Set<Socket>;
}

/** A closed spot's sockets get this long to flush their last frames (a websocket's close) before they are cut. */
const LINGER_MS = 2000;

export class SpotListeners implements SpotPortOpener {
  readonly #opts: SpotListenerOptions;
  readonly #servers = new Map<string, Listening>();

  constructor(opts: SpotListenerOptions) {
    this.#opts = opts;
  }

  /** The spots listening now, as "kind:port" (for tests). */
  get listening(): string[] {
    return [...this.#servers.keys()];
  }

  open(kind: ConsoleKind, handle: number): Promise<void> {
    const key = `${kind}:${handle}`;
    if (this.#servers.has(key)) return Promise.resolve();
    const { tls, requests, upgrade, bind } = this.#opts;
    const server: Server = tls ? createHttps({ key: tls.key, cert: tls.cert, connectionsCheckingInterval: 1000 }, requests(kind)) : createHttp({ connectionsCheckingInterval: 1000 }, requests(kind));
    server.requestTimeout = 30_000;
    server.headersTimeout = 15_000;
    const sockets = new Set<Socket>();
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrade(kind, handle, req, socket, head));
    const entry: Listening = { server, sockets };
    // Reserved before listening, so a close() arriving meanwhile finds it.
    this.#servers.set(key, entry);
    return new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        if (this.#servers.get(key) === entry) this.#servers.delete(key);
        reject(new SpotPortError(handle, e.code ?? 'EUNKNOWN'));
      });
      server.listen({ port: handle, host: bind, exclusive: true }, () => {
        server.removeAllListeners('error');
        server.on('error', (e) => this.#opts.log.warn({ kind, port: handle, err: e }, 'console spot listener failed'));
        if (this.#servers.get(key) !== entry) {
          // Closed while it was being opened: the spot is gone already.
          server.close();
          return resolve();
        }
        resolve();
      });
    });
  }

  close(kind: ConsoleKind, handle: number): void {
    const key = `${kind}:${handle}`;
    const entry = this.#servers.get(key);
    if (!entry) return;
    this.#servers.delete(key);
    // Stops accepting at once; open sockets end after their pending writes, and are cut if they linger.
    entry.server.close();
    for (const s of entry.sockets) {
      s.end();
      setTimeout(() => s.destroy(), LINGER_MS).unref();
    }
  }

  closeAll(): void {
    for (const key of [...this.#servers.keys()]) {
      const [kind, handle] = key.split(':');
      this.close(kind as ConsoleKind, Number(handle));
    }
  }
}
