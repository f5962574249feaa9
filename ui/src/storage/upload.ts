/**
 * An ISO image streamed to a node by the gateway's upload route (PUT /isos/<node>/<name>, the one
 * `oms iso upload` uses; see README "Uploading an ISO image"), from the browser: XMLHttpRequest,
 * because it reports the bytes sent (fetch cannot, for a request body) and can be aborted. The
 * gateway passes the bytes on to the node as they come, into a temp file renamed when complete;
 * an abort, an idle client or a failure removes the temp file, so a retry starts afresh under
 * the same name.
 */
import { errorCodes } from '@oms/client/browser';
import { sessionToken } from '../lib/session.ts';

export interface Uploaded {
  name: string;
  size: number;
}

export class UploadError extends Error {
  constructor(
    message: string,
    /** The OMS error name when the gateway answered one. */
    readonly omsName: string | undefined,
    readonly sent: number,
    readonly cancelled = false,
  ) {
    super(message);
  }
}

export interface Upload {
  done: Promise<Uploaded>;
  cancel(): void;
}

export const uploadPath = (node: string, image: string): string => `/isos/${encodeURIComponent(node)}/${encodeURIComponent(image)}`;

export function uploadIso(node: string, image: string, file: Blob, onProgress: (sent: number, total: number) => void): Upload {
  const xhr = new XMLHttpRequest();
  let sent = 0;
  const done = new Promise<Uploaded>((resolve, reject) => {
    xhr.open('PUT', uploadPath(node, image));
    const token = sessionToken();
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      sent = e.loaded;
      onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    };
    xhr.onload = () => {
      let body: { error?: { message?: string; code?: number } | null; result?: { result?: { result?: Uploaded } } } | undefined;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        return reject(new UploadError(`The gateway answered HTTP ${xhr.status} without an explanation`, undefined, sent));
      }
      if (body?.error) {
        // The route answers in the qooxdoo shape {origin, code, message}: the code names the OMS
        // error (application errors also put the name first in the message; server errors do not).
        const name = nameOfCode(body.error.code);
        let message = body.error.message ?? `HTTP ${xhr.status}`;
        if (name && message.startsWith(`${name}: `)) message = message.slice(name.length + 2);
        return reject(new UploadError(name ? `${name}: ${message}` : message, name, sent));
      }
      resolve(body?.result?.result?.result ?? { name: image, size: file.size });
    };
    xhr.onerror = () => reject(new UploadError('The connection to the gateway broke off', undefined, sent));
    xhr.onabort = () => reject(new UploadError('Cancelled', undefined, sent, true));
    xhr.send(file);
  });
  return { done, cancel: () => xhr.abort() };
}

const nameOfCode = (code: number | undefined): string | undefined => (code === undefined ? undefined : Object.entries(errorCodes).find(([, c]) => c === code)?.[0]);
