/**
 * Node's transport: HTTPS and wss with the trust a script asks for. The TLS connection is made
 * and checked here first (the CA given, or the pinned fingerprint) and only then handed to the
 * HTTP request or the websocket, so with a wrong certificate not one byte of a request (nor the
 * bearer in its headers) leaves the process.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { OmsConnectionError, type ConnectionReason } from './errors.js';
import { formatFingerprint, normaliseFingerprint, shown, type HttpAnswer, type Platform, type SocketLike, type TlsOptions } from './platform.js';

/** OpenSSL's words for "this certificate is not the one you trust". */
const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME/;

function connectionError(e: unknown, u: URL): OmsConnectionError {
  if (e instanceof OmsConnectionError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ?? '';
  const reason: ConnectionReason = CERT_CODES.test(code) ? 'certificate' : code === 'ABORT_ERR' ? 'aborted' : 'unreachable';
  const hint = reason === 'certificate' ? ' (give the gateway\'s certificate as `ca`, or its SHA-256 as `fingerprint`)' : '';
  return new OmsConnectionError(reason, `${shown(u)}: ${code || err?.message || 'connection failed'}${hint}`);
}

const hostOf = (u: URL) => u.hostname.replace(/^\[|\]$/g, '');

/** A TLS connection to the gateway whose certificate passed the check the options ask for. */
export function secureSocket(u: URL, tls: TlsOptions, timeoutMs: number): Promise<TLSSocket> {
  const host = hostOf(u);
  const port = Number(u.port || 443);
  const pin = tls.fingerprint !== undefined ? normaliseFingerprint(tls.fingerprint) : undefined;
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host,
      port,
      servername: isIP(host) ? undefined : host,
      ca: tls.ca === undefined ? undefined : typeof tls.ca === 'string' ? tls.ca : Buffer.from(tls.ca),
      // A pinned fingerprint replaces chain checks: the gateway's certificate is self-signed.
      rejectUnauthorized: pin === undefined,
      ALPNProtocols: ['http/1.1'],
    });
    const fail = (e: unknown) => {
      s.destroy();
      reject(connectionError(e, u));
    };
    s.setTimeout(timeoutMs, () => fail(new OmsConnectionError('timeout', `${shown(u)}: no TLS handshake within ${timeoutMs} ms`)));
    s.once('error', fail);
    s.once('secureConnect', () => {
      if (pin !== undefined) {
        const got = (s.getPeerCertificate().fingerprint256 ?? '').replace(/:/g, '').toLowerCase();
        if (got !== pin) {
          fail(new OmsConnectionError('certificate', `${shown(u)}: certificate SHA-256 ${formatFingerprint(got)} is not the pinned ${formatFingerprint(pin)}; refused`));
          return;
        }
      }
      s.setTimeout(0);
      s.removeListener('error', fail);
      resolve(s);
    });
  });
}

/**
 * The gateway's certificate as offered, unchecked, for a first contact that pins it (show the
 * fingerprint, let a person confirm it, then pass it as `fingerprint`).
 */
export async function peerCertificate(url: string | URL, timeoutMs = 10_000): Promise<{ fingerprint256: string; subject: string; validTo: string; pem: string }> {
  const u = new URL(url);
  const host = hostOf(u);
  const s = tlsConnect({ host, port: Number(u.port || 443), servername: isIP(host) ? undefined : host, rejectUnauthorized: false });
  try {
    await new Promise<void>((resolve, reject) => {
      s.setTimeout(timeoutMs, () => reject(new OmsConnectionError('timeout', `${shown(u)}: no TLS handshake within ${timeoutMs} ms`)));
      s.once('error', (e) => reject(connectionError(e, u)));
      s.once('secureConnect', () => resolve());
    });
    const c = s.getPeerCertificate();
    const pem = `-----BEGIN CERTIFICATE-----\n${c.raw.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
    return { fingerprint256: c.fingerprint256, subject: Object.entries(c.subject ?? {}).map(([k, v]) => `${k}=${v}`).join(', '), validTo: c.valid_to, pem };
  } finally {
    s.destroy();
  }
}

function post(u: URL, body: string, headers: Record<string, string>, tls: TlsOptions, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<HttpAnswer> {
  return (async () => {
    const secure = u.protocol === 'https:';
    const socket = secure ? await secureSocket(u, tls, opts.timeoutMs) : undefined;
    return new Promise<HttpAnswer>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(u, {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal: opts.signal,
        ...(socket ? { createConnection: () => socket } : {}),
      });
      req.setTimeout(opts.timeoutMs, () => req.destroy(new OmsConnectionError('timeout', `${shown(u)}: no answer within ${opts.timeoutMs} ms`)));
      req.on('error', (e) => reject(connectionError(e, u)));
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(connectionError(e, u)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.end(body);
    });
  })();
}

async function openSocket(u: URL, bearer: string | undefined, tls: TlsOptions, timeoutMs: number, hold: boolean): Promise<SocketLike> {
  const secure = u.protocol === 'wss:';
  const socket = secure ? await secureSocket(u, tls, timeoutMs) : undefined;
  const ws = new WebSocket(u, {
    headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    handshakeTimeout: timeoutMs,
    ...(socket ? { createConnection: () => socket } : {}),
  });
  // A call's own timer keeps the process alive while it waits; an idle socket need not.
  if (!hold) ws.once('upgrade', (res) => res.socket.unref());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', (e) => reject(connectionError(e, u)));
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(new OmsConnectionError('protocol', `${shown(u)}: HTTP ${res.statusCode} instead of a websocket`));
    });
  });
  const s: SocketLike = {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
  };
  ws.on('message', (data, isBinary) => {
    if (!isBinary) s.onmessage?.(String(data));
  });
  ws.on('error', () => undefined); // followed by 'close', which the owner handles
  ws.on('close', (code, reason) => s.onclose?.(code, String(reason)));
  return s;
}

export const nodePlatform: Platform = { post, openSocket };
