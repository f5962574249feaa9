/**
 * IP address primitives on ipaddr.js, shared by the field types (fields.ts) and the services that
 * check or compute addresses (netinterfaceservices, ovzservices). Parsing and arithmetic are the
 * library's; what is ours is the policy: which spellings the API accepts and which ranges are
 * never a host or a gateway.
 */
import ipaddr from 'ipaddr.js';

export const { IPv4, IPv6 } = ipaddr;
export type IPv4Address = ipaddr.IPv4;
export type IPv6Address = ipaddr.IPv6;

/**
 * A dotted quad in its plain form: four decimal parts 0-255 without leading zeros. ipaddr.js's
 * general parser also takes `10.1`, `0x0a.0.0.1` and `010.0.0.1` (inet_aton forms), which tools
 * on a node may read differently (octal), so the API never accepts them.
 */
export const isIpv4 = (s: string): boolean => IPv4.isValidFourPartDecimal(s);

/** An IPv6 address without a zone index (`%eth0`): the zone is an interface, named separately. */
export const isIpv6 = (s: string): boolean => IPv6.isValid(s) && !s.includes('%');

/** The canonical (RFC 5952) spelling of an IPv6 address, as iproute2 prints it. */
export const canonicalIpv6 = (s: string): string => IPv6.parse(s).toString();

/**
 * IPv4 ranges that are never a host address or a gateway, by what the refusal says. Narrower
 * than ipaddr.js's own `reserved` class, which also holds the documentation and benchmarking
 * networks (192.0.2.0/24, 198.18.0.0/15 ...): those are routable and lab and test networks use them.
 */
const SPECIAL_V4: Record<string, [ipaddr.IPv4, number][]> = {
  'in 0.0.0.0/8': [IPv4.parseCIDR('0.0.0.0/8')],
  'a loopback address': [IPv4.parseCIDR('127.0.0.0/8')],
  'a multicast or reserved address': [IPv4.parseCIDR('224.0.0.0/4'), IPv4.parseCIDR('240.0.0.0/4')],
};

/** Why an IPv4 address can be no host or gateway (0.0.0.0/8, 127/8, 224/4 multicast, 240/4 reserved and broadcast), or undefined. */
export function specialIpv4(addr: string): string | undefined {
  // The module function: the typings also declare an instance subnetMatch, which 2.x does not have.
  const why = ipaddr.subnetMatch(IPv4.parse(addr), SPECIAL_V4, '');
  return why === '' ? undefined : why;
}

/**
 * The host part of a URL that reaches a server listening on `bind`: a wildcard (0.0.0.0, ::, any
 * spelling) is reached on loopback, an IPv6 address goes in brackets, a name stays as it is.
 */
export function urlHost(bind: string): string {
  if (isIpv4(bind)) return bind === '0.0.0.0' ? '127.0.0.1' : bind;
  if (!IPv6.isValid(bind)) return bind;
  const a = IPv6.parse(bind);
  return a.range() === 'unspecified' ? '127.0.0.1' : `[${a.toString()}]`;
}
