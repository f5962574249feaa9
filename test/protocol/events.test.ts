/**
 * Live events through a real gateway on loopback (in-process, real sockets): /ws subscribe and
 * notifications, resume across a disconnect, resync for a too-old since, long poll in every wire
 * format, SSE with Last-Event-ID and heartbeats, permission filtering, a slow subscriber dropped
 * while others go on, typed errors for bad filters, and no session refused.
 */
import { expect } from 'chai';
import http from 'node:http';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import type { OmsEvent } from '../../src/events/types.ts';
import { method, service } from '../../src/rpc/declare.ts';
import { nodeName } from '../../src/rpc/fields.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FINGERPRINT = 'SHA256:' + 'A'.repeat(43);

async function until<T>(what: string, get: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

interface WsClient {
  ws: WebSocket;
  events: OmsEvent[];
  notes: { method: string; params: any }[];
  call(method: string, params?: unknown): Promise<any>;
  close(): Promise<void>;
}

async function wsClient(url: string, bearer?: string): Promise<WsClient> {
  const ws = new WebSocket(url, bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {});
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const events: OmsEvent[] = [];
  const notes: { method: string; params: any }[] = [];
  const pending = new Map<number, (m: any) => void>();
  let id = 0;
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.id !== undefined && pending.has(m.id)) {
      pending.get(m.id)!(m);
      pending.delete(m.id);
    } else if (m.method) {
      notes.push(m);
      if (m.method === 'events.event') events.push(m.params);
    }
  });
  return {
    ws,
    events,
    notes,
    call(method, params = {}) {
      const n = ++id;
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: n, method, params }));
      return new Promise((r) => pending.set(n, r));
    },
    async close() {
      if (ws.readyState === ws.CLOSED) return;
      ws.close();
      await new Promise((r) => ws.once('close', r));
    },
  };
}

/** Reads an SSE stream: its blocks (id + data) and comment lines. */
function sse(url: string, headers: Record<string, string>): Promise<{ status: number; events: OmsEvent[]; ids: string[]; comments: string[]; body: string; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const out = { status: res.statusCode!, events: [] as OmsEvent[], ids: [] as string[], comments: [] as string[], body: '', close: () => req.destroy() };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        out.body += chunk;
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) out.comments.push(line);
            else if (line.startsWith('id: ')) out.ids.push(line.slice(4));
            else if (line.startsWith('data: ')) out.events.push(JSON.parse(line.slice(6)));
          }
        }
      });
      resolve(out);
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

