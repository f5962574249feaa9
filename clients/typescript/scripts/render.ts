/**
 * Renders the typed API (src/generated.ts) from an OpenRPC document as rpc.discover serves it:
 * one interface per service with one typed function per method (params typed from their JSON
 * Schemas, results where the declaration gives a `result` schema, `unknown` otherwise), a `.wait`
 * form for methods answering {task_id}, the services' aliases, the call metadata the runtime
 * needs, and the error catalogue's names and codes. Pure: document in, source text out.
 *
 * The JSON Schema to TypeScript step is written here rather than taken from a library: the
 * schemas are the small subset zod's toJSONSchema emits for the declarations, they become inline
 * param types (not named interfaces, as json-schema-to-typescript makes), and an unknown keyword
 * only widens a type to `unknown`, never fails the generation.
 */

export interface OpenRpcDoc {
  methods: OpenRpcMethod[];
  components?: { errors?: Record<string, { code: number; message?: string; data?: { origin?: number } }> };
}

export interface OpenRpcMethod {
  name: string;
  description?: string;
  tags?: { name: string }[];
  params: { name: string; required?: boolean; description?: string; schema?: Schema }[];
  result?: { schema?: Schema };
  'x-auth'?: 'session' | 'sessionOnly' | 'public';
  'x-node'?: string;
  'x-envelope'?: string;
}

type Schema = Record<string, any>;

/** Client members a service namespace may not shadow (client.ts CLIENT_MEMBERS); such a service is under `client.api` only. */
export const RESERVED_MEMBERS = ['api', 'events', 'login', 'logout', 'close', 'call', 'rawCall', 'waitTask', 'setToken', 'authenticated'];

const RESERVED_WORDS = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await'.split(' '),
);

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (k: string) => (IDENT.test(k) ? k : JSON.stringify(k));
const argName = (k: string) => (IDENT.test(k) && !RESERVED_WORDS.has(k) ? k : `${k.replace(/[^A-Za-z0-9_$]/g, '_')}_`);
const pascal = (s: string) => s.replace(/(^|[^A-Za-z0-9])([a-z0-9])/g, (_, __, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, '');

/** A JSON Schema (zod's subset) as an inline TypeScript type. */
export function schemaType(s: Schema | undefined, depth = 0): string {
  if (!s || typeof s !== 'object' || depth > 12) return 'unknown';
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v: unknown) => JSON.stringify(v)).join(' | ') || 'never';
  const union = s.anyOf ?? s.oneOf;
  if (Array.isArray(union)) return dedupe(union.map((m: Schema) => wrap(schemaType(m, depth + 1)))).join(' | ');
  if (Array.isArray(s.allOf)) return s.allOf.map((m: Schema) => wrap(schemaType(m, depth + 1))).join(' & ');
  if (Array.isArray(s.type)) return dedupe(s.type.map((t: string) => wrap(schemaType({ ...s, type: t }, depth + 1)))).join(' | ');
  switch (s.type) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      if (Array.isArray(s.prefixItems)) return `[${s.prefixItems.map((m: Schema) => schemaType(m, depth + 1)).join(', ')}]`;
      return `${wrap(schemaType(s.items, depth + 1))}[]`;
    case 'object':
      return objectType(s, depth);
    default:
      return 'unknown';
  }
}

function objectType(s: Schema, depth: number): string {
  const props = Object.entries((s.properties ?? {}) as Record<string, Schema>);
  const required = new Set<string>(Array.isArray(s.required) ? s.required : []);
  const extra = s.additionalProperties;
  if (!props.length) {
    const value = extra && typeof extra === 'object' ? schemaType(extra, depth + 1) : 'unknown';
    if (extra === false) return 'Record<string, never>';
    const keys = s.propertyNames && (Array.isArray(s.propertyNames.enum) || 'const' in s.propertyNames) ? schemaType(s.propertyNames, depth + 1) : 'string';
    return keys === 'string' ? `Record<string, ${value}>` : `Partial<Record<${keys}, ${value}>>`;
  }
  const fields = props.map(([k, v]) => `${key(k)}${required.has(k) ? '' : '?'}: ${schemaType(v, depth + 1)}`);
  if (extra && extra !== false) fields.push(`[key: string]: ${typeof extra === 'object' ? 'unknown' : 'unknown'}`);
  return `{ ${fields.join('; ')} }`;
}

