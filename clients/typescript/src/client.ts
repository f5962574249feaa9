/**
 * The OMS client: JSON-RPC 2.0 to one gateway over HTTPS POST (/jsonrpc) or a websocket (/ws),
 * authenticated by password (a session) or an API token, with one typed function per method
 * generated from the gateway's declarations (generated.ts), tasks followed to their end and
 * events as an async iterator. The bearer is kept in a private field: it is sent only in the
 * Authorization header (or, from a browser's websocket, a subprotocol), never logged, never shown
 * by util.inspect or JSON.stringify of the client.
 */
import { fromRpcError, OmsConnectionError, OmsError } from './errors.js';
import { followEvents, type EventsOptions } from './events.js';
import { services, type OmsApi, type OmsServices } from './generated.js';
import { shown, type Platform, type TlsOptions } from './platform.js';
import { RpcSocket } from './rpc-socket.js';
import { followTask } from './tasks.js';
import type { CallOptions, MethodMeta, OmsEvent, TaskOutcome, TaskRow, WaitOptions } from './types.js';

export interface ClientOptions extends TlsOptions {
  /** The gateway, e.g. `https://oms.example:8000`. */
  url: string;
  /** How calls travel: `http` (POST /jsonrpc, the default) or `ws` (one websocket, pushes too). */
  transport?: 'http' | 'ws';
  /** An API token (userservices.create_api_token) or a session id; or call login() later. */
  token?: string;
  /** Milliseconds a call may take before OmsConnectionError `timeout`; default 120000. */
  timeoutMs?: number;
}

/** Names the client itself uses: a service of the same name is reached as `client.api.<name>` only. */
export const CLIENT_MEMBERS = ['api', 'events', 'login', 'logout', 'close', 'call', 'rawCall', 'waitTask', 'setToken', 'authenticated'] as const;

export interface OmsClientCore extends OmsApi {}

export class OmsClientCore {
  #bearer: string | undefined;
  /** A session from login() (ended by logout()), as opposed to a token given by the caller. */
  #isSession = false;
  #socket: Promise<RpcSocket> | undefined;
  readonly #platform: Platform;
  readonly #url: URL;
  readonly #tls: TlsOptions;
  readonly #transport: 'http' | 'ws';
  readonly #timeoutMs: number;
  /** Every service by its name and aliases, including those whose name the client uses itself. */
  readonly api: OmsServices;

