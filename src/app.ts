/**
 * Composition root: builds the long-lived objects once and hands them to the RPC pipeline. No
 * module keeps state of its own; everything a request may touch hangs off AppServices (declared
 * in src/rpc/declare.ts, below every layer that uses it). The only module in src/ that imports
 * services/: it lists them.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Config } from './config.ts';
import { openDatabase, type Db } from './db/database.ts';
import type { Logger } from './log.ts';
import { Sessions } from './auth/sessions.ts';
import { LoginThrottle } from './auth/throttle.ts';
import { Permissions } from './auth/permissions.ts';
import { Users } from './auth/users.ts';
import { randomPassword } from './auth/passwords.ts';
import { Registry } from './rpc/registry.ts';
import { ResultCache } from './rpc/cache.ts';
import { AuditLog } from './rpc/audit.ts';
import { allServices } from '../services/index.ts';
import type { AppServices, ServiceDecl } from './rpc/declare.ts';
import { NodeStore } from './fleet/nodes.ts';
import { TagStore } from './fleet/tags.ts';
import { PoolStore } from './fleet/pools.ts';
import { NodeAccess, targetOf } from './fleet/access.ts';
import { NodePool } from './nodes/pool.ts';
import { loadOrCreateGatewayKey, type GatewayKey } from './nodes/keys.ts';

export type { AppServices };
import { readFileSync } from 'node:fs';
import { Tasks } from './tasks/tasks.ts';
import { ConsoleSpots } from './consoles/spots.ts';
import { Metrics } from './metrics/metrics.ts';
import { registerGauges } from './metrics/gauges.ts';
import { GuestLocks } from './locks/guest-locks.ts';
import { EventBus } from './events/bus.ts';
import { EventJournal } from './events/journal.ts';
import { InProcessTransport } from './events/transport.ts';
import { NODES_CHANGED, WatcherRunner } from './events/watchers.ts';
import { HealthHistory } from './health/history.ts';
import { HealthMonitor } from './health/monitor.ts';
import type { Limits } from './health/thresholds.ts';
import type { NodeRecord } from './fleet/nodes.ts';


export function databasePath(config: Config): string {
  return join(config.dataDir, 'oms.db');
}

export function createApp(config: Config, log: Logger, db: Db = openDatabase(databasePath(config)), extraServices: ServiceDecl[] = []): AppServices {
  const timers: NodeJS.Timeout[] = [];
  const events = new EventEmitter();
  // Every websocket listens for its session's end; many sockets are normal, not a leak.
  events.setMaxListeners(0);
  const key = loadGatewayKey(config);
  const metrics = new Metrics();
  const eventLog = log.child({ part: 'events' });
  // Live events: numbered in the database journal, fanned out in process (a shared transport
  // replaces InProcessTransport when several gateways share a database).
  const bus = new EventBus({
    journal: new EventJournal(db),
    transport: new InProcessTransport((err) => eventLog.error({ err }, 'event listener failed')),
    log: eventLog,
    retain: { count: config.eventsRetain, ageMs: config.eventsRetainAgeSeconds * 1000 },
    maxQueue: config.eventsQueue,
    onPublished: (e) => metrics.eventPublished(e.type),
  });
  const pool = new NodePool({
    privateKey: key.privateKey,
    maxChannelsPerNode: config.nodeMaxChannels,
    maxQueuedPerNode: config.nodeMaxQueued,
    connectConcurrency: config.nodeConnectConcurrency,
    connectJitterMs: config.nodeConnectJitterMs,
    log: log.child({ part: 'nodes' }),
    onConnection: (node, change) => bus.publish({ type: 'node', node, action: change.state, data: change.state === 'connected' ? {} : { reason: change.reason, message: change.message } }),
  });
  const nodes = new NodeStore(db, bus);
  const locks = new GuestLocks(db, events);
  const registry = new Registry([...allServices(config), ...extraServices]);
  const access = new NodeAccess(nodes, pool, { timeoutMs: config.nodeCommandTimeoutSeconds * 1000 });
  const watchers = new WatcherRunner({
    watchers: registry.services().flatMap((s) => s.watchers ?? []),
    signedNodes: () => nodes.listSigned(),
    handle: (name) => access.get(name),
    sink: bus,
    log: log.child({ part: 'watchers' }),
    resyncMs: config.eventsResyncSeconds * 1000,
    backoffMs: { min: 1000, max: 30_000 },
  });
  events.on(NODES_CHANGED, () => watchers.sync());
  const history = new HealthHistory(db, { rawMs: config.healthRawHours * 3_600_000, rollupMs: config.healthKeepDays * 86_400_000 });
  const sampler = registry.services().find((s) => s.healthSampler)?.healthSampler;
  const health =
    sampler && config.healthIntervalSeconds > 0
      ? new HealthMonitor({
          intervalMs: config.healthIntervalSeconds * 1000,
          sampler,
          signedNodes: () => nodes.listSigned(),
          handle: (n) => access.handleOf(n),
          history,
          sink: bus,
          log: log.child({ part: 'health' }),
          limits: (n) => healthLimits(config, n),
        })
      : undefined;
  if (health) events.on(NODES_CHANGED, () => health.sync());
  const app: AppServices = {
    config,
    log,
    db,
    registry,
    sessions: new Sessions(db, { idleSeconds: config.sessionIdleSeconds, maxSeconds: config.sessionMaxSeconds, recheckMs: config.sessionRecheckMs }, (key) => events.emit('session-ended', key)),
    throttle: new LoginThrottle(db, { maxFailures: config.authMaxFailures, windowSeconds: config.authWindowSeconds }),
    permissions: new Permissions(db),
    users: new Users(db),
    cache: new ResultCache(db, { recheckMs: config.cacheRecheckMs }),
    audit: new AuditLog(db),
    events,
    consoleSpots: new ConsoleSpots(),
    nodes,
    tags: new TagStore(db),
    pools: new PoolStore(db),
    access,
    gatewayKey: { publicKey: key.publicKey },
    tasks: new Tasks(db, log.child({ part: 'tasks' }), (row) => events.emit('task', row), locks, bus),
    locks,
    metrics,
    bus,
    watchers,
    health,
    history,
    warmNodes() {
      if (!config.nodeWarm) return;
      for (const n of nodes.listSigned()) {
        try {
          pool.warm(targetOf(n));
        } catch (e) {
          log.warn({ node: n.name, err: e }, 'node connection not warmed');
        }
      }
    },
    close() {
      for (const t of timers) clearInterval(t);
      health?.close();
      // Stops every watch now (their readers end with the pool below); nothing waits for them.
      void watchers.close();
      bus.close();
      pool.closeAll();
      db.close();
    },
  };
  // A guest or container changed on its node (by OMS or by hand): results cached about that node
  // are stale, so the next cached call reads the node again.
  bus.listen((e) => {
    if ((e.type === 'kvm' || e.type === 'container') && e.node) app.cache.invalidateNode(e.node);
  });
  registerGauges(app.metrics.registry, {
    db,
    signedNodes: () => nodes.listSigned().map((n) => n.name),
    poolStats: () => pool.stats(),
    activeSessions: () => app.sessions.countActive(),
    events,
    eventStreams: () => bus.counts(),
  });
  const renew = setInterval(() => locks.renew(), Math.floor(locks.leaseMs / 3));
  renew.unref();
  timers.push(renew);
  // Housekeeping: expired sessions, stale cache rows, events past the journal's bounds, health
  // history rolled up and pruned. unref() so it never holds the process open.
  const sweep = setInterval(() => {
    app.sessions.sweep();
    app.cache.sweep();
    bus.sweep();
    try {
      history.housekeep();
    } catch (err) {
      log.warn({ error: err instanceof Error ? err.name : 'error' }, 'health history housekeeping failed');
    }
  }, config.housekeepingSeconds * 1000);
  sweep.unref();
  timers.push(sweep);
  return app;
}

/** A node's health limits: the gateway's settings, overlaid with the node's healthLimits setting. */
export function healthLimits(config: Config, node: Pick<NodeRecord, 'settings'>): Limits {
  const own = node.settings.healthLimits ?? {};
  return {
    memory: own.memory ?? config.healthMemoryLimit,
    disk: own.disk ?? config.healthDiskLimit,
    load_per_cpu: own.load_per_cpu ?? config.healthLoadLimit,
  };
}

