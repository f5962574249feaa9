/**
 * How a service and its methods are declared: one record per method, in the manner of Proxmox's
 * register_method. Validation, permission checks, caching, audit, the OpenRPC document and the
 * hostile-input test corpus are all generated from these records, so a method is described once.
 */
import type { z } from 'zod';
import type { Privilege } from '../auth/permissions.ts';
import type { CallContext } from './context.ts';

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
  readonly methods: readonly MethodDecl[];
}

/** Declares a method with its param types inferred from the param list. */
export const method = <const P extends readonly ParamDecl[]>(decl: MethodDecl<P>): MethodDecl =>
  decl as unknown as MethodDecl;

export const service = (decl: ServiceDecl): ServiceDecl => decl;
