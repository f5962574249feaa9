/**
 * Form fields from a method's declaration: the OpenRPC document the gateway serves (rpc.discover,
 * read once through the typed client) names each param, whether it is required, its description
 * and its JSON schema. A field's kind follows the schema: an enum is a choice, a boolean-like one a
 * checkbox, an array a comma-separated list, a number a numeric text field, the rest text.
 * Objects (settings dictionaries) are left to the screen, which builds them with guidance.
 */
export type Schema = { type?: string | string[]; enum?: unknown[]; const?: unknown; anyOf?: Schema[]; oneOf?: Schema[]; items?: Schema; minimum?: number; maximum?: number };

export interface DeclaredField {
  name: string;
  required: boolean;
  description?: string;
  kind: 'text' | 'number' | 'bool' | 'choice' | 'list' | 'numbers' | 'object';
  choices?: string[];
}

/** Every alternative a schema allows, flattened. */
function alternatives(s: Schema): Schema[] {
  const alts = s.anyOf ?? s.oneOf;
  return alts ? alts.flatMap(alternatives) : [s];
}

const types = (s: Schema) => alternatives(s).flatMap((a) => (a.type === undefined ? [] : Array.isArray(a.type) ? a.type : [a.type]));

export function fieldOf(p: { name: string; required: boolean; description?: string; schema: Schema }): DeclaredField {
  const base = { name: p.name, required: p.required, description: p.description };
  const s = p.schema ?? {};
  const t = types(s);
  if (t.includes('boolean')) return { ...base, kind: 'bool' };
  if (s.enum) return { ...base, kind: 'choice', choices: s.enum.map(String) };
  if (t.includes('array')) return { ...base, kind: types(s.items ?? {}).includes('number') ? 'numbers' : 'list' };
  if (t.includes('object')) return { ...base, kind: 'object' };
  if (t.includes('number') || t.includes('integer')) return { ...base, kind: 'number' };
  return { ...base, kind: 'text' };
}

/** A field's typed-in text as the method takes it; undefined leaves an optional param out. */
export function valueOf(f: DeclaredField, text: string | boolean | undefined): unknown {
  if (f.kind === 'bool') return text === true;
  const s = typeof text === 'string' ? text.trim() : '';
  if (s === '' && !f.required) return undefined;
  if (f.kind === 'list') return s.split(',').map((x) => x.trim()).filter(Boolean);
  if (f.kind === 'numbers')
    return s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map((x) => (Number.isFinite(Number(x)) ? Number(x) : x));
  return s;
}
