/**
 * Events as an async iterator that survives reconnects: `events.subscribe({types, nodes, since})`
 * on a websocket of its own, then `events.event` notifications. When the socket drops it
 * reconnects (backoff) and subscribes again with `since` = the last event handed to the caller,
 * so nothing is lost and nothing repeated (the gateway resumes from its journal; an event at or
 * below that seq is dropped here). A `resync` event from the gateway (the caller fell further
 * behind than the journal keeps) is yielded like any other: re-list, then go on.
 *
 * The caller's pace bounds memory: past `maxBuffer` unread events the socket is closed and
 * reopened once the caller has caught up, from the last seq it read.
 */
import { OmsError } from './errors.js';
import type { RpcSocket } from './rpc-socket.js';
import type { OmsEvent } from './types.js';

export interface EventsOptions {
  /** Only these types (kvm, container, node, task, inventory, console). */
  types?: string[];
  /** Only events of these nodes. */
  nodes?: string[];
  /** Resume after this seq (from an earlier run); without it, from now on. */
  since?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
  /** Connection state, for "live" / "stale since ..." displays. */
  onState?: (state: { connected: boolean; since?: number; error?: Error }) => void;
  /** Unread events held before the socket is dropped and resumed later; default 10000. */
  maxBuffer?: number;
  /** Reconnect backoff in ms: first wait and cap; default 250 and 10000. */
  backoff?: { minMs?: number; maxMs?: number };
}

/** Opens a fresh websocket carrying the client's bearer. */
export type SocketOpener = () => Promise<RpcSocket>;

export async function* followEvents(open: SocketOpener, opts: EventsOptions, timeoutMs: number): AsyncGenerator<OmsEvent, void, undefined> {
  let since = opts.since;
  let failures = 0;
  const maxBuffer = opts.maxBuffer ?? 10_000;
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      opts.signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
    });

  while (!opts.signal?.aborted) {
    let sock: RpcSocket | undefined;
    const queue: OmsEvent[] = [];
    let ended: Error | undefined;
    let wake: (() => void) | undefined;
    let full = false;
    const poke = () => {
      wake?.();
      wake = undefined;
    };
    const onAbort = () => poke();
    opts.signal?.addEventListener('abort', onAbort);
    try {
      try {
        sock = await open();
        sock.onNotification((method, params) => {
          if (method === 'events.event' && !full) {
            queue.push(params as OmsEvent);
            if (queue.length >= maxBuffer) {
              full = true; // read what is held, then resume from the last seq read
              sock!.close(4000, 'client buffer full');
            }
          } else if (method === 'session.ended') ended = new OmsError('AuthError', 'Session ended');
          poke();
        });
        sock.onClose(() => poke());
        const filter: Record<string, unknown> = {};
        if (opts.types) filter.types = opts.types;
        if (opts.nodes) filter.nodes = opts.nodes;
        if (since !== undefined) filter.since = since;
        await sock.call('events.subscribe', filter, { timeoutMs });
      } catch (e) {
        // The gateway refused (no session, bad filter, no such method): retrying cannot help.
        if (e instanceof OmsError) throw e;
        failures++;
        opts.onState?.({ connected: false, since, error: e as Error });
        sock?.close();
        const min = opts.backoff?.minMs ?? 250;
        await sleep(Math.min(opts.backoff?.maxMs ?? 10_000, min * 2 ** Math.min(failures - 1, 16)) * (0.75 + Math.random() / 2));
        continue;
      }
      failures = 0;
      opts.onState?.({ connected: true, since });
      for (;;) {
        while (queue.length) {
          const ev = queue.shift()!;
          if (ev.type !== 'resync' && since !== undefined && ev.seq <= since) continue;
          if (typeof ev.seq === 'number' && (since === undefined || ev.seq > since)) since = ev.seq;
          yield ev;
        }
        if (ended) throw ended;
        if (sock.closed || opts.signal?.aborted) break;
        await new Promise<void>((r) => (wake = r));
      }
      if (opts.signal?.aborted) break;
      if (!full) {
        // Dropped by the gateway or the network: say so, and do not hammer it.
        opts.onState?.({ connected: false, since });
        await sleep(opts.backoff?.minMs ?? 250);
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      sock?.close();
    }
  }
}
