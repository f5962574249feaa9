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
import { NodeAccess } from './fleet/access.ts';
import { NodePool } from './nodes/pool.ts';
import { loadOrCreateGatewayKey, type GatewayKey } from './nodes/keys.ts';

export type { AppServices };
import { readFileSync } from 'node:fs';
import { Tasks } from './tasks/tasks.ts';
import { ConsoleSpots } from './consoles/spots.ts';
import { Metrics } from './metrics/metrics.ts';
import { registerGauges } from './metrics/gauges.ts';
import { GuestLocks } from './locks/guest-locks.ts';


export function databasePath(config: Config): string {
  return join(config.dataDir, 'oms.db');
}

export function createApp(config: Config, log: Logger, db: Db = openDatabase(databasePath(config)), extraServices: ServiceDecl[] = []): AppServices {
  const timers: NodeJS.Timeout[] = [];
  const events = new EventEmitter();
  // Every websocket listens for its session's end; many sockets are normal, not a leak.
  events.setMaxListeners(0);
  const key = loadGatewayKey(config);
  const pool = new NodePool({ privateKey: key.privateKey, maxChannelsPerNode: config.nodeMaxChannels, maxQueuedPerNode: config.nodeMaxQueued, log: log.child({ part: 'nodes' }) });
  const nodes = new NodeStore(db);
  const locks = new GuestLocks(db, events);
  const app: AppServices = {
    config,
    log,
    db,
    registry: new Registry([...allServices(config), ...extraServices]),
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
    access: new NodeAccess(nodes, pool, { timeoutMs: config.nodeCommandTimeoutSeconds * 1000 }),
    gatewayKey: { publicKey: key.publicKey },
    tasks: new Tasks(db, log.child({ part: 'tasks' }), (row) => events.emit('task', row), locks),
    locks,
    metrics: new Metrics(),
    close() {
      for (const t of timers) clearInterval(t);
      pool.closeAll();
      db.close();
    },
  };
  registerGauges(app.metrics.registry, {
    db,
    signedNodes: () => nodes.listSigned().map((n) => n.name),
    poolStats: () => pool.stats(),
    activeSessions: () => app.sessions.countActive(),
    events,
  });
  const renew = setInterval(() => locks.renew(), Math.floor(locks.leaseMs / 3));
  renew.unref();
  timers.push(renew);
  // Housekeeping: expired sessions and stale cache rows. unref() so it never holds the process open.
  const sweep = setInterval(() => {
    app.sessions.sweep();
    app.cache.sweep();
  }, 60_000);
  sweep.unref();
  timers.push(sweep);
  return app;
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
