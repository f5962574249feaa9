/** Builds the OpenRPC document from the method declarations: the documentation is never written twice. */
import { z } from 'zod';
import type { ParamDecl, ServiceDecl, MethodDecl } from '../../src/rpc/declare.ts';
import { catalogue } from '../../src/rpc/errors.ts';
import { LOCK_WAIT_MAX_SECONDS } from '../../src/rpc/fields.ts';

/**
 * `lock_wait` is not one of any method's positional params (that would break the OMS positional
 * contracts): it is a named param beside SESSID and cache_timeout, or the OMS-Lock-Wait header.
 * It is declared once here and referenced from every method that holds guests (`x-lock`).
 */
const lockWaitDescriptor = {
  name: 'lock_wait',
  required: false,
  description: `Seconds to wait when another operation holds the guest, instead of TaskConflictError at once; waiters are served in order and get TaskConflictError when the wait is over. Give it as a named param (JSON-RPC params object, over POST or /ws), as the HTTP header OMS-Lock-Wait: <seconds> (any wire format), or as lock_wait=<seconds> in the query string of a GET. 0 (default) = do not wait.`,
  schema: { type: 'number', minimum: 0, maximum: LOCK_WAIT_MAX_SECONDS },
};

const lockOf = (m: MethodDecl) =>
  !m.lock ? undefined : 'none' in m.lock ? { none: m.lock.none } : { guests: m.lock.summary, wait: { $ref: '#/components/contentDescriptors/lock_wait' } };

/** Params are documented as callers send them (input), results as handlers return them (output). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  try {
    const s = z.toJSONSchema(schema, { unrepresentable: 'any', io }) as Record<string, unknown>;
    delete s.$schema;
    return s;
  } catch {
    // A schema zod cannot express (custom refinements only) is documented as unconstrained.
    return {};
  }
}

function schemaOf(p: ParamDecl): unknown {
  const s = jsonSchema(p.schema, 'input');
  return p.rest ? { type: 'array', items: s } : s;
}

const sessionParams = (m: MethodDecl) =>
  m.auth === 'public'
    ? []
    : [
        { name: 'SESSID', required: true, description: 'Session id from authservices.authenticate (may be omitted with Authorization: Bearer)', schema: { type: 'string' } },
        ...(m.auth === 'session' ? [{ name: 'cache_timeout', required: true, description: 'Seconds a cached result may be old; 0 = fresh', schema: { type: 'integer', minimum: 0, maximum: 86400 } }] : []),
      ];

export function openRpcDocument(services: readonly ServiceDecl[], version: string): unknown {
  const methods = services.flatMap((s) =>
    s.methods.map((m) => ({
      name: `${s.name}.${m.name}`,
      summary: m.description.split('. ')[0],
      description: m.description,
      tags: [{ name: s.name }, ...(s.aliases ?? []).map((a) => ({ name: `alias:${a}` }))],
      paramStructure: 'either',
      params: [
        ...sessionParams(m),
        ...m.params.map((p) => ({ name: p.name, required: !(p.optional || p.rest), description: p.description, schema: schemaOf(p) })),
      ],
      result: { name: 'result', schema: m.result ? jsonSchema(m.result, 'output') : {} },
      // How the session travels: `session` (SESSID, cache_timeout, ...), `sessionOnly` (SESSID), `public`.
      'x-auth': m.auth,
      'x-permission': typeof m.permission === 'object' ? { privilege: m.permission.privilege, ...(m.permission.orSelf ? { orSelf: m.permission.orSelf } : {}) } : m.permission,
      'x-cacheable': !!m.cacheable,
      'x-mutates': !!m.mutates,
      ...(m.lock ? { 'x-lock': lockOf(m) } : {}),
      // The param naming the node: its result is wrapped as {client, result} inside the envelope.
      ...(m.node ? { 'x-node': m.node } : {}),
      'x-envelope': s.envelope === 'oms' ? `{"type": "${s.resultType ?? 'func'}"|"tmp_cache", "result": ${m.node ? '{"client": node, "result": ...}' : '...'}}` : 'plain',
    })),
  );
  return {
    openrpc: '1.2.6',
    info: { title: 'OMS — OpenNode management server RPC API', version },
    methods,
    components: {
      contentDescriptors: { lock_wait: lockWaitDescriptor },
      errors: Object.fromEntries(Object.entries(catalogue).map(([name, e]) => [name, { code: e.code, message: name, data: { origin: e.origin } }])),
    },
  };
}
