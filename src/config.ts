/**
 * Configuration: environment variables (names documented in README), optionally overlaid on a JSON
 * config file named by OMS_CONFIG. Environment wins over the file so one-off overrides are easy.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { oms } from './rpc/errors.ts';

export interface Config {
  port: number;
  bind: string;
  dataDir: string;
  tls: boolean;
  adminPassword?: string;
  /** qooxdoo.test conformance service; touches nothing, but operators may want it off. */
  qooxdooTestService: boolean;
  sessionIdleSeconds: number;
  sessionMaxSeconds: number;
  /**
   * Milliseconds a gateway trusts a session or token it found valid before reading it again.
   * Its own changes (deauthenticate, password change, user deletion, revocation) apply at once;
   * changes by others (the CLI, another gateway) after at most this long. 0: read on every call.
   */
  sessionRecheckMs: number;
  /**
   * Milliseconds a gateway serves a cache_timeout result it holds in memory before checking that
   * its row is still in the database. Its own invalidations apply at once; a row dropped by others
   * (another gateway on the same database) is noticed after at most this long. 0: check every hit.
   */
  cacheRecheckMs: number;
  /** Failed logins allowed per user and per address inside the window before throttling. */
  authMaxFailures: number;
  authWindowSeconds: number;
  maxBodyBytes: number;
  /** Seconds a client may take to send a whole request (slow-body clients are cut off). Streamed uploads are exempt: they have uploadIdleTimeoutSeconds. */
  requestTimeoutSeconds: number;
  /** Seconds a streamed upload (PUT /isos/...) may make no progress before it is cut off; no bound on its total time. */
  uploadIdleTimeoutSeconds: number;
  /** Largest streamed upload body in bytes (a route may declare less). */
  uploadMaxBytes: number;
  logLevel: string;
  /** Seconds a node command may take before FuncMethodTimeoutError. */
  nodeCommandTimeoutSeconds: number;
  /** The gateway's SSH private key; default <dataDir>/ssh/id_ed25519, created on first start. */
  sshKeyFile?: string;
  /** Open SSH channels per node (commands, consoles); below OpenSSH's MaxSessions of 10. */
  nodeMaxChannels: number;
  /**
   * Calls that may wait for a channel per node before NodeBusyError. Waiting calls still run out
   * their own timeout; the bound only keeps a hopelessly backed-up node from holding thousands of
   * requests, so it sits well above the number of clients a gateway serves at once.
   */
  nodeMaxQueued: number;
  /** SSH connection attempts running at once over all nodes (a restart of a gateway with 500 nodes must not stampede). */
  nodeConnectConcurrency: number;
  /** Largest random delay (ms) before a connection attempt made while others are running; 0: none. */
  nodeConnectJitterMs: number;
  /** Open every signed node's connection at start and when it is signed, so first calls find it warm. */
  nodeWarm: boolean;
  /** Run the node watchers (libvirt and LXC event readers) on every signed node. */
  nodeWatchers: boolean;
  /** Console tunnels of one kind (VNC, SSH, serial) that may exist at once. */
  consolePoolSize: number;
  /** Seconds a console ticket stays valid before the websocket must have used it. */
  consoleTicketTtlSeconds: number;
  /**
   * Port serving the VNC page where the OMS document opens it (`https://host:8002/vnc.html?...`);
   * null: not served (the same page stays at /web-vnc/ on the main port); 0: any free port.
   */
  consolePagePort: number | null;
  /** Each reserved VNC/SSH spot listens on its own port (the number set-up returned) while reserved. */
  consoleSpotPorts: boolean;
  /** First spot ("port") of each console kind's pool; the OMS document shows VNC 6801 and SSH 6900. */
  consoleVncBase: number;
  consoleSshBase: number;
  consoleSerialBase: number;
  /**
   * Addresses and CIDR ranges (comma-separated) that may scrape /metrics without a token. Empty:
   * nobody by address, so /metrics is never open by default.
   */
  metricsAllow: string;
  /** Events kept in the journal at most (the newest); a client resuming from before them gets `resync`. */
  eventsRetain: number;
  /** Seconds an event is kept in the journal at most. */
  eventsRetainAgeSeconds: number;
  /** Events that may wait for one slow /ws or SSE subscriber; past it the subscriber gets `resync` and is dropped. */
  eventsQueue: number;
  /** Seconds of silence after which an idle /ws subscription or SSE stream gets a heartbeat. */
  eventsHeartbeatSeconds: number;
  /**
   * Seconds between two full listings of each node's guests and containers by the node watchers
   * (the libvirt and LXC readers), which publish what changed unseen; they list after every
   * reconnect too. The only polling the watchers do.
   */
  eventsResyncSeconds: number;
  /** Seconds between two housekeeping sweeps (expired sessions, cache rows, the event journal, health history rollups and pruning). */
  housekeepingSeconds: number;
  /**
   * Seconds between two health samples of each node (the health monitor, src/health): one request
   * per node on its resident sampler; 0 turns the monitor off.
   */
  healthIntervalSeconds: number;
  /** Hours raw health samples are kept (then only their 5-minute rollups). */
  healthRawHours: number;
  /** Days 5-minute health rollups are kept. */
  healthKeepDays: number;
  /** Memory used, percent, above which a node gets a `threshold` event (0: off; node setting healthLimits.memory overrides). */
  healthMemoryLimit: number;
  /** Root filesystem used, percent, above which a node gets a `threshold` event (0: off; healthLimits.disk). */
  healthDiskLimit: number;
  /** 1-minute load average per CPU above which a node gets a `threshold` event (0: off; healthLimits.load_per_cpu); may be fractional. */
  healthLoadLimit: number;
}

