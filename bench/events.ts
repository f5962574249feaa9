/**
 * Live events (issue 14), two figures on the real gateway and a lab node:
 *  - latency: from the moment `virsh start` returns on the node to the `events.event`
 *    notification's arrival at a `/ws` subscriber. The lab's nodes are namespaces of this machine,
 *    so the node's clock is this process's clock: the node prints the time right after virsh
 *    returns, and the subscriber stamps the arrival. p50 and p99 over >= 50 starts (target p50 <
 *    100 ms, p99 < 500 ms).
 *  - fan-out to 1,000 concurrent `/ws` subscribers: every subscriber must get every event (in seq
 *    order); the gateway's RSS growth from none to 1,000 subscribers through the burst (target
 *    < 200 MiB) and the delivery rate are printed.
 */
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { nodeExec, type Lab, type LabNode } from '../test/lab/index.ts';
import { against, gatewayOn, median, percentile, type BenchGateway, type BenchOptions } from './lib.ts';

const GUEST = 'evb-lat';
const SUBSCRIBERS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const virsh = (node: LabNode, ...args: string[]) => nodeExec(node, ['virsh', '-c', 'qemu:///system', ...args]);

interface Notice {
  seq: number;
  type: string;
  node?: string;
  target?: string;
  action: string;
  data: Record<string, unknown>;
}

/** A `/ws` subscriber: the events it received, in arrival order, stamped with this clock. */
class Subscriber {
  readonly got: { at: number; e: Notice }[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.method !== 'events.event') return;
      this.got.push({ at: Date.now(), e: m.params });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(url: string, sid: string, filter: Record<string, unknown>): Promise<Subscriber> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { headers: { authorization: `Bearer ${sid}` } });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const s = new Subscriber(ws);
    const answer = new Promise<any>((resolve) => {
      const onMessage = (data: unknown) => {
        const m = JSON.parse(String(data));
        if (m.id === 1) {
          ws.off('message', onMessage);
          resolve(m);
        }
      };
      ws.on('message', onMessage);
    });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: filter }));
    const a = await answer;
    if (a.error) throw new Error(`events.subscribe: ${JSON.stringify(a.error)}`);
    return s;
  }

  /** The first event after index `from` that `test` accepts; rejects after `ms`. */
  async next(from: number, test: (e: Notice) => boolean, ms: number): Promise<{ at: number; e: Notice; index: number }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.got.findIndex((g, n) => n >= from && test(g.e));
      if (i >= 0) return { ...this.got[i], index: i };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event within ${ms} ms (${this.got.length} received)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

async function defineGuest(node: LabNode): Promise<void> {
  await removeGuest(node);
  // No disk, no boot device: the guest spins in its firmware, which is all a start needs.
  const xml = `<domain type='kvm'><name>${GUEST}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices></devices></domain>`;
  // nodeExec's stdin is a socket, which virsh cannot open as /dev/stdin: through a file.
  const file = `/tmp/${GUEST}.xml`;
  await nodeExec(node, ['tee', file], { input: xml });
  const d = await virsh(node, 'define', file);
  await nodeExec(node, ['rm', '-f', file]);
  if (d.code !== 0) throw new Error(`define ${GUEST}: ${d.stderr}`);
}

async function removeGuest(node: LabNode): Promise<void> {
  await virsh(node, 'destroy', GUEST);
  await virsh(node, 'undefine', GUEST);
}

