/**
 * JSON-RPC 2.0 over a websocket at /ws: one request (or batch) per text message, answers in
 * order of completion. A client that connected with `Authorization: Bearer <SESSID or API token>`
 * is told by a `session.ended` notification when its session ends, and the socket closes.
 * A browser cannot set headers on a websocket: it offers the subprotocols `oms.jsonrpc` and
 * `oms.bearer.<secret>` instead (as Kubernetes does), so the secret never sits in a URL that
 * browsers, proxies and access logs print; the gateway answers `oms.jsonrpc` only. `?bearer=` is
 * still read, for clients written before.
 *
 * Live events: `events.subscribe` starts this socket's subscription (one per socket); events come
 * as `events.event` notifications. Backpressure is the socket's own: past HIGH_WATER bytes
 * unsent, events wait in the subscription's bounded queue (OMS_EVENTS_QUEUE), then the
 * subscriber gets `resync` and its subscription ends (the socket stays). Every socket is pinged
 * each OMS_EVENTS_HEARTBEAT seconds; a subscribed one that got nothing in that time also gets an
 * `events.heartbeat` notification, which proxies and browser code can see.
 */
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppServices } from '../rpc/context.ts';
import { digest } from '../auth/tokens.ts';
import { parseRequestBody } from '../rpc/json.ts';
import { errorResponse, handleJsonRpc } from './jsonrpc.ts';
import { bearerOf } from './rpc-endpoints.ts';
import { oms } from '../rpc/errors.ts';
import type { TaskRow } from '../tasks/tasks.ts';
import type { EventChannel } from '../events/channel.ts';
import type { Outlet, Subscription } from '../events/subscription.ts';
import type { OmsEvent } from '../events/types.ts';

/** Bytes a socket may hold unsent before its subscription's events start to queue (as console bridges). */
const HIGH_WATER = 1 << 20;
/** How often a backed-up socket is looked at again (ws offers no drain event of its own). */
const DRAIN_CHECK_MS = 20;

/** This socket's event subscription, and the outlet that writes to it. */
function eventChannel(app: AppServices, socket: WebSocket, sent: () => void, frames: WeakMap<OmsEvent, string>): EventChannel & { close(): void; readonly subscribed: boolean } {
  let sub: Subscription | undefined;
  const open = () => socket.readyState === socket.OPEN;
  const outlet: Outlet = {
    send(e) {
      if (!open()) return;
      // The same event goes to every subscriber: serialised once.
      let frame = frames.get(e);
      if (frame === undefined) frames.set(e, (frame = JSON.stringify({ jsonrpc: '2.0', method: 'events.event', params: e })));
      socket.send(frame);
      sent();
    },
    writable: () => open() && socket.bufferedAmount < HIGH_WATER,
    whenWritable(fn) {
      const t = setInterval(() => {
        if (!open()) clearInterval(t);
        else if (socket.bufferedAmount < HIGH_WATER) {
          clearInterval(t);
          fn();
        }
      }, DRAIN_CHECK_MS);
    },
    ended: () => {
      sub = undefined;
    },
  };
  return {
    subscribe(viewer, filter, since) {
      sub?.close();
      sub = app.bus.subscribe(viewer, filter, since, outlet, 'ws');
    },
    unsubscribe() {
      const had = sub !== undefined && !sub.closed;
      sub?.close();
      sub = undefined;
      return had;
    },
    close() {
      sub?.close();
      sub = undefined;
    },
    get subscribed() {
      return sub !== undefined && !sub.closed;
    },
  };
}

/** The subprotocol the gateway speaks on /ws, and the prefix of the one that carries a browser's bearer. */
export const WS_PROTOCOL = 'oms.jsonrpc';
export const WS_BEARER_PREFIX = 'oms.bearer.';

/** The bearer of an upgrade: the Authorization header, the bearer subprotocol, or (older clients) `?bearer=`. */
function upgradeBearer(req: IncomingMessage, url: URL): string | undefined {
  const header = bearerOf(req.headers.authorization);
  if (header) return header;
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const sub = offered.find((p) => p.startsWith(WS_BEARER_PREFIX));
  if (sub) return sub.slice(WS_BEARER_PREFIX.length) || undefined;
  return url.searchParams.get('bearer') ?? undefined;
}

export function createRpcWebSocketServer(app: AppServices): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: app.config.maxBodyBytes,
    // Never echo the bearer subprotocol back: the answer names only the protocol spoken.
    handleProtocols: (offered) => (offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
  });
  // Notification text per event, shared by this server's sockets; gone with the event.
  const frames = new WeakMap<OmsEvent, string>();
  wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const bearer = upgradeBearer(req, url);
    const remote = req.socket.remoteAddress;
    const abort = new AbortController();
    const onSessionEnded = (key: string) => {
      if (bearer && key === digest(bearer)) {
        socket.send(JSON.stringify({ jsonrpc: '2.0', method: 'session.ended', params: {} }));
        socket.close(4001, 'session ended');
      }
    };
    // Task progress is pushed to sockets of the user who started the task.
    let user: string | undefined;
    try {
      user = bearer ? app.sessions.resolve(bearer).userName : undefined;
    } catch {
      user = undefined; // an invalid bearer simply gets no pushes; calls still report AuthError
    }
    const onTask = (row: TaskRow) => {
      if (user && row.user === user && socket.readyState === socket.OPEN) socket.send(JSON.stringify({ jsonrpc: '2.0', method: 'task.updated', params: row }));
    };
    app.events.on('session-ended', onSessionEnded);
    app.events.on('task', onTask);
    let lastSent = Date.now();
    const channel = eventChannel(app, socket, () => (lastSent = Date.now()), frames);
    const heartbeatMs = app.config.eventsHeartbeatSeconds * 1000;
    const heartbeat = setInterval(() => {
      if (socket.readyState !== socket.OPEN) return;
      socket.ping();
      if (channel.subscribed && Date.now() - lastSent >= heartbeatMs - 50) {
        socket.send(JSON.stringify({ jsonrpc: '2.0', method: 'events.heartbeat', params: { time: Date.now(), latest: app.bus.latest() } }));
        lastSent = Date.now();
      }
    }, heartbeatMs);
    heartbeat.unref();
    socket.on('close', () => {
      abort.abort();
      clearInterval(heartbeat);
      channel.close();
      app.events.off('session-ended', onSessionEnded);
      app.events.off('task', onTask);
    });
    socket.on('message', async (data, isBinary) => {
      let payload: unknown;
      try {
        if (isBinary) throw oms('ParseError', { reason: 'binary frames are not JSON-RPC' });
        payload = parseRequestBody(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer));
      } catch (e) {
        socket.send(JSON.stringify(errorResponse(null, e as never)));
        return;
      }
      const answer = await handleJsonRpc(app, payload, { bearer, remote, requestId: randomUUID(), transport: 'websocket', signal: abort.signal, events: channel });
      if (answer !== undefined && socket.readyState === socket.OPEN) socket.send(JSON.stringify(answer));
    });
  });
  return wss;
}
