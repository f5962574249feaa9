/**
 * What differs between Node and a browser: how a POST and a websocket reach the gateway, and what
 * certificate is trusted. The core (client.ts) only sees this interface; index.ts binds Node's
 * (platform-node.ts), browser.ts the browser's, so a browser bundle never pulls in node:tls or ws.
 */

/** Which certificate the gateway must present (Node only; a browser applies its own trust store). */
export interface TlsOptions {
  /** PEM of the CA (or of the gateway's self-signed certificate) to trust, like curl's --cacert. */
  ca?: string | Uint8Array;
  /**
   * SHA-256 fingerprint of the gateway's certificate (hex, colons optional, as
   * `openssl x509 -noout -fingerprint -sha256` prints it): that certificate and no other is
   * accepted, whoever signed it. Checked before any byte of a request is sent.
   */
  fingerprint?: string;
}

export interface HttpAnswer {
  status: number;
  text: string;
}

/** A websocket as the core uses it; text frames only. */
export interface SocketLike {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  onmessage?: (text: string) => void;
  onclose?: (code: number, reason: string) => void;
}

export interface Platform {
  post(url: URL, body: string, headers: Record<string, string>, tls: TlsOptions, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<HttpAnswer>;
  /**
   * Opens the websocket and resolves once it is open. The bearer travels as a header where the
   * platform can set one. `hold`: the open socket alone keeps a Node process running (an events
   * subscription); without it only a pending call does, so a script that is done simply ends.
   */
  openSocket(url: URL, bearer: string | undefined, tls: TlsOptions, timeoutMs: number, hold: boolean): Promise<SocketLike>;
}

/** `AB:CD:...`, `abcd...`, `sha256:AB:CD...` or `SHA256 Fingerprint=AB:...` to 64 lower-case hex digits. */
export function normaliseFingerprint(text: string): string {
  const hex = text.replace(/^.*=/, '').replace(/^sha256:/i, '').replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new TypeError('fingerprint: expected the 64 hex digits of a SHA-256 fingerprint');
  return hex;
}

/** 64 hex digits as `AB:CD:...`, as openssl and browsers show them. */
export const formatFingerprint = (hex: string): string => hex.toUpperCase().replace(/(..)(?=.)/g, '$1:');

/** The URL as it may be shown: no query (a browser's websocket carries the bearer there), no credentials. */
export const shown = (u: URL): string => `${u.protocol}//${u.host}${u.pathname}`;
