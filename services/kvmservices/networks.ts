/**
 * libvirt networks of a node: list, get one, create (bridged onto an existing host bridge,
 * optionally an Open vSwitch bridge with a VLAN tag; or NAT, with a bridge, gateway address and
 * DHCP range libvirt makes itself), delete. libvirt checks the generated XML against its own
 * schema (`net-define --validate`) before anything is defined.
 */
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { ipv4 } from '../../src/rpc/fields.ts';
import { bridgeName, netName } from './fields.ts';
import * as cmd from './commands.ts';
import { onNode, serverParam } from './common.ts';
import { kvmNode, nodeRun, test, virshRun, type KvmNode } from './node.ts';
import { parseAddrSubnets, parseNetList, parseRouteSubnets } from './parse.ts';
import { natAddressing, overlapping, type NatAddressing, type TakenSubnet } from './subnets.ts';
import { networkXml, readNetwork, type NetworkInfo } from './network-xml.ts';

export { networkXml, readNetwork } from './network-xml.ts';

export type NetworkRow = { name: string; active: boolean; autostart: boolean; persistent: boolean } & NetworkInfo;

/** Every libvirt network of the node with what its XML says (list_networks' rows). */
export async function allNetworks(n: KvmNode): Promise<NetworkRow[]> {
  const rows = parseNetList(await virshRun(n, cmd.netList(n.uri)));
  return Promise.all(rows.map(async (r) => ({ ...r, ...readNetwork(await virshRun(n, cmd.netDumpxml(n.uri, r.name), { network: r.name })) })));
}

/** One network, or UnknownNetworkError naming it. */
export async function oneNetwork(n: KvmNode, name: string): Promise<NetworkRow> {
  const row = parseNetList(await virshRun(n, cmd.netList(n.uri))).find((r) => r.name === name);
  if (!row) throw oms('UnknownNetworkError', { network: name, node: n.name });
  return { ...row, ...readNetwork(await virshRun(n, cmd.netDumpxml(n.uri, name), { network: name })) };
}

/**
 * Subnets a new NAT network must not overlap: the node's routes and interface addresses (what
 * its kernel would route elsewhere), and every other libvirt network's own subnet, active or not.
 */
async function takenSubnets(n: KvmNode, nets: NetworkRow[]): Promise<TakenSubnet[]> {
  const [routes, addrs] = await Promise.all([nodeRun(n, cmd.ipRoutes4), nodeRun(n, cmd.ipAddrs4)]);
  // Other networks first: "overlaps libvirt network X" says more than the route X's bridge makes.
  return [
    ...nets.filter((x) => x.ip).map((x) => ({ subnet: `${x.ip!.address}/${x.ip!.prefix}`, what: `libvirt network ${x.name}` })),
    ...parseRouteSubnets(routes).map((r) => ({ subnet: r.subnet, what: `the route to ${r.subnet} via ${r.dev}` })),
    ...parseAddrSubnets(addrs).map((a) => ({ subnet: a.subnet, what: `the address ${a.subnet} of ${a.dev}` })),
  ];
}

const natHint = 'the gateway address with its prefix, e.g. 192.168.200.1/24';
const options = z
  .object({
    ovs: z.boolean().optional(),
    vlan: z.number().int().min(1).max(4094).optional(),
    start: z.boolean().optional(),
    forward: z.enum(['bridge', 'nat']).optional(),
    ip: z.string().max(18).regex(/^[0-9./]+$/, `not an address with prefix (${natHint})`).optional(),
    dhcp: z.object({ start: ipv4, end: ipv4 }).strict().optional(),
  })
  .strict()
  .refine((o) => o.vlan === undefined || o.ovs === true, 'a VLAN tag needs an Open vSwitch bridge (ovs: true)')
  .superRefine((o, c) => {
    if (o.forward !== 'nat') {
      if (o.ip !== undefined || o.dhcp !== undefined) c.addIssue({ code: 'custom', message: 'ip and dhcp are for NAT networks (forward: "nat")' });
      return;
    }
    if (o.ovs || o.vlan !== undefined) c.addIssue({ code: 'custom', message: 'a NAT network is a Linux bridge libvirt makes: no ovs or vlan' });
    if (o.ip === undefined) return c.addIssue({ code: 'custom', message: `a NAT network needs ip: ${natHint}` });
    const r = natAddressing(o.ip, o.dhcp);
    if (typeof r === 'string') c.addIssue({ code: 'custom', message: r });
  });

