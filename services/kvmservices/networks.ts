/**
 * libvirt networks of a node: list, create (bridged onto an existing host bridge, optionally an
 * Open vSwitch bridge with a VLAN tag), delete. libvirt checks the generated XML against its own
 * schema (`net-define --validate`) before anything is defined.
 */
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { bridgeName, netName } from './fields.ts';
import * as cmd from './commands.ts';
import { onNode, serverParam } from './common.ts';
import { kvmNode, test, virshRun } from './node.ts';
import { parseNetList } from './parse.ts';
import { attr, child, elements, parseXml, textOf, writeXml, x } from './xml.ts';

export interface NetworkSpec {
  name: string;
  bridge: string;
  /** Open vSwitch bridge: `<virtualport type='openvswitch'/>`. */
  ovs: boolean;
  /** 802.1Q tag (1-4094); libvirt allows it on OVS bridges only. */
  vlan?: number;
}

/** A bridged network: guests' NICs join the named host bridge (a Linux bridge or an OVS one). */
export const networkXml = (s: NetworkSpec): string =>
  writeXml(
    x(
      'network',
      {},
      x('name', {}, s.name),
      x('forward', { mode: 'bridge' }),
      x('bridge', { name: s.bridge }),
      s.ovs && x('virtualport', { type: 'openvswitch' }),
      s.vlan !== undefined && x('vlan', {}, x('tag', { id: String(s.vlan) })),
    ),
  );

export function readNetwork(xml: string): { name: string; bridge: string; forward: string; ovs: boolean; vlans: number[] } {
  const n = parseXml(xml);
  return {
    name: textOf(child(n, 'name')),
    bridge: attr(child(n, 'bridge'), 'name') ?? '',
    forward: attr(child(n, 'forward'), 'mode') ?? '',
    ovs: attr(child(n, 'virtualport'), 'type') === 'openvswitch',
    vlans: elements(child(n, 'vlan'), 'tag').map((t) => Number(attr(t, 'id'))),
  };
}

const options = z
  .object({ ovs: z.boolean().optional(), vlan: z.number().int().min(1).max(4094).optional(), start: z.boolean().optional() })
  .strict()
  .refine((o) => o.vlan === undefined || o.ovs === true, 'a VLAN tag needs an Open vSwitch bridge (ovs: true)');

export const networkMethods: MethodDecl[] = [
  method({
    name: 'list_networks',
    description: 'libvirt networks of the node: name, active, autostart, persistent, bridge, forward mode, Open vSwitch and VLAN tags.',
    auth: 'session',
    permission: onNode('node.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam] as const,
    async run(ctx, { server_hostname }) {
      const n = kvmNode(ctx, server_hostname);
      const rows = parseNetList(await virshRun(n, cmd.netList(n.uri)));
      return Promise.all(rows.map(async (r) => ({ ...r, ...readNetwork(await virshRun(n, cmd.netDumpxml(n.uri, r.name), { network: r.name })) })));
    },
  }),
  method({
    name: 'create_network',
    description:
      'Defines a bridged libvirt network on an existing host bridge, validated against libvirt\'s schema; options {ovs, vlan, start}: ovs for an Open vSwitch bridge, vlan (1-4094, OVS only) to tag its ports, start (default true) to start it and mark it autostart. Returns the network as list_networks shows it.',
    auth: 'session',
    permission: onNode('node.admin'),
    mutates: true,
    lock: { none: 'a libvirt network of the node, not a guest' },
    node: 'server_hostname',
    params: [serverParam, { name: 'network_name', schema: netName }, { name: 'bridge', schema: bridgeName }, { name: 'options', schema: options, optional: true }] as const,
    async run(ctx, { server_hostname, network_name, bridge, options: o }) {
      const n = kvmNode(ctx, server_hostname);
      if (parseNetList(await virshRun(n, cmd.netList(n.uri))).some((r) => r.name === network_name)) throw oms('NetworkExistsError', { network: network_name, node: n.name });
      // A Linux bridge must exist (libvirt would start the network regardless, and guests would
      // fail later); an Open vSwitch bridge lives in OVS's database, not in sysfs.
      if (!o?.ovs && !(await test(n, cmd.isBridge(bridge)))) throw oms('UnknownBridgeError', { bridge, node: n.name });
      const xml = networkXml({ name: network_name, bridge, ovs: o?.ovs ?? false, vlan: o?.vlan });
      await virshRun(n, [...cmd.netDefineStdin(n.uri), '--validate'], { input: xml });
      if (o?.start ?? true) {
        await virshRun(n, cmd.netStart(n.uri, network_name), { network: network_name });
        await virshRun(n, cmd.netAutostart(n.uri, network_name), { network: network_name });
      }
      const row = parseNetList(await virshRun(n, cmd.netList(n.uri))).find((r) => r.name === network_name);
      return { ...row, ...readNetwork(await virshRun(n, cmd.netDumpxml(n.uri, network_name), { network: network_name })) };
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
