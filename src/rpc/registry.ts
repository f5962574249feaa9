/**
 * The service registry: resolves `service` (canonical or alias) and `method` names to
 * declarations. It refuses, at start-up, duplicate names, declarations whose permission is
 * malformed, and mutating methods on guests that declare no guest lock, so a mistake in a
 * declaration stops the gateway instead of opening a hole (or letting two changes interleave).
 */
import { isPrivilege } from '../auth/permissions.ts';
import type { MethodDecl, Resolved, ServiceCatalog, ServiceDecl } from './declare.ts';
import { oms } from './errors.ts';
import { guestFields } from './fields.ts';

export type { Resolved };

const serviceNamePattern = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const methodNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class Registry implements ServiceCatalog {
  private readonly byName = new Map<string, ServiceDecl>();
  private readonly canonical: ServiceDecl[] = [];
  /** `METHOD /path/:/:` of every declared route, to refuse two services claiming one. */
  private readonly routes = new Map<string, string>();

  constructor(services: readonly ServiceDecl[]) {
    for (const s of services) this.add(s);
  }

  private add(s: ServiceDecl): void {
    for (const name of [s.name, ...(s.aliases ?? [])]) {
      if (!serviceNamePattern.test(name)) throw new Error(`service name ${name} is not valid`);
      if (this.byName.has(name)) throw new Error(`service name ${name} declared twice`);
      this.byName.set(name, s);
    }
    const seen = new Set<string>();
    for (const m of s.methods) {
      const where = `${s.name}.${m.name}`;
      if (!methodNamePattern.test(m.name)) throw new Error(`method name ${where} is not valid`);
      if (seen.has(m.name)) throw new Error(`method ${where} declared twice`);
      seen.add(m.name);
      if (typeof m.permission === 'object' && !isPrivilege(m.permission.privilege))
        throw new Error(`method ${where} needs undeclared privilege ${m.permission.privilege}`);
      if (m.permission === 'public' && m.auth !== 'public') throw new Error(`method ${where} takes a session but declares public permission`);
      if (m.auth === 'public' && m.permission !== 'public') throw new Error(`method ${where} is public but declares a permission`);
      if (m.mutates && m.cacheable) throw new Error(`method ${where} mutates and cannot be cacheable`);
      m.params.forEach((p, i) => {
        if (p.rest && i !== m.params.length - 1) throw new Error(`method ${where}: rest param ${p.name} must be last`);
        if (p.optional && m.params.slice(i + 1).some((q) => !q.optional && !q.rest)) throw new Error(`method ${where}: optional param ${p.name} before a required one`);
      });
      if (m.node && !m.params.some((p) => p.name === m.node)) throw new Error(`method ${where}: node param ${m.node} not declared`);
      checkLock(s, m, where);
    }
    for (const r of s.routes ?? []) {
      const where = `${s.name} route ${r.method} ${r.path}`;
      const segments = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
      const names = r.params.map((p) => p.name);
      if (!r.path.startsWith('/') || segments.join() !== names.join()) throw new Error(`${where}: path params (${segments.join()}) must be the declared params (${names.join()})`);
      if (!isPrivilege(r.permission.privilege)) throw new Error(`${where} needs undeclared privilege ${r.permission.privilege}`);
      if (r.node && !names.includes(r.node)) throw new Error(`${where}: node param ${r.node} not declared`);
      const key = `${r.method} ${r.path.replace(/:\w+/g, ':')}`;
      if (this.routes.has(key)) throw new Error(`${where} declared twice (also by ${this.routes.get(key)})`);
      this.routes.set(key, s.name);
    }
    this.canonical.push(s);
  }

  resolve(serviceName: unknown, methodName: unknown): Resolved {
    if (typeof serviceName !== 'string' || !serviceNamePattern.test(serviceName) || serviceName.length > 100)
      throw oms('IllegalService', { service: typeof serviceName === 'string' ? serviceName.slice(0, 100) : typeof serviceName });
    const s = this.byName.get(serviceName);
    if (!s) throw oms('ServiceNotFound', { service: serviceName });
    const m = typeof methodName === 'string' && methodNamePattern.test(methodName) ? s.methods.find((x) => x.name === methodName) : undefined;
    if (!m) throw oms('MethodNotFound', { method: typeof methodName === 'string' ? methodName.slice(0, 100) : typeof methodName });
    return { service: s, method: m };
  }

  /** `kvmservices.list_vms` form, as JSON-RPC 2.0 and qooxdoo 2.0 clients name methods. */
  resolveDotted(full: unknown): Resolved {
    if (typeof full !== 'string') throw oms('MethodNotFound', { method: typeof full });
    const dot = full.lastIndexOf('.');
    if (dot <= 0) throw oms('MethodNotFound', { method: full.slice(0, 100) });
    return this.resolve(full.slice(0, dot), full.slice(dot + 1));
  }

  services(): readonly ServiceDecl[] {
    return this.canonical;
  }
}

/**
 * One change at a time per guest (src/locks): a method that mutates and belongs to a guest
 * service, or takes a guest param, must say which guests it holds or why it holds none.
 */
function checkLock(s: ServiceDecl, m: MethodDecl, where: string): void {
  const guestParam = m.params.find((p) => guestFields.has(p.schema));
  if (m.lock && !m.mutates) throw new Error(`method ${where} declares a guest lock but does not mutate`);
  if (!m.mutates) return;
  if (!m.lock && (s.guests || guestParam))
    throw new Error(`method ${where} mutates ${guestParam ? `guest param ${guestParam.name}` : `a ${s.guests} service`} but declares no lock: give lock.guests, or lock.none with the reason it touches no guest`);
  if (m.lock && 'none' in m.lock && !m.lock.none.trim()) throw new Error(`method ${where}: lock.none needs the reason`);
  if (m.lock && 'guests' in m.lock && (typeof m.lock.guests !== 'function' || !m.lock.summary.trim())) throw new Error(`method ${where}: lock.guests needs a function and a summary`);
}
