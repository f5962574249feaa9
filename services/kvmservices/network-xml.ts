/**
 * libvirt network XML: the documents OMS defines (bridged onto an existing host bridge, or NAT
 * with a bridge, gateway address and DHCP range libvirt makes itself) and what OMS reads back
 * from `net-dumpxml`. Pure: no I/O, no state.
 */
import { attr, child, elements, parseXml, textOf, writeXml, x } from './xml.ts';
import { netmaskOf, prefixOf, type NatAddressing } from './subnets.ts';

export type NetworkSpec =
  | {
      forward?: 'bridge';
      name: string;
      /** An existing host bridge the guests' NICs join. */
      bridge: string;
      /** Open vSwitch bridge: `<virtualport type='openvswitch'/>`. */
      ovs: boolean;
      /** 802.1Q tag (1-4094); libvirt allows it on OVS bridges only. */
      vlan?: number;
    }
  | {
      forward: 'nat';
      name: string;
      /** The bridge libvirt creates for the network (it must not exist yet). */
      bridge: string;
      ip: NatAddressing;
    };

export function networkXml(s: NetworkSpec): string {
  if (s.forward === 'nat')
    return writeXml(
      x(
        'network',
        {},
        x('name', {}, s.name),
        x('forward', { mode: 'nat' }),
        x('bridge', { name: s.bridge, stp: 'on', delay: '0' }),
        x('ip', { address: s.ip.address, netmask: s.ip.netmask }, x('dhcp', {}, x('range', { start: s.ip.dhcp.start, end: s.ip.dhcp.end }))),
      ),
    );
  return writeXml(
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
}

export interface NetworkInfo {
  name: string;
  bridge: string;
  /** `bridge`, `nat`, `route`, ... ; '' for an isolated network (no `<forward>`). */
  forward: string;
  ovs: boolean;
  vlans: number[];
  /** The node's IPv4 address on the network (NAT, routed and isolated networks), or null. */
  ip: { address: string; netmask: string; prefix: number } | null;
  /** Its first DHCP range, or null. */
  dhcp: { start: string; end: string } | null;
}

export function readNetwork(xml: string): NetworkInfo {
  const n = parseXml(xml);
  // libvirt writes an IPv4 <ip> with netmask= or prefix=; IPv6 ones have family='ipv6'.
  const ip4 = elements(n, 'ip').find((i) => (attr(i, 'family') ?? 'ipv4') === 'ipv4' && attr(i, 'address'));
  const netmask = attr(ip4, 'netmask');
  const prefix = netmask !== undefined ? prefixOf(netmask) : Number(attr(ip4, 'prefix'));
  const range = child(ip4, 'dhcp', 'range');
  return {
    name: textOf(child(n, 'name')),
    bridge: attr(child(n, 'bridge'), 'name') ?? '',
    forward: attr(child(n, 'forward'), 'mode') ?? (child(n, 'forward') ? 'nat' : ''),
    ovs: attr(child(n, 'virtualport'), 'type') === 'openvswitch',
    vlans: elements(child(n, 'vlan'), 'tag').map((t) => Number(attr(t, 'id'))),
    ip: ip4 && prefix !== undefined && Number.isInteger(prefix) ? { address: attr(ip4, 'address')!, netmask: netmask ?? netmaskOf(prefix), prefix } : null,
    dhcp: range ? { start: attr(range, 'start') ?? '', end: attr(range, 'end') ?? '' } : null,
  };
}
