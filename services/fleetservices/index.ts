/**
 * fleetservices: fleet-wide calls and bulk guest actions over a selector, resource pools, and
 * placement of new guests. A fleet call goes through the same pipeline as a direct call for every
 * target (fleet.ts), so nothing here decides who may do what on a node or guest.
 */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { oms } from '../../src/rpc/errors.ts';
import { lockWait, tagName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import { onOff } from '../kvmservices/settings.ts';
import { containers, kvmGuests } from '../kvmplusovzservices/index.ts';
import { invoke, runFleet, type FleetTarget } from './fleet.ts';
import { place, type Candidate, type LatestSample } from './placement.ts';
import { poolMethods } from './pools.ts';
import { assertNodeSelector, parseSelector, type GuestType } from './selector.ts';
import { selectGuests, selectNodes } from './targets.ts';

const DEFAULT_CONCURRENCY = 16;
const MAX_CONCURRENCY = 64;

const selectorParam = {
  name: 'selector',
  schema: z.union([z.string().max(4000), z.array(z.string().max(128)).max(64)]),
  description: 'which nodes or guests: "all", node names, tag:T, pool:P, state:S, type:kvm|ct, name:GLOB, text in a name, -TERM to exclude (a line, or a list of terms)',
} as const;

const options = z
  .object({
    /** Calls running at once (default 16, at most 64). */
    concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional(),
    /** Answer once the task ended, with its summary. */
    wait: z.boolean().optional(),
    /** Seconds each target call may wait for its guest when another call holds it (as OMS-Lock-Wait); default 0: refused at once. */
    lock_wait: lockWait.optional(),
  })
  .strict();

const optionsParam = {
  name: 'options',
  schema: options,
  optional: true,
  description: '{concurrency (default 16, at most 64), wait (answer with the summary once done), lock_wait (seconds each call may wait for a held guest, default 0)}',
} as const;

/** Params naming the guest in the methods a fleet call can run per guest, and the guest kinds they take. */
const GUEST_PARAMS: Readonly<Record<string, readonly GuestType[]>> = { kvm_vm_name: ['kvm'], container_id: ['ct'], vm_name: ['kvm', 'ct'] };
/** Params the fleet fills in or the pipeline owns; a caller may not give them. */
const RESERVED = new Set(['SESSID', 'sessid', 'cache_timeout']);

const runResult = z.object({ task_id: z.string(), total: z.number(), targets: z.array(z.string()), summary: z.unknown().optional() });

const label = (node: string, guest?: string) => (guest === undefined ? node : `${node}/${guest}`);

/** A bulk action: the method and params per guest kind (the same methods a direct call would use). */
type Action = 'start' | 'shutdown' | 'force_stop' | 'pause' | 'resume' | 'set_autostart' | 'tag';
const ACTIONS: readonly Action[] = ['start', 'shutdown', 'force_stop', 'pause', 'resume', 'set_autostart', 'tag'];

function actionCall(action: Action, kind: GuestType, node: string, guest: string, value: unknown): { method: string; params: Record<string, unknown> } {
  const kvm = { server_hostname: node, kvm_vm_name: guest };
  const ct = { server_hostname: node, container_id: guest };
  const on = (m: string) => (kind === 'kvm' ? { method: `kvmservices.${m}`, params: kvm } : { method: `ovzservices.${m}`, params: ct });
  switch (action) {
    case 'start':
    case 'pause':
    case 'resume':
      return on(`${action}_vm`);
    case 'shutdown':
      // KVM: ACPI shutdown (its own task, as shutdown_vm); containers: init asked to halt.
      return on(kind === 'kvm' ? 'shutdown_vm' : 'stop_vm');
    case 'force_stop':
      return on(kind === 'kvm' ? 'stop_vm' : 'force_stop_vm');
    case 'set_autostart':
      return kind === 'kvm'
        ? { method: 'kvmservices.set_autostart', params: { ...kvm, on_off: value } }
        : { method: 'ovzservices.update_vm_settings', params: { ...ct, container_settings_dictionary: { onboot: value ? 'yes' : 'no' } } };
    case 'tag':
      return { method: 'tagservices.add_vm_tag', params: { server_hostname: node, vm_name: guest, tag: value } };
  }
}

/** The latest health sample of a node (the monitor writes them; src/health). */
function latestSample(ctx: CallContext, node: string): LatestSample | undefined {
  const r = ctx.app.db.prepare('SELECT time, reachable, memory, cpu, load FROM health_samples WHERE node = ? ORDER BY time DESC LIMIT 1').get(node) as
    | { time: number; reachable: number; memory: number | null; cpu: number | null; load: number | null }
    | undefined;
  return r && { time: r.time, reachable: r.reachable === 1, memory: r.memory, cpu: r.cpu, load: r.load };
}

/**
 * Whether the node can hold a guest of this kind: its libvirt answers (virsh installed is not
 * enough: nodes may share packages without running libvirtd), or LXC's tools are there.
 */
async function capable(ctx: CallContext, node: string, kind: GuestType): Promise<boolean> {
  const n = ctx.node(node);
  const argv = kind === 'kvm' ? ['virsh', '-c', n.settings.libvirtUri ?? 'qemu:///system', 'version'] : ['lxc-ls', '--version'];
  const r = await n.exec(argv, { okExitCodes: [0, 1, 2, 126, 127] });
  return r.code === 0;
}

const placementOptions = z.object({ avoid: z.array(z.string().max(64).regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/, 'not a guest name')).max(100).optional(), tag: tagName.optional() }).strict();
type PlacementOptions = z.infer<typeof placementOptions>;

