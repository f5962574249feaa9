/**
 * JSON-RPC 2.0 over one websocket (/ws): calls matched to answers by id, and the gateway's
 * notifications (task.updated, events.event, session.ended) handed to whoever listens. When the
 * socket closes every pending call fails with OmsConnectionError; the owner opens a new one.
 */
import { fromRpcError, OmsConnectionError } from './errors.js';
import type { SocketLike } from './platform.js';

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
  off(): void;
}

export class RpcSocket {
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  #listeners = new Set<(method: string, params: unknown) => void>();
  #closeListeners = new Set<(code: number, reason: string) => void>();

  constructor(
    readonly socket: SocketLike,
    /** Shown in errors: the host, never the URL's query. */
    private readonly where: string,
  ) {
    socket.onmessage = (text) => this.#message(text);
    socket.onclose = (code, reason) => this.#onClose(code, reason);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Listens to notifications; returns the function that stops listening. */
  onNotification(fn: (method: string, params: unknown) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  onClose(fn: (code: number, reason: string) => void): () => void {
    this.#closeListeners.add(fn);
    return () => this.#closeListeners.delete(fn);
  }

  call(method: string, params: unknown, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<unknown> {
    if (this.#closed) return Promise.reject(new OmsConnectionError('closed', `websocket to ${this.where} is closed`));
    if (opts.signal?.aborted) return Promise.reject(new OmsConnectionError('aborted', 'call aborted'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => settle(() => reject(new OmsConnectionError('aborted', 'call aborted')));
      const settle = (f: () => void) => {
        const p = this.#pending.get(id);
        if (!p) return;
        this.#pending.delete(id);
        clearTimeout(p.timer);
        p.off();
        f();
      };
      const timer = setTimeout(() => settle(() => reject(new OmsConnectionError('timeout', `${method}: no answer from ${this.where} within ${opts.timeoutMs} ms`))), opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        resolve: (v) => settle(() => resolve(v)),
        reject: (e) => settle(() => reject(e)),
        timer,
        off: () => opts.signal?.removeEventListener('abort', onAbort),
      });
      this.socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  close(code = 1000, reason = ''): void {
    if (!this.#closed) this.socket.close(code, reason);
    this.#onClose(code, reason);
  }

  #message(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return; // not JSON-RPC: nothing to match it to
    }
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      if (typeof m !== 'object' || m === null) continue;
      const r = m as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
      if (typeof r.method === 'string' && r.id === undefined) {
        for (const fn of this.#listeners) fn(r.method, r.params);
        continue;
      }
      const p = typeof r.id === 'number' ? this.#pending.get(r.id) : undefined;
      if (!p) continue;
      if (r.error !== undefined) p.reject(fromRpcError(r.error));
      else p.resolve(r.result);
    }
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of [...this.#pending.values()]) p.reject(new OmsConnectionError('closed', `websocket to ${this.where} closed (${code}${reason ? ` ${reason}` : ''})`));
    for (const fn of this.#closeListeners) fn(code, reason);
  }
}
