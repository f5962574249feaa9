/**
 * client.events() against a tiny local gateway that speaks the documented events protocol
 * (issue 14: events.subscribe({types, nodes, since}) on /ws, then events.event notifications; a
 * `since` older than the journal gets a `resync` event). The real bus is being built on another
 * branch; this server plays it: a journal of numbered events, and the power to drop sockets.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { WebSocketServer, type WebSocket } from 'ws';
import { connect, isOmsError, type OmsEvent } from '../src/index.ts';

interface Subscription {
  params: { types?: string[]; nodes?: string[]; since?: number };
  authorization?: string;
}

class EventGateway {
  server!: Server;
  wss!: WebSocketServer;
  journal: OmsEvent[] = [];
  /** Oldest seq the journal still holds: a since before it gets resync. */
  oldest = 1;
  subscriptions: Subscription[] = [];
  sockets = new Set<{ ws: WebSocket; filter: Subscription['params'] }>();
  url = '';

  async start(): Promise<void> {
    this.server = createServer();
    this.wss = new WebSocketServer({ server: this.server, path: '/ws' });
    this.wss.on('connection', (ws, req) => {
      ws.on('message', (data) => {
        const m = JSON.parse(String(data));
        if (m.method !== 'events.subscribe') return ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found', data: { name: 'MethodNotFound', origin: 1 } } }));
        if (req.headers.authorization !== 'Bearer cl-token') return ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: 101, message: 'Session expired', data: { name: 'AuthError', origin: 2 } } }));
        this.subscriptions.push({ params: m.params, authorization: req.headers.authorization });
        const sub = { ws, filter: m.params as Subscription['params'] };
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { type: 'func', result: { seq: this.head() } } }));
        const since = sub.filter.since;
        if (since !== undefined && since < this.oldest - 1) this.send(sub, { seq: this.head(), time: Date.now(), type: 'resync', action: 'resync', data: { reason: 'too old' } });
        else if (since !== undefined) for (const e of this.journal.filter((x) => x.seq > since)) this.send(sub, e);
        this.sockets.add(sub);
        ws.on('close', () => this.sockets.delete(sub));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  head(): number {
    return this.journal.at(-1)?.seq ?? 0;
  }

  send(sub: { ws: WebSocket; filter: Subscription['params'] }, e: OmsEvent): void {
    if (e.type !== 'resync' && sub.filter.types && !sub.filter.types.includes(e.type)) return;
    if (e.type !== 'resync' && sub.filter.nodes && e.node && !sub.filter.nodes.includes(e.node)) return;
    sub.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'events.event', params: e }));
  }

  publish(type: OmsEvent['type'], target: string, node = 'omsnode1'): OmsEvent {
    const e: OmsEvent = { seq: this.head() + 1, time: Date.now(), type, node, target, action: 'started', data: {} };
    this.journal.push(e);
    for (const s of this.sockets) this.send(s, e);
    return e;
  }

  /** The network drops every socket (no close frame). */
  drop(): void {
    for (const s of this.sockets) s.ws.terminate();
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('client.events(): an async iterator that resumes across reconnects (local protocol server)', function () {
  this.timeout(20_000);
  let gw: EventGateway;
  beforeEach(async () => {
    gw = new EventGateway();
    await gw.start();
  });
  afterEach(() => gw.stop());

  it('subscribes with the filter and the bearer, yields events in order, and resubscribes after a drop with since = the last seq read', async () => {
    const c = connect({ url: gw.url, token: 'cl-token' });
    const states: boolean[] = [];
    const it = c.events({ types: ['kvm'], nodes: ['omsnode1'], backoff: { minMs: 20, maxMs: 50 }, onState: (s) => states.push(s.connected) });
    const got: OmsEvent[] = [];
    const reading = (async () => {
      for await (const e of it) {
        got.push(e);
        if (got.length === 5) break;
      }
    })();
    await until('first subscription', () => gw.sockets.size === 1);
    expect(gw.subscriptions[0]).to.deep.equal({ params: { types: ['kvm'], nodes: ['omsnode1'] }, authorization: 'Bearer cl-token' });
    gw.publish('kvm', 'cl-a');
    gw.publish('container', '101'); // filtered out by the server
    gw.publish('kvm', 'cl-b');
    await until('two events', () => got.length === 2);
    gw.drop();
    // Published while the client is away: the journal has them, the resumed subscription gets them.
    gw.publish('kvm', 'cl-c');
    gw.publish('kvm', 'cl-d');
    await until('second subscription', () => gw.subscriptions.length === 2);
    expect(gw.subscriptions[1].params).to.deep.equal({ types: ['kvm'], nodes: ['omsnode1'], since: 3 });
    await until('resumed events', () => got.length === 4);
    gw.publish('kvm', 'cl-e');
    await reading;
    expect(got.map((e) => [e.seq, e.target])).to.deep.equal([
      [1, 'cl-a'],
      [3, 'cl-b'],
      [4, 'cl-c'],
      [5, 'cl-d'],
      [6, 'cl-e'],
    ]);
    expect(states).to.deep.equal([true, false, true]);
    // Breaking out of the loop closed the subscription's socket.
    await until('socket closed', () => gw.sockets.size === 0);
  });

  it('yields the gateway\'s resync when since is older than its journal, then goes on', async () => {
    for (let i = 0; i < 10; i++) gw.publish('kvm', `cl-${i}`);
    gw.journal = gw.journal.slice(5);
    gw.oldest = 6;
    const c = connect({ url: gw.url, token: 'cl-token' });
    const got: OmsEvent[] = [];
    const reading = (async () => {
      for await (const e of c.events({ since: 2 })) {
        got.push(e);
        if (got.length === 2) break;
      }
    })();
    await until('subscription', () => gw.sockets.size === 1);
    gw.publish('kvm', 'cl-after');
    await reading;
    expect(got.map((e) => [e.type, e.seq])).to.deep.equal([
      ['resync', 10],
      ['kvm', 11],
    ]);
  });

  it('drops events at or below the seq it resumed from (a gateway repeating itself is not repeated to the caller)', async () => {
    gw.publish('kvm', 'cl-1');
    gw.publish('kvm', 'cl-2');
    const c = connect({ url: gw.url, token: 'cl-token' });
    const got: number[] = [];
    const reading = (async () => {
      for await (const e of c.events({ since: 1 })) {
        got.push(e.seq);
        if (got.length === 2) break;
      }
    })();
    await until('subscription', () => gw.sockets.size === 1);
    const [s] = gw.sockets;
    gw.send(s, gw.journal[0]); // seq 1 again
    gw.send(s, gw.journal[1]); // seq 2 again
    gw.publish('kvm', 'cl-3');
    await reading;
    expect(got).to.deep.equal([2, 3]);
  });

  it('reads at its own pace without unbounded memory: past maxBuffer it drops the socket and resumes from the last seq read', async () => {
    const c = connect({ url: gw.url, token: 'cl-token' });
    const it = c.events({ maxBuffer: 5, backoff: { minMs: 10 } });
    const first = await (async () => {
      const p = it.next();
      await until('subscription', () => gw.sockets.size === 1);
      gw.publish('kvm', 'cl-0');
      return p;
    })();
    expect(first.value?.seq).to.equal(1);
    // The caller is busy: twenty events arrive meanwhile; the client keeps at most five.
    for (let i = 1; i <= 20; i++) gw.publish('kvm', `cl-${i}`);
    await until('socket dropped for a full buffer', () => gw.sockets.size === 0);
    const seqs: number[] = [];
    while (seqs.length < 20) seqs.push((await it.next()).value!.seq);
    await it.return();
    expect(seqs).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 2));
    // Each resumption starts where the caller stopped reading: 1 read + 5 held = 6, then likewise
    // (the journal's replay comes in a burst, so a buffer of five fills again).
    const since = gw.subscriptions.map((s) => s.params.since);
    expect(since.slice(0, 2)).to.deep.equal([undefined, 6]);
    for (let i = 2; i < since.length; i++) expect(since[i]! - since[i - 1]!).to.equal(5);
  });

  it('stops with the typed error when the gateway refuses the subscription (no retry loop)', async () => {
    const c = connect({ url: gw.url, token: 'not-the-token' });
    const err = await (async () => {
      for await (const _ of c.events()) expect.fail('no event expected');
    })().catch((e) => e);
    expect(isOmsError(err, 'AuthError'), String(err)).to.equal(true);
  });

  it('ends when its signal aborts, even while waiting for an event', async () => {
    const c = connect({ url: gw.url, token: 'cl-token' });
    const ac = new AbortController();
    const done = (async () => {
      for await (const _ of c.events({ signal: ac.signal })) expect.fail('no event expected');
    })();
    await until('subscription', () => gw.sockets.size === 1);
    ac.abort();
    await done;
    await until('socket closed', () => gw.sockets.size === 0);
  });
});
