/**
 * StatsService: a physical node's statistics, read from its /proc, df and iproute2, in the shapes
 * of the OMS document. Rates and percentages come from two samples taken a short interval apart
 * (see collect.ts), so a call takes at least that interval. The /proc and /etc snapshots are read
 * by a shell kept running on the node (reader.ts); df and ip run as one-off commands. get_history
 * answers from the health monitor's history ring (src/health).
 */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import { nodeName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import { statNames } from './commands.ts';
import { collectStats } from './collect.ts';
import { readSnapshot } from './reader.ts';
import { healthSampler } from './health-sampler.ts';
import { historyMethod } from './history.ts';

export const statsservices = service({
  name: 'statsservices',
  aliases: ['stats', 'StatsService'],
  description: 'Statistics of nodes.',
  envelope: 'oms',
  // The health monitor's way of reading a node (src/health/monitor.ts).
  healthSampler,
  methods: [
    method({
      name: 'get_stats',
      description: `Statistics of a node; any of ${statNames.join(', ')} as further params (none: all). cpu, iowait and bandwidth are measured over a short interval between two samples.`,
      auth: 'session',
      permission: { privilege: 'node.view', path: (p) => paths.node(p.server_hostname) },
      cacheable: true,
      node: 'server_hostname',
      params: [
        { name: 'server_hostname', schema: nodeName },
        { name: 'stats', schema: z.enum(statNames), rest: true },
      ] as const,
      async run(ctx, { server_hostname, stats }) {
        const node = ctx.node(server_hostname);
        const names = stats.length ? [...new Set(stats)] : [...statNames];
        return collectStats((argv, opts) => node.exec(argv, opts), names, { read: (argv) => readSnapshot(node, argv) });
      },
    }),
    historyMethod,
  ],
});
