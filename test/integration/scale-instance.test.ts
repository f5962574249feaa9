/**
 * Scale on a lab instance of its own (issue 16): 30 light nodes made and removed by this file
 * (LAB_INSTANCE=ci), so it needs nothing of the shared lab and leaves it alone.
 *  - the gateway enrols all 30, and one JSON-RPC batch over all of them answers from each;
 *  - after a gateway restart every node's connection is opened again (OMS_NODE_WARM) through the
 *    connect gate: all 30 connected, and never more than OMS_NODE_CONNECT_CONCURRENCY attempts
 *    at once (the gateway's own count at /metrics, oms_node_connects_peak);
 *  - `down` leaves nothing of the instance: namespaces, links, processes, mounts, cgroups, files.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labStatus, labUp, type Lab } from '../lab/index.ts';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { sample, scrape } from '../helpers/prometheus.ts';

const INSTANCE = 'ci';
const NODES = 30;
const BOUND = 4;
const PASSWORD = 'scale-admin-pw';

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function rpc(gw: GatewayProcess, service: string, method: string, params: unknown[]): Promise<any> {
  const q = new URLSearchParams({ id: '1', service, method, params: JSON.stringify(params) });
  const r = await (await fetch(`${gw.url}/?${q}`)).json();
  if (r.error) throw new Error(`${service}.${method}: ${JSON.stringify(r.error)}`);
  return r.result.result;
}

/** Everything of the instance a down must remove, as found on this machine now. */
function leftovers(lab: Lab, nsInodes: Set<string>): string[] {
  const left: string[] = [];
  const names = new Set(lab.nodes.map((n) => n.name));
  for (const ns of existsSync('/run/netns') ? readdirSync('/run/netns') : []) if (names.has(ns)) left.push(`netns ${ns}`);
  for (const link of readdirSync('/sys/class/net')) if (link === lab.bridge || link.startsWith(`oms${INSTANCE}v`)) left.push(`link ${link}`);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    for (const t of ['net', 'mnt', 'uts']) {
      try {
        const { ino } = statSync(`/proc/${pid}/ns/${t}`);
        if (nsInodes.has(`${t}:${ino}`)) left.push(`process ${pid} in a node's ${t} namespace`);
      } catch {
        // gone meanwhile
      }
    }
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.includes(`oms-lab-${INSTANCE}`)) left.push(`mount ${line.split(' ')[4]}`);
  for (const path of [`/var/lib/oms-lab-${INSTANCE}`, `/run/oms-lab-${INSTANCE}`, join(import.meta.dirname, '..', 'lab', `.state-${INSTANCE}`)]) if (existsSync(path)) left.push(`file ${path}`);
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const walk = (dir: string, depth: number): void => {
      if (depth > 4) return;
      let entries: string[] = [];
      try {
        entries = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
      } catch {
        return;
      }
      for (const e of entries) {
        if (e === `oms-lab-${INSTANCE}`) left.push(`cgroup ${join(dir, e)}`);
        else if (!e.startsWith('oms-lab')) walk(join(dir, e), depth + 1);
      }
    };
    walk(join('/sys/fs/cgroup', h), 0);
  }
  return left;
}