  constructor(options: ClientOptions, platform: Platform) {
    this.#platform = platform;
    this.#url = new URL(options.url);
    if (!/^(https?|wss?):$/.test(this.#url.protocol)) throw new TypeError('url: expected an https:// (or http://) gateway URL');
    this.#tls = { ca: options.ca, fingerprint: options.fingerprint };
    this.#transport = options.transport ?? 'http';
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#bearer = options.token;
    const api: Record<string, unknown> = {};
    for (const [name, svc] of Object.entries(services)) {
      const built = this.#service(name, svc.methods);
      for (const n of [name, ...svc.aliases]) {
        api[n] = built;
        if (!(CLIENT_MEMBERS as readonly string[]).includes(n)) Object.defineProperty(this, n, { value: built, enumerable: false });
      }
    }
    this.api = api as unknown as OmsServices;
  }

  /** Whether a session or token is set (not whether the gateway still accepts it). */
  get authenticated(): boolean {
    return this.#bearer !== undefined;
  }

  /** Logs in with a password: the session id is kept and sent with every call; it is also returned (e.g. for sessionStorage). */
  async login(username: string, password: string, options?: CallOptions): Promise<string> {
    const sid = await this.call<string>('authservices.authenticate', { username, password }, options);
    this.#setBearer(sid, true);
    return sid;
  }

  /** Ends the session of login() (authservices.deauthenticate); a token given by the caller is only forgotten. */
  async logout(options?: CallOptions): Promise<void> {
    const sid = this.#bearer;
    const wasSession = this.#isSession;
    try {
      // Over POST even with the websocket transport: the gateway closes a session's sockets as it
      // ends it, which could cut the answer off.
      if (sid !== undefined && wasSession) await this.#post('authservices.deauthenticate', { SESSID: sid }, options ?? {}, options?.timeoutMs ?? this.#timeoutMs);
    } finally {
      this.#setBearer(undefined, false);
    }
  }

  /** Uses an API token (or a session id kept from an earlier login) from now on. */
  setToken(token: string | undefined): void {
    this.#setBearer(token, false);
  }

  /** Closes the websocket, if one is open. */
  close(): void {
    const s = this.#socket;
    this.#socket = undefined;
    s?.then((r) => r.close(), () => undefined);
  }

  /** One JSON-RPC call, the raw result as the gateway sent it (the OMS {type, result} envelope included). */
  async rawCall(method: string, params: unknown, options: CallOptions = {}): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    if (this.#transport === 'ws') return (await this.#ws()).call(method, params, { timeoutMs, signal: options.signal });
    return this.#post(method, params, options, timeoutMs);
  }

  async #post(method: string, params: unknown, options: CallOptions, timeoutMs: number): Promise<unknown> {
    const u = new URL('jsonrpc', this.#base('http'));
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.#bearer !== undefined) headers.authorization = `Bearer ${this.#bearer}`;
    const answer = await this.#platform.post(u, JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), headers, this.#tls, { signal: options.signal, timeoutMs });
    let body: { result?: unknown; error?: unknown } | undefined;
    try {
      body = JSON.parse(answer.text);
    } catch {
      body = undefined;
    }
    if (typeof body !== 'object' || body === null || (!('result' in body) && !('error' in body)))
      throw new OmsConnectionError('protocol', `${shown(u)}: HTTP ${answer.status} without a JSON-RPC answer`);
    if (body.error !== undefined && body.error !== null) throw fromRpcError(body.error);
    return body.result;
  }

  /**
   * A method by its dotted name with named params, its result out of the OMS envelope (and out of
   * {client, result} for a method on a node). The generated functions call this.
   */
  async call<T = unknown>(method: string, params: Record<string, unknown> = {}, options: CallOptions = {}): Promise<T> {
    const meta = metaOf(method);
    const named: Record<string, unknown> = { ...params };
    if ((meta?.auth ?? 'session') === 'session' && !('cache_timeout' in named)) named.cache_timeout = options.cacheTimeout ?? 0;
    if (options.lockWait !== undefined) named.lock_wait = options.lockWait;
    const raw = await this.rawCall(method, named, options);
    return unwrap(raw, meta) as T;
  }

  /** Follows a task to its end; see WaitOptions. Resolves with the final row, rejects with the task's error. */
  waitTask(taskId: string, options: WaitOptions = {}): Promise<TaskRow> {
    return followTask(
      {
        status: (id, o) => this.call<TaskRow>('tasks.task_status', { task_id: id }, { signal: o.signal, timeoutMs: o.timeoutMs }),
        cancel: (id) => this.call('tasks.cancel_task', { task_id: id }),
        pushes: async (id, fn) => {
          if (this.#transport !== 'ws') return () => undefined;
          const s = await this.#ws();
          return s.onNotification((m, p) => {
            if (m === 'task.updated' && (p as TaskRow)?.id === id) fn(p as TaskRow);
          });
        },
      },
      taskId,
      options,
    );
  }

  /**
   * Events of the fleet as they happen, resumed across reconnects (see events.ts). `for await
   * (const ev of client.events({ types: ['kvm'], since }))`; break (or abort) to stop.
   */
  events(options: EventsOptions = {}): AsyncGenerator<OmsEvent, void, undefined> {
    return followEvents(async () => new RpcSocket(await this.#openSocket(true), this.#url.host), options, this.#timeoutMs);
  }

  /** Not the bearer: inspecting or logging a client shows where it goes, never its secret. */
  toJSON(): { url: string; transport: string; authenticated: boolean } {
    return { url: shown(this.#url), transport: this.#transport, authenticated: this.authenticated };
  }

  #setBearer(bearer: string | undefined, isSession: boolean): void {
    this.#bearer = bearer;
    this.#isSession = isSession && bearer !== undefined;
    // The websocket was opened with the old bearer; pushes follow the socket's user.
    this.close();
  }

  #base(kind: 'http' | 'ws'): URL {
    const u = new URL(this.#url);
    const secure = u.protocol === 'https:' || u.protocol === 'wss:';
    u.protocol = kind === 'http' ? (secure ? 'https:' : 'http:') : secure ? 'wss:' : 'ws:';
    if (!u.pathname.endsWith('/')) u.pathname += '/';
    u.search = '';
    return u;
  }

  #openSocket(hold: boolean) {
    return this.#platform.openSocket(new URL('ws', this.#base('ws')), this.#bearer, this.#tls, this.#timeoutMs, hold);
  }

  #ws(): Promise<RpcSocket> {
    const current = this.#socket;
    if (current) {
      return current.then(
        (s) => (s.closed ? this.#newWs() : s),
        () => this.#newWs(),
      );
    }
    return this.#newWs();
  }

  #newWs(): Promise<RpcSocket> {
    const p = this.#openSocket(false).then((raw) => new RpcSocket(raw, this.#url.host));
    this.#socket = p;
    p.catch(() => {
      if (this.#socket === p) this.#socket = undefined;
    });
    return p;
  }

  #service(service: string, methods: Readonly<Record<string, MethodMeta>>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, meta] of Object.entries(methods)) {
      const dotted = `${service}.${name}`;
      const n = meta.params.length;
      const named = (args: unknown[]) => {
        const p: Record<string, unknown> = {};
        meta.params.forEach((k, i) => {
          if (args[i] !== undefined) p[k] = args[i];
        });
        return p;
      };
      const fn = (...args: unknown[]) => this.call(dotted, named(args), (args[n] as CallOptions | undefined) ?? {});
      if (meta.task) {
        const wait = async (...args: unknown[]): Promise<TaskOutcome<unknown>> => {
          const opts = (args[n] as WaitOptions | undefined) ?? {};
          const started = await this.call<{ task_id?: string | null }>(dotted, named(args), opts);
          if (started?.task_id == null) return { started, result: null, task: null };
          const task = await this.waitTask(started.task_id, opts);
          return { started, result: task.result, task };
        };
        out[name] = Object.assign(fn, { wait });
      } else out[name] = fn;
    }
    return out;
  }
}

const metaOf = (dotted: string): MethodMeta | undefined => {
  const i = dotted.lastIndexOf('.');
  const svc = dotted.slice(0, i);
  const direct = services[svc as keyof typeof services] as { methods: Record<string, MethodMeta> } | undefined;
  const viaAlias = direct ?? (Object.values(services) as { aliases: readonly string[]; methods: Record<string, MethodMeta> }[]).find((s) => s.aliases.includes(svc));
  return viaAlias?.methods[dotted.slice(i + 1)];
};

const shaped = (v: unknown, keys: string[]): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).sort().join() === keys.join();

/**
 * The method's own result: out of {type, result}, and out of {client, result} for a method on a
 * node. A method this client was not generated with (a newer gateway) is unwrapped by shape.
 */
function unwrap(raw: unknown, meta: MethodMeta | undefined): unknown {
  if (meta?.envelope === 'plain') return raw;
  if (!meta) {
    if (!shaped(raw, ['result', 'type']) || !['func', 'tmp_cache', 'auth'].includes(raw.type as string)) return raw;
    return shaped(raw.result, ['client', 'result']) ? raw.result.result : raw.result;
  }
  const inner = (raw as { result?: unknown } | null)?.result;
  return meta.node ? (inner as { result?: unknown } | null)?.result : inner;
}

export { OmsError };
