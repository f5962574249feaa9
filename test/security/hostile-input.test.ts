/**
 * Every string parameter of every node-facing method, fed every hostile input of the corpus,
 * generated from the declarations so a new method is covered without editing this test. The
 * other parameters get valid values, so a refusal is the hostile value's. Each lab node carries a
 * canary; any command that was not meant to run would change it.
 */
import { expect } from 'chai';
import { z } from 'zod';
import { allServices } from '../../services/index.ts';
import type { MethodDecl } from '../../src/rpc/declare.ts';
import { canary, nodeExec } from '../lab/index.ts';
import { enroll, startEnv, type Env } from '../integration/fixture.ts';
import { hostileValues, canaryPath } from './corpus.ts';
import { figure } from './figures.ts';
import { sampleFor } from './samples.ts';
import { fetchCa } from '../helpers/https.ts';

/** Services that never reach a node (or whose hostile use would change the test's own login). */
const notNodeFacing = new Set(['rpc', 'authservices', 'userservices', 'tasks', 'events', 'qooxdoo.test']);

/**
 * Parameters that legitimately take free text which never reaches a shell or a path (it is
 * passed as one argv element or written into XML/JSON by a serializer). Each entry says why.
 */
const tagsStayInTheDatabase = 'tags live in SQLite only and never reach a node; spaces are legitimate ("rack 7")';
const freeText: Record<string, string> = {
  'funcservices.list_signed.optional_tag_name': tagsStayInTheDatabase,
  'tagservices.add_node_tag.tag': tagsStayInTheDatabase,
  'tagservices.remove_node_tag.tag': tagsStayInTheDatabase,
  'tagservices.add_vm_tag.tag': tagsStayInTheDatabase,
  'tagservices.remove_vm_tag.tag': tagsStayInTheDatabase,
  'tagservices.edit_freeform_tag_name.old_tag_name': tagsStayInTheDatabase,
  'tagservices.edit_freeform_tag_name.new_tag_name': tagsStayInTheDatabase,
  'isoservices.upload_image.data_base64': 'file content (base64), written over SFTP, never part of a command or path',
  // A selector is a small query language (`*`, `-rf`, `a b` are valid ones); its terms are checked
  // (names and globs of [A-Za-z0-9_.+*?-], tags, pools) and matched inside the gateway against the
  // names it listed, never passed to a node.
  'fleetservices.call.selector': 'a fleet selector is matched in the gateway, never sent to a node',
  'fleetservices.bulk.selector': 'a fleet selector is matched in the gateway, never sent to a node',
  'fleetservices.list_guests.selector': 'a fleet selector is matched in the gateway, never sent to a node',
  'fleetservices.create_pool.description': 'a pool description lives in SQLite only and never reaches a node',
  'kvmservices.create_vm_from_location.cmdline': 'a kernel command line is free text (spaces, quotes, =); printable ASCII only, written into the domain XML by the serializer, never part of a command or path',
};

/**
 * Object params with a fixed shape are also fuzzed field by field. set_node_settings is left out:
 * its fields are administrator-chosen absolute paths, any of which is valid by definition, and
 * fuzzing it would really repoint the node's directories.
 */
const notFieldFuzzed = new Set(['funcservices.set_node_settings']);

/** Setting names of the OMS document's settings dictionaries (KVM guests, containers, templates). */
const settingKeys = ['memory', 'min_memory', 'max_memory', 'vcpu', 'min_vcpu', 'max_vcpu', 'vcpulimit', 'disk', 'min_disk', 'max_disk', 'ip_address', 'nameserver', 'searchdomain', 'onboot', 'hostname', 'name', 'password', 'password2', 'template_name', 'description'];

/** The fields of an object param: a fixed shape's keys, or for a free-form record the OMS setting names. */
function objectKeys(schema: z.ZodType): string[] | undefined {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodObject) return Object.keys(s.shape);
  if (s instanceof z.ZodRecord) return settingKeys;
  return undefined;
}

/** OMS settings methods refuse bad values with a per-field error dictionary as their result. */
function fieldRefused(result: unknown, key: string): boolean {
  let inner = (result as { result?: unknown } | undefined)?.result;
  if (inner && typeof inner === 'object' && 'client' in inner) inner = (inner as unknown as { result: unknown }).result;
  const dicts = Array.isArray(inner) ? inner : [inner];
  return dicts.some((d) => d !== null && typeof d === 'object' && typeof (d as Record<string, unknown>)[key] === 'string');
}

/**
 * An empty object or list is a valid "nothing" for object and list params, and a plain number or
 * boolean is a valid value for a numeric or on/off param: none of them can carry an injection.
 */
const harmlessEmpty = (v: unknown) =>
  typeof v === 'number' || typeof v === 'boolean' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);

