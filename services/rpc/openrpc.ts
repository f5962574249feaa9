/** Builds the OpenRPC document from the method declarations: the documentation is never written twice. */
import { z } from 'zod';
import type { ParamDecl, ServiceDecl, MethodDecl } from '../../src/rpc/declare.ts';
import { catalogue } from '../../src/rpc/errors.ts';

function schemaOf(p: ParamDecl): unknown {
  try {
    const s = z.toJSONSchema(p.schema, { unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
    delete s.$schema;
    return p.rest ? { type: 'array', items: s } : s;
  } catch {
    // A schema zod cannot express (custom refinements only) is documented as unconstrained.
    return {};
  }
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
      result: { name: 'result', schema: {} },
      'x-permission': typeof m.permission === 'object' ? { privilege: m.permission.privilege, ...(m.permission.orSelf ? { orSelf: m.permission.orSelf } : {}) } : m.permission,
      'x-cacheable': !!m.cacheable,
      'x-mutates': !!m.mutates,
      'x-envelope': s.envelope === 'oms' ? `{"type": "${s.resultType ?? 'func'}"|"tmp_cache", "result": ${m.node ? '{"client": node, "result": ...}' : '...'}}` : 'plain',
    })),
  );
  return {
    openrpc: '1.2.6',
    info: { title: 'OMS — OpenNode management server RPC API', version },
    methods,
    components: {
      errors: Object.fromEntries(Object.entries(catalogue).map(([name, e]) => [name, { code: e.code, message: name, data: { origin: e.origin } }])),
    },
  };
}
