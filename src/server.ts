/**
 * Starts the gateway: database, first admin, HTTP(S) with every wire format and the /ws upgrade.
 */
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { Config } from './config.ts';
import { createApp, ensureAdmin, recoverAfterStop, type AppServices } from './app.ts';
import { createLogger, type Logger } from './log.ts';
import { answerClientErrors, createHttpApp } from './http/http-app.ts';
import { createRpcWebSocketServer } from './http/ws.ts';
import { loadOrCreateCertificate } from './http/tls.ts';
import { mountConsoles } from './consoles/mount.ts';
import { urlHost } from './rpc/ip.ts';
import { NODES_CHANGED } from './events/watchers.ts';

export interface RunningServer {
  app: AppServices;
  server: Server;
  url: string;
  port: number;
  /** The VNC page as the OMS document opens it (OMS_CONSOLE_PAGE_PORT); undefined when off. */
  pagesUrl?: string;
  close(): Promise<void>;
}

/** How often Node looks for requests past their timeout; its default (30 s) would let slow clients overstay. */
const CHECK_MS = 1000;

export async function startServer(config: Config, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const app = createApp(config, log);
  recoverAfterStop(app);
  app.metrics.collectProcessMetrics();
  // The node watchers (libvirt and LXC readers) run in a serving gateway only, never in a CLI
  // command that opens the same database.
  // OMS_NODE_WATCHERS=off: none (a fleet without libvirt or LXC, such as the lab's light nodes,
  // where every reader would fail and start again after its backoff, on every node).
  if (config.nodeWatchers) app.watchers.start();
  // Every signed node's connection opened now (spread by the pool's connect gate), and again for
  // nodes signed later, so a fleet-wide call finds them warm.
  app.warmNodes();
  app.events.on(NODES_CHANGED, () => app.warmNodes());
  // The health monitor likewise: sampling and events belong to the gateway that serves.
  app.health?.start();
  const admin = await ensureAdmin(app);
  if (admin.generatedPassword) {
    // Printed once to the operator's terminal, deliberately not through the logger.
    process.stderr.write(`\nOMS: created user "admin" with password ${admin.generatedPassword}\nOMS: store it now; it is not shown again (set OMS_ADMIN_PASSWORD to choose it).\n\n`);
  } else if (admin.created) log.info('created user admin with OMS_ADMIN_PASSWORD');

  const tls = config.tls ? await loadOrCreateCertificate(config.dataDir) : undefined;
  if (tls?.generated) log.info({ dir: `${config.dataDir}/tls` }, 'generated a self-signed TLS certificate');
  // Consoles: static /web-vnc/ pages and the /consoles/ws ticket websocket, the VNC page port and
  // the spots' own ports, all with the same certificate (src/consoles).
  const consoles = mountConsoles(app, { tls });
  const handler = createHttpApp(app, consoles.routes);
  const server: Server = tls
    ? createHttps({ key: tls.key, cert: tls.cert, connectionsCheckingInterval: CHECK_MS }, handler)
    : createHttp({ connectionsCheckingInterval: CHECK_MS }, handler);
  answerClientErrors(server);
  // Slow-body clients must not hold sockets forever.
  server.requestTimeout = config.requestTimeoutSeconds * 1000;
  server.headersTimeout = Math.min(15_000, server.requestTimeout);

  const wss = createRpcWebSocketServer(app);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/ws') wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    else if (consoles.handles(path)) consoles.handleUpgrade(req, socket, head);
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.bind, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = urlHost(config.bind);
  const scheme = config.tls ? 'https' : 'http';
  const url = `${scheme}://${host}:${port}`;
  const pagePort = await consoles.listenPages();
  const pagesUrl = pagePort === undefined ? undefined : `${scheme}://${host}:${pagePort}/vnc.html`;
  log.info({ url, ...(pagesUrl ? { vncPage: pagesUrl } : {}) }, 'OMS listening');

  return {
    app,
    server,
    url,
    port,
    pagesUrl,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        consoles.close();
        server.close(() => {
          app.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
