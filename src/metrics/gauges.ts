/**
 * Gauges read when /metrics is scraped: the database and the node pool are the truth, so each
 * gauge is reset and filled from them in its collect(), and a node or task kind that went away
 * simply stops being reported. Nothing here is kept between scrapes.
 */
import type { EventEmitter } from 'node:events';
import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../db/database.ts';
import type { NodeStats, PoolStats } from '../nodes/types.ts';

export interface GaugeSources {
  readonly db: Db;
  /** Names of signed nodes: every one is reported, connected or not. */
  signedNodes(): readonly string[];
  poolStats(): PoolStats;
  activeSessions(): number;
  /** In-process events; its 'task' listeners are the websockets receiving pushed notifications. */
  readonly events: EventEmitter;
  /** Live-event deliveries that are not websockets: SSE streams and long polls waiting. */
  eventStreams(): { readonly sse: number; readonly poll: number };
}

/** What a node's connection is doing, in the words operators alert on. */
export const connectionStates = ['connected', 'connecting', 'reconnecting', 'host_key_mismatch', 'idle'] as const;
export type ConnectionStateLabel = (typeof connectionStates)[number];

export function connectionState(n: NodeStats | undefined): ConnectionStateLabel {
  if (!n) return 'idle';
  if (n.state === 'ready') return 'connected';
  // Refused until an administrator re-signs: no amount of retrying will fix it.
  if (n.lastError === 'HostKeyMismatchError') return 'host_key_mismatch';
  if (n.failures > 0) return 'reconnecting';
  return n.state === 'connecting' ? 'connecting' : 'idle';
}

const consoleKinds = ['vnc', 'ssh', 'serial'] as const;

export function registerGauges(registry: Registry, src: GaugeSources): void {
  const registers = [registry];
  // Tables owned by src/tasks and src/consoles; read-only aggregates, one query per scrape each.
  const taskCounts = src.db.prepare('SELECT kind, state, count(*) AS n FROM tasks GROUP BY kind, state');
  const tunnelCounts = src.db.prepare('SELECT kind, count(*) AS n FROM consoles GROUP BY kind');

  // One read of the nodes serves every node gauge of a scrape, so they agree with each other:
  // prom-client runs all collect()s in one synchronous pass, and the snapshot lives for that turn only.
  let snapshot: { nodes: readonly string[]; stats: Map<string, NodeStats> } | undefined;
  const nodesNow = () => {
    if (!snapshot) {
      snapshot = { nodes: src.signedNodes(), stats: new Map(src.poolStats().nodes.map((n) => [n.name, n])) };
      setImmediate(() => (snapshot = undefined));
    }
    return snapshot;
  };

  new Gauge({
    name: 'oms_node_connections',
    help: 'Signed nodes by the state of their SSH connection (connected, connecting, reconnecting, host_key_mismatch, idle).',
    labelNames: ['state'],
    registers,
    collect() {
      const counts = new Map<ConnectionStateLabel, number>(connectionStates.map((s) => [s, 0]));
      const { nodes, stats } = nodesNow();
      for (const name of nodes) {
        const s = connectionState(stats.get(name));
        counts.set(s, counts.get(s)! + 1);
      }
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });

  new Gauge({
    name: 'oms_node_connection_state',
    help: 'Per signed node: 1 for the state its SSH connection is in, 0 for the others.',
    labelNames: ['node', 'state'],
    registers,
    collect() {
      this.reset();
      const { nodes, stats } = nodesNow();
      for (const node of nodes) {
        const current = connectionState(stats.get(node));
        for (const state of connectionStates) this.set({ node, state }, state === current ? 1 : 0);
      }
    },
  });

  const perNode = (name: string, help: string, value: (n: NodeStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['node'],
      registers,
      collect() {
        this.reset();
        const { nodes, stats } = nodesNow();
        for (const node of nodes) {
          const n = stats.get(node);
          this.set({ node }, n ? value(n) : 0);
        }
      },
    });
  perNode('oms_node_channels_in_use', 'Per signed node: commands and SFTP sessions running now (at most OMS_NODE_CHANNELS).', (n) => n.channelsInUse);
  perNode('oms_node_queue_depth', 'Per signed node: calls waiting for a channel (past OMS_NODE_QUEUE they get NodeBusyError).', (n) => n.queued);
  perNode('oms_node_forwards_open', 'Per signed node: port forwards (VNC tunnels) open on its connection.', (n) => n.forwardsOpen);
  perNode('oms_node_shells_open', 'Per signed node: interactive shells and resident commands open on connections of their own.', (n) => n.shellsOpen);

  // The connect gate (src/nodes/connect-gate.ts): how a restart's reconnect burst is spread.
  const connects = (name: string, help: string, value: (c: PoolStats['connects']) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(src.poolStats().connects));
      },
    });
  connects('oms_node_connects_in_flight', 'SSH connection attempts to nodes running now (at most OMS_NODE_CONNECT_CONCURRENCY).', (c) => c.inFlight);
  connects('oms_node_connects_waiting', 'SSH connection attempts waiting for their jitter delay or a free slot.', (c) => c.waiting);
  connects('oms_node_connects_peak', 'The most SSH connection attempts that ran at once since the gateway started.', (c) => c.peak);

  new Gauge({
    name: 'oms_tasks',
    help: 'Tasks in the database by kind and state (running, succeeded, failed, cancelled).',
    labelNames: ['kind', 'state'],
    registers,
    collect() {
      this.reset();
      for (const r of taskCounts.all() as { kind: string; state: string; n: number }[]) this.set({ kind: r.kind, state: r.state }, r.n);
    },
  });

  new Gauge({
    name: 'oms_console_tunnels',
    help: 'Console tunnels reserved by sessions, by kind (vnc, ssh, serial).',
    labelNames: ['kind'],
    registers,
    collect() {
      const counts = new Map<string, number>(consoleKinds.map((k) => [k, 0]));
      for (const r of tunnelCounts.all() as { kind: string; n: number }[]) counts.set(r.kind, r.n);
      for (const [kind, n] of counts) this.set({ kind }, n);
    },
  });

  new Gauge({
    name: 'oms_sessions_active',
    help: 'Login sessions within their idle and absolute lifetime (API tokens not counted).',
    registers,
    collect() {
      this.set(src.activeSessions());
    },
  });

  new Gauge({
    name: 'oms_event_subscribers',
    help: 'Clients receiving pushed events: websockets on /ws (task.updated, session.ended, events.event), SSE streams on /events, long polls (events.poll) waiting.',
    registers,
    collect() {
      const { sse, poll } = src.eventStreams();
      this.set(src.events.listenerCount('task') + sse + poll);
    },
  });
}
