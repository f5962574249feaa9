/**
 * The generated client (src/generated.ts) against the declarations it was generated from, and the
 * JSON Schema to TypeScript rendering on the shapes the declarations use.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { generate, generatedPath } from './generate.ts';
import { discoverFromDeclarations } from './discover.ts';
import { renderClient, RESERVED_MEMBERS, schemaType, type OpenRpcDoc } from './render.ts';
import { CLIENT_MEMBERS } from '../src/client.ts';

describe('typed client generation (clients/typescript)', () => {
  it('src/generated.ts is up to date with the method declarations (else: npm run client:gen)', () => {
    const onDisk = readFileSync(generatedPath, 'utf8');
    const fresh = generate();
    if (onDisk !== fresh) {
      const a = onDisk.split('\n');
      const b = fresh.split('\n');
      const i = a.findIndex((l, n) => l !== b[n]);
      expect.fail(`clients/typescript/src/generated.ts is out of date with the declarations (first difference at line ${i + 1}:\n  on disk: ${a[i]}\n  fresh:   ${b[i]}\n); run npm run client:gen`);
    }
  });

  it('has one typed function per declared method, under its service and its aliases', () => {
    const doc = discoverFromDeclarations();
    const text = generate();
    for (const m of doc.methods) {
      const [svc, name] = [m.name.slice(0, m.name.lastIndexOf('.')), m.name.slice(m.name.lastIndexOf('.') + 1)];
      expect(text, m.name).to.match(new RegExp(`\\n  ${name}(\\(|: \\{)`));
      expect(text, m.name).to.include(`  ${svc}: {\n`);
    }
    expect(text).to.include('  readonly kvm: KvmservicesApi;');
    expect(text).to.include('  readonly kvmservices: KvmservicesApi;');
  });

  it('types params from their schemas and results where declared, unknown otherwise', () => {
    const text = generate();
    expect(text).to.include('authenticate(username: string, password: string, options?: CallOptions): Promise<string>;');
    expect(text).to.include('task_status(task_id: string, options?: CallOptions): Promise<{ id: string;');
    expect(text).to.match(/delete_vm_recursive\(server_hostname: string, kvm_vm_name: string, recurse: "none" \| "all_drives" \| "disks" \| "cdroms", force\?: .*, options\?: CallOptions\): Promise<unknown>;/);
    // SESSID and cache_timeout are the client's business (bearer, options.cacheTimeout), not the caller's.
    expect(text).to.not.match(/\(SESSID: string, cache_timeout/);
  });

  it('gives methods answering {task_id} a .wait form, and no other method', () => {
    const text = generate();
    expect(text).to.match(/ {2}clone_vm: \{[\s\S]*?wait\(server_hostname: string, kvm_vm_name: string, new_name\?: string \| null, .*options\?: WaitOptions\): Promise<TaskOutcome<\{ task_id: string; name: string; vnc_password: string \| null \}>>;/);
    const waits = [...text.matchAll(/\n {4}wait\(/g)].length;
    const tasks = [...text.matchAll(/task: true \}/g)].length;
    const named = [...text.matchAll(/Starts (\S+) and follows its task/g)].map((m) => m[1]).sort();
    expect(named).to.deep.equal(['fleetservices.bulk', 'fleetservices.call', 'kvmservices.clone_vm', 'kvmservices.create_snapshot', 'kvmservices.delete_snapshot', 'kvmservices.migrate_vm', 'kvmservices.revert_snapshot', 'kvmservices.shutdown_vm']);
    expect(waits).to.equal(named.length);
    expect(tasks).to.equal(named.length);
  });

  it('lists every error name of the catalogue with its code', () => {
    const text = generate();
    expect(text).to.include('  AuthError: 101,');
    expect(text).to.include('  TaskConflictError: 121,');
    expect(text).to.include('  "UnknownNodeError",');
  });

  it('keeps off the names the client uses itself (the generator\'s list is the client\'s)', () => {
    expect([...RESERVED_MEMBERS].sort()).to.deep.equal([...CLIENT_MEMBERS].sort());
  });

  describe('rendering', () => {
    it('renders the JSON Schema shapes zod emits as TypeScript types', () => {
      expect(schemaType({})).to.equal('unknown');
      expect(schemaType({ type: 'integer', minimum: 0 })).to.equal('number');
      expect(schemaType({ anyOf: [{ type: 'string' }, { type: 'null' }] })).to.equal('string | null');
      expect(schemaType({ type: 'string', enum: ['a', 'b'] })).to.equal('"a" | "b"');
      expect(schemaType({ const: 0 })).to.equal('0');
      expect(schemaType({ type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'number' }] } })).to.equal('(string | number)[]');
      expect(schemaType({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'boolean' } }, required: ['a'], additionalProperties: false })).to.equal('{ a: string; b?: boolean }');
      expect(schemaType({ type: 'object', propertyNames: { type: 'string' }, additionalProperties: { type: 'number' } })).to.equal('Record<string, number>');
      expect(schemaType({ type: 'object', propertyNames: { enum: ['x', 'y'] }, additionalProperties: { type: 'string' } })).to.equal('Partial<Record<"x" | "y", string>>');
      expect(schemaType({ type: ['string', 'null'] })).to.equal('string | null');
      expect(schemaType({ type: 'object', properties: { 'not-ident': { type: 'string' } }, required: ['not-ident'] })).to.equal('{ "not-ident": string }');
    });

    const doc = (methods: OpenRpcDoc['methods']): OpenRpcDoc => ({ methods, components: { errors: { AuthError: { code: 101 } } } });
    const session = [
      { name: 'SESSID', required: true, schema: { type: 'string' } },
      { name: 'cache_timeout', required: true, schema: { type: 'integer' } },
    ];

    it('keeps a service whose name the client uses (events) under client.api only', () => {
      const text = renderClient(doc([{ name: 'events.poll', 'x-auth': 'session', params: [...session, { name: 'since', required: true, schema: { type: 'integer' } }] }]));
      expect(text).to.match(/export interface OmsServices \{\n {2}readonly events: EventsApi;\n\}/);
      expect(text).to.match(/export interface OmsApi \{\n\n?\}/);
    });

    it('names the trailing options so a param called options does not clash, and reserved words get a suffix', () => {
      const text = renderClient(doc([{ name: 'x.m', 'x-auth': 'public', params: [{ name: 'options', required: true, schema: { type: 'object' } }, { name: 'default', required: false, schema: { type: 'string' } }] }]));
      expect(text).to.include('m(options: Record<string, unknown>, default_?: string, callOptions?: CallOptions): Promise<unknown>;');
      expect(text).to.include('m: { params: ["options", "default"], auth: \'public\'');
    });

    it('keeps a public method\'s own SESSID param (authservices.deauthenticate)', () => {
      const text = renderClient(doc([{ name: 'a.deauthenticate', 'x-auth': 'public', params: [{ name: 'SESSID', required: false, schema: { type: 'string' } }] }]));
      expect(text).to.include('deauthenticate(SESSID?: string, options?: CallOptions)');
    });
  });
});