/** Starts the guest by hand on the node; resolves with the node's clock right after virsh returned. */
async function startByHand(node: LabNode): Promise<number> {
  const r = await nodeExec(node, ['sh', '-c', 'virsh -c qemu:///system start "$1" >/dev/null && date +%s%3N', 'evb', GUEST]);
  if (r.code !== 0) throw new Error(`virsh start ${GUEST}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

async function latency(g: BenchGateway, node: LabNode, out: (line: string) => void, rounds: number): Promise<void> {
  await defineGuest(node);
  const sub = await Subscriber.open(g.gw.url, g.sid, { types: ['kvm'], nodes: [node.name] });
  try {
    const ms: number[] = [];
    let early = 0;
    for (let i = 0; i < rounds; i++) {
      const from = sub.got.length;
      const returned = await startByHand(node);
      const started = await sub.next(from, (e) => e.target === GUEST && e.action === 'started', 10_000);
      // libvirt emits the event before `virsh start` returns (and before the node's `date` ran),
      // so it can arrive first: that is a latency of zero, not less. Counted apart below.
      if (started.at < returned) early++;
      ms.push(Math.max(0, started.at - returned));
      const stopFrom = sub.got.length;
      if ((await virsh(node, 'destroy', GUEST)).code !== 0) throw new Error(`virsh destroy ${GUEST} failed`);
      await sub.next(Math.min(stopFrom, started.index + 1), (e) => e.target === GUEST && e.action === 'stopped', 10_000);
    }
    out(`virsh start on the node -> events.event at a /ws subscriber, ${rounds} starts: p50 ${against(median(ms), { op: '<=', value: 100 }, 1, ' ms')}; p99 ${against(percentile(ms, 99), { op: '<=', value: 500 }, 1, ' ms')}`);
    out(`  the event was at the subscriber before virsh start had returned on the node in ${early} of ${rounds} starts (counted as 0 ms)`);
  } finally {
    sub.close();
    await removeGuest(node);
  }
}

async function fanOut(g: BenchGateway, node: LabNode, out: (line: string) => void, events: number): Promise<void> {
  const pid = g.gw.child.pid!;
  await sleep(500);
  const idle = rssKiB(pid);
  const subs: Subscriber[] = [];
  try {
    // Opened in waves: 1,000 handshakes at once would measure the accept queue, not events.
    for (let i = 0; i < SUBSCRIBERS; i += 100) subs.push(...(await Promise.all(Array.from({ length: Math.min(100, SUBSCRIBERS - i) }, () => Subscriber.open(g.gw.url, g.sid, { types: ['inventory'] })))));
    const subscribed = rssKiB(pid);
    // Each node tag added and removed is one inventory event (tagservices through the audit path).
    const t0 = Date.now();
    for (let i = 0; i < events / 2; i++) {
      const tag = `evb-${i}`;
      for (const method of ['add_node_tag', 'remove_node_tag']) {
        const r = await g.call('tagservices', method, [g.sid, 0, node.name, tag]);
        if (r.error) throw new Error(`tagservices.${method}: ${JSON.stringify(r.error)}`);
      }
    }
    const published = Date.now() - t0;
    const deadline = Date.now() + 60_000;
    while (subs.some((s) => s.got.length < events) && Date.now() < deadline) await sleep(50);
    const done = Math.max(...subs.map((s) => s.got.at(-1)?.at ?? Date.now())) - t0;
    const busy = rssKiB(pid);
    const short = subs.filter((s) => s.got.length < events).length;
    // Other events (node health, tasks) take numbers in between: increasing, and the same list for all.
    const reference = subs[0].got.map((g) => g.e.seq).join();
    const disordered = subs.filter((s) => s.got.some((g, i) => i > 0 && g.e.seq <= s.got[i - 1].e.seq) || s.got.map((g) => g.e.seq).join() !== reference).length;
    out(`${SUBSCRIBERS} /ws subscribers, ${events} events: every subscriber got every event, the same seqs in increasing order: ${short === 0 && disordered === 0 ? 'yes' : `no (${short} short, ${disordered} out of order or different)`}`);
    out(`delivery: ${events} events published in ${published} ms, all ${events * SUBSCRIBERS} deliveries done in ${done} ms (${Math.round((events * SUBSCRIBERS) / (done / 1000))} deliveries/s, ${Math.round(events / (done / 1000))} events/s to every subscriber)`);
    const growth = (Math.max(subscribed, busy) - idle) / 1024;
    out(`gateway RSS: ${(idle / 1024).toFixed(1)} MiB idle, ${(subscribed / 1024).toFixed(1)} MiB with ${SUBSCRIBERS} subscribers, ${(busy / 1024).toFixed(1)} MiB after the burst; growth ${against(growth, { op: '<=', value: 200 }, 1, ' MiB')}`);
    if (short || disordered) throw new Error('some subscribers missed events');
  } finally {
    for (const s of subs) s.close();
  }
}

export async function benchEvents(lab: Lab, out: (line: string) => void, opts: BenchOptions): Promise<void> {
  const node = lab.nodes.find((n) => n.libvirt) ?? lab.nodes[0];
  const g = await gatewayOn(lab, [node]);
  try {
    await latency(g, node, out, opts.quick ? 20 : 60);
    await fanOut(g, node, out, opts.quick ? 20 : 100);
  } finally {
    await g.stop();
  }
}
