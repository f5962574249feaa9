/**
 * How a service and its methods are declared: one record per method, in the manner of Proxmox's
 * register_method. Validation, permission checks, caching, audit, the OpenRPC document and the
 * hostile-input test corpus are all generated from these records, so a method is described once.
 * A service that needs a plain HTTP route (a streamed upload) declares it here too, as a RouteDecl;
 * src/http mounts it, so the HTTP layer never imports a service.
 *
 * What a handler is given (CallContext, AppServices) is declared in this module as well: the types
 * refer to each other (a handler's context reaches the registry of these declarations), and in one
 * module that needs no import cycle. context.ts re-exports them under their usual import path.
 */
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { Config } from '../config.ts';
import type { Db } from '../db/database.ts';
import type { Logger } from '../log.ts';
import type { Permissions, Privilege } from '../auth/permissions.ts';
import type { Principal, Sessions } from '../auth/sessions.ts';
import type { LoginThrottle } from '../auth/throttle.ts';
import type { Users } from '../auth/users.ts';
import type { NodeAccess, NodeHandle } from '../fleet/access.ts';
import type { NodeStore } from '../fleet/nodes.ts';
import type { TagStore } from '../fleet/tags.ts';
import type { PoolStore } from '../fleet/pools.ts';
import type { GatewayKey } from '../nodes/keys.ts';
import type { TaskHandle, TaskScope, Tasks } from '../tasks/tasks.ts';
import type { GuestKind, GuestLocks, GuestRef } from '../locks/guest-locks.ts';
import type { ConsoleSpots } from '../consoles/spots.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { NodeWatcherDecl, WatcherRunner } from '../events/watchers.ts';
import type { HealthMonitor } from '../health/monitor.ts';
import type { HealthHistory } from '../health/history.ts';
import type { HealthSampler } from '../health/sample.ts';
import type { Transport } from './transport.ts';
import type { EventBus } from '../events/bus.ts';
import type { EventChannel } from '../events/channel.ts';
import type { AuditLog } from './audit.ts';
import type { ResultCache } from './cache.ts';
import type { ErrorName } from './errors.ts';

export type { Transport };

/** What a method handler sees. Handlers know nothing of HTTP or of which wire format carried the call. */
export interface CallContext {
  readonly requestId: string;
  readonly transport: Transport;
  readonly remote?: string;
  /** Set for `session` and `sessionOnly` methods. */
  readonly principal?: Principal;
  /** The session id or token as presented (param or bearer); only authservices needs it. Never log it. */
  readonly secret?: string;
  /** Aborted when the caller went away (HTTP client closed, websocket dropped). */
  readonly signal?: AbortSignal;
  /** The caller's connection can carry pushed events (/ws): events.subscribe starts them on it. */
  readonly events?: EventChannel;
  readonly app: AppServices;
  readonly log: Logger;
  /** A signed node by name (UnknownNodeError otherwise); its commands end when the caller goes away. */
  node(name: string): NodeHandle;
  /** Permission check for handlers that act on more than the declared path (e.g. filtering lists). */
  can(privilege: Privilege, path: string): boolean;
  /**
   * Holds more guests for this call, beside those its declaration names: for a guest known only
   * once the handler ran (a container id picked as the next free one). TaskConflictError when one
   * is held elsewhere; waits (the caller's wait) only when the call held nothing yet.
   */
  lockGuests(guests: readonly GuestRef[]): Promise<void>;
  /**
   * Starts a task on behalf of the caller: the task is the caller's, and it takes over the
   * guests this call holds, keeping them until it ends. Services start tasks only this way.
   */
  startTask<T>(scope: Omit<TaskScope, 'user' | 'lock'>, work: (task: TaskHandle) => Promise<T>): { id: string; done: Promise<T> };
}

/**
 * The long-lived objects a request may touch, built once by the composition root (src/app.ts).
 * No module keeps state of its own; everything hangs off this.
 */
