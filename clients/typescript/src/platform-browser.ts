/**
 * A browser's transport: fetch and the WebSocket of the page. The browser decides which
 * certificates it trusts, so `ca` and `fingerprint` are refused rather than silently ignored.
 * A browser cannot set headers on a websocket: the bearer goes as the subprotocol
 * `oms.bearer.<secret>` beside `oms.jsonrpc` (the gateway answers with the latter), never in the
 * URL (which browsers print when a socket fails) and never in a cookie.
 */
import { OmsConnectionError } from './errors.js';
import { shown, type Platform, type SocketLike, type TlsOptions } from './platform.js';

function refusePinning(tls: TlsOptions): void {
  if (tls.ca !== undefined || tls.fingerprint !== undefined) throw new TypeError('ca and fingerprint are for Node: in a browser, the browser decides which certificates it trusts');
}

export const browserPlatform: Platform = {
  async post(u, body, headers, tls, opts) {
    refusePinning(tls);
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      const res = await fetch(u, { method: 'POST', body, headers, signal, credentials: 'omit' });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      const reason = timeout.aborted ? 'timeout' : opts.signal?.aborted ? 'aborted' : 'unreachable';
      throw new OmsConnectionError(reason, `${shown(u)}: ${reason === 'unreachable' ? String((e as Error)?.message ?? e) : reason}`);
    }
  },

  openSocket(u, bearer, tls, timeoutMs) {
    refusePinning(tls);
    // Session ids are hex and API tokens base64url: both are valid subprotocol tokens.
    if (bearer && !/^[A-Za-z0-9_.~-]+$/.test(bearer)) throw new TypeError('the session id or API token has characters a websocket subprotocol cannot carry');
    const ws = new WebSocket(u, bearer ? ['oms.jsonrpc', `oms.bearer.${bearer}`] : ['oms.jsonrpc']);
    return new Promise<SocketLike>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.close();
        reject(new OmsConnectionError('timeout', `${shown(u)}: websocket not open within ${timeoutMs} ms`));
      }, timeoutMs);
      const s: SocketLike = { send: (t) => ws.send(t), close: (code, reason) => ws.close(code, reason) };
      ws.onopen = () => {
        clearTimeout(timer);
        resolve(s);
      };
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new OmsConnectionError('unreachable', `${shown(u)}: websocket failed`));
      };
      ws.onmessage = (m) => {
        if (typeof m.data === 'string') s.onmessage?.(m.data);
      };
      ws.onclose = (c) => s.onclose?.(c.code, c.reason);
    });
  },
};