describe('live events over the wire', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  let sid: string;
  const kvm = (node: string, target: string, action = 'started') => gw.app.bus.publish({ type: 'kvm', node, target, action, data: { state: 'running' } });

  before(async () => {
    gw = await startTestGateway({ config: { eventsHeartbeatSeconds: 1, eventsQueue: 20 } });
    sid = await gw.login();
    // Signed nodes without SSH: the filter checks names against the node store.
    for (const n of ['ev1', 'ev2']) {
      gw.app.nodes.request(n, '10.213.7.250', 22, FINGERPRINT, 'ssh-ed25519 AAAA', 'admin');
      gw.app.nodes.sign(n, 'admin');
    }
  });
  after(() => gw?.close());

  describe('/ws', () => {
    it('subscribe: notifications events.event in seq order, with the right shape, filtered by type and node', async () => {
      const a = await wsClient(gw.wsUrl, sid);
      const b = await wsClient(gw.wsUrl, sid);
      const r = await a.call('events.subscribe', {});
      expect(r.error, JSON.stringify(r)).to.equal(undefined);
      expect(r.result.result.latest).to.be.a('number');
      expect((await b.call('events.subscribe', { types: ['kvm'], nodes: ['ev2'] })).error).to.equal(undefined);
      kvm('ev1', 'a1');
      kvm('ev2', 'b1');
      gw.app.bus.publish({ type: 'node', node: 'ev2', action: 'connected' });
      kvm('ev2', 'b2', 'stopped');
      await until('a has all four', () => a.events.length >= 4);
      await until('b has its two', () => b.events.length >= 2);
      const seqs = a.events.map((e) => e.seq);
      expect(seqs).to.deep.equal([...seqs].sort((x, y) => x - y));
      expect(seqs[3] - seqs[0]).to.equal(3);
      expect(a.events[0]).to.deep.include({ type: 'kvm', node: 'ev1', target: 'a1', action: 'started', data: { state: 'running' } });
      expect(a.events[0].time).to.be.closeTo(Date.now(), 5000);
      await sleep(100);
      expect(b.events.map((e) => [e.node, e.target, e.action])).to.deep.equal([
        ['ev2', 'b1', 'started'],
        ['ev2', 'b2', 'stopped'],
      ]);
      // The existing pushes stay: unsubscribe ends events only.
      expect((await a.call('events.unsubscribe')).result.result).to.equal(1);
      kvm('ev1', 'a2');
      await sleep(100);
      expect(a.events).to.have.length(4);
      await a.close();
      await b.close();
    });

    it('an inventory change made by a call reaches subscribers, without its secret params', async () => {
      const a = await wsClient(gw.wsUrl, sid);
      await a.call('events.subscribe', { types: ['inventory'] });
      const r = await gw.get('userservices', 'add_user', [sid, 0, 'ev-inv-user', 'a-Long-enough-pw-123', []]);
      expect(r.error, JSON.stringify(r)).to.equal(null);
      const e = await until('the event', () => a.events.find((x) => x.action === 'userservices.add_user'));
      expect(e.data).to.deep.include({ service: 'userservices', method: 'add_user', user: 'admin', path: '/access' });
      expect(e.data.params).to.deep.equal({ username: 'ev-inv-user', roles: [] });
      expect(JSON.stringify(a.notes)).not.to.include('a-Long-enough-pw-123');
      await a.close();
    });

    it('resume with since misses nothing across a disconnect', async () => {
      const a = await wsClient(gw.wsUrl, sid);
      await a.call('events.subscribe', { nodes: ['ev1'] });
      kvm('ev1', 'r1');
      kvm('ev1', 'r2');
      await until('two events', () => a.events.length === 2);
      const last = a.events[1].seq;
      await a.close();
      // While nobody listens.
      kvm('ev1', 'r3');
      kvm('ev2', 'other');
      kvm('ev1', 'r4');
      const again = await wsClient(gw.wsUrl, sid);
      await again.call('events.subscribe', { nodes: ['ev1'], since: last });
      kvm('ev1', 'r5');
      await until('three events', () => again.events.length >= 3);
      await sleep(50);
      expect(again.events.map((e) => e.target)).to.deep.equal(['r3', 'r4', 'r5']);
      await again.close();
    });

    it('a since older than the journal gets one resync first', async () => {
      const small = await startTestGateway({ config: { eventsRetain: 5 } });
      try {
        const s = await small.login();
        for (let i = 0; i < 12; i++) small.app.bus.publish({ type: 'inventory', action: 'x', data: { i } });
        const a = await wsClient(small.wsUrl, s);
        await a.call('events.subscribe', { since: 1 });
        await until('resync and the kept events', () => a.events.length >= 6);
        expect(a.events[0]).to.deep.include({ type: 'resync', action: 'resync', seq: 7 });
        expect(a.events[0].data).to.include({ reason: 'journal', since: 1, oldest: 8 });
        expect(a.events.slice(1).map((e) => e.seq)).to.deep.equal([8, 9, 10, 11, 12]);
        await a.close();
      } finally {
        await small.close();
      }
    });

    it('sends events.heartbeat on an idle subscription', async () => {
      const a = await wsClient(gw.wsUrl, sid);
      let pings = 0;
      a.ws.on('ping', () => pings++);
      await a.call('events.subscribe', { types: ['console'] });
      const hb = await until('a heartbeat', () => a.notes.find((n) => n.method === 'events.heartbeat'), 3000);
      expect(hb.params.latest).to.be.a('number');
      expect(pings).to.be.greaterThan(0);
      await a.close();
    });

    it('unknown types or nodes in the filter: typed errors; no session: refused; subscribe elsewhere than /ws: refused', async () => {
      const a = await wsClient(gw.wsUrl, sid);
      const t = await a.call('events.subscribe', { types: ['kvm', 'vms'] });
      expect(t.error.data.name).to.equal('UnknownEventTypeError');
      expect(t.error.message).to.include('vms');
      const n = await a.call('events.subscribe', { nodes: ['ev9'] });
      expect(n.error.data.name).to.equal('UnknownEventNodeError');
      await a.close();
      const anon = await wsClient(gw.wsUrl);
      const r = await anon.call('events.subscribe', {});
      expect(r.error.data.name).to.equal('AuthError');
      kvm('ev1', 'x');
      await sleep(50);
      expect(anon.events).to.have.length(0);
      await anon.close();
      const post = await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: {} }, { authorization: `Bearer ${sid}` });
      expect(post.body.error.data.name).to.equal('EventTransportError');
    });

    it('a slow subscriber gets resync and is dropped; the others get every event', async () => {
      const slow = await wsClient(gw.wsUrl, sid);
      const fast = await wsClient(gw.wsUrl, sid);
      await slow.call('events.subscribe', { types: ['kvm'] });
      await fast.call('events.subscribe', { types: ['kvm'] });
      // The slow client stops reading: the kernel buffers fill, then the socket's own.
      (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
      const big = 'x'.repeat(4000);
      const n = 5000;
      const first = gw.app.bus.latest() + 1;
      // As events come: a few at a time, with I/O in between (the fast client keeps up).
      for (let i = 0; i < n; i++) {
        gw.app.bus.publish({ type: 'kvm', node: 'ev1', target: `s${i}`, action: 'started', data: { pad: big } });
        if (i % 10 === 9) await new Promise((r) => setImmediate(r));
      }
      await until('the fast one has them all', () => fast.events.length >= n, 20_000);
      expect(fast.events.map((e) => e.seq)).to.deep.equal(Array.from({ length: n }, (_, i) => first + i));
      await until('the slow one is dropped', () => gw.app.bus.counts().ws === 1, 10_000);
      (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
      const resync = await until('the slow one reads its resync', () => slow.events.find((e) => e.type === 'resync'), 20_000);
      expect(resync.data).to.include({ reason: 'slow' });
      // It got a prefix, in order, then the resync at the last one it was handed, then nothing.
      const got = slow.events.slice(0, -1).map((e) => e.seq);
      expect(got).to.deep.equal(Array.from({ length: got.length }, (_, i) => first + i));
      expect(got.length).to.be.below(n);
      expect(resync.seq).to.equal(got.at(-1) ?? first - 1);
      expect(slow.events.at(-1)!.type).to.equal('resync');
      kvm('ev1', 'after');
      await until('fast sees the next', () => fast.events.at(-1)!.target === 'after');
      await sleep(100);
      expect(slow.events.at(-1)!.type).to.equal('resync');
      // The socket still answers calls, and may subscribe again from where it was.
      const again = await slow.call('events.subscribe', { types: ['kvm'], since: resync.seq });
      expect(again.error).to.equal(undefined);
      await slow.close();
      await fast.close();
    });
  });

  describe('a user without rights on a node', () => {
    it('sees none of its events on /ws, long poll or SSE', async () => {
      await gw.get('userservices', 'add_user', [sid, 0, 'ev-viewer', 'a-Long-enough-pw-123', [{ path: '/nodes/ev1', role: 'Auditor' }]]);
      const s = await gw.login('ev-viewer', 'a-Long-enough-pw-123');
      const a = await wsClient(gw.wsUrl, s);
      await a.call('events.subscribe', {});
      const since = gw.app.bus.latest();
      const stream = await sse(`${gw.url}/events?since=${since}`, { authorization: `Bearer ${s}` });
      kvm('ev2', 'hidden1');
      gw.app.bus.publish({ type: 'node', node: 'ev2', action: 'disconnected', data: { reason: 'unreachable' } });
      gw.app.bus.publish({ type: 'task', node: 'ev2', target: 't', action: 'created', data: { user: 'admin', guest: 'g' } });
      kvm('ev1', 'shown');
      await until('ws sees ev1', () => a.events.length >= 1);
      await until('sse sees ev1', () => stream.events.length >= 1);
      const polled = await gw.get('events', 'poll', [s, 0, since, 0]);
      for (const got of [a.events, stream.events, polled.result.result.events as OmsEvent[]]) expect(got.map((e) => e.target)).to.deep.equal(['shown']);
      // Nor may it ask for that node by name.
      expect((await a.call('events.subscribe', { nodes: ['ev2'] })).error.data.name).to.equal('PermissionDenied');
      stream.close();
      await a.close();
    });
  });

  describe('long poll: events.poll', () => {
    it('answers at once when events exist, in every wire format', async () => {
      const since = gw.app.bus.latest();
      kvm('ev1', 'p1');
      kvm('ev1', 'p2');
      const check = (r: any) => {
        const body = r.result?.result ?? r.result;
        expect(body.events.map((e: OmsEvent) => e.target), JSON.stringify(r)).to.deep.equal(['p1', 'p2']);
        expect(body.next_since).to.equal(since + 2);
      };
      // OMS query string (GET by URL)
      check(await gw.get('events', 'poll', [sid, 0, since, 10, { types: ['kvm'] }]));
      // qooxdoo POST
      check((await gw.post('/', { service: 'events', method: 'poll', id: 3, params: [sid, 0, since, 10, { types: ['kvm'] }] })).body);
      // JSON-RPC 2.0, named params and a bearer
      check((await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 4, method: 'events.poll', params: { since, timeout_seconds: 10, filter: { types: ['kvm'] } } }, { authorization: `Bearer ${sid}` })).body);
      // qooxdoo ScriptTransport
      const q = new URLSearchParams({ _ScriptTransport_id: '7', _ScriptTransport_data: JSON.stringify({ service: 'events', method: 'poll', id: 7, params: [sid, 0, since, 10, { types: ['kvm'] }] }) });
      const text = await (await fetch(`${gw.url}/?${q}`)).text();
      const m = /^qx\.io\.remote\.transport\.Script\._requestFinished\(7, (.*)\);$/s.exec(text);
      check(JSON.parse(m![1]));
    });

    it('waits for the first event, then answers', async () => {
      const since = gw.app.bus.latest();
      const started = Date.now();
      const pending = gw.get('events', 'poll', [sid, 0, since, 20, { nodes: ['ev2'] }]);
      await sleep(300);
      kvm('ev1', 'not-this');
      kvm('ev2', 'w1');
      const r = await pending;
      const took = Date.now() - started;
      expect(r.result.result.events.map((e: OmsEvent) => e.target)).to.deep.equal(['w1']);
      expect(took).to.be.within(290, 5000);
      // Nothing comes: an empty answer after the timeout.
      const t0 = Date.now();
      const empty = await gw.post('/jsonrpc', { jsonrpc: '2.0', id: 1, method: 'events.poll', params: [sid, 0, r.result.result.next_since, 0.5] });
      expect(empty.body.result.result).to.deep.equal({ events: [], next_since: r.result.result.next_since });
      expect(Date.now() - t0).to.be.within(450, 3000);
    });

    it('a since older than the journal answers resync first; no session is refused', async () => {
      const small = await startTestGateway({ config: { eventsRetain: 3 } });
      try {
        const s = await small.login();
        for (let i = 0; i < 10; i++) small.app.bus.publish({ type: 'inventory', action: 'x' });
        const r = await small.get('events', 'poll', [s, 0, 2, 0]);
        expect(r.result.result.events.map((e: OmsEvent) => [e.type, e.seq])).to.deep.equal([
          ['resync', 7],
          ['inventory', 8],
          ['inventory', 9],
          ['inventory', 10],
        ]);
        const anon = await small.get('events', 'poll', ['not-a-session', 0, 0, 0]);
        expect(anon.error.code).to.equal(101);
        const badType = await small.get('events', 'poll', [s, 0, 0, 0, { types: ['kvm', 'nope'] }]);
        expect(badType.error.message).to.match(/Unknown event type in the filter: nope/);
      } finally {
        await small.close();
      }
    });
  });

  describe('SSE: GET /events', () => {
    it('streams id: seq + data: event, resumes from Last-Event-ID, and sends heartbeats while idle', async () => {
      const since = gw.app.bus.latest();
      kvm('ev1', 'e1');
      const a = await sse(`${gw.url}/events?since=${since}&types=kvm`, { authorization: `Bearer ${sid}` });
      expect(a.status).to.equal(200);
      kvm('ev1', 'e2');
      await until('two events', () => a.events.length >= 2);
      expect(a.ids).to.deep.equal([String(since + 1), String(since + 2)]);
      expect(a.events.map((e) => e.target)).to.deep.equal(['e1', 'e2']);
      await until('a heartbeat comment', () => a.comments.some((c) => c.startsWith(': heartbeat')), 3000);
      a.close();
      kvm('ev1', 'e3');
      // Last-Event-ID wins over the since in the URL (as EventSource reconnects).
      const b = await sse(`${gw.url}/events?since=${since}&types=kvm`, { authorization: `Bearer ${sid}`, 'last-event-id': String(since + 2) });
      await until('the missed one', () => b.events.length >= 1);
      await sleep(50);
      expect(b.events.map((e) => e.target)).to.deep.equal(['e3']);
      expect(b.ids).to.deep.equal([String(since + 3)]);
      b.close();
    });

    it('refuses no session (401) and a bad filter (400) with the typed error', async () => {
      const none = await fetch(`${gw.url}/events`);
      expect(none.status).to.equal(401);
      expect((await none.json()).error.code).to.equal(101);
      const bad = await fetch(`${gw.url}/events?types=kvm,bogus`, { headers: { authorization: `Bearer ${sid}` } });
      expect(bad.status).to.equal(400);
      expect((await bad.json()).error.message).to.match(/Unknown event type in the filter: bogus/);
      const node = await fetch(`${gw.url}/events?nodes=ev1,nowhere`, { headers: { authorization: `Bearer ${sid}` } });
      expect((await node.json()).error.message).to.match(/Unknown node in the event filter: nowhere/);
    });
  });

  it('a guest or container event for a node makes the next cached call about that node fresh', async () => {
    let reads = 0;
    const probe = service({
      name: 'evcache',
      description: 'test',
      envelope: 'oms',
      methods: [
        method({ name: 'read', description: 'a cacheable node read', auth: 'session', permission: 'authenticated', cacheable: true, node: 'server_hostname', params: [{ name: 'server_hostname', schema: nodeName }] as const, run: () => ++reads }),
      ],
    });
    const g = await startTestGateway({ services: [probe] });
    try {
      const s = await g.login();
      const read = async (node: string) => (await g.get('evcache', 'read', [s, 60, node])).result;
      expect(await read('ev1')).to.deep.equal({ type: 'func', result: { client: 'ev1', result: 1 } });
      expect((await read('ev1')).type).to.equal('tmp_cache');
      expect((await read('ev2')).result.result).to.equal(2);
      // Changed by hand on ev1 (the node's libvirt reader publishes it): ev1's results are stale, ev2's are not.
      g.app.bus.publish({ type: 'kvm', node: 'ev1', target: 'web', action: 'started', data: { state: 'RUNNING' } });
      expect(await read('ev1')).to.deep.equal({ type: 'func', result: { client: 'ev1', result: 3 } });
      expect((await read('ev2')).type).to.equal('tmp_cache');
      g.app.bus.publish({ type: 'container', node: 'ev2', target: '101', action: 'stopped' });
      expect((await read('ev2')).type).to.equal('func');
      // Events that say nothing of guests leave the cache alone.
      g.app.bus.publish({ type: 'task', node: 'ev1', target: 'x', action: 'created', data: {} });
      expect((await read('ev1')).type).to.equal('tmp_cache');
    } finally {
      await g.close();
    }
  });

  it('counts subscribers in oms_event_subscribers and events in oms_events_published_total', async () => {
    const text = async () => gw.app.metrics.scrape();
    const value = (t: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(t)?.[1]);
    const before = value(await text(), 'oms_event_subscribers');
    const s = await sse(`${gw.url}/events`, { authorization: `Bearer ${sid}` });
    const poll = gw.get('events', 'poll', [sid, 0, null, 5]);
    await sleep(200);
    expect(value(await text(), 'oms_event_subscribers')).to.equal(before + 2);
    kvm('ev1', 'm1');
    await poll;
    s.close();
    await sleep(100);
    expect(value(await text(), 'oms_event_subscribers')).to.equal(before);
    expect(await text()).to.match(/^oms_events_published_total\{type="kvm"\} \d+$/m);
  });
});
