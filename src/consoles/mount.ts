/**
 * One call wires consoles into a gateway (src/server.ts, test/helpers/gateway.ts):
 *   const consoles = mountConsoles(app, { tls });
 *   createHttpApp(app, consoles.routes);                       // static /web-vnc/ pages
 *   if (consoles.handles(path)) consoles.handleUpgrade(req, socket, head);
 *   await consoles.listenPages();                              // the VNC page port (OMS_CONSOLE_PAGE_PORT)
 *   consoles.close();                                         // on shutdown
 *
 * Where the OMS document opens consoles, the gateway answers too: the VNC page on its own port
 * (`https://host:8002/vnc.html?SESSID=..&host=..&port=6801`), whose websocket goes to the spot's
 * port, and an SSH spot's port serving the terminal page at `/` (`https://host:6900/?SESSID=..`).
 * Every one of these servers uses the gateway's address and certificate.
 */
import { join, resolve } from 'node:path';
import { createServer as createHttp, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express from 'express';
import type { AppServices } from '../rpc/context.ts';
import { CONSOLE_WS_PATH, ConsoleHub } from './hub.ts';
import { SpotListeners } from './spot-listeners.ts';
import { CONSOLE_CLOSED, type ConsoleClosed } from './tunnels.ts';
import type { ConsoleKind } from './store.ts';

const root = resolve(import.meta.dirname, '..', '..');

export interface ConsoleTls {
  readonly key: string;
  readonly cert: string;
}

export interface MountedConsoles {
  readonly hub: ConsoleHub;
  /** The spots' own ports; undefined when OMS_CONSOLE_SPOT_PORTS is off. */
  readonly spots: SpotListeners | undefined;
  /** Static routes: the pages, and the noVNC and xterm.js files they load, same origin. */
  routes(router: express.Router): void;
  handles(path: string): boolean;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Starts the VNC page port if configured; its port number, or undefined (off, or it could not listen). */
  listenPages(): Promise<number | undefined>;
  close(): void;
}

const files = (dir: string, index: string | false = false) => express.static(dir, { index, fallthrough: true, dotfiles: 'deny', redirect: false });

/** The console pages and the library files they load, under `prefix` ('' for the root of a port of their own). */
function pageRoutes(router: express.Router, prefix: string, index: string): void {
  router.use(`${prefix}/novnc/core`, files(join(root, 'node_modules/@novnc/novnc/core')));
  router.use(`${prefix}/novnc/vendor`, files(join(root, 'node_modules/@novnc/novnc/vendor')));
  router.use(`${prefix}/xterm/lib`, files(join(root, 'node_modules/@xterm/xterm/lib')));
  router.use(`${prefix}/xterm/css`, files(join(root, 'node_modules/@xterm/xterm/css')));
  router.use(`${prefix}/xterm-fit`, files(join(root, 'node_modules/@xterm/addon-fit/lib')));
  router.use(prefix || '/', files(join(root, 'web-vnc'), index));
}

/**
 * A small app for a port that serves only console pages: no RPC, no query string reaches a log.
 * The address (with a session id in its query) stays out of the Referer of the files it loads.
 */
function pagesApp(index: string): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });
  const router = express.Router();
  pageRoutes(router, '', index);
  app.use(router);
  app.use((_req, res) => res.status(404).type('text/plain').send('not found\n'));
  // A malformed path and the like: a status, never a stack trace or the address (which may hold a session id).
  app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (!res.headersSent) res.status(status).type('text/plain').send(status === 500 ? 'error\n' : 'bad request\n');
    else res.end();
  });
  return app;
}

export function mountConsoles(app: AppServices, opts: { tls?: ConsoleTls } = {}): MountedConsoles {
  const hub = new ConsoleHub(app);
  const log = app.log.child({ part: 'consoles' });
  const terminalPages = pagesApp('terminal.html');
  // A VNC spot's port carries the websocket only; the page is on the page port.
  const websocketOnly: RequestListener = (_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close', 'Cache-Control': 'no-store' }).end('this port carries a VNC websocket; open the console page\n');
  };
  const spots = app.config.consoleSpotPorts
    ? new SpotListeners({
        bind: app.config.bind,
        tls: opts.tls,
        requests: (kind: ConsoleKind) => (kind === 'ssh' ? (terminalPages as unknown as RequestListener) : websocketOnly),
        upgrade: (kind, handle, req, socket, head) => hub.handleSpotUpgrade(kind, handle, req, socket, head),
        log,
      })
    : undefined;
  const detach = spots ? app.consoleSpots.attach(spots) : () => {};
  const onClosed = (c: ConsoleClosed) => spots?.close(c.kind, c.handle);
  app.events.on(CONSOLE_CLOSED, onClosed);
  let pages: Server | undefined;

  return {
    hub,
    spots,
    routes: (router) => pageRoutes(router, '/web-vnc', 'vnc.html'),
    handles: (path) => path === CONSOLE_WS_PATH,
    handleUpgrade: (req, socket, head) => hub.handleUpgrade(req, socket, head),
    async listenPages() {
      const port = app.config.consolePagePort;
      if (port === null || pages) return pages ? (pages.address() as AddressInfo).port : undefined;
      const handler = pagesApp('vnc.html') as unknown as RequestListener;
      const server = opts.tls ? createHttps({ key: opts.tls.key, cert: opts.tls.cert, connectionsCheckingInterval: 1000 }, handler) : createHttp({ connectionsCheckingInterval: 1000 }, handler);
      server.requestTimeout = app.config.requestTimeoutSeconds * 1000;
      server.headersTimeout = Math.min(15_000, server.requestTimeout);
      server.on('clientError', (_err, socket) => socket.destroy());
      server.on('upgrade', (_req, socket: Duplex) => socket.destroy());
      try {
        await new Promise<void>((resolveListen, reject) => {
          server.once('error', reject);
          server.listen(port, app.config.bind, () => resolveListen());
        });
      } catch (e) {
        // The RPC port and /web-vnc/ still work; a page port another program holds must not take them down.
        log.error({ port, code: (e as NodeJS.ErrnoException).code }, 'the VNC page port cannot be opened (OMS_CONSOLE_PAGE_PORT); consoles stay at /web-vnc/ on the main port');
        return undefined;
      }
      pages = server;
      const bound = (server.address() as AddressInfo).port;
      log.info({ port: bound }, 'VNC page port listening');
      return bound;
    },
    close() {
      app.events.off(CONSOLE_CLOSED, onClosed);
      detach();
      spots?.closeAll();
      if (pages) {
        pages.close();
        pages.closeAllConnections();
      }
      hub.close();
    },
  };
}