const defaults: Config = {
  port: 8000,
  bind: '0.0.0.0',
  dataDir: './data',
  tls: true,
  qooxdooTestService: true,
  sessionIdleSeconds: 30 * 60,
  sessionMaxSeconds: 12 * 3600,
  sessionRecheckMs: 1000,
  cacheRecheckMs: 1000,
  authMaxFailures: 5,
  authWindowSeconds: 15 * 60,
  maxBodyBytes: 1024 * 1024,
  requestTimeoutSeconds: 30,
  uploadIdleTimeoutSeconds: 60,
  uploadMaxBytes: 8 * 1024 ** 3,
  logLevel: 'info',
  nodeCommandTimeoutSeconds: 60,
  nodeMaxChannels: 8,
  nodeMaxQueued: 1024,
  nodeConnectConcurrency: 32,
  nodeConnectJitterMs: 250,
  nodeWarm: true,
  nodeWatchers: true,
  consolePoolSize: 100,
  consoleTicketTtlSeconds: 30,
  consolePagePort: 8002,
  consoleSpotPorts: true,
  consoleVncBase: 6801,
  consoleSshBase: 6900,
  consoleSerialBase: 7000,
  metricsAllow: '',
  eventsRetain: 100_000,
  eventsRetainAgeSeconds: 7 * 86400,
  eventsQueue: 1000,
  eventsHeartbeatSeconds: 25,
  eventsResyncSeconds: 300,
  housekeepingSeconds: 60,
  healthIntervalSeconds: 10,
  healthRawHours: 24,
  healthKeepDays: 30,
  healthMemoryLimit: 90,
  healthDiskLimit: 90,
  healthLoadLimit: 2,
};

const env: Record<keyof Config, string> = {
  port: 'OMS_PORT',
  bind: 'OMS_BIND',
  dataDir: 'OMS_DATA_DIR',
  tls: 'OMS_TLS',
  adminPassword: 'OMS_ADMIN_PASSWORD',
  qooxdooTestService: 'OMS_QOOXDOO_TEST',
  sessionIdleSeconds: 'OMS_SESSION_IDLE',
  sessionMaxSeconds: 'OMS_SESSION_MAX',
  sessionRecheckMs: 'OMS_SESSION_RECHECK_MS',
  cacheRecheckMs: 'OMS_CACHE_RECHECK_MS',
  authMaxFailures: 'OMS_AUTH_MAX_FAILURES',
  authWindowSeconds: 'OMS_AUTH_WINDOW',
  maxBodyBytes: 'OMS_MAX_BODY',
  requestTimeoutSeconds: 'OMS_REQUEST_TIMEOUT',
  uploadIdleTimeoutSeconds: 'OMS_UPLOAD_IDLE_TIMEOUT',
  uploadMaxBytes: 'OMS_UPLOAD_MAX',
  logLevel: 'OMS_LOG_LEVEL',
  nodeCommandTimeoutSeconds: 'OMS_NODE_TIMEOUT',
  sshKeyFile: 'OMS_SSH_KEY',
  nodeMaxChannels: 'OMS_NODE_CHANNELS',
  nodeMaxQueued: 'OMS_NODE_QUEUE',
  nodeConnectConcurrency: 'OMS_NODE_CONNECT_CONCURRENCY',
  nodeConnectJitterMs: 'OMS_NODE_CONNECT_JITTER_MS',
  nodeWarm: 'OMS_NODE_WARM',
  nodeWatchers: 'OMS_NODE_WATCHERS',
  consolePoolSize: 'OMS_CONSOLE_POOL',
  consoleTicketTtlSeconds: 'OMS_CONSOLE_TICKET_TTL',
  consolePagePort: 'OMS_CONSOLE_PAGE_PORT',
  consoleSpotPorts: 'OMS_CONSOLE_SPOT_PORTS',
  consoleVncBase: 'OMS_CONSOLE_VNC_BASE',
  consoleSshBase: 'OMS_CONSOLE_SSH_BASE',
  consoleSerialBase: 'OMS_CONSOLE_SERIAL_BASE',
  metricsAllow: 'OMS_METRICS_ALLOW',
  eventsRetain: 'OMS_EVENTS_RETAIN',
  eventsRetainAgeSeconds: 'OMS_EVENTS_RETAIN_AGE',
  eventsQueue: 'OMS_EVENTS_QUEUE',
  eventsHeartbeatSeconds: 'OMS_EVENTS_HEARTBEAT',
  eventsResyncSeconds: 'OMS_EVENTS_RESYNC',
  housekeepingSeconds: 'OMS_HOUSEKEEPING',
  healthIntervalSeconds: 'OMS_HEALTH_INTERVAL',
  healthRawHours: 'OMS_HEALTH_RAW_HOURS',
  healthKeepDays: 'OMS_HEALTH_KEEP_DAYS',
  healthMemoryLimit: 'OMS_HEALTH_MEMORY_LIMIT',
  healthDiskLimit: 'OMS_HEALTH_DISK_LIMIT',
  healthLoadLimit: 'OMS_HEALTH_LOAD_LIMIT',
};

