/**
 * Connecting a VNC console (issue 13). It asks the node's resident console virsh for the guest's
 * display: no virsh process is started per connect (the gateway's exec log, at trace level, names
 * every command it runs). And it survives the guest's restart: with libvirt's autoport a guest that
 * restarts may come back on another port, and its old port may go to another guest. Every
 * connect must still reach the guest the spot was set up for, never the one now on its old port.
 * Which guest answered is read where a person sees it: the desktop name in the RFB ServerInit
 * (QEMU sends "QEMU (<guest name>)"; noVNC shows it as the window title).
 */
import { expect } from 'chai';
import { enroll, startEnv, type Env } from './fixture.ts';
import { openRaw, removeGuest, ssh, startGuest } from '../browser/lab-guests.ts';
import type { LabNode } from '../lab/index.ts';

const GUEST = 'cons-rst-a';
/** Takes the guest's old VNC port while it is down, so the guest comes back on another one. */
const DECOY = 'cons-rst-decoy';

/** The whole RFB handshake up to ServerInit (security None); the desktop name the server sends. */
async function desktopName(url: string): Promise<string> {
  const c = await openRaw(url);
  try {
    const greeting = (await c.waitFor((b) => b.length >= 12)).subarray(0, 12).toString('latin1');
    expect(greeting).to.equal('RFB 003.008\n');
    c.send('RFB 003.008\n');
    const types = await c.waitFor((b) => b.length >= 13 && b.length >= 13 + b[12]);
    const n = types[12];
    expect([...types.subarray(13, 13 + n)], 'security types').to.include(1);
    c.send(Buffer.from([1])); // None
    const at = 13 + n;
    const result = await c.waitFor((b) => b.length >= at + 4);
    expect(result.readUInt32BE(at), 'security result').to.equal(0);
    c.send(Buffer.from([1])); // ClientInit: shared
    const init = at + 4;
    const all = await c.waitFor((b) => b.length >= init + 24 && b.length >= init + 24 + b.readUInt32BE(init + 20));
    return all.subarray(init + 24, init + 24 + all.readUInt32BE(init + 20)).toString('utf8');
  } finally {
    c.ws.close();
    await c.closed;
  }
}

describe('VNC console connects (lab)', function () {
  this.timeout(180_000);
  let e: Env;
  let node: LabNode;
  let wsBase: string;
  const virsh = async (...args: string[]) => {
    const r = await ssh(e.lab, node, ['virsh', '-c', 'qemu:///system', ...args]);
    if (r.code !== 0) throw new Error(`virsh ${args.join(' ')} on ${node.name}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  const vncTcpPort = async (vm: string) => 5900 + Number((await virsh('vncdisplay', vm)).split(':').pop());
  const connect = async (port: number) => desktopName(`${wsBase}?ticket=${(await e.ok('kvmservices', 'get_vnc_ticket', [e.sid, 0, port])).ticket}`);

  /**
   * Stops the guest, starts the decoy on the guest's port (a fixed port, so nothing else can take
   * it first), then starts the guest again: it comes back on another port. Returns both ports.
   */
  async function restartOntoAnotherPort(): Promise<{ before: number; after: number }> {
    const before = await vncTcpPort(GUEST);
    await virsh('destroy', GUEST);
    await startGuest(e.lab, node, DECOY, { vncPort: before });
    await virsh('start', GUEST);
    const after = await vncTcpPort(GUEST);
    expect(after, 'the restarted guest is on another port').to.not.equal(before);
    expect(await vncTcpPort(DECOY), "the decoy answers on the guest's old port").to.equal(before);
    return { before, after };
  }

  before(async () => {
    e = await startEnv({ OMS_NODE_TIMEOUT: '20', OMS_LOG_LEVEL: 'trace' });
    node = e.lab.nodes.find((n, i) => i === 2 && n.libvirt) ?? e.lab.nodes[0];
    wsBase = `${e.gw.url.replace(/^http/, 'ws')}/consoles/ws`;
    await enroll(e, [node]);
    await startGuest(e.lab, node, GUEST);
  });
  after(async () => {
    await e?.stop();
    if (e) await Promise.all([removeGuest(e.lab, node, GUEST), removeGuest(e.lab, node, DECOY)]);
  });
  afterEach(async () => e && e.ok('kvmservices', 'remove_session_vnc_connections', [e.sid, 0]));

  it('runs no virsh on the node per connect: the resident console virsh answers', async () => {
    const port = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, node.name, GUEST]));
    const from = e.gw.logs.length;
    for (let i = 0; i < 3; i++) expect(await connect(port)).to.equal(`QEMU (${GUEST})`);
    const execs = e.gw.logs.slice(from).flatMap((l) => {
      try {
        const o = JSON.parse(l) as { msg?: string; command?: string; node?: string };
        return o.msg === 'node exec' ? [`${o.node}: ${o.command}`] : [];
      } catch {
        return [];
      }
    });
    expect(execs).to.deep.equal([]);
  });

  it('reaches the restarted guest on its new port, after set-up and between two connects, never the guest on its old port', async () => {
    const port = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, node.name, GUEST]));
    const want = `QEMU (${GUEST})`;

    // Restarted between set-up and the first connect.
    await restartOntoAnotherPort();
    expect(await connect(port)).to.equal(want);

    // Restarted again between two connects (the decoy goes first, so the port moves once more).
    await removeGuest(e.lab, node, DECOY);
    await restartOntoAnotherPort();
    expect(await connect(port)).to.equal(want);
    expect(await e.ok('kvmservices', 'check_session_vnc_connection', [e.sid, 0, port])).to.equal('0');
  });

  it('a guest that is down when the console connects closes it with VNCRemoteSetUpError; started again, it connects', async () => {
    await removeGuest(e.lab, node, DECOY);
    const port = Number(await e.ok('kvmservices', 'set_up_vnc_connection', [e.sid, 0, node.name, GUEST]));
    await virsh('destroy', GUEST);
    const c = await openRaw(`${wsBase}?ticket=${(await e.ok('kvmservices', 'get_vnc_ticket', [e.sid, 0, port])).ticket}`);
    expect(await c.closed).to.deep.equal({ code: 4002, reason: 'VNCRemoteSetUpError' });
    await virsh('start', GUEST);
    expect(await connect(port)).to.equal(`QEMU (${GUEST})`);
  });
});
