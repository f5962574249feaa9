/**
 * Console spots on their own ports, in-process and without a node: a reserved VNC/SSH spot listens
 * on its number while it is reserved and on no other time; its websocket admits only the session
 * that reserved it (or a ticket for it); an SSH spot serves the terminal page at `/`; a port
 * another program holds is skipped or gives a typed error, and the gateway keeps serving.
 * (Consoles with real guests and the page port over TLS: test/integration, test/browser.)
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:net';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { accepts, freePortRange } from '../helpers/ports.ts';
import { digest } from '../../src/auth/tokens.ts';
import { closeTunnels, consoleStore, reserveSpot } from '../../src/consoles/tunnels.ts';
import type { ConsoleKind } from '../../src/consoles/store.ts';

/** Opens a websocket; resolves with how it ended: `refused <status>`, or `closed <code> <reason>` after opening. */
function wsOutcome(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
    ws.on('error', (e) => resolve(`error ${e.message}`));
    ws.on('close', (code, reason) => resolve(`closed ${code} ${reason.toString()}`));
  });
}

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });

describe('console spots on their own ports', () => {
  let gw: TestGateway;
  let base: number;
  let sid: string;
  const owner = (s: string) => ({ sessionKey: digest(s), userName: 'admin' });
  const reserve = (kind: ConsoleKind, s: string, node: string, vm: string) => reserveSpot(gw.app, kind, owner(s), node, vm);
  const handleOf = (r: Awaited<ReturnType<typeof reserve>>): number => {
    if (!('row' in r)) throw new Error(`no spot: ${JSON.stringify(r)}`);
    return r.row.handle;
  };

  beforeEach(async () => {
    base = await freePortRange(8);
    gw = await startTestGateway({ config: { consoleSpotPorts: true, consolePoolSize: 3, consoleVncBase: base, consoleSshBase: base + 4, consoleSerialBase: base + 10, sessionIdleSeconds: 60 } });
    sid = await gw.login();
  });
  afterEach(() => gw.close());

  it('a reserved VNC spot listens while reserved; removing it closes the port', async () => {
    expect(await accepts(base)).to.equal(false);
    const port = handleOf(await reserve('vnc', sid, 'cons-n1', 'cons-g1'));
    expect(port).to.equal(base);
    expect(await accepts(port), 'listening while reserved').to.equal(true);
    // Not a page: the VNC page lives on the page port; this port carries the websocket.
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).to.equal(426);
    const row = consoleStore(gw.app).byHandle('vnc', port)!;
    consoleStore(gw.app).remove('vnc', port);
    closeTunnels(gw.app, [row]);
    expect(await accepts(port), 'closed with the spot').to.equal(false);
  });

  it("the spot's websocket admits the session that reserved it (or a ticket for it), nobody else", async () => {
    const other = await gw.login();
    const port = handleOf(await reserve('vnc', sid, 'cons-n1', 'cons-g1'));
    const ws = `ws://127.0.0.1:${port}/`;
    // Admitted: the gateway goes on to the node, which is unknown here; the page learns only the error name.
    expect(await wsOutcome(`${ws}?SESSID=${sid}`)).to.equal('closed 4002 UnknownNodeError');
    expect(await wsOutcome(`${ws}?SESSID=${sid.toLowerCase()}`), 'SESSIDs are case-blind, as everywhere').to.equal('closed 4002 UnknownNodeError');
    for (const bad of [other, 'A'.repeat(40), '', "' OR 1=1 --"]) expect(await wsOutcome(`${ws}?SESSID=${encodeURIComponent(bad)}`), bad).to.equal('refused 403');
    expect(await wsOutcome(ws), 'no credentials').to.equal('refused 403');
    const store = consoleStore(gw.app);
    const t = store.issueTicket(store.byHandle('vnc', port)!);
    expect(await wsOutcome(`${ws}?ticket=${t.ticket}`)).to.equal('closed 4002 UnknownNodeError');
    expect(await wsOutcome(`${ws}?ticket=${t.ticket}`), 'used').to.equal('refused 403');
    // A ticket for another spot does not open this one.
    const sshPort = handleOf(await reserve('ssh', sid, 'cons-n1', ''));
    const sshTicket = store.issueTicket(store.byHandle('ssh', sshPort)!);
    expect(await wsOutcome(`${ws}?ticket=${sshTicket.ticket}`)).to.equal('refused 403');
  });

  it('a user who lost vm.console since set-up is refused on the spot', async () => {
    await gw.get('userservices', 'add_user', [sid, 0, 'cons-op', 'cons op password 1', [{ path: '/', role: 'Operator' }]]);
    const opSid = await gw.login('cons-op', 'cons op password 1');
    const port = handleOf(await reserve('vnc', opSid, 'cons-n1', 'cons-g1'));
    expect(await wsOutcome(`ws://127.0.0.1:${port}/?SESSID=${opSid}`)).to.equal('closed 4002 UnknownNodeError');
    gw.app.db.prepare("DELETE FROM acl WHERE subject = 'cons-op'").run();
    expect(await wsOutcome(`ws://127.0.0.1:${port}/?SESSID=${opSid}`)).to.equal('refused 403');
  });

  it('an SSH spot serves the terminal page at / (and its files), with no-referrer and no caching', async () => {
    const port = handleOf(await reserve('ssh', sid, 'cons-n1', ''));
    expect(port).to.equal(base + 4);
    const page = await fetch(`http://127.0.0.1:${port}/?SESSID=${sid}`);
    expect(page.status).to.equal(200);
    const html = await page.text();
    expect(html).to.include('<script type="module" src="terminal.js">');
    expect(page.headers.get('referrer-policy')).to.equal('no-referrer');
    expect(page.headers.get('cache-control')).to.equal('no-store');
    for (const path of ['/terminal.js', '/connect.js', '/console.css', '/xterm/lib/xterm.mjs', '/xterm/css/xterm.css', '/xterm-fit/addon-fit.mjs']) {
      expect((await fetch(`http://127.0.0.1:${port}${path}`)).status, path).to.equal(200);
    }
    for (const path of ['/package.json', '/xterm/package.json', '/%2e%2e/package.json', '/jsonrpc']) expect((await fetch(`http://127.0.0.1:${port}${path}`)).status, path).to.equal(404);
    const malformed = await fetch(`http://127.0.0.1:${port}/%E0%A4%A?SESSID=${sid}`);
    expect(malformed.status).to.equal(404);
    expect(await malformed.text(), 'no stack, no address').to.equal('not found\n');
    expect(await wsOutcome(`ws://127.0.0.1:${port}/?SESSID=${sid}&cols=100&rows=30`)).to.equal('closed 4002 UnknownNodeError');
  });

  it('deauthenticate and session expiry close the session\'s spot ports; others stay', async () => {
    const other = await gw.login();
    const mine = handleOf(await reserve('vnc', sid, 'cons-n1', 'cons-g1'));
    const theirs = handleOf(await reserve('ssh', other, 'cons-n1', ''));
    expect(await accepts(mine)).to.equal(true);
    await gw.get('authservices', 'deauthenticate', [sid]);
    expect(await accepts(mine), 'deauthenticated').to.equal(false);
    expect(await accepts(theirs)).to.equal(true);
    // Expiry: the session's last use lies past the idle limit; the sweep (or its next use) ends it.
    gw.app.db.prepare('UPDATE sessions SET last_seen = last_seen - 3600 WHERE id_hash = ?').run(digest(other));
    gw.app.sessions.sweep();
    expect(await accepts(theirs), 'expired').to.equal(false);
    expect(consoleStore(gw.app).count('ssh')).to.equal(0);
  });

  it('a spot whose port another program holds is skipped; with none left, a typed error, and the gateway serves on', async () => {
    const squatter = await listen(base);
    try {
      const port = handleOf(await reserve('vnc', sid, 'cons-n1', 'cons-g1'));
      expect(port, 'the next spot').to.equal(base + 1);
      expect(await accepts(port)).to.equal(true);
      const third = await listen(base + 2);
      try {
        const r = await reserve('vnc', sid, 'cons-n1', 'cons-g2');
        expect(r).to.deep.equal({ portFailed: { port: base, reason: 'address in use (2 ports tried)' } });
        expect(consoleStore(gw.app).count('vnc'), 'no spot left behind').to.equal(1);
      } finally {
        third.close();
      }
    } finally {
      squatter.close();
    }
    expect((await gw.get('authservices', 'checksessid', [sid])).result.result, 'the gateway serves on').to.equal(0);
  });

  it('an address the spots cannot listen on (OMS_BIND) is a typed error at once, not a crash', async () => {
    const bad = await startTestGateway({ config: { consoleSpotPorts: true, consoleVncBase: base, consolePoolSize: 3, bind: '192.0.2.1' } });
    try {
      const s = await bad.login();
      expect(await reserveSpot(bad.app, 'vnc', owner(s), 'cons-n1', 'cons-g1')).to.deep.equal({ portFailed: { port: base, reason: 'address not available' } });
      expect(consoleStore(bad.app).count('vnc')).to.equal(0);
      expect((await bad.get('authservices', 'checksessid', [s])).result.result).to.equal(0);
    } finally {
      await bad.close();
    }
  });

  it('spot ports off (OMS_CONSOLE_SPOT_PORTS=off): spots are handles only, nothing listens', async () => {
    const off = await startTestGateway({ config: { consoleSpotPorts: false, consoleVncBase: base, consolePoolSize: 3 } });
    try {
      const s = await off.login();
      const r = await reserveSpot(off.app, 'vnc', owner(s), 'cons-n1', 'cons-g1');
      expect(r).to.have.nested.property('row.handle', base);
      expect(await accepts(base)).to.equal(false);
    } finally {
      await off.close();
    }
  });
});
