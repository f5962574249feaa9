/**
 * VNC proxy (issue 5), contenders side by side in front of the same VNC server (a lab guest's
 * QEMU, on the node's loopback):
 *  - the gateway: websocket /consoles/ws -> the node's SSH connection -> 127.0.0.1:59xx;
 *  - websockify (Debian package), run inside the node, listening on the node's lab address.
 * Measured: throughput (full raw-encoded frames, MB/s), added latency (1x1 update round trip),
 * and the gateway's RSS with 100 open tunnels vs 0 (target: flat within a few MB per tunnel).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import WebSocket from 'ws';
import type { Lab, LabNode } from '../test/lab/index.ts';
import { startGatewayProcess } from '../test/helpers/process.ts';
import { remoteLine, removeGuest, ssh, startGuest } from '../test/browser/lab-guests.ts';
import { against, median, percentile, ratio, time, type BenchOptions } from './lib.ts';
import { needPeers, peers } from './peers.ts';

const GUEST = 'cons-bench';
const WEBSOCKIFY_PORT = 6080;
const TUNNELS = 100;
/**
 * QEMU serves at most 32 VNC clients per guest, so the 100 tunnels go to guests of their own
 * (websockify's forked handlers close their VNC connections lazily and count against GUEST).
 */
const MEMORY_GUESTS = ['cons-bench2', 'cons-bench3', 'cons-bench4', 'cons-bench5'];
/** Fresh connections per contender for the latency figures; within QEMU's client limit. */
const FRESH = 20;

