/**
 * Node path speed (issue 3):
 *  - a stats call through the gateway vs. the same command over a warm raw ssh2 exec vs. `ssh node
 *    cmd` with a fresh connection; target gateway <= 1.15x warm raw exec; and vs. the same read
 *    through a shell kept running on the node over raw ssh2, as the gateway now reads;
 *  - fan-out: get_stats over 20 lab nodes concurrently vs. one node; target <= 2x.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from 'ssh2';
import type { Lab } from '../test/lab/index.ts';
import { shellLine } from '../src/nodes/command.ts';
import { procSnapshotCommand, statNames, type StatName } from '../services/statsservices/commands.ts';
import { collectStats } from '../services/statsservices/collect.ts';
import { gatewayOn, ratio, sideBySide, median, time, rawClient, rawExec, against, type BenchOptions } from './lib.ts';

const run = promisify(execFile);
const SINGLE: StatName[] = ['memory', 'uptime', 'kernel', 'osrelease'];

/**
 * The gateway's node path for these reads (services/statsservices/reader.ts) over a raw ssh2
 * client: a `sh` kept running on the node answering the same `head` on an open channel. The
 * gateway against this is its own overhead (HTTP, pipeline, pool), with the node path equal.
 */
function rawResident(client: Client): Promise<(line: string) => Promise<string>> {
  return new Promise((resolve, reject) => {
    client.exec(shellLine(['sh', '-c', 'exec sh -s oms-bench-reader 2>/dev/null']), (err, ch) => {
      if (err) return reject(err);
      let text = '';
      let wake: (() => void) | undefined;
      ch.on('data', (d: Buffer) => {
        text += d.toString();
        wake?.();
      });
      ch.stderr.resume();
      let n = 0;
      resolve((line) => {
        const marker = `OMS-BENCH-END-${n++}`;
        return new Promise<string>((done) => {
          wake = () => {
            const i = text.indexOf(`${marker}\n`);
            if (i < 0) return;
            const answer = text.slice(0, i);
            text = text.slice(i + marker.length + 1);
            wake = undefined;
            done(answer);
          };
          ch.write(`${line}\necho ${marker}\n`);
        });
      });
    });
  });
}

/** What collectStats does for all stats, over a raw ssh2 client: the contender for the full call. */
function collectRaw(client: Client): () => Promise<unknown> {
  return () => collectStats((argv) => rawExec(client, shellLine(argv)).then((stdout) => ({ stdout, stderr: '', code: 0 })), [...statNames]);
}

export async function benchStats(lab: Lab, out: (line: string) => void, opts: BenchOptions): Promise<void> {
  const fanNodes = lab.nodes.slice(0, 20);
  const node = lab.nodes[0];
  const rounds = opts.quick ? { warm: 20, fresh: 5, full: 5, fan: 3 } : { warm: 60, fresh: 10, full: 10, fan: 5 };
  const b = await gatewayOn(lab, fanNodes);
  const client = await rawClient(lab, node).catch(async (e) => {
    await b.stop();
    throw e;
  });
  try {
    const line = shellLine(procSnapshotCommand(SINGLE)!);
    const viaGateway = async () => {
      const r = await b.call('statsservices', 'get_stats', [b.sid, 0, node.name, ...SINGLE]);
      if (r.error) throw new Error(JSON.stringify(r.error));
    };
    const resident = await rawResident(client);
    // Warm-up: connections made, code paths compiled.
    for (let i = 0; i < 5; i++) {
      await viaGateway();
      await rawExec(client, line);
      await resident(line);
    }
    // Warm contenders interleaved; fresh `ssh` apart, since spawning it loads both cores and
    // would slow whichever contender runs next.
    const m = await sideBySide(rounds.warm, { gateway: viaGateway, rawWarm: () => rawExec(client, line), rawResident: () => resident(line) });
    // The lab's own ssh config: its key, its known_hosts, host key checking on.
    const fresh = await sideBySide(rounds.fresh, { sshFresh: () => run('ssh', ['-F', lab.sshConfig!, node.name, line]) });
    out(`one-exec node call (get_stats ${SINGLE.join(',')}), medians of ${rounds.warm}: gateway ${m.gateway.toFixed(2)} ms, same command over a warm raw ssh2 exec ${m.rawWarm.toFixed(2)} ms; ratio ${against(m.gateway / m.rawWarm, { op: '<=', value: 1.15 })}`);
    out(`  the gateway reads through a shell kept on the node; the same over raw ssh2 ${m.rawResident.toFixed(2)} ms, ratio gateway/raw-resident ${ratio(m.gateway, m.rawResident)}`);
    out(`same command over a fresh ssh, median of ${rounds.fresh}: ${fresh.sshFresh.toFixed(1)} ms; ratio fresh-ssh/raw-warm-exec ${ratio(fresh.sshFresh, m.rawWarm)}`);

    // The full get_stats: the same five commands in two rounds with the same sampling interval.
    const fullRaw = collectRaw(client);
    const full = await sideBySide(rounds.full, { gateway: async () => { const r = await b.call('statsservices', 'get_stats', [b.sid, 0, node.name]); if (r.error) throw new Error(JSON.stringify(r.error)); }, rawWarm: fullRaw });
    out(`full get_stats, medians of ${rounds.full}: gateway ${full.gateway.toFixed(1)} ms, same commands over raw warm exec ${full.rawWarm.toFixed(1)} ms; ratio ${against(full.gateway / full.rawWarm, { op: '<=', value: 1.15 })}`);

    const all = (name: string) => b.call('statsservices', 'get_stats', [b.sid, 0, name]);
    const one: number[] = [];
    const many: number[] = [];
    await Promise.all(fanNodes.map((n) => all(n.name)));
    for (let i = 0; i < rounds.fan; i++) {
      one.push((await time(() => all(node.name)))[0]);
      const [t, rs] = await time(() => Promise.all(fanNodes.map((n) => all(n.name))));
      const failed = rs.filter((r) => r.error);
      if (failed.length) throw new Error(`fan-out failures: ${JSON.stringify(failed[0].error)}`);
      many.push(t);
    }
    out(`get_stats (all stats) fan-out, medians of ${rounds.fan}: ${fanNodes.length} nodes concurrently ${median(many).toFixed(0)} ms, one node ${median(one).toFixed(0)} ms; ratio ${against(median(many) / median(one), { op: '<=', value: 2 })}`);
  } finally {
    client.end();
    await b.stop();
  }
}
