/**
 * /metrics with a lab node: after enrollment and a node call the node is `connected`; while a
 * call holds the node's only channel (OMS_NODE_CHANNELS=1) the next one is counted in the
 * node's queue; the long call is a real task (iso.fetch), reported running, then failed, and
 * its call counted with the error's OMS name.
 */
import { expect } from 'chai';
import { nodeExec, type LabNode } from '../lab/index.ts';
import { enroll, startEnv, type Env } from './fixture.ts';
import { count, sample, scrape, type Scrape } from '../helpers/prometheus.ts';

/** Port on the node's loopback for a listener that accepts and never answers (unique to this file). */
const STALL_PORT = 18713;
const MARK = '/tmp/oms-metrics-stall-listening';
/** Accepts connections and holds them, answering nothing, for `ms`; then exits, closing them. */
const stallListener = (ms: number) =>
  `const s=require('net').createServer(()=>{});s.listen(${STALL_PORT},'127.0.0.1',()=>require('fs').writeFileSync('${MARK}',''));setTimeout(()=>{require('fs').rmSync('${MARK}',{force:true});process.exit(0)},${ms});`;

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('lab: /metrics follows a lab node', function () {
  this.timeout(180_000);
  let e: Env;
  let node: LabNode;
  const metrics = async (): Promise<Scrape> => {
    const s = await scrape(e.gw.url, { bearer: e.sid });
    expect(s.status, s.text).to.equal(200);
    return s;
  };

  before(async () => {
    e = await startEnv({ OMS_NODE_CHANNELS: '1' });
    node = e.lab.nodes[0];
    await enroll(e, [node]);
  });
  after(async () => {
    await e?.stop();
  });

  it('reports the enrolled node connected after a node call, and counts the call', async () => {
    await e.ok('statsservices', 'get_stats', [e.sid, 0, node.name, 'uptime']);
    const s = await metrics();
    expect(sample(s, 'oms_node_connection_state', { node: node.name, state: 'connected' })).to.equal(1);
    expect(sample(s, 'oms_node_connections', { state: 'connected' })).to.equal(1);
    expect(sample(s, 'oms_node_channels_in_use', { node: node.name })).to.equal(0);
    expect(sample(s, 'oms_node_queue_depth', { node: node.name })).to.equal(0);
    expect(count(s, 'oms_rpc_calls_total', { service: 'statsservices', method: 'get_stats', transport: 'oms-get', outcome: 'ok' })).to.equal(1);
  });

  it('shows the channel in use and the queued call while a task holds the node', async () => {
    const listener = nodeExec(node, ['/usr/bin/node', '-e', stallListener(15_000)], { timeoutMs: 30_000 });
    try {
      await until('the stall listener runs on the node', async () => (await nodeExec(node, ['test', '-e', MARK])).code === 0);
      // Holds the node's one channel: curl on the node waits for an answer that never comes.
      const fetching = e.call('isoservices', 'fetch_image', [e.sid, 0, node.name, `http://127.0.0.1:${STALL_PORT}/oms-metrics.iso`, 'oms-metrics-stall.iso']);
      await until('the fetch holds the channel', async () => sample(await metrics(), 'oms_node_channels_in_use', { node: node.name }) === 1);
      const queued = e.call('statsservices', 'get_stats', [e.sid, 0, node.name, 'uptime']);
      await until('the stats call waits in the queue', async () => sample(await metrics(), 'oms_node_queue_depth', { node: node.name }) === 1);
      const during = await metrics();
      expect(sample(during, 'oms_node_channels_in_use', { node: node.name })).to.equal(1);
      expect(sample(during, 'oms_tasks', { kind: 'iso.fetch', state: 'running' })).to.equal(1);

      // The listener ends, curl fails, the task fails, the channel goes to the queued call.
      const fetched = await fetching;
      expect(fetched.error?.message ?? '', JSON.stringify(fetched)).to.match(/^IsoFetchError/);
      expect((await queued).error).to.equal(null);
      const after = await metrics();
      expect(sample(after, 'oms_node_channels_in_use', { node: node.name })).to.equal(0);
      expect(sample(after, 'oms_node_queue_depth', { node: node.name })).to.equal(0);
      expect(sample(after, 'oms_tasks', { kind: 'iso.fetch', state: 'running' })).to.equal(undefined);
      expect(sample(after, 'oms_tasks', { kind: 'iso.fetch', state: 'failed' })).to.equal(1);
      expect(count(after, 'oms_rpc_calls_total', { service: 'isoservices', method: 'fetch_image', transport: 'oms-get', outcome: 'IsoFetchError' })).to.equal(1);
      expect(count(after, 'oms_rpc_calls_total', { service: 'statsservices', method: 'get_stats', outcome: 'ok' })).to.equal(2);
      // No image was left behind on the node.
      expect((await nodeExec(node, ['ls', '-A', '/var/lib/oms-node/isos'])).stdout).to.not.include('oms-metrics-stall');
    } finally {
      await listener;
    }
  });
});