/** A minimal RFB 3.8 client (security None, raw encoding) over a websocket carrying raw bytes. */
class RfbClient {
  #buf: Buffer = Buffer.alloc(0);
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  /** Set once the websocket closed: a read then fails at once, saying how, instead of timing out. */
  #closed: string | undefined;
  width = 0;
  height = 0;
  bpp = 0;
  /** ms from websocket open to the server's RFB greeting (connection set-up through the path). */
  greetingMs = 0;
  /** ms from sending our version to the server's security types: a reply QEMU sends at once. */
  roundTripMs = 0;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
      this.#pump();
    });
    ws.on('close', (code, reason) => {
      this.#closed = `the path closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`;
      this.#want?.reject(new Error(this.#closed));
    });
  }

  static async connect(url: string): Promise<RfbClient> {
    const started = performance.now();
    const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_q, res) => reject(new Error(`refused ${res.statusCode}`)));
    });
    const c = new RfbClient(ws);
    await c.#handshake(started);
    return c;
  }

  #pump(): void {
    if (this.#want && this.#buf.length >= this.#want.n) {
      const { n, resolve } = this.#want;
      this.#want = undefined;
      const out = this.#buf.subarray(0, n);
      this.#buf = this.#buf.subarray(n);
      resolve(out);
    }
  }

  /** The next n bytes; a stalled path fails the benchmark instead of hanging it. */
  read(n: number, ms = 15_000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.#closed && this.#buf.length < n) return reject(new Error(this.#closed));
      const timer = setTimeout(() => reject(new Error(`no ${n} bytes from the VNC path within ${ms} ms`)), ms);
      this.#want = {
        n,
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#pump();
    });
  }

  send(b: Buffer): void {
    this.ws.send(b, { binary: true });
  }

  async #handshake(started: number): Promise<void> {
    const version = (await this.read(12)).toString('latin1');
    this.greetingMs = performance.now() - started;
    if (!version.startsWith('RFB 003.')) throw new Error(`not RFB: ${JSON.stringify(version)}`);
    const sent = performance.now();
    this.send(Buffer.from('RFB 003.008\n'));
    const n = (await this.read(1))[0];
    this.roundTripMs = performance.now() - sent;
    const types = await this.read(n);
    if (!types.includes(1)) throw new Error('the VNC server wants a password; the bench guest has none');
    this.send(Buffer.from([1]));
    if ((await this.read(4)).readUInt32BE(0) !== 0) throw new Error('security handshake failed');
    this.send(Buffer.from([1])); // shared
    const init = await this.read(24);
    this.width = init.readUInt16BE(0);
    this.height = init.readUInt16BE(2);
    this.bpp = init[4];
    await this.read(init.readUInt32BE(20)); // desktop name
    // SetEncodings: raw (so every update is width*height*bpp/8 bytes of pixels) and the
    // DesktopSize pseudo-encoding (-223), so a mode switch of the guest is announced.
    this.send(Buffer.from([2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21]));
  }

  /** Requests a non-incremental update of a rectangle and reads it whole; returns the bytes received. */
  async update(w = this.width, h = this.height): Promise<number> {
    const req = Buffer.alloc(10);
    req[0] = 3;
    req[1] = 0;
    req.writeUInt16BE(w, 6);
    req.writeUInt16BE(h, 8);
    this.send(req);
    let total = 0;
    for (;;) {
      const head = await this.read(1);
      if (head[0] === 2) continue; // bell
      if (head[0] === 3) {
        const len = (await this.read(7)).readUInt32BE(3);
        await this.read(len);
        continue;
      }
      if (head[0] !== 0) throw new Error(`unexpected server message ${head[0]}`);
      const rects = (await this.read(3)).readUInt16BE(1);
      for (let i = 0; i < rects; i++) {
        const r = await this.read(12);
        const rw = r.readUInt16BE(4);
        const rh = r.readUInt16BE(6);
        const enc = r.readInt32BE(8);
        if (enc === 0) {
          const n = (rw * rh * this.bpp) / 8;
          await this.read(n);
          total += n;
        } else if (enc === -223) {
          // DesktopSize pseudo-rectangle: no payload.
          this.width = rw;
          this.height = rh;
        } else throw new Error(`unexpected encoding ${enc}`);
      }
      return total;
    }
  }

  /** Closes and waits until the far side has closed too (QEMU allows few clients at once). */
  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((r) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        r();
      }, 5000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        r();
      });
    });
    this.ws.close();
    return closed;
  }
}

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function gateway(lab: Lab, nodes: LabNode[]) {
  const gw = await startGatewayProcess({
    OMS_ADMIN_PASSWORD: 'bench-admin-pw',
    OMS_TLS: 'off',
    OMS_SSH_KEY: lab.privateKey!,
    OMS_LOG_LEVEL: 'warn',
    // 100 tunnels are 100 SSH channels on one node (the lab's sshd allows 200 sessions).
    OMS_NODE_CHANNELS: '150',
    OMS_CONSOLE_TICKET_TTL: '120',
  });
  const call = (service: string, method: string, params: unknown[]) =>
    new Promise<any>((resolve, reject) => {
      const q = new URLSearchParams({ id: '1', service, method, params: JSON.stringify(params) });
      request(`${gw.url}/?${q}`, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (body.error) reject(new Error(`${service}.${method}: ${JSON.stringify(body.error)}`));
          else resolve(body.result.result);
        });
      })
        .on('error', reject)
        .end();
    });
  let sid: string;
  try {
    sid = await call('authservices', 'authenticate', ['admin', 'bench-admin-pw']);
    for (const n of nodes) await call('funcservices', 'add_request', [sid, 0, n.name, n.address, n.port]);
    await call('funcservices', 'sign_requests', [sid, 0, nodes.map((n) => n.name)]);
  } catch (err) {
    await gw.stop();
    throw err;
  }
  const ports = new Map<string, number>();
  /** A websocket URL with a fresh ticket for the guest's tunnel (set up on first use). */
  const wsUrl = async (node: LabNode = nodes[0], guest = GUEST) => {
    if (!ports.has(guest)) ports.set(guest, Number(await call('kvmservices', 'set_up_vnc_connection', [sid, 0, node.name, guest])));
    return `${gw.url.replace(/^http/, 'ws')}/consoles/ws?ticket=${(await call('kvmservices', 'get_vnc_ticket', [sid, 0, ports.get(guest)])).ticket}`;
  };
  return { gw, wsUrl };
}

/**
 * websockify inside the node (its own namespaces), in front of the guest's VNC port. Its stderr is
 * kept (the last few KB: it logs every connection) and is part of the error when it does not start;
 * on any failure here it is stopped before the error is thrown, so nothing is left running.
 */