describe(`lab instance "${INSTANCE}": ${NODES} light nodes, one gateway, reconnects through the connect gate`, function () {
  this.timeout(600_000);
  let lab: Lab;
  let dataDir: string;
  let gw: GatewayProcess | undefined;
  let sharedBefore: string | undefined;
  const env = { OMS_ADMIN_PASSWORD: PASSWORD, OMS_TLS: 'off', OMS_LOG_LEVEL: 'warn', OMS_HEALTH_INTERVAL: '0', OMS_METRICS_ALLOW: '127.0.0.1', OMS_NODE_CONNECT_CONCURRENCY: String(BOUND), OMS_NODE_CONNECT_JITTER_MS: '500' };

  before(async () => {
    // The shared lab, if up, is only looked at: it must be the same afterwards.
    sharedBefore = JSON.stringify((await labStatus())?.nodes.map((n) => [n.name, n.address, n.hostKeyFingerprint]) ?? null);
    lab = await labUp({ instance: INSTANCE, nodes: NODES });
    dataDir = mkdtempSync(join(tmpdir(), 'oms-scale-'));
  });
  after(async () => {
    await gw?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (existsSync(`/var/lib/oms-lab-${INSTANCE}`)) await labDown({ instance: INSTANCE });
  });

  it('makes the nodes in its own /20 with names, bridge and state of its own', () => {
    expect(lab.nodes).to.have.length(NODES);
    expect(lab.bridge).to.equal(`oms${INSTANCE}br0`);
    expect(new Set(lab.nodes.map((n) => n.address)).size).to.equal(NODES);
    for (const [i, n] of lab.nodes.entries()) {
      expect(n.name).to.equal(`oms${INSTANCE}n${i + 1}`);
      expect(n.address).to.match(/^10\.214\.\d+\.\d+$/);
      expect(n.stateDir).to.equal(`/var/lib/oms-lab-${INSTANCE}/${n.name}`);
    }
  });

  it('enrols every node, and one JSON-RPC batch answers from each', async () => {
    gw = await startGatewayProcess({ ...env, OMS_SSH_KEY: lab.privateKey! }, { dataDir });
    const sid = await rpc(gw, 'authservices', 'authenticate', ['admin', PASSWORD]);
    for (const n of lab.nodes) await rpc(gw, 'funcservices', 'add_request', [sid, 0, n.name, n.address, n.port]);
    await rpc(gw, 'funcservices', 'sign_requests', [sid, 0, lab.nodes.map((n) => n.name)]);
    const batch = lab.nodes.map((n, i) => ({ jsonrpc: '2.0', id: i, method: 'statsservices.get_stats', params: [sid, 0, n.name, 'kernel', 'uptime'] }));
    const answers = (await (await fetch(`${gw.url}/jsonrpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) })).json()) as any[];
    expect(answers).to.have.length(NODES);
    for (const a of answers) {
      expect(a.error, JSON.stringify(a.error)).to.equal(undefined);
      expect(a.result.result.client).to.equal(lab.nodes[a.id].name);
      expect(String(a.result.result.result.uptime)).to.match(/^\d+/);
    }
  });

  it('funcservices.list_signed pages with offset and limit, and without them lists every node as before', async () => {
    const sid = await rpc(gw!, 'authservices', 'authenticate', ['admin', PASSWORD]);
    const byName = lab.nodes.map((n) => n.name).sort();
    const all = await rpc(gw!, 'funcservices', 'list_signed', [sid, 0]);
    expect(all.map((n: any) => n.name)).to.deep.equal(byName);
    const page = await rpc(gw!, 'funcservices', 'list_signed', [sid, 0, null, 10, 5]);
    expect(page.map((n: any) => n.name)).to.deep.equal(byName.slice(10, 15));
    for (const n of page) expect(n.status, n.name).to.equal(1);
    const last = await rpc(gw!, 'funcservices', 'list_signed', [sid, 0, null, NODES - 2, 5]);
    expect(last.map((n: any) => n.name)).to.deep.equal(byName.slice(NODES - 2));
  });

  it(`after a restart connects every node again, never more than ${BOUND} attempts at once`, async () => {
    await gw!.stop();
    gw = await startGatewayProcess({ ...env, OMS_SSH_KEY: lab.privateKey! }, { dataDir });
    // Nobody calls a node: the gateway opens them all itself.
    await until(`all ${NODES} nodes are connected`, async () => sample(await scrape(gw!.url), 'oms_node_connections', { state: 'connected' }) === NODES);
    const s = await scrape(gw!.url);
    const peak = sample(s, 'oms_node_connects_peak', {});
    expect(peak, 'attempts at once').to.be.at.most(BOUND);
    expect(peak, 'attempts at once').to.be.at.least(2);
  });

  it('down removes every namespace, link, process, mount, cgroup and file it made; the shared lab is as it was', async () => {
    await gw?.stop();
    gw = undefined;
    // The nodes' namespaces, to find any process left in one after down.
    const nsInodes = new Set<string>();
    const nsRoot = `/run/oms-lab-${INSTANCE}`;
    for (const n of lab.nodes) {
      nsInodes.add(`net:${statSync(`/run/netns/${n.name}`).ino}`);
      nsInodes.add(`mnt:${statSync(`${nsRoot}/${n.name}.mnt`).ino}`);
      nsInodes.add(`uts:${statSync(`${nsRoot}/${n.name}.uts`).ino}`);
    }
    expect(leftovers(lab, nsInodes).length, 'the instance is up').to.be.above(NODES * 3);
    await labDown({ instance: INSTANCE });
    expect(leftovers(lab, nsInodes)).to.deep.equal([]);
    expect(await labStatus({ instance: INSTANCE })).to.equal(null);
    expect(JSON.stringify((await labStatus())?.nodes.map((n) => [n.name, n.address, n.hostKeyFingerprint]) ?? null)).to.equal(sharedBefore);
  });
});
