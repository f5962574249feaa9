/**
 * `oms call service.method [args...]`: the method looked up in the generated table (services by
 * name or alias), each argument taken as JSON where it parses and as a string otherwise, and the
 * whole checked against the declared param schemas (ajv) before anything is sent. A value that
 * parses as JSON but does not fit while its text does (a guest named `123`, a password `true`) is
 * taken as its text. Wrong counts or types are a usage error that prints the param list.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { methods, serviceAliases } from './methods.generated.ts';
import type { MethodSpec, ParamSpec } from './method-table.ts';
import { CliError, EXIT } from './exit-codes.ts';

const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
const compiled = new Map<ParamSpec, ValidateFunction>();
const validator = (p: ParamSpec): ValidateFunction => {
  let v = compiled.get(p);
  if (!v) {
    try {
      v = ajv.compile(p.schema);
    } catch {
      v = ajv.compile({});
    }
    compiled.set(p, v);
  }
  return v;
};

/** The canonical dotted name of a method given by its service's name or alias. */
export function resolveMethod(dotted: string): { name: string; spec: MethodSpec } {
  const i = dotted.lastIndexOf('.');
  if (i <= 0) throw new CliError(`expected service.method (e.g. kvmservices.list_vms), got ${JSON.stringify(dotted)}`, EXIT.usage);
  const svc = dotted.slice(0, i);
  const name = `${serviceAliases[svc] ?? svc}.${dotted.slice(i + 1)}`;
  const spec = methods[name];
  if (!spec) {
    const near = Object.keys(methods).filter((m) => m.endsWith(`.${dotted.slice(i + 1)}`) || m.startsWith(`${serviceAliases[svc] ?? svc}.`));
    throw new CliError(`unknown method ${dotted}${near.length ? `; did you mean one of: ${near.slice(0, 8).join(', ')}` : ' (with completion loaded, oms call <TAB> lists them all)'}`, EXIT.usage);
  }
  return { name, spec };
}

const typeOf = (s: Record<string, unknown>): string => {
  const t = s.type;
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join('|');
  if ('const' in s) return JSON.stringify(s.const);
  const union = (s.anyOf ?? s.oneOf) as Record<string, unknown>[] | undefined;
  if (Array.isArray(union)) return [...new Set(union.map(typeOf))].join('|');
  if (Array.isArray(t)) return t.join('|');
  return typeof t === 'string' ? t : 'json';
};

/** `NAME <p1:string> <p2:integer> [p3:boolean] [stats:...]`, then one line per param. */
export function usageOf(name: string, spec: MethodSpec): string {
  const shown = spec.params.map((p) => (p.rest ? `[${p.name}...]` : p.required ? `<${p.name}>` : `[${p.name}]`));
  const lines = [`usage: oms call ${name}${shown.length ? ` ${shown.join(' ')}` : ''}`, `  ${spec.summary}`];
  for (const p of spec.params) lines.push(`  ${p.name.padEnd(28)} ${typeOf(p.schema)}${p.required ? '' : ' (optional)'}${p.rest ? ' (any number)' : ''}`);
  return lines.join('\n');
}

function candidates(raw: string): unknown[] {
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'string' ? [v] : [v, raw];
  } catch {
    return [raw];
  }
}

/** One argument as the param accepts it; undefined when no reading fits. */
function fit(p: ParamSpec, raw: string): { value: unknown } | { error: string } {
  const v = validator(p);
  let error = '';
  for (const c of candidates(raw)) {
    if (v(c)) return { value: c };
    error ||= `${p.name}: ${ajv.errorsText(v.errors, { dataVar: p.name })}`;
  }
  return { error };
}

/** Named params for the call, or a usage error (exit 2) naming what is wrong and the param list. */
export function bindArgs(dotted: string, args: readonly string[]): { name: string; spec: MethodSpec; params: Record<string, unknown> } {
  const { name, spec } = resolveMethod(dotted);
  const fail = (why: string): never => {
    throw new CliError(`${why}\n${usageOf(name, spec)}`, EXIT.usage);
  };
  const fixed = spec.params.filter((p) => !p.rest);
  const rest = spec.params.find((p) => p.rest);
  const required = fixed.filter((p) => p.required).length;
  if (args.length < required) fail(`${name} takes ${required === fixed.length ? required : `${required} to ${fixed.length}`} argument(s)${rest ? ' and more' : ''}; got ${args.length}`);
  if (!rest && args.length > fixed.length) fail(`${name} takes at most ${fixed.length} argument(s); got ${args.length}`);
  const params: Record<string, unknown> = {};
  const errors: string[] = [];
  args.forEach((raw, i) => {
    const p = i < fixed.length ? fixed[i]! : rest!;
    const r = fit(p, raw);
    if ('error' in r) errors.push(r.error);
    else if (p.rest) ((params[p.name] ??= []) as unknown[]).push(r.value);
    else params[p.name] = r.value;
  });
  if (errors.length) fail(`wrong argument type: ${errors.join('; ')}`);
  return { name, spec, params };
}

/** Named values (only those given) checked against their params, for commands whose options fill params out of order. */
export function checkNamed(dotted: string, values: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const { name, spec } = resolveMethod(dotted);
  const params: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const [k, raw] of Object.entries(values)) {
    if (raw === undefined) continue;
    const p = spec.params.find((x) => x.name === k);
    if (!p) throw new Error(`${name} has no param ${k}`);
    const r = fit(p, raw);
    if ('error' in r) errors.push(r.error);
    else params[k] = r.value;
  }
  if (errors.length) throw new CliError(`wrong value: ${errors.join('; ')}\n${usageOf(name, spec)}`, EXIT.usage);
  return params;
}

/** Checks values a resource command builds (e.g. `oms vm start NODE VM`) the same way, before the call. */
export function checkParams(dotted: string, values: readonly string[]): Record<string, unknown> {
  return bindArgs(dotted, values).params;
}