async function startWebsockify(lab: Lab, node: LabNode, vncPort: number): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn('ssh', ['-F', lab.sshConfig!, node.name, '--', remoteLine(['sh', '-c', 'echo "$$"; exec timeout 900 websockify "$1" "$2"', 'sh', `${node.address}:${WEBSOCKIFY_PORT}`, `127.0.0.1:${vncPort}`])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
  const said = () => stderr.trim() || '(nothing on stderr)';
  let exited = false;
  const exit = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => {
      exited = true;
      reject(new Error(`websockify on ${node.name} exited (${signal ?? `exit ${code}`}) before it served:\n${said()}`));
    }),
  );
  exit.catch(() => undefined);
  let pid: number | undefined;
  const stop = async () => {
    // Retried: a node's sshd may be down for a moment (others' fault tests); `timeout 900` bounds it otherwise.
    for (let i = 0; pid !== undefined && i < 5; i++) {
      const r = await ssh(lab, node, ['kill', String(pid)]).catch(() => ({ code: 255 }));
      if (r.code !== 255) break;
      await sleep(2000);
    }
    child.kill();
  };
  try {
    pid = await Promise.race([new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim().split('\n')[0])))), exit]);
    const url = `ws://${node.address}:${WEBSOCKIFY_PORT}/`;
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await (await Promise.race([RfbClient.connect(url), exit])).close();
        return { url, stop };
      } catch (err) {
        if (exited) throw err;
        if (Date.now() > deadline) throw new Error(`websockify on ${node.name} did not serve ${url} within 15 s (${(err as Error).message}):\n${said()}`);
        await sleep(200);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Removes a bench guest, retrying for a while: other engineers' fault tests stop a node's sshd or
 * change its host key for a few seconds, and a guest left running would hold memory for good.
 * Resolves with what was left behind, or undefined when the guest is gone.
 */
async function removeBenchGuest(lab: Lab, node: LabNode, guest: string): Promise<string | undefined> {
  let last = '';
  for (let i = 0; i < 15; i++) {
    await removeGuest(lab, node, guest);
    const state = await ssh(lab, node, ['virsh', '-c', 'qemu:///system', 'domstate', guest]);
    // virsh answers 1 and names the missing domain; ssh's own failures are 255.
    if (state.code === 1 && /failed to get domain/i.test(state.stderr)) return undefined;
    last = (state.stderr || state.stdout).trim();
    await sleep(2000);
  }
  return `${guest} on ${node.name} (${last})`;
}

export async function benchVnc(lab: Lab, out: (line: string) => void, opts: BenchOptions): Promise<void> {
  await needPeers([peers.websockify], out);
  const fresh = opts.quick ? 6 : FRESH;
  const tunnels = opts.quick ? 20 : TUNNELS;
  const throughputRounds = opts.quick ? 1 : 4;
  const hosts = lab.nodes.filter((n) => n.libvirt);
  if (!hosts.length) throw new Error('no lab node runs libvirt');
  const node = hosts[0];
  const placed = MEMORY_GUESTS.map((guest, i) => ({ guest, node: hosts[(i + 1) % hosts.length] }));
  let stops: (() => Promise<void>)[] = [];
  try {
    // All settled before a failure is thrown, so the clean-up below never races a guest still starting.
    const started = await Promise.allSettled([startGuest(lab, node, GUEST), ...placed.map((p) => startGuest(lab, p.node, p.guest))]);
    const notStarted = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (notStarted) throw notStarted.reason;
    // Let SeaBIOS switch the display to its text mode (720x400), so frames carry its picture.
    await sleep(8000);
    const disp = (await ssh(lab, node, ['virsh', '-c', 'qemu:///system', 'vncdisplay', GUEST])).stdout.trim();
    const vncPort = 5900 + Number(disp.split(':').pop());
    const g = await gateway(lab, hosts);
    stops.push(() => g.gw.stop());
    const wsf = await startWebsockify(lab, node, vncPort);
    stops.push(() => wsf.stop());

    const labelled = (what: string) => (err: Error) => {
      throw new Error(`${what}: ${err.message}`);
    };
    const viaGateway = await RfbClient.connect(await g.wsUrl()).catch(labelled('first connection through the gateway'));
    const viaWebsockify = await RfbClient.connect(wsf.url).catch(labelled('first connection through websockify'));
    out(`VNC server: ${viaGateway.width}x${viaGateway.height}, ${viaGateway.bpp} bpp (full raw frame ${((viaGateway.width * viaGateway.height * viaGateway.bpp) / 8 / 1024).toFixed(0)} KiB)`);

    // Latency: RFB handshake steps the VNC server answers at once, on fresh connections,
    // interleaved: websocket open -> greeting (connection set-up), and version -> security types
    // (one round trip through an established path). Framebuffer updates are no use for this:
    // QEMU answers them on its refresh timer, which backs off to ~100+ ms on an idle screen.
    const lat: Record<string, { greeting: number[]; rtt: number[] }> = { gateway: { greeting: [], rtt: [] }, websockify: { greeting: [], rtt: [] } };
    for (let i = 0; i < fresh; i++) {
      for (const [name, url] of [['gateway', await g.wsUrl()], ['websockify', wsf.url]] as const) {
        const c = await RfbClient.connect(url).catch((err: Error) => {
          throw new Error(`${name}, connection ${i + 1}: ${err.message}`);
        });
        lat[name].greeting.push(c.greetingMs);
        lat[name].rtt.push(c.roundTripMs);
        await c.close();
      }
    }
    const m = (name: string, k: 'greeting' | 'rtt') => median(lat[name][k]);
    out(`connection set-up (ws open -> RFB greeting), median of ${fresh}: gateway ${m('gateway', 'greeting').toFixed(2)} ms, websockify ${m('websockify', 'greeting').toFixed(2)} ms; ratio ${against(m('gateway', 'greeting') / m('websockify', 'greeting'), { op: '<=', value: 1.5 })}`);
    out(`round trip through an open tunnel (version -> security types), median (p95) of ${fresh}: gateway ${m('gateway', 'rtt').toFixed(2)} ms (${percentile(lat.gateway.rtt, 95).toFixed(2)}), websockify ${m('websockify', 'rtt').toFixed(2)} ms (${percentile(lat.websockify.rtt, 95).toFixed(2)}); added ${(m('gateway', 'rtt') - m('websockify', 'rtt')).toFixed(2)} ms`);

    // Throughput: full raw frames (1.1 MiB each), 4 interleaved rounds (1 when quick) of 10 frames per contender.
    // Bounded by QEMU's refresh timer as much as by the path; equal figures mean the path is not the limit.
    const bytes: Record<string, number> = { gateway: 0, websockify: 0 };
    const ms: Record<string, number> = { gateway: 0, websockify: 0 };
    for (let round = 0; round < throughputRounds; round++) {
      for (const [name, c] of [['gateway', viaGateway], ['websockify', viaWebsockify]] as const) {
        const [t, n] = await time(async () => {
          let s = 0;
          for (let i = 0; i < 10; i++) s += await c.update();
          return s;
        });
        bytes[name] += n;
        ms[name] += t;
      }
    }
    const mbps = (name: string) => bytes[name] / 1e6 / (ms[name] / 1000);
    out(`throughput (full raw frames, QEMU-paced): gateway ${mbps('gateway').toFixed(1)} MB/s, websockify ${mbps('websockify').toFixed(1)} MB/s; ratio gateway/websockify ${ratio(mbps('gateway'), mbps('websockify'))}`);
    await viaGateway.close();
    await viaWebsockify.close();

    // Memory: the gateway's RSS idle vs. with 100 open tunnels, each through the RFB handshake
    // and one full frame (so buffers on every path have been used).
    await sleep(1000);
    const pid = g.gw.child.pid!;
    const idle = rssKiB(pid);
    const open: RfbClient[] = [];
    for (let i = 0; i < tunnels; i++) {
      const p = placed[i % placed.length];
      const c = await RfbClient.connect(await g.wsUrl(p.node, p.guest)).catch(labelled(`tunnel ${i + 1} of ${tunnels} (${p.guest})`));
      await c.update();
      open.push(c);
    }
    await sleep(2000);
    const busy = rssKiB(pid);
    out(`gateway RSS: ${(idle / 1024).toFixed(1)} MiB with 0 tunnels, ${(busy / 1024).toFixed(1)} MiB with ${tunnels} open tunnels (to ${placed.length} guests on ${hosts.length} nodes, one full frame each); ${((busy - idle) / tunnels).toFixed(0)} KiB per tunnel (target: a few MB at most)`);
    await Promise.all(open.map((c) => c.close()));
    await sleep(2000);
    out(`gateway RSS after closing them: ${(rssKiB(pid) / 1024).toFixed(1)} MiB`);
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops = [];
    const left = (await Promise.all([removeBenchGuest(lab, node, GUEST), ...placed.map((p) => removeBenchGuest(lab, p.node, p.guest))])).filter(Boolean);
    if (left.length) out(`clean-up failed, left on the lab: ${left.join('; ')}`);
  }
}
