/**
 * How a service and its methods are declared: one record per method, in the manner of Proxmox's
 * register_method. Validation, permission checks, caching, audit, the OpenRPC document and the
 * hostile-input test corpus are all generated from these records, so a method is described once.
 */
import type { z } from 'zod';
import type { Privilege } from '../auth/permissions.ts';
import type { CallContext } from './context.ts';
import type { GuestKind, GuestRef } from '../locks/guest-locks.ts';

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
  | { readonly privilege: Privilege; readonly path: (params: V) => string }
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
  readonly run: (ctx: CallContext, params: ParamsOf<P>) => unknown;
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
}

/** Declares a method with its param types inferred from the param list. */
export const method = <const P extends readonly ParamDecl[]>(decl: MethodDecl<P>): MethodDecl =>
  decl as unknown as MethodDecl;

export const service = (decl: ServiceDecl): ServiceDecl => decl;
