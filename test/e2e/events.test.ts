/**
 * Live events on the real gateway process (`oms serve`, its own database file): changes made by
 * calls reach a /ws subscriber in seq order; a subscriber that disconnects and resumes with
 * `since` misses nothing; a too-old `since` gets resync; SSE read by `curl -N` with
 * Last-Event-ID and heartbeats; a long poll by URL that waits, then answers.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { WebSocket } from 'ws';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';

const PASSWORD = 'e2e-events-admin-password';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, get: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

describe('live events on the real gateway process', function () {
  this.timeout(60_000);
  let gw: GatewayProcess;
  let sid: string;
  const get = async (service: string, method: string, params: unknown[]) => {
    const q = new URLSearchParams({ id: '1', service, method, params: JSON.stringify(params) });
    return (await fetch(`${gw.url}/?${q}`)).json();
  };
  const addGroup = async (name: string) => {
    const r = await get('userservices', 'add_group', [sid, 0, name]);
    if (r.error) throw new Error(JSON.stringify(r.error));
  };
  const subscribe = async (params: Record<string, unknown>) => {
    const ws = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/ws`, { headers: { authorization: `Bearer ${sid}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const events: any[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m.method === 'events.event') events.push(m.params);
    });
    const answer = new Promise<any>((r) => ws.once('message', (d) => r(JSON.parse(String(d)))));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params }));
    expect((await answer).error).to.equal(undefined);
    return { ws, events };
  };

  before(async () => {
    gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off', OMS_EVENTS_HEARTBEAT: '1', OMS_EVENTS_RETAIN: '50', OMS_LOG_LEVEL: 'warn' });
    sid = (await get('authservices', 'authenticate', ['admin', PASSWORD])).result.result;
  });
  after(() => gw?.stop());

  it('/ws: changes made by calls arrive in seq order; a resume with since after a disconnect misses nothing', async () => {
    const a = await subscribe({ types: ['inventory'] });
    for (const g of ['ev-g1', 'ev-g2', 'ev-g3']) await addGroup(g);
    await until('three events', () => a.events.length === 3);
    expect(a.events.map((e) => e.data.params.group)).to.deep.equal(['ev-g1', 'ev-g2', 'ev-g3']);
    expect(a.events[1].seq - a.events[0].seq).to.equal(1);
    const last = a.events[2].seq;
    a.ws.close();
    await new Promise((r) => a.ws.once('close', r));
    for (const g of ['ev-g4', 'ev-g5']) await addGroup(g);
    const b = await subscribe({ types: ['inventory'], since: last });
    await addGroup('ev-g6');
    await until('the missed two and the new one', () => b.events.length === 3);
    expect(b.events.map((e) => e.data.params.group)).to.deep.equal(['ev-g4', 'ev-g5', 'ev-g6']);
    expect(b.events.map((e) => e.seq)).to.deep.equal([last + 1, last + 2, last + 3]);
    b.ws.close();
  });

  it('a since older than the journal (OMS_EVENTS_RETAIN=50) gets one resync first', async () => {
    for (let i = 0; i < 60; i++) await addGroup(`ev-old${i}`);
    const a = await subscribe({ since: 1 });
    const first = await until('the resync', () => a.events[0]);
    expect(first).to.deep.include({ type: 'resync', action: 'resync' });
    expect(first.data.reason).to.equal('journal');
    await until('the kept events', () => a.events.length >= 51);
    expect(a.events.filter((e) => e.type === 'resync')).to.have.length(1);
    a.ws.close();
  });

  it('SSE with curl -N: id lines are seqs, Last-Event-ID resumes, idle streams get heartbeats', async () => {
    const since = (await get('events', 'poll', [sid, 0, null, 0])).result.result.next_since;
    await addGroup('ev-sse1');
    await addGroup('ev-sse2');
    const curl = spawn('curl', ['-sN', '--max-time', '3', '-H', `Authorization: Bearer ${sid}`, '-H', `Last-Event-ID: ${since + 1}`, `${gw.url}/events?since=0&types=inventory`]);
    let out = '';
    curl.stdout.on('data', (d) => (out += d));
    await new Promise((r) => curl.once('exit', r));
    const ids = [...out.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).to.deep.equal([since + 2]);
    const data = [...out.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]));
    expect(data[0].data.params.group).to.equal('ev-sse2');
    expect(out).to.match(/^: heartbeat \d+$/m);
    const refused = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${gw.url}/events`]);
    let code = '';
    refused.stdout.on('data', (d) => (code += d));
    await new Promise((r) => refused.once('exit', r));
    expect(code).to.equal('401');
  });

  it('long poll by URL waits for the next event, then answers it', async () => {
    const since = (await get('events', 'poll', [sid, 0, null, 0])).result.result.next_since;
    const t0 = Date.now();
    const pending = get('events', 'poll', [sid, 0, since, 20, { types: ['inventory'] }]);
    await sleep(500);
    await addGroup('ev-poll');
    const r = await pending;
    expect(Date.now() - t0).to.be.within(450, 10_000);
    expect(r.result.type).to.equal('func');
    expect(r.result.result.events.map((e: any) => e.data.params.group)).to.deep.equal(['ev-poll']);
    expect(r.result.result.next_since).to.equal(since + 1);
  });
});
