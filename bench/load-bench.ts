/** The full 60 s load run of the reliability suite, printed with its figures. */
import type { Lab } from '../test/lab/index.ts';
import { gatewayOn } from './lib.ts';
import { runLoad } from './load.ts';

export async function benchLoad(lab: Lab, out: (line: string) => void, durationMs: number): Promise<void> {
  const nodes = lab.nodes.filter((n) => n.libvirt);
  const b = await gatewayOn(lab, nodes);
  try {
    const r = await runLoad({ url: b.gw.url, pid: b.gw.child.pid!, sid: b.sid, nodes: nodes.map((n) => n.name), user: 'admin', password: 'bench-admin-pw', clients: 200, durationMs });
    out(`calls ${r.calls}, failed ${r.failed}, ${r.perSecond.toFixed(0)} calls/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
    out(`gateway RSS before ${r.rssBeforeMiB.toFixed(0)} MiB, after ${r.rssAfterMiB.toFixed(0)} MiB`);
    if (r.failures.length) out(`first failures: ${r.failures.join(' | ')}`);
  } finally {
    await b.stop();
  }
}