/** The methods that make a guest or container on one node: what fleetservices.create places. */
const CREATE_METHODS = ['kvmservices.create_vm', 'kvmservices.create_vm_from_iso', 'kvmservices.create_vm_from_location', 'kvmservices.deploy_template_for_vm', 'ovzservices.deploy_template_for_vm'] as const;

/** Placement as fleetservices.placement answers it; also the first step of fleetservices.create. */
async function placeFor(ctx: CallContext, kind: 'kvm' | 'ct', o: PlacementOptions | undefined): Promise<ReturnType<typeof place>> {
  const avoid = o?.avoid ?? [];
  const nodes = ctx.app.nodes.listSigned().filter((n) => ctx.can('vm.create', paths.node(n.name)));
  const candidates: Candidate[] = await Promise.all(
    nodes.map(async (n): Promise<Candidate> => {
      const sample = latestSample(ctx, n.name);
      const tags = ctx.app.tags.ofNode(n.name).map((t) => t.tag);
      // Capability and the guests to avoid are asked only of nodes the last sample says answer.
      if (!sample?.reachable) return { node: n.name, tags, sample };
      try {
        if (!(await capable(ctx, n.name, kind))) return { node: n.name, tags, sample, unfit: kind === 'kvm' ? 'libvirt does not answer' : 'no LXC' };
        const guests = avoid.length ? [...(await kvmGuests(ctx, n.name)), ...(await containers(ctx, n.name))].flatMap((g) => [g.id, g.name]) : [];
        return { node: n.name, tags, sample, guests };
      } catch (e) {
        return { node: n.name, tags, sample, unfit: `unreachable now (${(e as { omsName?: string }).omsName ?? 'error'})` };
      }
    }),
  );
  const out = place({ candidates, avoid, tag: o?.tag, now: Date.now(), maxAgeMs: Math.max(30, 3 * ctx.app.config.healthIntervalSeconds) * 1000 });
  ctx.log.info({ kind, node: out.node, avoid, tag: o?.tag, reason: out.reason }, 'placement');
  return out;
}

