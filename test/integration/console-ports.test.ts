/**
 * Console spots on their own ports, as the OMS document uses them, through the real gateway
 * process with TLS on (the default) and a real lab guest and node: the number set-up returns is a
 * port that accepts the console websocket (wss, the gateway's certificate) for the session that
 * reserved it; an SSH spot serves the terminal page; every removal closes the port; a port another
 * program holds is skipped or a typed error; a restart drops spots and their ports together.
 * Ports are free ones (tests run side by side); the guest is `cons-port1` on omsnode1.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchCa } from '../helpers/https.ts';
import { accepts, freePortRange } from '../helpers/ports.ts';
import { enroll, startEnv, ADMIN_PASSWORD, type Env } from './fixture.ts';
import { openRaw, removeGuest, startGuest } from '../browser/lab-guests.ts';

const VM = 'cons-port1';

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });

describe('consoles on their own ports (TLS)', function () {
  this.timeout(180_000);
  let e: Env;
  let base: number;
  let dataDir: string;
  const n1 = () => e.lab.nodes[0];
  const wss = (port: number, query: string) => `wss://127.0.0.1:${port}/?${query}`;
  const login = async () => (await e.call('authservices', 'authenticate', ['admin', ADMIN_PASSWORD])).result.result as string;
  const refusal = (url: string) => openRaw(url, { ca: e.gw.ca }).then(
    (c) => (c.ws.close(), 'opened'),
    (err: Error) => err.message,
  );
  const env = () => ({
    OMS_TLS: 'on',
    OMS_CONSOLE_SPOT_PORTS: 'on',
    OMS_CONSOLE_POOL: '2',
    OMS_CONSOLE_VNC_BASE: String(base),
    OMS_CONSOLE_SSH_BASE: String(base + 3),
    OMS_CONSOLE_SERIAL_BASE: String(base + 6),
    OMS_NODE_TIMEOUT: '20',
  });

  before(async () => {
    base = await freePortRange(8);
    dataDir = mkdtempSync(join(tmpdir(), 'cons-ports-'));
    e = await startEnv(env(), { dataDir });
    expect(e.gw.url).to.match(/^https:/);
    await enroll(e, [n1()]);
    await startGuest(e.lab, n1(), VM);
  });
  after(async () => {
    await e?.stop();
    if (e) await removeGuest(e.lab, n1(), VM);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await e.call('kvmservices', 'remove_session_vnc_connections', [e.sid, 0]);
    await e.call('sshservices', 'remove_session_ssh_connections', [e.sid, 0]);
  });

  it('set_up_vnc_connection: its port accepts the websocket (wss) with the SESSID and says "RFB 003.008"; removal closes the port', async () => {
    expect(await accepts(base)).to.equal(false);
    const port = await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM]);
    expect(port).to.equal(String(base));
    const c = await openRaw(wss(base, `SESSID=${e.sid}`), { ca: e.gw.ca });
    const hello = await c.waitFor((b) => b.length >= 12);
    expect(hello.subarray(0, 12).toString('latin1')).to.equal('RFB 003.008\n');
    c.send('RFB 003.008\n');
    expect((await c.waitFor((b) => b.length >= 14))[12], 'security types follow through the proxy').to.be.greaterThan(0);
    expect(await e.ok('kvmservices', 'remove_vnc_connection', [e.sid, 0, n1().name, VM])).to.equal(port);
    // 4000 is the gateway's close; on a loaded machine the socket can be gone before its frame (1006).
    expect((await c.closed).code, 'the open console is told it was closed').to.be.oneOf([4000, 1006]);
    expect(await accepts(base), 'the port no longer accepts connections').to.equal(false);
  });

  it("another session's SESSID, a bad one, or none is refused on the spot; a ticket for it works once", async () => {
    const other = await login();
    try {
      await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM]);
      for (const q of [`SESSID=${other}`, 'SESSID=0123456789ABCDEF0123456789ABCDEF01234567', '']) expect(await refusal(wss(base, q)), q).to.equal('refused 403');
      const t = await e.ok('kvmservices', 'get_vnc_ticket', [e.sid, 0, base]);
      const c = await openRaw(wss(base, `ticket=${t.ticket}`), { ca: e.gw.ca });
      await c.waitFor((b) => b.length >= 12);
      c.ws.close();
      expect(await refusal(wss(base, `ticket=${t.ticket}`)), 'used ticket').to.equal('refused 403');
      // The same-origin path still works beside it.
      const t2 = await e.ok('kvmservices', 'get_vnc_ticket', [e.sid, 0, base]);
      const same = await openRaw(`${e.gw.url.replace(/^https/, 'wss')}/consoles/ws?ticket=${t2.ticket}`, { ca: e.gw.ca });
      await same.waitFor((b) => b.length >= 12);
      same.ws.close();
    } finally {
      await e.call('authservices', 'deauthenticate', [other]);
    }
  });

  it('set_up_ssh_connection: its port serves the terminal page at / and a shell that answers `hostname`', async () => {
    const port = Number(await e.ok('sshservices', 'set_up_ssh_connection', [e.sid, 0, n1().name]));
    expect(port).to.equal(base + 3);
    const page = await fetchCa(`https://127.0.0.1:${port}/?SESSID=${e.sid}`, { ca: e.gw.ca });
    expect(page.status).to.equal(200);
    expect(page.text).to.include('terminal.js');
    const c = await openRaw(wss(port, `SESSID=${e.sid}&cols=100&rows=30`), { ca: e.gw.ca });
    c.send('stty size; hostname\n');
    await c.waitFor((b) => b.toString().includes('30 100') && new RegExp(`\\n${n1().name}\\r?\\n`).test(b.toString()));
    expect(await e.ok('sshservices', 'remove_session_ssh_connections', [e.sid, 0])).to.equal(0);
    expect((await c.closed).code).to.be.oneOf([4000, 1006]);
    expect(await accepts(port)).to.equal(false);
  });

  it("deauthenticate closes the session's spot ports and their open consoles", async () => {
    const sid = await login();
    const vnc = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [sid, 0, n1().name, VM]));
    const c = await openRaw(wss(vnc, `SESSID=${sid}`), { ca: e.gw.ca });
    await c.waitFor((b) => b.length >= 12);
    expect(await e.ok('authservices', 'deauthenticate', [sid])).to.equal(0);
    expect((await c.closed).code).to.be.oneOf([4000, 1006]);
    expect(await accepts(vnc), 'deauthenticated').to.equal(false);
  });

  it('a spot port another program holds is skipped; with none left, VNCSpotPortError, and the gateway serves on', async () => {
    const squatter = await listen(base);
    try {
      expect(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM]), 'the next spot').to.equal(String(base + 1));
      expect(await accepts(base + 1)).to.equal(true);
      await e.ok('kvmservices', 'remove_session_vnc_connections', [e.sid, 0]);
      const second = await listen(base + 1);
      try {
        const r = await e.call('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM]);
        expect(r.error).to.deep.equal({ origin: 2, code: 607, message: `VNCSpotPortError: The gateway cannot listen on port ${base} for a VNC connection: address in use (2 ports tried)` });
        expect(await e.ok('kvmservices', 'list_session_vnc_connections', [e.sid, 0])).to.deep.equal([]);
      } finally {
        second.close();
      }
    } finally {
      squatter.close();
    }
    expect(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM])).to.equal(String(base));
  });

  it('a gateway restart drops the spots with their ports; setting up again listens again', async () => {
    await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM]);
    expect(await accepts(base)).to.equal(true);
    await e.gw.kill('SIGKILL');
    expect(await accepts(base), 'gone with the process').to.equal(false);
    const sid = e.sid;
    e = await startEnv(env(), { dataDir });
    expect(await e.ok('kvmservices', 'list_session_vnc_connections', [sid, 0]), 'the old session lost its spot').to.deep.equal([]);
    expect(await accepts(base)).to.equal(false);
    expect(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM])).to.equal(String(base));
    const c = await openRaw(wss(base, `SESSID=${e.sid}`), { ca: e.gw.ca });
    await c.waitFor((b) => b.length >= 12);
    c.ws.close();
  });
});