export interface AppServices {
  readonly config: Config;
  readonly log: Logger;
  readonly db: Db;
  readonly registry: ServiceCatalog;
  readonly sessions: Sessions;
  readonly throttle: LoginThrottle;
  readonly permissions: Permissions;
  readonly users: Users;
  readonly cache: ResultCache;
  readonly audit: AuditLog;
  readonly nodes: NodeStore;
  readonly tags: TagStore;
  /** Resource pools of guests (src/fleet/pools.ts); their grants reach members through `permissions`. */
  readonly pools: PoolStore;
  /** The only way services reach nodes. */
  readonly access: NodeAccess;
  /** Long operations; a 'task' event is emitted on every change. */
  readonly tasks: Tasks;
  /** One change at a time per guest: which call or task holds which guest (src/locks). */
  readonly locks: GuestLocks;
  /** Public half only is meant for display; the private key stays inside the pool. */
  readonly gatewayKey: Pick<GatewayKey, 'publicKey'>;
  /** In-process events between layers ('session-ended' with the session digest); never state. */
  readonly events: EventEmitter;
  /** Opens a reserved console spot's own port; the listeners are attached by src/consoles/mount.ts. */
  readonly consoleSpots: ConsoleSpots;
  /** Prometheus registry of this gateway (/metrics): call counters fed by the pipeline, gauges read at scrape. */
  readonly metrics: Metrics;
  /** Live events (src/events): every source publishes here; /ws, long poll and SSE deliver from it. */
  readonly bus: EventBus;
  /** The services' node watchers on every signed node; started by the server only (startServer), stopped by close(). */
  readonly watchers: WatcherRunner;
  /**
   * The node health monitor (src/health): samples every signed node, publishes down/up and
   * threshold events; started by the server only (startServer), stopped by close(). Undefined
   * when OMS_HEALTH_INTERVAL is 0 or no service declares a sampler.
   */
  readonly health: HealthMonitor | undefined;
  /** The health history ring the monitor writes and statsservices.get_history reads. */
  readonly history: HealthHistory;
  /**
   * Opens every signed node's command connection that is not open (OMS_NODE_WARM), through the
   * pool's connect gate; called by the server at start and when nodes are signed.
   */
  warmNodes(): void;
  close(): void;
}

export interface Resolved {
  service: ServiceDecl;
  method: MethodDecl;
}

/** The declared services, as the registry (src/rpc/registry.ts) serves them. */
export interface ServiceCatalog {
  resolve(serviceName: unknown, methodName: unknown): Resolved;
  /** `kvmservices.list_vms` form, as JSON-RPC 2.0 and qooxdoo 2.0 clients name methods. */
  resolveDotted(full: unknown): Resolved;
  services(): readonly ServiceDecl[];
}

export interface ParamDecl {
  readonly name: string;
  readonly schema: z.ZodType;
  readonly description?: string;
  /** May be left out (positional: only at the end). */
  readonly optional?: boolean;
  /** Collects all remaining positional params into an array, each validated by `schema`. */
  readonly rest?: boolean;
}

type ParamValue<P extends ParamDecl> = P['rest'] extends true
  ? z.output<P['schema']>[]
  : P['optional'] extends true
    ? z.output<P['schema']> | undefined
    : z.output<P['schema']>;

export type ParamsOf<P extends readonly ParamDecl[]> = { [K in P[number] as K['name']]: ParamValue<K> };

/**
 * - `session`: OMS shape `(SESSID, cache_timeout, ...params)`; needs a valid session or API token.
 * - `sessionOnly`: `(SESSID)` only, as authservices.deauthenticate and checksessid.
 * - `public`: no session (authservices.authenticate, the qooxdoo.test conformance service).
 */
export type AuthMode = 'session' | 'sessionOnly' | 'public';

export type Permission<V> =
  | {
      readonly privilege: Privilege;
      readonly path: (params: V) => string;
      /**
       * Name of a param holding a user name: a caller naming themselves there needs no privilege
       * (Proxmox's `['userid-param', 'self']`), e.g. users changing their own password.
       */
      readonly orSelf?: keyof V & string;
    }
  /** Any authenticated user; the handler itself narrows (e.g. a user changing their own password). */
  | 'authenticated'
  | 'public';

/**
 * Which guests a mutating method holds while it runs (src/locks): every call that changes a guest
 * or reads its disks for a copy declares them, so the pipeline takes them before the handler and
 * gives them back after (or when the task the call started ends). A mutating method that touches
 * no guest says why with `none`; the registry refuses a guest-service method or a method with a
 * guest param that mutates and declares neither.
 */
export type LockDecl<V> =
  | {
      /** For rpc.discover: what is held, in words of the params. */
      readonly summary: string;
      readonly guests: (params: V) => readonly GuestRef[];
    }
  | { readonly none: string };