export const fleetservices = service({
  name: 'fleetservices',
  aliases: ['fleet'],
  description: 'Fleet-wide calls and bulk guest actions over a selector, resource pools, placement of new guests.',
  envelope: 'oms',
  methods: [
    method({
      name: 'call',
      description:
        'Runs one method (service.method, with its named params but the node and guest) on every node or guest the selector matches, as a task (kind fleet.call): a method with a guest param (kvm_vm_name, container_id, vm_name) runs per guest, else per node. Each call is the caller\'s own, checked, held and audited exactly as if made directly; at most options.concurrency (default 16) at once. Every result goes to the task log as it arrives ("[n/N] ok node {...}" or "[n/N] failed node ErrorName(code): message"), progress counts targets done; the task result is the summary (secret-named fields of answers redacted) {total, ok, failed, not_started, results: [{target, node, ok, result | error {name, code, message}, ms}], skipped, unlisted}. One target failing never fails the others; tasks.cancel_task starts nothing new, running calls finish. A selector matching nothing: FleetNoMatchError. Returns {task_id, total, targets}, and summary with options.wait.',
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      lock: { none: 'each target call holds its own guest, as a direct call does' },
      // The target method's own params may hold its secrets (a settings dictionary with a password).
      secretParams: ['params'],
      result: runResult,
      params: [
        selectorParam,
        { name: 'method', schema: z.string().max(128).regex(/^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'not service.method'), description: 'service.method, e.g. statsservices.get_stats' },
        { name: 'params', schema: z.record(z.string().max(64), z.unknown()).nullable(), optional: true, description: 'the method\'s own params by name, without the node and guest ones (null: none)' },
        optionsParam,
      ] as const,
      async run(ctx, { selector, method: dotted, params, options: o }) {
        const sel = parseSelector(selector);
        const { service: svc, method: m } = ctx.app.registry.resolveDotted(dotted);
        const full = `${svc.name}.${m.name}`;
        if (svc.name === 'fleetservices') throw oms('FleetMethodError', { method: full, targets: 'a selector', reason: 'fleet calls do not nest' });
        if (m.auth !== 'session') throw oms('FleetMethodError', { method: full, targets: 'a selector', reason: 'it takes no session' });
        const names = m.params.map((p) => p.name);
        const nodeParam = m.node ?? (names.includes('server_hostname') ? 'server_hostname' : undefined);
        const guestParam = names.find((n) => n in GUEST_PARAMS);
        if (!nodeParam) throw oms('FleetMethodError', { method: full, targets: 'nodes or guests', reason: 'it takes no node' });
        const own = params ?? {};
        for (const k of Object.keys(own))
          if (RESERVED.has(k) || k === nodeParam || k === guestParam) throw oms('FleetMethodError', { method: full, targets: 'a selector', reason: `param ${k} is the fleet's to fill in` });
        const concurrency = o?.concurrency ?? DEFAULT_CONCURRENCY;
        if (guestParam) {
          const types = svc.guests ? [svc.guests] : GUEST_PARAMS[guestParam];
          const { guests, unlisted } = await selectGuests(ctx, sel, types);
          const targets: FleetTarget[] = guests.map((g) => ({ label: label(g.node, g.id), node: g.node, kind: g.type, guest: g.id, method: full, params: { ...own, [nodeParam]: g.node, [guestParam]: g.id } }));
          return runFleet(ctx, 'fleet.call', targets, { concurrency, wait: o?.wait ?? false, lockWait: o?.lock_wait, unlisted, what: full });
        }
        assertNodeSelector(sel);
        const targets: FleetTarget[] = selectNodes(ctx, sel).map((n) => ({ label: n, node: n, method: full, params: { ...own, [nodeParam]: n } }));
        return runFleet(ctx, 'fleet.call', targets, { concurrency, wait: o?.wait ?? false, lockWait: o?.lock_wait, what: full });
      },
    }),
    method({
      name: 'bulk',
      description: `A guest action on every KVM guest and container the selector matches, as a task (kind fleet.bulk), each guest through the method a direct call uses, under that guest's own lock: start, shutdown (KVM: ACPI, shutdown_vm's own task; containers: stop_vm), force_stop (KVM stop_vm, containers force_stop_vm), pause, resume, set_autostart (value: yes/no; containers: onboot), tag (value: a tag name, added). Results stream, cancel and summary as fleetservices.call. Returns {task_id, total, targets}, and summary with options.wait.`,
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      lock: { none: 'each guest is held by its own call, as a direct call does' },
      result: runResult,
      params: [selectorParam, { name: 'action', schema: z.enum(ACTIONS as [Action, ...Action[]]) }, { name: 'value', schema: z.union([z.string().max(64), z.boolean()]).nullable(), optional: true, description: 'set_autostart: yes/no; tag: the tag; null for the others' }, optionsParam] as const,
      async run(ctx, { selector, action, value: given, options: o }) {
        const value = given ?? undefined;
        let v: unknown;
        if (action === 'set_autostart') {
          const r = onOff.safeParse(value);
          if (value === undefined || value === '' || !r.success) throw oms('ParameterMismatch', { reason: 'value: set_autostart needs yes or no' });
          v = r.data;
        } else if (action === 'tag') {
          const r = tagName.safeParse(value);
          if (!r.success) throw oms('ParameterMismatch', { reason: 'value: tag needs a tag name' });
          v = r.data;
        } else if (value !== undefined) throw oms('ParameterMismatch', { reason: `value: ${action} takes none` });
        const sel = parseSelector(selector);
        const { guests, unlisted } = await selectGuests(ctx, sel);
        const targets: FleetTarget[] = guests.map((g) => ({ label: label(g.node, g.id), node: g.node, kind: g.type, guest: g.id, ...actionCall(action, g.type, g.node, g.id, v) }));
        return runFleet(ctx, 'fleet.bulk', targets, { concurrency: o?.concurrency ?? DEFAULT_CONCURRENCY, wait: o?.wait ?? false, lockWait: o?.lock_wait, unlisted, what: `bulk ${action}` });
      },
    }),
    method({
      name: 'list_guests',
      description: 'KVM guests and containers the selector matches, across nodes, that the caller may see (a pool grant alone shows exactly the pool\'s guests): [{node, type (kvm, ct), id, name, state, tags, pools}], and unlisted [{node, error}] for nodes that could not be listed. FleetNoMatchError when none.',
      auth: 'session',
      permission: 'authenticated',
      params: [selectorParam] as const,
      async run(ctx, { selector }) {
        const { guests, unlisted } = await selectGuests(ctx, parseSelector(selector));
        return { guests, unlisted };
      },
    }),
    method({
      name: 'placement',
      description:
        "Where a new guest (kind kvm) or container (ct) would go when no node is named: among signed nodes where the caller has vm.create and the kind can run, the one with the most free memory and idle CPU in the health monitor's latest sample (score 0.6 × memory free % + 0.4 × CPU idle %; a sample older than three monitor intervals, at least 30 s, does not count). options.avoid: guest names or container ids whose nodes are left out (CloudSigma's avoid); options.tag: only nodes with that tag. Returns {node, reason, ranking [{node, memory_free, cpu_idle, score}], excluded [{node, why}]}, and logs the choice; PlacementError when no node is left, with why for each.",
      auth: 'session',
      permission: 'authenticated',
      params: [
        { name: 'kind', schema: z.enum(['kvm', 'ct']) },
        { name: 'options', schema: placementOptions, optional: true },
      ] as const,
      run: (ctx, { kind, options: o }) => placeFor(ctx, kind, o),
    }),
    method({
      name: 'create',
      description: `Creates a guest or container without naming a node: the node is chosen as fleetservices.placement chooses it (kvm for kvmservices methods, ct for ovzservices; options avoid and tag as there), then the create method (one of ${CREATE_METHODS.join(', ')}) runs there with params, its own params by name without the node: the caller's own call, checked, held and audited exactly as if made directly with that node. Returns {node, reason, result}, result being what the create method answers; the choice and its reason are logged. PlacementError when no node fits; the create method's own errors as they are.`,
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      lock: { none: 'the create call on the chosen node holds its own guest name, as a direct call does' },
      // A template's settings may carry a root password.
      secretParams: ['params'],
      params: [
        { name: 'method', schema: z.enum(CREATE_METHODS) },
        { name: 'params', schema: z.record(z.string().max(64), z.unknown()), description: "the create method's own params by name, without server_hostname" },
        { name: 'options', schema: placementOptions, optional: true },
      ] as const,
      async run(ctx, { method: dotted, params, options: o }) {
        const { method: m } = ctx.app.registry.resolveDotted(dotted);
        const nodeParam = m.node ?? 'server_hostname';
        if (nodeParam in params) throw oms('FleetMethodError', { method: dotted, targets: 'a placed node', reason: `param ${nodeParam} is placement's to fill in` });
        const placed = await placeFor(ctx, dotted.startsWith('kvmservices.') ? 'kvm' : 'ct', o);
        ctx.log.info({ method: dotted, node: placed.node, reason: placed.reason }, 'placed create');
        const result = await invoke(ctx, dotted, { ...params, [nodeParam]: placed.node });
        return { node: placed.node, reason: placed.reason, result };
      },
    }),
    ...poolMethods,
  ],
});
