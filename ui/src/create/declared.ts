/** The declarations of the gateway's methods (rpc.discover, read once through the typed client) as form fields: fields.ts. */
import { oms } from '../lib/client.ts';
import { fieldOf, type DeclaredField, type Schema } from './fields.ts';

interface Doc {
  methods: { name: string; description: string; params: { name: string; required: boolean; description?: string; schema: Schema }[] }[];
}

/** The params every call carries on its own (session, cache) or the screen fills (the node). */
const IMPLICIT = new Set(['SESSID', 'cache_timeout', 'server_hostname']);

let doc: Promise<Doc> | undefined;
const discover = (): Promise<Doc> => (doc ??= (oms.rpc.discover() as Promise<Doc>).catch((e) => ((doc = undefined), Promise.reject(e))));

/** The declared fields of a method (dotted name), without the implicit params; its description. */
export async function declaredFields(method: string): Promise<{ description: string; fields: DeclaredField[] }> {
  const m = (await discover()).methods.find((x) => x.name === method);
  if (!m) throw new Error(`The gateway does not declare ${method}.`);
  return { description: m.description, fields: m.params.filter((p) => !IMPLICIT.has(p.name)).map(fieldOf) };
}

