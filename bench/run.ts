/**
 * `npm run bench`: the speed and memory targets, each printed as ratios of contenders measured
 * side by side in one run, with the target and whether it is met. Brings the lab up with enough
 * nodes when it is not up already. Every section runs even when one before it failed; the exit
 * status is 1 when any failed. `npm run bench -- --help` for the flags.
 */
import { labStatus, labUp, type Lab } from '../test/lab/index.ts';
import type { BenchOptions } from './lib.ts';
import { benchStats } from './stats.ts';
import { benchLoad } from './load-bench.ts';
import { benchKvm } from './kvm.ts';
import { benchVnc } from './vnc.ts';
import { benchCachedCall } from './cached-call.ts';
import { benchFanout } from './fanout.ts';
import { benchEvents } from './events.ts';
import { benchHealth } from './health.ts';
import { benchUi } from './ui.ts';
import { benchScale, scaleSizes } from './scale.ts';
import { parseBenchArgs, runSections, usage, type Section } from './sections.ts';

interface Ctx {
  lab: Lab;
  opts: BenchOptions;
  out: (line: string) => void;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  out(usage);
  process.exit(0);
}

const sectionsFor = (quick: boolean): Section<Ctx>[] => [
  { name: 'stats', title: 'node path (statsservices)', run: (c) => benchStats(c.lab, c.out, c.opts) },
  { name: 'kvm', title: 'KVM (kvmservices.list_vms_status)', run: (c) => benchKvm(c.lab, c.out, c.opts) },
  { name: 'vnc', title: 'VNC proxy', run: (c) => benchVnc(c.lab, c.out, c.opts) },
  { name: 'cache', title: 'cached call (tagservices.list_tags)', run: (c) => benchCachedCall(c.out, c.opts) },
  { name: 'fanout', title: 'fan-out (one command on every node)', run: (c) => benchFanout(c.lab, c.out, c.opts) },
  { name: 'events', title: 'live events (virsh start -> /ws; 1,000 subscribers)', run: (c) => benchEvents(c.lab, c.out, c.opts) },
  { name: 'health', title: 'health monitor (gateway CPU per node per sample; 500 nodes at 10 s extrapolated)', run: (c) => benchHealth(c.lab, c.out, c.opts) },
  { name: 'ui', title: 'web console (initial load; guest list with 1,000 guests; virsh start -> row)', run: (c) => benchUi(c.lab, c.out, c.opts) },
  { name: 'load', title: `load (200 clients, ${quick ? 8 : 60} s)`, run: (c) => benchLoad(c.lab, c.out, quick ? 8_000 : 60_000) },
  {
    name: 'scale',
    title: `scale (a lab instance of its own: ${scaleSizes(process.env, quick).join(', ')} light nodes; fan-out, gateway memory and CPU, reconnect after a restart)`,
    run: (c) => benchScale(c.out, c.opts),
  },
];

/** Sections that bring up what they need themselves: with only these, the shared lab is not needed. */
const LAB_FREE = new Set(['cache', 'ui', 'scale']);

let args;
try {
  args = parseBenchArgs(process.argv.slice(2), process.env, sectionsFor(false).map((s) => s.name));
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}
const chosen = sectionsFor(args.quick).filter((s) => !args.only || args.only.includes(s.name));

/** The running lab when it has enough nodes (only the first `nodes` are used), else a new one. */
async function lab(nodes: number): Promise<Lab> {
  const current = await labStatus();
  const l = current && current.nodes.length >= nodes ? current : await labUp({ nodes });
  return { ...l, nodes: l.nodes.slice(0, nodes) };
}

let l: Lab = { nodes: [], bridge: '', hostAddress: '' };
if (chosen.some((s) => !LAB_FREE.has(s.name))) {
  try {
    l = await lab(args.nodes);
  } catch (e) {
    out(`== lab\nFAILED: ${(e as Error).message}`);
    process.exit(1);
  }
  out(`lab: ${l.nodes.length} nodes${args.quick ? ' (quick run: short durations, noisier figures)' : ''}`);
}
const failed = await runSections(chosen, { lab: l, opts: { quick: args.quick }, out }, out);
if (failed.length) out(`\n${failed.length} of ${chosen.length} sections failed: ${failed.join(', ')}`);
process.exit(failed.length ? 1 : 0);