export interface MethodDecl<P extends readonly ParamDecl[] = readonly ParamDecl[]> {
  readonly name: string;
  readonly description: string;
  readonly auth: AuthMode;
  readonly params: P;
  readonly permission: Permission<ParamsOf<P>>;
  /** Whether results may be served from the cache_timeout cache. Only pure reads. */
  readonly cacheable?: boolean;
  /** Writes an audit row and invalidates cached results about the same node. */
  readonly mutates?: boolean;
  /** Name of the param that names the node: the OMS envelope then wraps `{client, result}`. */
  readonly node?: string;
  /** Guests held while it runs; see LockDecl. */
  readonly lock?: LockDecl<ParamsOf<P>>;
  /** Params whose values are secret: never logged, audited or cached in clear. */
  readonly secretParams?: readonly string[];
  /**
   * What `run` returns (inside the envelope), for rpc.discover and the typed client generated from
   * it (clients/typescript); left out, the result is documented as unconstrained. Documentation,
   * not a check: results are not validated at run time. A result with a `task_id` marks a method
   * that starts a task, and the typed client offers to follow it.
   */
  readonly result?: z.ZodType;
  readonly run: (ctx: CallContext, params: ParamsOf<P>) => unknown;
}

/** A request body handed to a route as a stream; it fails (never just stops) when the client goes away or idles. */
export interface RequestBody {
  readonly stream: Readable;
  /** Content-Length when the client sent one. */
  readonly length?: number;
}

/**
 * A plain HTTP route a service serves beside its RPC methods, for what does not fit a call: a
 * streamed request body (an ISO image of gigabytes). src/http mounts it and does everything
 * generic, as the pipeline does for methods: bearer session (SESSID or API token), path params
 * validated by their schemas, permission, body limit, audit row, cache invalidation, the OMS
 * envelope and error statuses. The body streams, bounded by idle time rather than total time.
 */
export interface RouteDecl<P extends readonly ParamDecl[] = readonly ParamDecl[]> {
  /** Name in the audit log and docs, e.g. `http_upload`. */
  readonly name: string;
  readonly description: string;
  readonly method: 'PUT' | 'POST';
  /** Express-style path; each `:name` segment is a param below, e.g. `/isos/:server_hostname/:image_name`. */
  readonly path: string;
  readonly params: P;
  readonly permission: { readonly privilege: Privilege; readonly path: (params: ParamsOf<P>) => string };
  /** Largest body accepted; a larger declared Content-Length is refused before reading. */
  readonly maxBodyBytes: number;
  /** Name of the param that names the node: result in `{client, result}`, cached results of that node dropped. */
  readonly node?: string;
  /** HTTP statuses of this service's own errors (generic ones are mapped by src/http). */
  readonly statuses?: Partial<Record<ErrorName, number>>;
  readonly run: (ctx: CallContext, params: ParamsOf<P>, body: RequestBody) => Promise<unknown>;
}

export interface ServiceDecl {
  /** Canonical OMS service name, e.g. `kvmservices`. */
  readonly name: string;
  /** Other names the OMS document and clients use, e.g. `kvm`. */
  readonly aliases?: readonly string[];
  readonly description: string;
  /** `oms`: results in the `{type, result}` envelope; `plain`: bare results (qooxdoo.test). */
  readonly envelope: 'oms' | 'plain';
  /** The envelope's `type` for fresh results: `auth` for AuthService, `func` otherwise. */
  readonly resultType?: 'auth' | 'func';
  /** The service manages guests of this kind: each of its mutating methods must declare `lock`. */
  readonly guests?: GuestKind;
  readonly methods: readonly MethodDecl[];
  /** HTTP routes beside the methods (streamed uploads); most services have none. */
  readonly routes?: readonly RouteDecl[];
  /**
   * Readers run on every signed node while the gateway serves, reporting changes made there
   * (src/events/watchers.ts): libvirt's domain events, LXC's state changes. Most services have none.
   */
  readonly watchers?: readonly NodeWatcherDecl[];
  /** How the health monitor reads a node (src/health/monitor.ts); one service declares it (statsservices). */
  readonly healthSampler?: HealthSampler;
}

/** Declares a method with its param types inferred from the param list. */
export const method = <const P extends readonly ParamDecl[]>(decl: MethodDecl<P>): MethodDecl =>
  decl as unknown as MethodDecl;

/** Declares a route with its param types inferred from the param list. */
export const route = <const P extends readonly ParamDecl[]>(decl: RouteDecl<P>): RouteDecl =>
  decl as unknown as RouteDecl;

export const service = (decl: ServiceDecl): ServiceDecl => decl;
