/**
 * Pipes bytes between a browser websocket and a node-side stream (an SSH direct-tcpip channel to
 * a guest's VNC server, or a pty shell channel), as websockify does for noVNC: binary frames carry
 * the stream's bytes both ways. For terminals, text frames are control messages from the page
 * (`{"resize":[cols,rows]}`); for VNC there are none, so text frames are refused.
 *
 * Flow control both ways: a slow browser pauses the node stream, a slow node pauses the socket.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

const HIGH_WATER = 1 << 20;

export interface BridgeOptions {
  /** Handles a text frame (terminal control); absent: text frames close the socket. */
  readonly onText?: (text: string) => void;
  /** Called once when either side has ended. */
  readonly onClose?: () => void;
}

export function bridge(ws: WebSocket, stream: Duplex, opts: BridgeOptions = {}): () => void {
  let closed = false;
  let inFlight = 0;
  const close = (code = 1000, reason = ''): void => {
    if (closed) return;
    closed = true;
    stream.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
    opts.onClose?.();
  };

  stream.on('data', (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    inFlight += chunk.length;
    ws.send(chunk, { binary: true }, () => {
      inFlight -= chunk.length;
      if (inFlight < HIGH_WATER / 2 && stream.isPaused()) stream.resume();
    });
    if (inFlight >= HIGH_WATER) stream.pause();
  });
  stream.on('end', () => close(1000, 'console ended'));
  stream.on('close', () => close(1000, 'console ended'));
  // The stream's error text can quote node output; the page only learns that it ended.
  stream.on('error', () => close(1011, 'console stream failed'));

  ws.on('message', (data, isBinary) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (!isBinary) {
      if (!opts.onText) return close(1003, 'binary frames only');
      opts.onText(buf.toString('utf8'));
      return;
    }
    if (!stream.write(buf)) {
      ws.pause();
      stream.once('drain', () => ws.resume());
    }
  });
  ws.on('close', () => close());
  ws.on('error', () => close());
  return () => close(4000, 'console closed');
}
