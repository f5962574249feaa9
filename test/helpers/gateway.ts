/**
 * An in-process gateway for protocol tests: real HTTP on loopback (ephemeral port), real
 * pipeline, an in-memory database. Extra services can be declared for a test.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { WebSocketServer } from 'ws';
import { loadConfig, type Config } from '../../src/config.ts';
import { createApp, ensureAdmin, type AppServices } from '../../src/app.ts';
import { openDatabase } from '../../src/db/database.ts';
import { answerClientErrors, createHttpApp } from '../../src/http/http-app.ts';
import { createRpcWebSocketServer } from '../../src/http/ws.ts';
import type { ServiceDecl } from '../../src/rpc/declare.ts';
import { mountConsoles } from '../../src/consoles/mount.ts';

export const ADMIN_PASSWORD = 'correct horse battery';

export interface TestGateway {
  app: AppServices;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
  /** OMS query-string GET; returns the parsed JSON body. */
  get(service: string, method: string, params: unknown[], id?: number): Promise<any>;
  /** POST a raw body (string or object) to a path. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  login(user?: string, password?: string): Promise<string>;
}

export async function startTestGateway(opts: { config?: Partial<Config>; services?: ServiceDecl[]; /** Told every SQL statement the database runs. */ sqlTrace?: (sql: string) => void } = {}): Promise<TestGateway> {
  // Console ports stay shut unless a test asks: gateways of parallel tests would fight over 8002 and 6801...
  const config = loadConfig(
    { OMS_TLS: 'off', OMS_ADMIN_PASSWORD: ADMIN_PASSWORD, OMS_DATA_DIR: '/tmp/oms-test-unused', OMS_CONSOLE_PAGE_PORT: 'off', OMS_CONSOLE_SPOT_PORTS: 'off' },
    opts.config,
  );
  const log = pino({ level: process.env.OMS_TEST_LOG ?? 'silent' });
  const app = createApp(config, log, openDatabase(':memory:', undefined, { trace: opts.sqlTrace }), opts.services ?? []);
  await ensureAdmin(app);
  // Consoles: static /web-vnc/ pages and the /consoles/ws ticket websocket (src/consoles).
  const consoles = mountConsoles(app);
  const server: Server = createServer(createHttpApp(app, consoles.routes));
  answerClientErrors(server);
  const wss: WebSocketServer = createRpcWebSocketServer(app);
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/ws') wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    else if (consoles.handles(path)) consoles.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const gw: TestGateway = {
    app,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      consoles.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      app.close();
    },
    async get(service, method, params, id = 1) {
      const q = new URLSearchParams({ id: String(id), service, method, params: JSON.stringify(params) });
      const res = await fetch(`${url}/?${q}`);
      return res.json();
    },
    async post(path, body, headers = {}) {
      const res = await fetch(url + path, { method: 'POST', body: typeof body === 'string' || Buffer.isBuffer(body) ? (body as string) : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async login(user = 'admin', password = ADMIN_PASSWORD) {
      const r = await gw.get('authservices', 'authenticate', [user, password]);
      if (r.error) throw new Error(`login failed: ${JSON.stringify(r.error)}`);
      return r.result.result as string;
    },
  };
  return gw;
}
