/**
 * `npm run bench`: the speed and memory targets, each printed as ratios of contenders measured
 * side by side in one run. Brings the lab up with enough nodes when it is not up already.
 */
import { labStatus, labUp, type Lab } from '../test/lab/index.ts';
import { benchStats } from './stats.ts';
import { benchLoad } from './load-bench.ts';
import { benchKvm } from './kvm.ts';
import { benchVnc } from './vnc.ts';

const FANOUT_NODES = 20;

async function lab(): Promise<Lab> {
  const current = await labStatus();
  if (current && current.nodes.length >= FANOUT_NODES) return current;
  return labUp({ nodes: FANOUT_NODES });
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const l = await lab();
out(`lab: ${l.nodes.length} nodes`);
out('== node path (statsservices)');
await benchStats(l, out);
out('== KVM (kvmservices.list_vms_status)');
await benchKvm(l, out);
out('== VNC proxy');
await benchVnc(l, out);
out('== load (200 clients, 60 s)');
await benchLoad(l, out, 60_000);
