/**
 * `oms iso upload NODE FILE`: the file streamed as the body of the route the ISO service declares
 * (PUT /isos/<node>/<name>, routes in methods.generated.ts), never read into memory, over a TLS
 * connection checked against the pinned certificate before a byte (or the token) is sent.
 * Progress is what has left this process, counted as the file is read.
 */
import { createReadStream, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { secureSocket } from '../../../clients/typescript/src/platform-node.ts';
import { fromRpcError, OmsConnectionError } from '../../../clients/typescript/src/errors.ts';
import { errorCodes } from '../../../clients/typescript/src/generated.ts';
import { routes } from './methods.generated.ts';
import type { Profile } from './profiles.ts';

export interface UploadResult {
  name: string;
  size: number;
}

export function uploadPath(node: string, image: string): string {
  const r = routes['isoservices.http_upload'];
  if (!r) throw new Error('this oms was built without the ISO upload route');
  return r.path.replace(':server_hostname', encodeURIComponent(node)).replace(':image_name', encodeURIComponent(image));
}

export async function uploadIso(profile: Profile, node: string, image: string, file: string, onProgress: (done: number, total: number) => void): Promise<UploadResult> {
  const size = statSync(file).size;
  const u = new URL(uploadPath(node, image), profile.url);
  const secure = u.protocol === 'https:';
  const socket = secure ? await secureSocket(u, { ca: profile.ca, fingerprint: profile.fingerprint }, 30_000) : undefined;
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      onProgress(sent, size);
      cb(null, chunk);
    },
  });
  return new Promise<UploadResult>((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(u, {
      method: 'PUT',
      headers: { authorization: `Bearer ${profile.token}`, 'content-type': 'application/octet-stream', 'content-length': String(size) },
      ...(socket ? { createConnection: () => socket } : {}),
    });
    req.on('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code ?? e.message;
      const cut = sent > 0 && sent < size ? ` after ${sent} of ${size} bytes (the gateway or node refused or dropped the upload; oms task ls --node ${node} tells)` : '';
      reject(new OmsConnectionError('unreachable', `${u.origin}: ${code}${cut}`));
    });
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: { error?: unknown; result?: { result?: { result?: UploadResult } } } | undefined;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return reject(new OmsConnectionError('protocol', `${u.origin}: HTTP ${res.statusCode} without a JSON answer`));
        }
        if (body?.error) return reject(fromRpcError(qooxdooToRpc(body.error)));
        resolve(body?.result?.result?.result ?? { name: image, size });
      });
    });
    const source = createReadStream(file);
    source.on('error', (e) => {
      req.destroy();
      reject(e);
    });
    source.pipe(counter).pipe(req);
  });
}

/** The route answers errors in the qooxdoo shape {origin, code, message, name?}; the client reads JSON-RPC errors. */
function qooxdooToRpc(e: unknown): unknown {
  const q = e as { code?: number; message?: string; origin?: number; data?: unknown };
  const name = nameOfCode(q.code);
  const message = name && q.message?.startsWith(`${name}: `) ? q.message.slice(name.length + 2) : q.message;
  return { code: q.code, message, data: { name, origin: q.origin, details: q.data } };
}

const nameOfCode = (code: number | undefined): string | undefined => Object.entries(errorCodes).find(([, c]) => c === code)?.[0];
