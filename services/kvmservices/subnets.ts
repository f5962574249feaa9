/**
 * Addressing of a NAT libvirt network: its gateway address with prefix, its DHCP range, and
 * whether the subnet overlaps one the node already has. Address parsing and matching are
 * ipaddr.js's; the rules are ours. IPv4 only (libvirt NATs IPv4; an IPv6 network is routed).
 * Pure: no I/O, no state.
 */
import ipaddr from 'ipaddr.js';

const { IPv4 } = ipaddr;

export interface DhcpRange {
  start: string;
  end: string;
}

export interface NatAddressing {
  /** The node's address on the network's bridge: the guests' gateway and DHCP/DNS server. */
  address: string;
  prefix: number;
  netmask: string;
  /** The subnet in CIDR form, e.g. 192.168.213.0/24. */
  subnet: string;
  dhcp: DhcpRange;
}

const num = (a: ipaddr.IPv4): number => a.toByteArray().reduce((n, o) => n * 256 + o, 0);
const quad = (n: number): string => new IPv4([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]).toString();

/** Ranges whose addresses are never a network's gateway, by what the refusal says. */
const SPECIAL: [string, [ipaddr.IPv4, number]][] = [
  ['in 0.0.0.0/8', IPv4.parseCIDR('0.0.0.0/8')],
  ['a loopback address', IPv4.parseCIDR('127.0.0.0/8')],
  ['a link-local address', IPv4.parseCIDR('169.254.0.0/16')],
  ['a multicast address', IPv4.parseCIDR('224.0.0.0/4')],
  ['a reserved address', IPv4.parseCIDR('240.0.0.0/4')],
];

/** Smallest and largest prefix of a NAT network: /8 is already 16 M guests; /30 leaves two hosts. */
export const MIN_PREFIX = 8;
export const MAX_PREFIX = 30;

/**
 * Checks the gateway address (`a.b.c.d/prefix`, plain dotted quads only: ipaddr.js also reads
 * `10.1` and octal forms, which dnsmasq would read differently) and the DHCP range. Without a
 * range, DHCP hands out every address after the gateway's (or before it, when the gateway is
 * the last host). Returns the addressing, or why it is refused.
 */
export function natAddressing(cidr: string, dhcp?: DhcpRange): NatAddressing | string {
  if (!IPv4.isValidCIDRFourPartDecimal(cidr)) return `${cidr} is not an IPv4 address with a prefix (a.b.c.d/nn)`;
  const [addr, prefix] = IPv4.parseCIDR(cidr);
  if (prefix < MIN_PREFIX || prefix > MAX_PREFIX) return `prefix /${prefix} is outside /${MIN_PREFIX}../${MAX_PREFIX}`;
  const special = SPECIAL.find(([, range]) => addr.match(range));
  if (special) return `${addr.toString()} is ${special[0]}`;
  const net = num(IPv4.networkAddressFromCIDR(cidr));
  const bcast = num(IPv4.broadcastAddressFromCIDR(cidr));
  const a = num(addr);
  if (a === net) return `${addr.toString()} is the network address of ${quad(net)}/${prefix}, not a host`;
  if (a === bcast) return `${addr.toString()} is the broadcast address of ${quad(net)}/${prefix}, not a host`;
  let range: [number, number];
  if (dhcp) {
    for (const [k, v] of Object.entries(dhcp)) if (!IPv4.isValidFourPartDecimal(v)) return `DHCP ${k} ${v} is not an IPv4 address`;
    range = [num(IPv4.parse(dhcp.start)), num(IPv4.parse(dhcp.end))];
    for (const [k, v] of [['start', range[0]], ['end', range[1]]] as const) {
      if (v <= net || v >= bcast) return `DHCP ${k} ${quad(v)} is not a host address of ${quad(net)}/${prefix}`;
    }
    if (range[0] > range[1]) return `DHCP start ${dhcp.start} is after its end ${dhcp.end}`;
    if (a >= range[0] && a <= range[1]) return `the DHCP range ${dhcp.start}-${dhcp.end} holds the gateway address ${addr.toString()}`;
  } else {
    range = a < bcast - 1 ? [a + 1, bcast - 1] : [net + 1, a - 1];
  }
  return {
    address: addr.toString(),
    prefix,
    netmask: IPv4.subnetMaskFromPrefixLength(prefix).toString(),
    subnet: `${quad(net)}/${prefix}`,
    dhcp: { start: quad(range[0]), end: quad(range[1]) },
  };
}

/** The prefix length of a contiguous dotted netmask (as libvirt's `<ip netmask>` holds it), or undefined. */
export function prefixOf(netmask: string): number | undefined {
  if (!IPv4.isValidFourPartDecimal(netmask)) return undefined;
  return IPv4.parse(netmask).prefixLengthFromSubnetMask() ?? undefined;
}

/** The dotted netmask of a prefix length. */
export const netmaskOf = (prefix: number): string => IPv4.subnetMaskFromPrefixLength(prefix).toString();

export interface TakenSubnet {
  /** CIDR; a host route without prefix is /32. */
  subnet: string;
  /** What holds it, for the refusal: "route via lxcbr0", "libvirt network lab". */
  what: string;
}

/** The first of `taken` that shares an address with `subnet`, or undefined. */
export function overlapping(subnet: string, taken: readonly TakenSubnet[]): TakenSubnet | undefined {
  const mine = IPv4.parseCIDR(subnet);
  const base = IPv4.networkAddressFromCIDR(subnet);
  return taken.find((t) => {
    const cidr = t.subnet.includes('/') ? t.subnet : `${t.subnet}/32`;
    if (!IPv4.isValidCIDR(cidr)) return false;
    const other = IPv4.parseCIDR(cidr);
    // Two prefixes overlap exactly when one holds the other's network address.
    return base.match(other) || IPv4.networkAddressFromCIDR(cidr).match(mine);
  });
}