async function createNat(n: KvmNode, name: string, bridge: string, ip: NatAddressing): Promise<void> {
  const nets = await allNetworks(n);
  // libvirt would take over an existing bridge's name, or start two networks on one bridge.
  if (await test(n, cmd.interfaceExists(bridge))) throw oms('BridgeExistsError', { interface: bridge, node: n.name });
  const sharing = nets.find((x) => x.bridge === bridge);
  if (sharing) throw oms('InvalidSettingsError', { what: `network ${name}`, reason: `bridge ${bridge} is the bridge of libvirt network ${sharing.name}` });
  const clash = overlapping(ip.subnet, await takenSubnets(n, nets));
  if (clash) throw oms('NetworkOverlapError', { subnet: ip.subnet, other: clash.what, node: n.name });
  await virshRun(n, [...cmd.netDefineStdin(n.uri), '--validate'], { input: networkXml({ forward: 'nat', name, bridge, ip }) });
}

export const networkMethods: MethodDecl[] = [
  method({
    name: 'list_networks',
    description: 'libvirt networks of the node: name, active, autostart, persistent, bridge, forward mode (bridge, nat, ...), Open vSwitch, VLAN tags, and for NAT networks the gateway ip {address, netmask, prefix} and dhcp {start, end} (null otherwise).',
    auth: 'session',
    permission: onNode('node.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam] as const,
    run: (ctx, { server_hostname }) => allNetworks(kvmNode(ctx, server_hostname)),
  }),
  method({
    name: 'get_network',
    description: 'One libvirt network as list_networks shows it; UnknownNetworkError when the node has no network of that name.',
    auth: 'session',
    permission: onNode('node.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, { name: 'network_name', schema: netName }] as const,
    run: (ctx, { server_hostname, network_name }) => oneNetwork(kvmNode(ctx, server_hostname), network_name),
  }),
  method({
    name: 'create_network',
    description:
      'Defines a libvirt network, validated against libvirt\'s schema. options.forward "bridge" (the default): guests join the existing host bridge `bridge`; {ovs, vlan} for an Open vSwitch bridge and a VLAN tag (1-4094, OVS only). options.forward "nat": libvirt makes the bridge `bridge` (no interface of that name may exist) with the gateway address options.ip ("192.168.200.1/24", prefix /8-/30) and a DHCP range options.dhcp {start, end} (default: every address after the gateway\'s); the subnet must not overlap the node\'s routes, addresses or another libvirt network (NetworkOverlapError). options.start (default true) starts it and marks it autostart. Returns the network as get_network shows it.',
    auth: 'session',
    permission: onNode('node.admin'),
    mutates: true,
    lock: { none: 'a libvirt network of the node, not a guest' },
    node: 'server_hostname',
    params: [serverParam, { name: 'network_name', schema: netName }, { name: 'bridge', schema: bridgeName }, { name: 'options', schema: options, optional: true }] as const,
    async run(ctx, { server_hostname, network_name, bridge, options: o }) {
      const n = kvmNode(ctx, server_hostname);
      if (parseNetList(await virshRun(n, cmd.netList(n.uri))).some((r) => r.name === network_name)) throw oms('NetworkExistsError', { network: network_name, node: n.name });
      if (o?.forward === 'nat') await createNat(n, network_name, bridge, natAddressing(o.ip!, o.dhcp) as NatAddressing);
      else {
        // A Linux bridge must exist (libvirt would start the network regardless, and guests would
        // fail later); an Open vSwitch bridge lives in OVS's database, not in sysfs.
        if (!o?.ovs && !(await test(n, cmd.isBridge(bridge)))) throw oms('UnknownBridgeError', { bridge, node: n.name });
        await virshRun(n, [...cmd.netDefineStdin(n.uri), '--validate'], { input: networkXml({ name: network_name, bridge, ovs: o?.ovs ?? false, vlan: o?.vlan }) });
      }
      if (o?.start ?? true) {
        try {
          await virshRun(n, cmd.netStart(n.uri, network_name), { network: network_name });
        } catch (e) {
          // A network that cannot start (dnsmasq, firewall) is not left behind half-made.
          await virshRun(n, cmd.netUndefine(n.uri, network_name), { network: network_name }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: net-undefine failed'));
          throw e;
        }
        await virshRun(n, cmd.netAutostart(n.uri, network_name), { network: network_name });
      }
      return oneNetwork(n, network_name);
    },
  }),
  method({
    name: 'delete_network',
    description: 'Stops (if active) and undefines a libvirt network. 0.',
    auth: 'session',
    permission: onNode('node.admin'),
    mutates: true,
    lock: { none: 'a libvirt network of the node, not a guest' },
    node: 'server_hostname',
    params: [serverParam, { name: 'network_name', schema: netName }] as const,
    async run(ctx, { server_hostname, network_name }) {
      const n = kvmNode(ctx, server_hostname);
      const row = parseNetList(await virshRun(n, cmd.netList(n.uri))).find((r) => r.name === network_name);
      if (!row) throw oms('UnknownNetworkError', { network: network_name, node: n.name });
      if (row.active) await virshRun(n, cmd.netDestroy(n.uri, network_name), { network: network_name });
      if (row.persistent) await virshRun(n, cmd.netUndefine(n.uri, network_name), { network: network_name });
      return 0;
    },
  }),
];
