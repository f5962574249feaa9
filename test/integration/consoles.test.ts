/**
 * Consoles on real lab guests through the real gateway process: VNC tunnels (OMS kvmservices
 * methods), node SSH terminals (sshservices) and guest serial consoles, at the protocol level with
 * a raw websocket client. Tickets: single use, expiry, session binding; tunnels die with their
 * session. Guests are `cons-` guests on omsnode1/omsnode2, removed afterwards.
 */
import { expect } from 'chai';
import { canary } from '../lab/index.ts';
import { fetchCa } from '../helpers/https.ts';
import { enroll, startEnv, ADMIN_PASSWORD, type Env } from './fixture.ts';
import { openRaw, removeGuest, ssh, startGuest } from '../browser/lab-guests.ts';

const VM1 = 'cons-vm1';
const VM2 = 'cons-vm2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('consoles on the lab', function () {
  this.timeout(180_000);
  let e: Env;
  let wsBase: string;
  const n1 = () => e.lab.nodes[0];
  const n2 = () => e.lab.nodes[1];
  const login = async () => (await e.call('authservices', 'authenticate', ['admin', ADMIN_PASSWORD])).result.result as string;
  const cleanup = async (sid: string) => {
    await e.call('kvmservices', 'remove_session_vnc_connections', [sid, 0]);
    await e.call('sshservices', 'remove_session_ssh_connections', [sid, 0]);
  };

  before(async () => {
    // Pool of 1 per kind and 2-second tickets, so exhaustion and expiry are quick to show.
    e = await startEnv({ OMS_CONSOLE_POOL: '1', OMS_CONSOLE_TICKET_TTL: '2', OMS_NODE_TIMEOUT: '20' });
    wsBase = e.gw.url.replace(/^http/, 'ws') + '/consoles/ws';
    await enroll(e, e.lab.nodes.slice(0, 2));
    await Promise.all([startGuest(e.lab, n1(), VM1), startGuest(e.lab, n2(), VM2)]);
  });
  after(async () => {
    await e?.stop();
    if (e) await Promise.all([removeGuest(e.lab, n1(), VM1), removeGuest(e.lab, n2(), VM2)]);
  });
  afterEach(async () => e && cleanup(e.sid));

  it('set_up_vnc_connection returns the port as a string; list and check show it', async () => {
    const r = await e.call('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM1]);
    expect(r).to.deep.equal({ error: null, id: 1, result: { type: 'func', result: '6801' } });
    expect(await e.ok('kvmservices', 'list_session_vnc_connections', [e.sid, 0])).to.deep.equal([{ host: n1().name, port: 6801, vm: VM1 }]);
    expect(await e.ok('kvmservices', 'check_session_vnc_connection', [e.sid, 0, 6801])).to.equal('0');
    expect(await e.ok('kvmservices', 'check_session_vnc_connection', [e.sid, 0, '6801'])).to.equal('0');
    expect((await e.call('kvmservices', 'check_session_vnc_connection', [e.sid, 0, 6802])).error.message).to.match(/^VNCConnectionCheckError/);
  });

  it('a raw websocket client receives "RFB 003.008" through the proxy; the ticket works once', async () => {
    const port = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM1]));
    const t = await e.ok('kvmservices', 'get_vnc_ticket', [e.sid, 0, port]);
    expect(t).to.include({ host: n1().name, port, vm: VM1 });
    expect(t.ticket).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(t.url).to.equal(`/web-vnc/vnc.html?ticket=${t.ticket}`);
    const c = await openRaw(`${wsBase}?ticket=${t.ticket}`);
    const hello = await c.waitFor((b) => b.length >= 12);
    expect(hello.subarray(0, 12).toString('latin1')).to.equal('RFB 003.008\n');
    // The RFB handshake continues through the proxy: version, then the server's security types.
    c.send('RFB 003.008\n');
    const sec = await c.waitFor((b) => b.length >= 14);
    expect(sec[12]).to.be.greaterThan(0);
    c.ws.close();
    let refused = '';
    await openRaw(`${wsBase}?ticket=${t.ticket}`).catch((err: Error) => (refused = err.message));
    expect(refused, 'used ticket').to.equal('refused 403');
  });

  it('expired, unknown and malformed tickets are refused', async () => {
    const port = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM1]));
    const t = await e.ok('kvmservices', 'get_vnc_ticket', [e.sid, 0, port]);
    await sleep(2600);
    for (const ticket of [t.ticket, 'A'.repeat(43), "x' OR 1=1", '']) {
      let refused = '';
      await openRaw(`${wsBase}?ticket=${encodeURIComponent(ticket)}`).catch((err: Error) => (refused = err.message));
      expect(refused, ticket).to.equal('refused 403');
    }
  });

  it("another session neither sees nor opens this session's tunnel, and its set-up is refused", async () => {
    const other = await login();
    try {
      const port = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM1]));
      const mine = await e.ok('kvmservices', 'get_vnc_ticket', [e.sid, 0, port]);
      expect((await e.call('kvmservices', 'get_vnc_ticket', [other, 0, port])).error.message).to.match(/^VNCConnectionCheckError/);
      expect((await e.call('kvmservices', 'check_session_vnc_connection', [other, 0, port])).error.message).to.match(/^VNCConnectionCheckError/);
      expect(await e.ok('kvmservices', 'list_session_vnc_connections', [other, 0])).to.deep.equal([]);
      expect((await e.call('kvmservices', 'set_up_vnc_connection', [other, 0, n1().name, VM1])).error.message).to.match(/^VNCAreadySetUpAnotherSessionError/);
      expect((await e.call('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM1])).error.message).to.match(/^VNCAreadySetUpError/);
      expect((await e.call('kvmservices', 'remove_vnc_connection', [other, 0, n1().name, VM1])).error.message).to.match(/^VNCRemoveError/);
      // The tunnel changes hands: the first session's ticket does not open the new owner's tunnel.
      expect(await e.ok('kvmservices', 'remove_vnc_connection', [e.sid, 0, n1().name, VM1])).to.equal(String(port));
      expect(await e.ok('kvmservices', 'set_up_vnc_connection', [other, 0, n1().name, VM1])).to.equal(String(port));
      let refused = '';
      await openRaw(`${wsBase}?ticket=${mine.ticket}`).catch((err: Error) => (refused = err.message));
      expect(refused).to.equal('refused 403');
    } finally {
      await cleanup(other);
    }
  });

  it('deauthenticate closes the session\'s open tunnels and frees their spots', async () => {
    const sid = await login();
    const port = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [sid, 0, n1().name, VM1]));
    const t = await e.ok('kvmservices', 'get_vnc_ticket', [sid, 0, port]);
    const c = await openRaw(`${wsBase}?ticket=${t.ticket}`);
    await c.waitFor((b) => b.length >= 12);
    const t2 = await e.ok('kvmservices', 'get_vnc_ticket', [sid, 0, port]);
    const started = Date.now();
    expect(await e.ok('authservices', 'deauthenticate', [sid])).to.equal(0);
    const closed = await c.closed;
    expect(closed.code).to.equal(4000);
    expect(Date.now() - started).to.be.below(3000);
    let refused = '';
    await openRaw(`${wsBase}?ticket=${t2.ticket}`).catch((err: Error) => (refused = err.message));
    expect(refused, 'ticket of an ended session').to.equal('refused 403');
    // The spot is free again: another session can set the same guest up.
    expect(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM1])).to.equal(String(port));
  });

  it('remove_vnc_connection disconnects an open console; a second removal is VNCRemoveError', async () => {
    const port = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM1]));
    const c = await openRaw(`${wsBase}?ticket=${(await e.ok('kvmservices', 'get_vnc_ticket', [e.sid, 0, port])).ticket}`);
    await c.waitFor((b) => b.length >= 12);
    expect(await e.ok('kvmservices', 'remove_vnc_connection', [e.sid, 0, n1().name, VM1])).to.equal(String(port));
    expect((await c.closed).code).to.equal(4000);
    expect((await e.call('kvmservices', 'remove_vnc_connection', [e.sid, 0, n1().name, VM1])).error.message).to.match(/^VNCRemoveError/);
    expect(await e.ok('kvmservices', 'remove_session_vnc_connections', [e.sid, 0])).to.equal(0);
  });

  it('a full pool is VNCPoolSpotSetUpError; a guest without VNC server is VNCRemoteSetUpError', async () => {
    await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, VM1]);
    const full = await e.call('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n2().name, VM2]);
    expect(full.error).to.include({ origin: 2, code: 603 });
    expect(full.error.message).to.match(/^VNCPoolSpotSetUpError/);
    await e.ok('kvmservices', 'remove_session_vnc_connections', [e.sid, 0]);
    const missing = await e.call('kvmservices', 'set_up_vnc_connection', [e.sid, 0, n1().name, 'cons-nosuchvm']);
    expect(missing.error.message).to.equal("VNCRemoteSetUpError: The VNC server of cons-nosuchvm on omsnode1 is not available: failed to get domain 'cons-nosuchvm'");
    expect(await e.ok('kvmservices', 'list_session_vnc_connections', [e.sid, 0])).to.deep.equal([]);
  });

  it('hostile names are refused before anything runs on the node', async () => {
    const before = await canary(n1());
    for (const bad of ["x';touch /tmp/cons-pwned;'", '$(id)', '`id`', '../etc', '-rf', 'a\nb', 'vм1', 'x'.repeat(300)]) {
      for (const [svc, m, params] of [
        ['kvmservices', 'set_up_vnc_connection', [n1().name, bad]],
        ['kvmservices', 'set_up_vnc_connection', [bad, VM1]],
        ['kvmservices', 'open_console', [n1().name, bad]],
        ['sshservices', 'set_up_ssh_connection', [bad]],
        ['kvmservices', 'check_session_vnc_connection', [bad]],
      ] as const) {
        const r = await e.call(svc, m, [e.sid, 0, ...params]);
        expect(r.error?.code, `${m} ${JSON.stringify(bad)}`).to.equal(5);
      }
    }
    expect(await canary(n1())).to.equal(before);
  });

  it('a user without vm.console or node.admin is refused', async () => {
    await e.ok('userservices', 'add_user', [e.sid, 0, 'cons-viewer', 'cons viewer password 1', [{ path: '/', role: 'Auditor' }]]);
    try {
      const sid = (await e.call('authservices', 'authenticate', ['cons-viewer', 'cons viewer password 1'])).result.result;
      expect((await e.call('kvmservices', 'set_up_vnc_connection', [sid, 0, n1().name, VM1])).error).to.include({ origin: 1, code: 6 });
      expect((await e.call('kvmservices', 'open_console', [sid, 0, n1().name, VM1])).error).to.include({ origin: 1, code: 6 });
      expect((await e.call('sshservices', 'set_up_ssh_connection', [sid, 0, n1().name])).error).to.include({ origin: 1, code: 6 });
    } finally {
      await e.ok('userservices', 'delete_user', [e.sid, 0, 'cons-viewer']);
    }
  });

  it('sshservices: a shell on the node answers `hostname` with the node\'s name', async () => {
    const r = await e.call('sshservices', 'set_up_ssh_connection', [e.sid, 0, n2().name]);
    expect(r).to.deep.equal({ error: null, id: 1, result: { type: 'func', result: '6900' } });
    expect(await e.ok('sshservices', 'list_session_ssh_connections', [e.sid, 0])).to.deep.equal([{ host: n2().name, port: 6900 }]);
    expect(await e.ok('sshservices', 'check_session_ssh_connection', [e.sid, 0, 6900])).to.equal('0');
    expect((await e.call('sshservices', 'set_up_ssh_connection', [e.sid, 0, n2().name])).error.message).to.match(/^SSHAlreadySetUpError/);
    const t = await e.ok('sshservices', 'get_ssh_ticket', [e.sid, 0, 6900]);
    expect(t.url).to.equal(`/web-vnc/terminal.html?ticket=${t.ticket}`);
    const c = await openRaw(`${wsBase}?ticket=${t.ticket}&cols=100&rows=30`);
    c.send('stty size; hostname\n');
    await c.waitFor((b) => b.toString().includes('30 100') && new RegExp(`\\n${n2().name}\\r?\\n`).test(b.toString()));
    expect(await e.ok('sshservices', 'remove_session_ssh_connections', [e.sid, 0])).to.equal(0);
    expect((await c.closed).code).to.equal(4000);
    expect(await e.ok('sshservices', 'list_session_ssh_connections', [e.sid, 0])).to.deep.equal([]);
    expect((await e.call('sshservices', 'check_session_ssh_connection', [e.sid, 0, 6900])).error.message).to.match(/^SSHConnectionCheckError/);
  });

  it('serial console: guest output after a reset; close_console disconnects', async () => {
    const o = await e.ok('kvmservices', 'open_console', [e.sid, 0, n1().name, VM1]);
    expect(o).to.include({ host: n1().name, port: 7000, vm: VM1 });
    const c = await openRaw(`${wsBase}?ticket=${o.ticket}`);
    await c.waitFor((b) => b.toString().includes(`Connected to domain '${VM1}'`));
    await ssh(e.lab, n1(), ['virsh', '-c', 'qemu:///system', 'reset', VM1]);
    await c.waitFor((b) => b.toString().includes('SeaBIOS'));
    const again = await e.ok('kvmservices', 'open_console', [e.sid, 0, n1().name, VM1]);
    expect(again.port).to.equal(7000);
    const other = await login();
    try {
      expect((await e.call('kvmservices', 'open_console', [other, 0, n1().name, VM1])).error.message).to.match(/^ConsoleAlreadyOpenAnotherSessionError/);
    } finally {
      await e.call('authservices', 'deauthenticate', [other]);
    }
    expect(await e.ok('kvmservices', 'close_console', [e.sid, 0, n1().name, VM1])).to.equal('7000');
    expect((await c.closed).code).to.equal(4000);
    expect((await e.call('kvmservices', 'close_console', [e.sid, 0, n1().name, VM1])).error.message).to.match(/^ConsoleNotOpenError/);
    // No virsh console left behind on the node (it gets SIGHUP when the channel closes).
    let left = '';
    for (let i = 0; i < 20; i++) {
      const ps = await ssh(e.lab, n1(), ['ps', '-C', 'virsh', '-o', 'args=']);
      left = ps.stdout.split('\n').filter((l) => l.includes(`console --force -- ${VM1}`)).join('\n');
      if (!left) break;
      await sleep(250);
    }
    expect(left).to.equal('');
  });
  it('serves the pages and the noVNC/xterm.js files they load, nothing else of node_modules', async () => {
    const page = await fetchCa(`${e.gw.url}/web-vnc/`);
    expect(page.status).to.equal(200);
    expect(page.text).to.include('vnc.js');
    for (const path of ['/web-vnc/vnc.html', '/web-vnc/terminal.html', '/web-vnc/novnc/core/rfb.js', '/web-vnc/xterm/lib/xterm.mjs', '/web-vnc/xterm/css/xterm.css', '/web-vnc/xterm-fit/addon-fit.mjs']) {
      expect((await fetchCa(`${e.gw.url}${path}`)).status, path).to.equal(200);
    }
    for (const path of ['/web-vnc/novnc/package.json', '/web-vnc/%2e%2e/package.json', '/web-vnc/xterm/../../../package.json']) {
      expect((await fetchCa(`${e.gw.url}${path}`)).status, path).to.equal(404);
    }
  });
});