/** Settings that are TCP ports (0: any free port where that makes sense), and those that may be `off`. */
const portKeys = new Set<keyof Config>(['port', 'consolePagePort', 'consoleVncBase', 'consoleSshBase', 'consoleSerialBase']);
const offKeys = new Set<keyof Config>(['consolePagePort']);
/** Number settings that may be fractional (a load per CPU of 1.5). */
const decimalKeys = new Set<keyof Config>(['healthLoadLimit']);

export const configEnvNames = env;

function coerce(key: keyof Config, raw: unknown): Config[keyof Config] {
  const def = defaults[key];
  if (offKeys.has(key) && (raw === null || raw === false || ['off', 'no', 'false'].includes(String(raw).toLowerCase()))) return null;
  if (typeof def === 'number' || portKeys.has(key)) {
    const n = Number(raw);
    if (decimalKeys.has(key) && Number.isFinite(n) && n >= 0 && String(raw).trim() !== '') return n;
    if (!Number.isInteger(n) || n < 0) throw new Error(`${env[key]} must be a non-negative integer${offKeys.has(key) ? ' or off' : ''}, got ${JSON.stringify(raw)}`);
    if (portKeys.has(key) && n > 65535) throw new Error(`${env[key]} must be a TCP port (0-65535), got ${JSON.stringify(raw)}`);
    return n;
  }
  if (typeof def === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const s = String(raw).toLowerCase();
    if (['1', 'on', 'true', 'yes'].includes(s)) return true;
    if (['0', 'off', 'false', 'no'].includes(s)) return false;
    throw new Error(`${env[key]} must be on or off, got ${JSON.stringify(raw)}`);
  }
  return String(raw);
}

/**
 * The settings an OMS_CONFIG file holds, coerced. Any problem with it (missing, unreadable, not
 * JSON, not an object, an unknown key, a bad value) is a ConfigurationReadError naming the file;
 * the file's content is never quoted, since it may hold the admin password.
 */
function readConfigFile(file: string): Partial<Config> {
  const fail = (reason: string) => oms('ConfigurationReadError', { reason: `${file}: ${reason}` });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fail('not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fail('expected a JSON object of settings');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (!(k in env)) throw fail(`unknown key ${JSON.stringify(k.slice(0, 64))}`);
    try {
      out[k] = coerce(k as keyof Config, v);
    } catch {
      throw fail(`${k} has a value of the wrong kind`);
    }
  }
  return out as Partial<Config>;
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const cfg: Config = { ...defaults };
  const file = source.OMS_CONFIG;
  if (file) for (const [k, v] of Object.entries(readConfigFile(file))) (cfg as unknown as Record<string, unknown>)[k] = v;
  for (const key of Object.keys(env) as (keyof Config)[]) {
    const raw = source[env[key]];
    if (raw === undefined || raw === '') continue;
    try {
      (cfg as unknown as Record<string, unknown>)[key] = coerce(key, raw);
    } catch (e) {
      throw oms('ConfigurationReadError', { reason: (e as Error).message });
    }
  }
  Object.assign(cfg, overrides);
  cfg.dataDir = resolve(cfg.dataDir);
  // A console spot is a port number clients connect to: every pool must stay inside the port range.
  for (const key of ['consoleVncBase', 'consoleSshBase', 'consoleSerialBase'] as const) {
    if (cfg[key] < 1 || cfg[key] + cfg.consolePoolSize - 1 > 65535) throw new Error(`${env[key]} ${cfg[key]} with OMS_CONSOLE_POOL ${cfg.consolePoolSize} leaves the TCP port range`);
  }
  // A journal or queue of nothing would make every resume a resync; a heartbeat of 0 s a busy loop.
  for (const key of ['eventsRetain', 'eventsRetainAgeSeconds', 'eventsQueue', 'eventsHeartbeatSeconds'] as const) {
    if (cfg[key] < 1) throw oms('ConfigurationReadError', { reason: `${env[key]} must be at least 1` });
  }
  for (const key of ['housekeepingSeconds', 'healthRawHours', 'healthKeepDays'] as const) {
    if (cfg[key] < 1) throw oms('ConfigurationReadError', { reason: `${env[key]} must be at least 1` });
  }
  if (cfg.eventsResyncSeconds < 1) throw oms('ConfigurationReadError', { reason: `${env.eventsResyncSeconds} must be at least 1 second` });
  return cfg;
}