const wrap = (t: string) => (/[|&]/.test(t) && !/^[{[]/.test(t) ? `(${t})` : t);
const dedupe = (xs: string[]) => [...new Set(xs)];

/** JSDoc text: no comment terminator inside, one line per line. */
const doc = (text: string, indent: string) => {
  const lines = text.replace(/\*\//g, '*\\/').split('\n');
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
};

/** Whether the declared result carries a required task_id: the method starts a task. */
const startsTask = (m: OpenRpcMethod) => {
  const r = m.result?.schema;
  return !!r && r.type === 'object' && !!r.properties?.task_id && Array.isArray(r.required) && r.required.includes('task_id');
};

export function renderClient(docu: OpenRpcDoc, opts: { reserved?: string[] } = {}): string {
  const reserved = new Set(opts.reserved ?? RESERVED_MEMBERS);
  const byService = new Map<string, { aliases: string[]; methods: OpenRpcMethod[] }>();
  for (const m of docu.methods) {
    const i = m.name.lastIndexOf('.');
    const svc = m.name.slice(0, i);
    const entry = byService.get(svc) ?? { aliases: (m.tags ?? []).filter((t) => t.name.startsWith('alias:')).map((t) => t.name.slice(6)), methods: [] };
    entry.methods.push(m);
    byService.set(svc, entry);
  }

  const out: string[] = [];
  out.push(
    '// Generated by clients/typescript/scripts/generate.ts from the gateway\'s method declarations (the',
    '// OpenRPC document rpc.discover serves). Do not edit: run `npm run client:gen` after changing a declaration.',
    "import type { CallOptions, ServiceMeta, TaskOutcome, WaitOptions } from './types.js';",
    '',
  );

  const errors = Object.entries(docu.components?.errors ?? {});
  out.push('/** Every error name of the gateway\'s catalogue. */');
  out.push(`export const errorNames = [\n${errors.map(([n]) => `  ${JSON.stringify(n)},`).join('\n')}\n] as const;`);
  out.push('export type OmsErrorName = (typeof errorNames)[number];');
  out.push('/** The catalogue\'s stable code of each error name. */');
  out.push(`export const errorCodes: Readonly<Record<OmsErrorName, number>> = {\n${errors.map(([n, e]) => `  ${key(n)}: ${e.code},`).join('\n')}\n};`);
  out.push('');

  const apiFields: string[] = [];
  const allFields: string[] = [];
  const meta: string[] = [];
  for (const [svc, { aliases, methods }] of byService) {
    const iface = `${pascal(svc)}Api`;
    out.push(`export interface ${iface} {`);
    const metaLines: string[] = [];
    for (const m of methods) {
      const name = m.name.slice(svc.length + 1);
      const own = m.params.filter((p, i) => !((m['x-auth'] ?? 'session') !== 'public' && ((i === 0 && p.name === 'SESSID') || (i === 1 && p.name === 'cache_timeout'))));
      // A required param after an optional one cannot be optional in a TypeScript signature.
      let lastRequired = -1;
      own.forEach((p, i) => {
        if (p.required) lastRequired = i;
      });
      const args = own.map((p, i) => `${argName(p.name)}${p.required || i < lastRequired ? '' : '?'}: ${schemaType(p.schema)}${!p.required && i < lastRequired ? ' | undefined' : ''}`);
      const result = schemaType(m.result?.schema);
      const paramDocs = own.filter((p) => p.description).map((p) => `@param ${argName(p.name)} ${p.description}`);
      const text = [m.description ?? '', ...(paramDocs.length ? ['', ...paramDocs] : [])].join('\n');
      const task = startsTask(m);
      // The trailing per-call options, named so as not to clash with a param of the method.
      const opt = own.some((p) => argName(p.name) === 'options') ? 'callOptions' : 'options';
      if (task) {
        out.push(`  ${key(name)}: {`);
        out.push(doc(text, '    ').trimEnd());
        out.push(`    (${[...args, `${opt}?: CallOptions`].join(', ')}): Promise<${result}>;`);
        out.push(doc(`Starts ${m.name} and follows its task to the end (progress through ${opt}.onProgress); rejects with the task's error.`, '    ').trimEnd());
        out.push(`    wait(${[...args, `${opt}?: WaitOptions`].join(', ')}): Promise<TaskOutcome<${result}>>;`);
        out.push('  };');
      } else {
        out.push(doc(text, '  ').trimEnd());
        out.push(`  ${key(name)}(${[...args, `${opt}?: CallOptions`].join(', ')}): Promise<${result}>;`);
      }
      const envelope = m['x-envelope'] === 'plain' ? 'plain' : 'oms';
      metaLines.push(
        `      ${key(name)}: { params: [${own.map((p) => JSON.stringify(p.name)).join(', ')}], auth: '${m['x-auth'] ?? 'session'}', envelope: '${envelope}', node: ${!!m['x-node']}, task: ${task} },`,
      );
    }
    out.push('}', '');
    for (const n of [svc, ...aliases]) {
      allFields.push(`  readonly ${key(n)}: ${iface};`);
      if (!reserved.has(n)) apiFields.push(`  readonly ${key(n)}: ${iface};`);
    }
    meta.push(`  ${key(svc)}: {\n    aliases: [${aliases.map((a) => JSON.stringify(a)).join(', ')}],\n    methods: {\n${metaLines.join('\n')}\n    },\n  },`);
  }
  out.push('/** Every service by its name and its aliases (`client.api`). */');
  out.push(`export interface OmsServices {\n${allFields.join('\n')}\n}`, '');
  out.push('/** The services on the client itself (`client.kvmservices`), but those whose name the client uses. */');
  out.push(`export interface OmsApi {\n${apiFields.join('\n')}\n}`, '');
  out.push('/** How each method is called: param names in OMS order, session, envelope, node wrapping, task. */');
  out.push(`export const services = {\n${meta.join('\n')}\n} as const satisfies Record<string, ServiceMeta>;`, '');
  return out.join('\n');
}
