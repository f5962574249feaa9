/**
 * Gateway killed with SIGKILL while calls run: on restart no session, user, node, pinned key or
 * tag is lost or corrupted — neither those written before the traffic nor any write the gateway
 * acknowledged to a client during it — and tasks left running are marked failed with a reason.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayProcess } from '../helpers/process.ts';
import { fetchCa } from '../helpers/https.ts';
import { lab, ADMIN_PASSWORD } from '../integration/fixture.ts';
import { nodeExec } from '../lab/index.ts';
import { figure } from './figures.ts';

const tables = ['users', 'sessions', 'nodes', 'tags', 'node_tags', 'acl', 'api_tokens'];

describe('restart safety', function () {
  this.timeout(180_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'oms-restart-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('SIGKILL mid-traffic loses no records and leaves no task running', async () => {
    const l = await lab();
    const env = { OMS_ADMIN_PASSWORD: ADMIN_PASSWORD, OMS_TLS: 'off', OMS_SSH_KEY: l.privateKey!, OMS_LOG_LEVEL: 'warn' };
    const gw = await startGatewayProcess(env, { dataDir });
    const call = async (url: string, service: string, method: string, params: unknown[]) =>
      (await fetchCa(`${url}/?${new URLSearchParams({ id: '1', service, method, params: JSON.stringify(params) })}`)).json();
    const sid = (await call(gw.url, 'authservices', 'authenticate', ['admin', ADMIN_PASSWORD])).result.result;
    const nodes = l.nodes.filter((n) => n.libvirt);
    for (const n of nodes) await call(gw.url, 'funcservices', 'add_request', [sid, 0, n.name, n.address, n.port]);
    expect((await call(gw.url, 'funcservices', 'sign_requests', [sid, 0, nodes.map((n) => n.name)])).error).to.equal(null);
    for (let i = 0; i < 10; i++) await call(gw.url, 'userservices', 'add_user', [sid, 0, `keep${i}`, `keep-password-${i}`, [{ path: '/', role: 'Auditor' }]]);
    await call(gw.url, 'tagservices', 'add_node_tag', [sid, 0, nodes[0].name, 'rack-1']);

    // A task in flight when the process dies: an ISO fetch from a server that sends slowly.
    const slow = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const drip = setInterval(() => res.write(Buffer.alloc(1024)), 100);
      res.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((r) => slow.listen(0, l.hostAddress ?? '10.213.7.1', r));
    const slowUrl = `http://${l.hostAddress ?? '10.213.7.1'}:${(slow.address() as { port: number }).port}/slow.iso`;
    void call(gw.url, 'isoservices', 'fetch_image', [sid, 0, nodes[0].name, slowUrl, 'restart-test.iso']).catch(() => {});

    const counted = () => {
      const db = new Database(join(dataDir, 'oms.db'), { readonly: true });
      try {
        return Object.fromEntries(tables.map((t) => [t, (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n]));
      } finally {
        db.close();
      }
    };
    const pinnedBefore = nodes.map((n) => n.hostKeyFingerprint);
    const before = counted();

    // Traffic in flight when the process dies: reads on nodes, writes of users, tags and sessions.
    // Every write whose success came back to the client is recorded: an acknowledged write is a
    // promise the database must keep through the crash, however close to the kill it was made.
    let stop = false;
    const acked = { users: [] as string[], tags: [] as string[], sessions: [] as [string, string][] };
    const okCall = async (service: string, method: string, params: unknown[]) => {
      const r = await call(gw.url, service, method, params).catch(() => undefined);
      return r && r.error === null ? r.result.result : undefined;
    };
    const traffic = Promise.all([
      (async () => {
        for (let i = 0; !stop; i++) if ((await okCall('userservices', 'add_user', [sid, 0, `late${i}`, `late-password-${i}`])) !== undefined) acked.users.push(`late${i}`);
      })(),
      (async () => {
        while (!stop) await call(gw.url, 'statsservices', 'get_stats', [sid, 0, nodes[1].name, 'memory']).catch(() => {});
      })(),
      (async () => {
        for (let i = 0; !stop; i++) if ((await okCall('tagservices', 'add_node_tag', [sid, 0, nodes[2].name, `t${i}`])) !== undefined) acked.tags.push(`t${i}`);
      })(),
      (async () => {
        for (let i = 0; !stop; i++) {
          const s = await okCall('authservices', 'authenticate', [`keep${i % 10}`, `keep-password-${i % 10}`]);
          if (s !== undefined) acked.sessions.push([`keep${i % 10}`, s]);
        }
      })(),
    ]);
    await new Promise((r) => setTimeout(r, 1500));
    const running = () => {
      const db = new Database(join(dataDir, 'oms.db'), { readonly: true });
      try {
        return db.prepare("SELECT id FROM tasks WHERE kind = 'iso.fetch' AND state = 'running'").all() as { id: string }[];
      } finally {
        db.close();
      }
    };
    const inFlight = running();
    expect(inFlight, 'the fetch task should be running when the gateway is killed').to.have.length(1);
    await gw.kill('SIGKILL');
    const killedAt = Date.now();
    stop = true;
    await traffic;
    // The server still sends: only the fetch noticing that its gateway has gone stops it.
    const parts = async () => (await nodeExec(nodes[0], ['find', '/var/lib/oms-node/isos', '-maxdepth', '1', '-name', '.oms-fetch-*.part'])).stdout.trim();
    for (let i = 0; i < 100 && (await parts()) !== ''; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await parts(), 'the orphaned fetch removed its temp file').to.equal('');
    figure('orphaned node-side fetch stopped after ms', Date.now() - killedAt);
    slow.closeAllConnections();
    slow.close();

    const gw2 = await startGatewayProcess(env, { dataDir });
    try {
      const after = counted();
      const lost = tables.reduce((sum, t) => sum + Math.max(0, before[t] - after[t]), 0);
      figure('faults survived (SIGKILL mid-traffic, restart)', 1);
      figure('records lost (must be 0)', lost);
      expect(lost).to.equal(0);
      // Every write acknowledged during the traffic, up to the kill, is there after the restart.
      const db0 = new Database(join(dataDir, 'oms.db'), { readonly: true });
      let missing: string[];
      try {
        const users = new Set((db0.prepare('SELECT name FROM users').all() as { name: string }[]).map((u) => u.name));
        const tags = new Set((db0.prepare('SELECT tag AS name FROM node_tags WHERE node = ?').all(nodes[2].name) as { name: string }[]).map((t) => t.name));
        missing = [...acked.users.filter((u) => !users.has(u)).map((u) => `user ${u}`), ...acked.tags.filter((t) => !tags.has(t)).map((t) => `tag ${t}`)];
      } finally {
        db0.close();
      }
      for (const [user, s] of acked.sessions) if ((await call(gw2.url, 'authservices', 'checksessid', [s])).error !== null) missing.push(`session of ${user}`);
      figure('writes acknowledged during the SIGKILL window (users, tags, sessions)', `${acked.users.length}, ${acked.tags.length}, ${acked.sessions.length}`);
      figure('acknowledged writes lost (must be 0)', missing.length);
      expect(acked.users.length + acked.tags.length + acked.sessions.length, 'the traffic must have written something').to.be.greaterThan(0);
      expect(missing, 'acknowledged before the kill, gone after the restart').to.deep.equal([]);
      // The session from before the crash still works; users can still log in; keys still pinned.
      expect((await call(gw2.url, 'authservices', 'checksessid', [sid])).result.result).to.equal(0);
      expect((await call(gw2.url, 'authservices', 'authenticate', ['keep9', 'keep-password-9'])).result.result).to.match(/^[0-9A-F]{40}$/);
      const signed = (await call(gw2.url, 'funcservices', 'list_signed', [sid, 0])).result.result;
      expect(signed.map((s: any) => s.fingerprint)).to.deep.equal(pinnedBefore);
      expect(signed.every((s: any) => s.status === 1)).to.equal(true);
      expect((await call(gw2.url, 'tagservices', 'list_node_tags', [sid, 0, nodes[0].name])).result.result).to.deep.include({ tag: 'rack-1', level: 3 });
      const db = new Database(join(dataDir, 'oms.db'), { readonly: true });
      try {
        expect(db.pragma('integrity_check', { simple: true })).to.equal('ok');
        expect(db.prepare("SELECT count(*) AS n FROM tasks WHERE state = 'running'").get()).to.deep.equal({ n: 0 });
        // The task the dead process was running is failed with the reason, not left running.
        expect(db.prepare('SELECT state, error_name, error_message FROM tasks WHERE id = ?').get(inFlight[0].id)).to.deep.equal({
          state: 'failed',
          error_name: 'TaskInterruptedError',
          error_message: 'the gateway stopped while the task ran',
        });
        figure('tasks interrupted by SIGKILL and marked failed on restart', 1);
      } finally {
        db.close();
      }
      // Nothing of the interrupted fetch stays: not under its name, not as a temp file.
      const left = (await nodeExec(nodes[0], ['ls', '-A', '/var/lib/oms-node/isos'])).stdout;
      expect(left).to.not.match(/^restart-test\.iso$/m);
      expect(left).to.not.match(/^\.oms-fetch-/m);
    } finally {
      await gw2.stop();
    }
  });
});
