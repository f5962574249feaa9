/**
 * /metrics on the real gateway process (HTTPS, its own database), scraped as Prometheus would and
 * read with a Prometheus text-format parser: who may scrape, that every documented family is
 * there, and that the values follow what happens — calls by service/method/wire format/outcome,
 * tasks, console tunnels, sessions, websocket subscribers, and a node's connection state on a
 * real local sshd (signed, connected, then refused for a changed host key).
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startGatewayProcess, repoRoot, type GatewayProcess } from '../helpers/process.ts';
import { fetchCa } from '../helpers/https.ts';
import { checkWithPromtool, count, sample, scrape, type Scrape } from '../helpers/prometheus.ts';
import { startSshd, type Sshd } from '../fixtures/sshd.ts';

const PASSWORD = 'e2e-metrics-admin-password';
/** The only address let in without a token; the tests connect from it with a chosen source address. */
const ALLOWED = '127.0.0.2';

describe('/metrics on the real gateway process', function () {
  this.timeout(60_000);
  let gw: GatewayProcess;
  let sid: string;
  let monitorToken: string;
  let operatorSid: string;

  const get = async (service: string, method: string, params: unknown[], as?: string) => {
    const q = new URLSearchParams({ id: '1', service, method, params: JSON.stringify(as === undefined ? params : [as, ...params]) });
    return (await fetchCa(`${gw.url}/?${q}`, { ca: gw.ca })).json();
  };
  const ok = async (service: string, method: string, params: unknown[]) => {
    const r = await get(service, method, params);
    if (r.error) throw new Error(`${service}.${method}: ${JSON.stringify(r.error)}`);
    return r.result.result;
  };
  const jsonrpc = async (method: string, params: unknown, bearer: string) =>
    (await fetchCa(`${gw.url}/jsonrpc`, { ca: gw.ca, method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` } })).json();
  const metrics = async (): Promise<Scrape> => {
    const s = await scrape(gw.url, { bearer: monitorToken, ca: gw.ca });
    expect(s.status, s.text).to.equal(200);
    return s;
  };

  before(async () => {
    gw = await startGatewayProcess({ OMS_ADMIN_PASSWORD: PASSWORD, OMS_METRICS_ALLOW: ALLOWED });
    sid = await ok('authservices', 'authenticate', ['admin', PASSWORD]);
    await ok('userservices', 'add_user', [sid, 0, 'prom', 'prometheus-password-1', [{ path: '/', role: 'Monitoring' }]]);
    await ok('userservices', 'add_user', [sid, 0, 'oper', 'operator-password-1', [{ path: '/', role: 'Operator' }]]);
    const promSid = await ok('authservices', 'authenticate', ['prom', 'prometheus-password-1']);
    monitorToken = (await ok('userservices', 'create_api_token', [promSid, 0, 'scraper'])).token;
    await ok('authservices', 'deauthenticate', [promSid]);
    operatorSid = await ok('authservices', 'authenticate', ['oper', 'operator-password-1']);
  });
  after(() => gw?.stop());

  describe('who may scrape', () => {
    const refused = (s: Scrape, status: number) => {
      expect(s.status, s.text).to.equal(status);
      // Not a single metric line: no family names, no values.
      expect(s.text).to.not.match(/oms_|process_|nodejs_/);
    };

    it('refuses a scrape without credentials (401 with a Bearer challenge)', async () => {
      const s = await scrape(gw.url, { ca: gw.ca });
      refused(s, 401);
      const raw = await fetchCa(`${gw.url}/metrics`, { ca: gw.ca });
      expect(raw.headers['www-authenticate']).to.match(/^Bearer /);
    });

    it('refuses an unknown token and a session id passed in the URL', async () => {
      refused(await scrape(gw.url, { ca: gw.ca, bearer: 'oms_not-a-real-token' }), 401);
      refused(await scrape(`${gw.url}/?SESSID=${sid}`, { ca: gw.ca }), 401);
    });

    it('refuses a user without metrics.view (an Operator) with 403', async () => {
      refused(await scrape(gw.url, { ca: gw.ca, bearer: operatorSid }), 403);
    });

    it('serves an API token of the Monitoring role, and an Administrator session', async () => {
      const s = await scrape(gw.url, { ca: gw.ca, bearer: monitorToken });
      expect(s.status).to.equal(200);
      expect(s.contentType).to.match(/^text\/plain; version=0\.0\.4/);
      expect((await scrape(gw.url, { ca: gw.ca, bearer: sid })).status).to.equal(200);
    });

    it('serves the allow-listed address without a token, and no other address of the machine', async () => {
      const allowed = await scrape(gw.url, { ca: gw.ca, localAddress: ALLOWED });
      expect(allowed.status, allowed.text).to.equal(200);
      expect(allowed.families.has('oms_rpc_calls_total')).to.equal(true);
      refused(await scrape(gw.url, { ca: gw.ca, localAddress: '127.0.0.3' }), 401);
      refused(await scrape(gw.url, { ca: gw.ca, localAddress: '127.0.0.1' }), 401);
    });
  });

  describe('what a scrape holds', () => {
    it('parses as the Prometheus text format and holds exactly the oms_ families the README documents, plus process metrics', async () => {
      const s = await metrics();
      const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
      const section = /\n## Metrics\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
      const documented = new Set([...section.matchAll(/^\| `(oms_[a-z_]+)` \| (counter|gauge|histogram) \|/gm)].map((m) => `${m[1]}:${m[2].toUpperCase()}`));
      const served = new Set([...s.families.entries()].filter(([name]) => name.startsWith('oms_')).map(([name, f]) => `${name}:${f.type.toUpperCase()}`));
      expect([...served].sort()).to.deep.equal([...documented].sort());
      for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_active_handles_total']) {
        expect(s.families.has(name), name).to.equal(true);
      }
      expect(sample(s, 'process_resident_memory_bytes')).to.be.greaterThan(10 * 1024 * 1024);
    });

    it("passes Prometheus's own parser and linter (promtool check metrics) without a complaint about an oms_ metric", async () => {
      const s = await metrics();
      const complaints = checkWithPromtool(s.text);
      expect(complaints.filter((l) => !/^nodejs_\w+_total non-counter metrics should not have "_total" suffix$/.test(l)), complaints.join('\n')).to.deep.equal([]);
    });

    it('counts calls by service, method, wire format and outcome, errors by their OMS name, and times them', async () => {
      const before = await metrics();
      await ok('userservices', 'whoami', [sid, 0]);
      await ok('userservices', 'whoami', [sid, 0]);
      expect((await jsonrpc('userservices.whoami', [0], sid)).result.result).to.have.property('name', 'admin');
      expect((await get('userservices', 'whoami', ['0123456789ABCDEF0123456789ABCDEF01234567', 0])).error.message).to.match(/^AuthError/);
      expect((await get('userservices', 'list_users', [operatorSid, 0])).error.message).to.match(/^Permission denied/);
      expect((await jsonrpc('userservices.no_such_method', [0], sid)).error.data.name).to.equal('MethodNotFound');
      expect((await get('nosuchservice', 'x', [])).error).to.not.equal(null);
      // cache_timeout: the second list is served from the cache.
      await ok('tagservices', 'list_tags', [sid, 0]);
      expect((await get('tagservices', 'list_tags', [sid, 3600])).result.type).to.equal('tmp_cache');
      const after = await metrics();

      const delta = (labels: Record<string, string>) => count(after, 'oms_rpc_calls_total', labels) - count(before, 'oms_rpc_calls_total', labels);
      expect(delta({ service: 'userservices', method: 'whoami', transport: 'oms-get', outcome: 'ok' })).to.equal(2);
      expect(delta({ service: 'userservices', method: 'whoami', transport: 'jsonrpc', outcome: 'ok' })).to.equal(1);
      expect(delta({ service: 'userservices', method: 'whoami', transport: 'oms-get', outcome: 'AuthError' })).to.equal(1);
      expect(delta({ service: 'userservices', method: 'list_users', transport: 'oms-get', outcome: 'PermissionDenied' })).to.equal(1);
      // Undeclared names never become label values.
      expect(delta({ service: '(unknown)', method: '(unknown)', transport: 'jsonrpc', outcome: 'MethodNotFound' })).to.equal(1);
      expect(delta({ service: '(unknown)', method: '(unknown)', transport: 'oms-get', outcome: 'ServiceNotFound' })).to.equal(1);
      expect(after.text).to.not.match(/no_such_method|nosuchservice/);
      const latency = (s: Scrape) => count(s, 'oms_rpc_call_duration_seconds', { service: 'userservices', method: 'whoami' });
      expect(latency(after) - latency(before)).to.equal(4);
      const hits = (s: Scrape) => count(s, 'oms_rpc_cache_hits_total', { service: 'tagservices', method: 'list_tags' });
      expect(hits(after) - hits(before)).to.equal(1);
    });

    it('counts sessions: a login raises oms_sessions_active, a logout lowers it', async () => {
      const n0 = sample(await metrics(), 'oms_sessions_active')!;
      const s1 = await ok('authservices', 'authenticate', ['admin', PASSWORD]);
      expect(sample(await metrics(), 'oms_sessions_active')).to.equal(n0 + 1);
      await ok('authservices', 'deauthenticate', [s1]);
      expect(sample(await metrics(), 'oms_sessions_active')).to.equal(n0);
    });

    it('counts websockets that receive pushed notifications', async () => {
      const n0 = sample(await metrics(), 'oms_event_subscribers')!;
      const ws = new WebSocket(`${gw.url.replace('https', 'wss')}/ws`, { ca: gw.ca, headers: { authorization: `Bearer ${sid}` } });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      expect(sample(await metrics(), 'oms_event_subscribers')).to.equal(n0 + 1);
      ws.close();
      await new Promise((r) => ws.once('close', r));
      // The server sees the close a moment later.
      for (let i = 0; i < 50 && sample(await metrics(), 'oms_event_subscribers') !== n0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(sample(await metrics(), 'oms_event_subscribers')).to.equal(n0);
    });

    it('reads tasks from the database by kind and state at every scrape', async () => {
      // Tasks are written by node methods; here a row is written as src/tasks would, into the
      // gateway's own database, to show the gauge reads the table and not a copy of it.
      const db = new Database(join(gw.dataDir, 'oms.db'));
      try {
        db.pragma('busy_timeout = 5000');
        db.prepare("INSERT INTO tasks (id, kind, node, target, user_name, state, created_at) VALUES ('e2e-metrics-1', 'e2e.metrics', NULL, 't', 'admin', 'running', ?)").run(Date.now());
        let s = await metrics();
        expect(sample(s, 'oms_tasks', { kind: 'e2e.metrics', state: 'running' })).to.equal(1);
        db.prepare("UPDATE tasks SET state = 'failed', finished_at = ? WHERE id = 'e2e-metrics-1'").run(Date.now());
        s = await metrics();
        expect(sample(s, 'oms_tasks', { kind: 'e2e.metrics', state: 'running' })).to.equal(undefined);
        expect(sample(s, 'oms_tasks', { kind: 'e2e.metrics', state: 'failed' })).to.equal(1);
      } finally {
        db.close();
      }
    });
  });

  describe('a node on a real local sshd', () => {
    let sshd: Sshd;
    const node = 'metricsnode1';
    before(async () => {
      sshd = await startSshd({ authorizedKey: await ok('funcservices', 'get_gateway_key', [sid, 0]) });
    });
    after(() => sshd?.stop());

    it('appears once signed, connected, with its channels and queue', async () => {
      let s = await metrics();
      expect(sample(s, 'oms_node_connection_state', { node })).to.equal(undefined);
      expect(sample(s, 'oms_node_connections', { state: 'connected' })).to.equal(0);
      await ok('funcservices', 'add_request', [sid, 0, node, '127.0.0.1', sshd.port]);
      // A request is not a node yet.
      expect(sample(await metrics(), 'oms_node_connection_state', { node })).to.equal(undefined);
      await ok('funcservices', 'sign_requests', [sid, 0, [node]]);
      await ok('statsservices', 'get_stats', [sid, 0, node, 'uptime']);
      s = await metrics();
      expect(sample(s, 'oms_node_connection_state', { node, state: 'connected' })).to.equal(1);
      expect(sample(s, 'oms_node_connections', { state: 'connected' })).to.equal(1);
      expect(sample(s, 'oms_node_channels_in_use', { node })).to.equal(0);
      expect(sample(s, 'oms_node_queue_depth', { node })).to.equal(0);
      expect(count(s, 'oms_rpc_calls_total', { service: 'statsservices', method: 'get_stats', outcome: 'ok' })).to.equal(1);
    });

    it('counts a console tunnel while it is reserved', async () => {
      expect(sample(await metrics(), 'oms_console_tunnels', { kind: 'ssh' })).to.equal(0);
      await ok('sshservices', 'set_up_ssh_connection', [sid, 0, node]);
      expect(sample(await metrics(), 'oms_console_tunnels', { kind: 'ssh' })).to.equal(1);
      await ok('sshservices', 'remove_session_ssh_connections', [sid, 0]);
      expect(sample(await metrics(), 'oms_console_tunnels', { kind: 'ssh' })).to.equal(0);
    });

    it('is reported host_key_mismatch once the node offers another host key', async () => {
      await sshd.rotateHostKey();
      const r = await get('statsservices', 'get_stats', [sid, 0, node, 'uptime']);
      expect(r.error.message).to.match(/^HostKeyMismatchError/);
      const s = await metrics();
      expect(sample(s, 'oms_node_connection_state', { node, state: 'host_key_mismatch' })).to.equal(1);
      expect(sample(s, 'oms_node_connection_state', { node, state: 'connected' })).to.equal(0);
      expect(sample(s, 'oms_node_connections', { state: 'host_key_mismatch' })).to.equal(1);
      expect(count(s, 'oms_rpc_calls_total', { service: 'statsservices', method: 'get_stats', transport: 'oms-get', outcome: 'HostKeyMismatchError' })).to.equal(1);
    });
  });
});