describe('consoles: session expiry', function () {
  this.timeout(120_000);
  let e: Env;
  before(async () => {
    e = await startEnv({ OMS_SESSION_IDLE: '3' });
    await enroll(e, [e.lab.nodes[1]]);
  });
  after(() => e?.stop());

  it('an idle-expired session loses its open terminal', async () => {
    const node = e.lab.nodes[1].name;
    const port = await e.ok('sshservices', 'set_up_ssh_connection', [e.sid, 0, node]);
    const t = await e.ok('sshservices', 'get_ssh_ticket', [e.sid, 0, Number(port)]);
    const c = await openRaw(`${e.gw.url.replace(/^http/, 'ws')}/consoles/ws?ticket=${t.ticket}`);
    c.send('echo cons-alive\n');
    await c.waitFor((b) => b.toString().includes('cons-alive'));
    await sleep(4500);
    // The next use of the session finds it expired; that ends it, and its tunnels with it.
    expect((await e.call('authservices', 'checksessid', [e.sid])).error.message).to.match(/^AuthError/);
    expect((await c.closed).code).to.equal(4000);
  });
});

describe('consoles beside commands', function () {
  this.timeout(120_000);
  let e: Env;
  before(async () => {
    // Two command slots per node: before shells had connections of their own, the third terminal
    // waited for a slot and two open terminals left no room for any command.
    e = await startEnv({ OMS_NODE_CHANNELS: '2', OMS_NODE_TIMEOUT: '20' });
    await enroll(e, [e.lab.nodes[1]]);
  });
  after(() => e?.stop());

  it('five open terminals on a node leave its commands running', async () => {
    const node = e.lab.nodes[1].name;
    const port = await e.ok('sshservices', 'set_up_ssh_connection', [e.sid, 0, node]);
    const terminals = [];
    for (let i = 0; i < 5; i++) {
      // One tunnel per node (OMS); each ticket opens one more terminal on it.
      const t = await e.ok('sshservices', 'get_ssh_ticket', [e.sid, 0, Number(port)]);
      const c = await openRaw(`${e.gw.url.replace(/^http/, 'ws')}/consoles/ws?ticket=${t.ticket}`);
      c.send(`echo term-$((${i}+100))\n`);
      await c.waitFor((b) => b.toString().includes(`term-${i + 100}`));
      terminals.push(c);
    }
    const stats = await Promise.all([1, 2, 3, 4].map(() => e.call('statsservices', 'get_stats', [e.sid, 0, node, 'uptime'])));
    for (const r of stats) expect(r.error, JSON.stringify(r.error)).to.equal(null);
    // Every terminal still answers.
    for (const [i, c] of terminals.entries()) {
      c.send(`echo again-$((${i}+200))\n`);
      await c.waitFor((b) => b.toString().includes(`again-${i + 200}`));
    }
    await e.ok('sshservices', 'remove_session_ssh_connections', [e.sid, 0]);
    for (const c of terminals) expect((await c.closed).code).to.equal(4000);
  });
});