/**
 * What a gateway that starts serving finds of its previous run: tasks it left running are marked
 * failed, and the guests it (or a gateway whose lease ran out) held are free again. Only the
 * server does this, never a CLI command sharing the database with a running server.
 */
export function recoverAfterStop(app: AppServices): void {
  const interrupted = app.tasks.recoverInterrupted();
  if (interrupted) app.log.warn({ tasks: interrupted }, 'marked tasks interrupted by the previous stop as failed');
  const cleared = app.locks.recoverAtStart();
  if (cleared.locks || cleared.waits) app.log.warn(cleared, 'cleared guest locks left by a gateway that stopped');
}

/** OMS_SSH_KEY names an existing key (e.g. one already authorized on the nodes); otherwise one is kept in the data dir. */
function loadGatewayKey(config: Config): GatewayKey {
  if (!config.sshKeyFile) return loadOrCreateGatewayKey(config.dataDir);
  const privateKey = readFileSync(config.sshKeyFile, 'utf8');
  const publicKey = readFileSync(`${config.sshKeyFile}.pub`, 'utf8').trim();
  return { privateKey, publicKey };
}

/**
 * First start: create `admin` with OMS_ADMIN_PASSWORD, or with a random password that is returned
 * so the caller can print it once (it is never logged).
 */
export async function ensureAdmin(app: AppServices): Promise<{ created: boolean; generatedPassword?: string }> {
  if (app.users.count() > 0) return { created: false };
  const password = app.config.adminPassword ?? randomPassword();
  await app.users.add('admin', password, [{ path: '/', role: 'Administrator' }]);
  return { created: true, generatedPassword: app.config.adminPassword ? undefined : password };
}
