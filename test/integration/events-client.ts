/** What the lab tests of live events share: the event shape they read, a wait, and a /ws subscriber. */
import WebSocket from 'ws';
import type { Env } from './fixture.ts';

export interface Ev {
  seq: number;
  type: string;
  node?: string;
  target?: string;
  action: string;
  data: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `get` (sync or async) every `everyMs` until it gives something truthy, or fails naming `what`. */
export async function until<T>(what: string, get: () => Promise<T | undefined | false> | T | undefined | false, ms = 30_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A /ws JSON-RPC client bound to the session by its bearer, collecting `events.event` notifications. */
export async function wsSubscriber(e: Env, filter: Record<string, unknown>): Promise<{ events: Ev[]; close(): void }> {
  const ws = new WebSocket(`${e.gw.url.replace(/^http/, 'ws')}/ws`, { headers: { authorization: `Bearer ${e.sid}` } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const events: Ev[] = [];
  let answer: any;
  ws.on('message', (d) => {
    const m = JSON.parse(String(d));
    if (m.id === 1) answer = m;
    else if (m.method === 'events.event') events.push(m.params);
  });
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: filter }));
  const a = await until('the subscribe answer', () => answer);
  if (a.error) throw new Error(`events.subscribe: ${JSON.stringify(a.error)}`);
  return { events, close: () => ws.close() };
}