describe('hostile input on every node-facing method', function () {
  this.timeout(900_000);
  let e: Env;
  before(async () => {
    e = await startEnv();
    await enroll(e, e.lab.nodes.filter((n) => n.libvirt));
  });
  // Plain numbers are valid sizes, so a sample object (omsfuzz0) may really be created; remove it.
  after(async () => {
    for (const n of e?.lab.nodes.filter((x) => x.libvirt) ?? []) {
      for (const argv of [
        ['virsh', '-c', 'qemu:///system', 'destroy', 'omsfuzz0'],
        ['virsh', '-c', 'qemu:///system', 'undefine', 'omsfuzz0'],
        ['rm', '-f', '--', '/var/lib/oms-node/images/omsfuzz0.qcow2', '/var/lib/oms-node/isos/omsfuzz0.iso'],
      ])
        await nodeExec(n, argv);
    }
    await e?.stop();
  });

  it('refuses every entry with a typed error, and nothing runs on any node', async () => {
    const nodes = e.lab.nodes.filter((n) => n.libvirt);
    const node = nodes[0].name;
    const before = await Promise.all(nodes.map((n) => canary(n)));
    const methods: { service: string; m: MethodDecl }[] = allServices({ qooxdooTestService: false })
      .filter((s) => !notNodeFacing.has(s.name))
      .flatMap((s) => s.methods.filter((m) => m.auth === 'session').map((m) => ({ service: s.name, m })));

    let tried = 0;
    let refused = 0;
    const accepted: string[] = [];
    let freeTextAccepted = 0;
    let fieldsFuzzed = 0;
    const untyped: string[] = [];
    const skipped: string[] = [];
    const leaks: string[] = [];
    /**
     * The members of a batch name the same sample guest, so all but one of those that pass the
     * input checks meet a sibling's guest lock (TaskConflictError, a typed refusal before the
     * handler). Waiting for the guest instead (OMS-Lock-Wait) would run some 22,000 of them one
     * by one, each failing at once on the absent sample guest, and take the suite past its time.
     */
    let lockRefused = 0;
    for (const { service, m } of methods) {
      const samples = m.params.map((p) => sampleFor(p, node));
      for (const [i, p] of m.params.entries()) {
        if (samples.some((s, j) => j !== i && s === undefined && !m.params[j].optional && !m.params[j].rest)) {
          skipped.push(`${service}.${m.name}(${p.name})`);
          continue;
        }
        const keys = notFieldFuzzed.has(`${service}.${m.name}`) ? [] : (objectKeys(p.schema) ?? []);
        // undefined: the hostile value is the whole param; a key: it is that field of an object param.
        for (const key of [undefined, ...keys]) {
          const batch = hostileValues.map((v, k) => {
            const hostile = key === undefined ? v : { [key]: v };
            const params = m.params.map((q, j) => (j === i ? (q.rest ? [hostile] : hostile) : samples[j]));
            // Positional OMS order; trailing undefined optionals dropped, rest params spread.
            const flat = params.flatMap((x, j) => (m.params[j].rest ? ((x as unknown[]) ?? []) : [x]));
            while (flat.length && flat[flat.length - 1] === undefined) flat.pop();
            return { jsonrpc: '2.0', id: k, method: `${service}.${m.name}`, params: [0, ...flat] };
          });
          const label = key === undefined ? p.name : `${p.name}.${key}`;
          for (let off = 0; off < batch.length; off += 100) {
            const r = await fetchCa(`${e.gw.url}/jsonrpc`, { method: 'POST', body: JSON.stringify(batch.slice(off, off + 100)), headers: { 'content-type': 'application/json', authorization: `Bearer ${e.sid}` } });
            for (const a of r.json() as { id: number; error?: { code: number; data?: { name: string } }; result?: unknown }[]) {
              tried++;
              const value = hostileValues[a.id];
              const text = JSON.stringify(a.error ?? '');
              if (/\/work\/|node_modules|\.ts:\d+|\n\s+at |Error: [A-Z]\w+Error\b.*\n/.test(text)) leaks.push(text.slice(0, 200));
              if (a.error?.data?.name === 'TaskConflictError' && (a.error.data as { details?: { guest?: string } }).details?.guest !== undefined) {
                refused++;
                lockRefused++;
              } else if (a.error && a.error.data?.name && a.error.data.name !== 'InternalError') refused++;
              else if (a.error) untyped.push(`${service}.${m.name}(${label}=${JSON.stringify(value).slice(0, 40)}): ${JSON.stringify(a.error)}`);
              else if (key !== undefined && fieldRefused(a.result, key)) refused++;
              else if (freeText[`${service}.${m.name}.${p.name}`] || harmlessEmpty(value)) freeTextAccepted++;
              else accepted.push(`${service}.${m.name}(${label}=${JSON.stringify(value).slice(0, 40)})`);
            }
          }
          if (key !== undefined) fieldsFuzzed++;
        }
      }
    }
    const after = await Promise.all(nodes.map((n) => canary(n)));
    const moved = after.filter((c, i) => c !== before[i]).length;
    figure('hostile inputs tried', tried);
    figure('hostile inputs refused with a typed error', refused);
    figure('of which refused by a batch sibling\'s guest lock (TaskConflictError)', lockRefused);
    figure('hostile inputs accepted', accepted.length);
    figure('accepted as tag text (never reaches a node), empty, or a plain number/boolean', freeTextAccepted);
    figure('executions (canaries moved, must be 0)', moved);
    figure('methods covered', methods.length);
    figure('object fields fuzzed one by one', fieldsFuzzed);
    if (skipped.length) figure('parameters skipped (no valid sample for a sibling)', skipped.join(', '));
    figure('error messages with stack traces or internal paths (must be 0)', leaks.length);
    expect(leaks, leaks.slice(0, 3).join('\n')).to.deep.equal([]);
    expect(untyped, untyped.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(accepted, accepted.slice(0, 10).join('\n')).to.deep.equal([]);
    expect(moved, `canary moved; look for ${canaryPath}`).to.equal(0);
  });
});
