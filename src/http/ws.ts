/**
 * JSON-RPC 2.0 over a websocket at /ws: one request (or batch) per text message, answers in
 * order of completion. A client that connected with `Authorization: Bearer <SESSID>` (or
 * `?bearer=` for browsers, which cannot set headers on websockets) is told by a
 * `session.ended` notification when its session ends, and the socket closes.
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

export function createRpcWebSocketServer(app: AppServices): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: app.config.maxBodyBytes });
  wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const bearer = bearerOf(req.headers.authorization) ?? url.searchParams.get('bearer') ?? undefined;
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
    socket.on('close', () => {
      abort.abort();
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
      const answer = await handleJsonRpc(app, payload, { bearer, remote, requestId: randomUUID(), transport: 'websocket', signal: abort.signal });
      if (answer !== undefined && socket.readyState === socket.OPEN) socket.send(JSON.stringify(answer));
    });
  });
  return wss;
}
