/**
 * FuncService: node enrollment, as OMS did it with func/certmaster, adapted to SSH.
 *
 * A request is a node that asked to be managed or that an administrator named by address, with
 * the host key its SSH server offered. Signing pins that key and checks that the gateway can log
 * in with its own key (which the node's administrator adds to root's authorized_keys: see
 * get_gateway_key). Afterwards any other host key is refused until a new request is signed.
 */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import { oms, isOmsError } from '../../src/rpc/errors.ts';
import { nodeName, ipv4, libvirtNetName, tagName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import { targetOf } from '../../src/fleet/access.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { NODES_CHANGED } from '../../src/events/watchers.ts';
import { countContainers, countLibvirtGuests, identifyTools, revokeExitReasons, revokeKeyScript } from './commands.ts';
import { countNames, toolsFound } from './parse.ts';

const nodeAdmin = { privilege: 'node.admin', path: () => '/nodes' } as const;
const hostList = z.array(nodeName).min(1).max(1000);
const address = z.union([ipv4, nodeName]);
const port = z.number().int().min(1).max(65535);
const absolutePath = z.string().max(255).regex(/^\/[A-Za-z0-9_.\/-]*$/, 'not an absolute path').refine((p) => !p.split('/').includes('..'), 'not an absolute path');
export const nodeSettings = z
  .object({
    libvirtUri: z.string().max(200).regex(/^(qemu|lxc|test)(\+ssh|\+unix)?:\/\/[A-Za-z0-9_.@:\/-]*(\?[A-Za-z0-9_=&.\/-]*)?$/, 'not a libvirt URI').optional(),
    authorizedKeysFile: absolutePath.optional(),
    lvmDriverLoaded: z.boolean().optional(),
    isoDir: absolutePath.optional(),
    imagesDir: absolutePath.optional(),
    templatesDir: absolutePath.optional(),
    containerTemplatesDir: absolutePath.optional(),
    networkConfigDir: absolutePath.optional(),
    /** A network name, '' for no NIC, null for automatic (libvirt's `default` when active). */
    defaultGuestNetwork: z.union([libvirtNetName, z.literal(''), z.null()]).optional(),
    /** libvirt's domain type for new guests: kvm (null, the default) or qemu (emulation, TCG). */
    guestVirtType: z.enum(['kvm', 'qemu'], { error: "'kvm', 'qemu' or null" }).nullable().optional(),
    /** The health monitor's limits for this node; null or absent: the gateway's; 0: off. */
    healthLimits: z
      .object({
        memory: z.number().min(0).max(100).nullable().optional(),
        disk: z.number().min(0).max(100).nullable().optional(),
        load_per_cpu: z.number().min(0).max(1000).nullable().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const DEFAULT_AUTHORIZED_KEYS = '/root/.ssh/authorized_keys';
const PROBE_TIMEOUT_MS = 10_000;
const STATUS_TIMEOUT_MS = 8_000;

function unknownIn(names: string[], known: (n: string) => boolean, error: 'UnknownSignRequestsError' | 'UnknownRemoveRequestError' | 'UnknownRemoveSignedError'): void {
  const unknown = names.filter((n) => !known(n));
  if (unknown.length) throw oms(error, { hosts: unknown.join(',') });
}

/** Node reachability and guest count for list_signed; an unreachable node is status 0, never an error. */
async function nodeStatus(ctx: CallContext, name: string, uri: string): Promise<{ status: number; vmcount: number }> {
  const node = ctx.node(name);
  try {
    const opts = { timeoutMs: STATUS_TIMEOUT_MS, okExitCodes: [0, 1, 127] };
    const [vms, cts] = await Promise.all([node.exec(countLibvirtGuests(uri), opts), node.exec(countContainers(), opts)]);
    return { status: 1, vmcount: (vms.code === 0 ? countNames(vms.stdout) : 0) + (cts.code === 0 ? countNames(cts.stdout) : 0) };
  } catch (e) {
    if (!isOmsError(e)) throw e;
    ctx.log.info({ node: name, error: e.omsName }, 'node not reachable for list_signed');
    return { status: 0, vmcount: 0 };
  }
}

export const funcservices = service({
  name: 'funcservices',
  aliases: ['func', 'FuncService'],
  description: 'Node enrollment: requests, signing (host-key pinning), removal, and the list of managed nodes.',
  envelope: 'oms',
  methods: [
    method({
      name: 'list_requests',
      description: 'Pending requests: new nodes, and signed nodes whose host key or address is to change. Each with the offered host-key fingerprint to compare before signing.',
      auth: 'session',
      permission: nodeAdmin,
      params: [] as const,
      run: (ctx) =>
        ctx.app.nodes.listRequests().map((n) => ({
          name: n.name,
          address: n.request!.address,
          port: n.request!.port,
          fingerprint: n.request!.fingerprint,
          requested_at: n.request!.at,
          requested_by: n.request!.by,
          signed: n.signed,
          ...(n.signed && n.hostKeyFingerprint !== n.request!.fingerprint ? { pinned_fingerprint: n.hostKeyFingerprint } : {}),
        })),
    }),
    method({
      name: 'add_request',
      description: 'Records a request to manage the node at address:port (default 22): the gateway connects, reads the host key the node offers and stores it for review. For a signed node this starts a key or address change.',
      auth: 'session',
      permission: nodeAdmin,
      mutates: true,
      params: [
        { name: 'hostname', schema: nodeName },
        { name: 'address', schema: address },
        { name: 'port', schema: port, optional: true },
        { name: 'settings', schema: nodeSettings, optional: true },
      ] as const,
      async run(ctx, { hostname, address: addr, port: p, settings }) {
        const probe = await ctx.app.access.pool.probeHostKey(addr, p ?? 22, PROBE_TIMEOUT_MS);
        ctx.app.nodes.request(hostname, addr, p ?? 22, probe.fingerprint, probe.publicKey, ctx.principal!.userName, settings);
        return { name: hostname, fingerprint: probe.fingerprint, algorithm: probe.algorithm };
      },
    }),
    method({
      name: 'sign_requests',
      description: 'Signs requests: pins each offered host key and checks the gateway can log in. Returns the hosts whose type could not be identified (typed "physical").',
      auth: 'session',
      permission: nodeAdmin,
      mutates: true,
      params: [{ name: 'hostname_list', schema: hostList }] as const,
      async run(ctx, { hostname_list }) {
        const { nodes, access, tags } = ctx.app;
        unknownIn(hostname_list, (n) => !!nodes.find(n)?.request, 'UnknownSignRequestsError');
        const unidentified: { name: string }[] = [];
        for (const name of hostname_list) {
          const n = nodes.find(name)!;
          const target = { name, address: n.request!.address, port: n.request!.port, hostKeyFingerprint: n.request!.fingerprint };
          // Log in against the key under review before pinning it: a node that changed its key
          // again since the request, or that does not accept the gateway key, stays unsigned.
          access.pool.drop(name);
          try {
            await access.pool.checkLogin(target, PROBE_TIMEOUT_MS);
          } catch (e) {
            if (isOmsError(e) && e.omsName === 'HostKeyMismatchError') throw e;
            throw oms('SSHKeyAddError', { node: name, reason: isOmsError(e) ? e.message : 'login failed' });
          }
          nodes.sign(name, ctx.principal!.userName);
          access.pool.drop(name);
          ctx.app.events.emit(NODES_CHANGED); // its node watchers start now
          if (tags.ofNode(name).some((t) => t.level === 1)) continue;
          const found = await ctx.node(name).exec(identifyTools(), { okExitCodes: [0, 1] });
          if (toolsFound(found.stdout).length) tags.setHostType(name, 'OpenNode');
          else {
            tags.setHostType(name, 'physical');
            unidentified.push({ name });
          }
        }
        return unidentified;
      },
    }),
    method({
      name: 'remove_requests',
      description: 'Drops requests. A node that was never signed is forgotten; a signed node keeps its pinned key.',
      auth: 'session',
      permission: nodeAdmin,
      mutates: true,
      params: [{ name: 'hostname_list', schema: hostList }] as const,
      run(ctx, { hostname_list }) {
        unknownIn(hostname_list, (n) => !!ctx.app.nodes.find(n)?.request, 'UnknownRemoveRequestError');
        for (const n of hostname_list) ctx.app.nodes.removeRequest(n);
        return 0;
      },
    }),
    method({
      name: 'list_signed',
      description:
        'Signed nodes the caller may see (optionally only those with a tag; null for any), with reachability (`status` 1/0), guest count and tags, by name. With `offset` and `limit`, one page of that list: only its nodes are asked for their status (a fleet of hundreds answers in one page\'s time); a page shorter than `limit` is the last. Without them, the whole list, as in the OMS document.',
      auth: 'session',
      permission: 'authenticated',
      params: [
        { name: 'optional_tag_name', schema: tagName.nullable(), optional: true },
        { name: 'offset', schema: z.number().int().min(0).max(1_000_000), optional: true },
        { name: 'limit', schema: z.number().int().min(1).max(1000), optional: true },
      ] as const,
      async run(ctx, { optional_tag_name, offset, limit }) {
        const all = ctx.app.nodes.listSigned(optional_tag_name ?? undefined).filter((n) => ctx.can('node.view', paths.node(n.name)));
        const start = offset ?? 0;
        const visible = limit === undefined ? all.slice(start) : all.slice(start, start + limit);
        return Promise.all(
          visible.map(async (n) => ({
            name: n.name,
            ...(await nodeStatus(ctx, n.name, n.settings.libvirtUri ?? 'qemu:///system')),
            tags: ctx.app.tags.ofNode(n.name),
            address: n.address,
            fingerprint: n.hostKeyFingerprint,
          })),
        );
      },
    }),
    method({
      name: 'remove_signed',
      description: "Stops managing nodes: removes the gateway's key from the node's authorized keys file and forgets the node and its pinned key. Nodes where the key could not be removed (unreachable, file missing) are listed in failed_removals; they are forgotten all the same.",
      auth: 'session',
      permission: nodeAdmin,
      mutates: true,
      params: [{ name: 'hostname_list', schema: hostList }] as const,
      async run(ctx, { hostname_list }) {
        const { nodes, access, gatewayKey } = ctx.app;
        unknownIn(hostname_list, (n) => !!nodes.find(n)?.signed, 'UnknownRemoveSignedError');
        const blob = gatewayKey.publicKey.split(/\s+/)[1];
        const failed: string[] = [];
        for (const name of hostname_list) {
          const n = nodes.signed(name);
          try {
            await access.pool.exec(targetOf(n), revokeKeyScript(n.settings.authorizedKeysFile ?? DEFAULT_AUTHORIZED_KEYS, blob), { timeoutMs: STATUS_TIMEOUT_MS });
          } catch (e) {
            if (!isOmsError(e)) throw e;
            const code = Number(e.vars.exitCode);
            ctx.log.warn({ node: name, error: e.omsName, reason: revokeExitReasons[code] }, 'gateway key not removed from node');
            failed.push(name);
          }
          access.pool.drop(name);
          nodes.removeSigned(name);
          ctx.app.cache.invalidateNode(name);
          ctx.app.events.emit(NODES_CHANGED); // its node watchers stop now
        }
        return { failed_removals: failed };
      },
    }),
    method({
      name: 'get_gateway_key',
      description: "The gateway's SSH public key: add it to root's authorized_keys on a node before signing its request.",
      auth: 'session',
      permission: nodeAdmin,
      params: [] as const,
      run: (ctx) => ctx.app.gatewayKey.publicKey,
    }),
    method({
      name: 'set_node_settings',
      description: 'Changes per-node settings: `libvirtUri` (default qemu:///system), `authorizedKeysFile` (where the gateway key lives on the node), `lvmDriverLoaded` (false: LVM commands with --driverloaded n, for kernels without device-mapper), the directories `isoDir`, `imagesDir`, `templatesDir`, `containerTemplatesDir` (defaults under /var/lib/oms-node), `networkConfigDir` (where netinterfaceservices.save_network_config writes, default /etc/network/interfaces.d), and `defaultGuestNetwork`: the libvirt network the NIC of a new KVM guest joins (create_vm_from_iso, deploy_template_for_vm), \'\' for none, null (the default) for libvirt\'s `default` network when it is defined and active, else none; `guestVirtType`: how the guests OMS defines from scratch run (create_vm_from_iso, create_vm_from_location, deploy_template_for_vm, create_vm without its own `kvm`): \'kvm\' (null, the default: hardware virtualization) or \'qemu\' (QEMU\'s emulator, TCG: much slower, for nodes without VT-x/AMD-V or whose nested KVM cannot boot a guest); `healthLimits`: {memory, disk (percent used), load_per_cpu}, the health monitor\'s limits for `threshold` events on this node (null: the gateway\'s OMS_HEALTH_*_LIMIT, 0: off).',
      auth: 'session',
      permission: { privilege: 'node.admin', path: (p) => paths.node(p.hostname) },
      mutates: true,
      node: 'hostname',
      params: [
        { name: 'hostname', schema: nodeName },
        { name: 'settings', schema: nodeSettings },
      ] as const,
      run(ctx, { hostname, settings }) {
        ctx.app.nodes.setSettings(hostname, settings);
        ctx.app.events.emit(NODES_CHANGED); // a new libvirt URI restarts its node watchers
        return ctx.app.nodes.signed(hostname).settings;
      },
    }),
  ],
});
