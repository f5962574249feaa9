/**
 * IPv4 checks for routes and bridge addresses, on ipaddr.js (src/rpc/ip.ts). Pure. The field
 * schemas (src/rpc/fields.ts) already refuse malformed dotted quads and non-contiguous netmasks;
 * what is checked here needs two values at once (host bits under a netmask, a gateway inside a
 * subnet) or is about what an address means (loopback, multicast, broadcast), so it is stricter
 * than the syntax.
 */
import { IPv4, specialIpv4 } from '../../src/rpc/ip.ts';
import { oms } from '../../src/rpc/errors.ts';

/** Prefix length of a contiguous netmask (fields.netmask guarantees contiguity). */
export const prefixOf = (mask: string): number => {
  const prefix = IPv4.parse(mask).prefixLengthFromSubnetMask();
  if (prefix === null) throw new Error(`${mask} is not a contiguous netmask`);
  return prefix;
};

export const maskOf = (prefix: number): string => IPv4.subnetMaskFromPrefixLength(prefix).toString();

export const networkOf = (addr: string, prefix: number): string => IPv4.networkAddressFromCIDR(`${addr}/${prefix}`).toString();

export const contains = (net: string, prefix: number, addr: string): boolean => IPv4.parse(addr).match(IPv4.parse(net), prefix);

const bad = (reason: string) => oms('ParameterMismatch', { reason });

/** A static route's destination: a network address (no host bits) that is not special. */
export function checkRouteDestination(destination: string, netmask: string, what = 'destination'): number {
  const prefix = prefixOf(netmask);
  if (prefix === 0) throw bad(`${what} 0.0.0.0/0 is the default route: use edit_static_gateway`);
  if (networkOf(destination, prefix) !== destination) throw bad(`${what} ${destination} has host bits set under netmask ${netmask}`);
  const s = specialIpv4(destination);
  if (s) throw bad(`${what} ${destination} is ${s}`);
  return prefix;
}

/** A gateway: '0.0.0.0' means none (a directly connected route); anything else must be a unicast host address. */
export function checkGateway(gateway: string, what = 'gateway'): string | undefined {
  if (gateway === '0.0.0.0') return undefined;
  const s = specialIpv4(gateway);
  if (s) throw bad(`${what} ${gateway} is ${s}`);
  return gateway;
}

/** An interface address with its netmask: a host address of its subnet, not the network or broadcast address. */
export function checkHostAddress(address: string, netmask: string): number {
  const prefix = prefixOf(netmask);
  if (prefix === 0) throw bad(`netmask ${netmask} is not usable for an interface address`);
  const s = specialIpv4(address);
  if (s) throw bad(`address ${address} is ${s}`);
  // A /31 (RFC 3021) or /32 has no network or broadcast address: both of its addresses are hosts.
  if (prefix <= 30) {
    const cidr = `${address}/${prefix}`;
    if (IPv4.networkAddressFromCIDR(cidr).toString() === address) throw bad(`address ${address} is the network address of its subnet`);
    if (IPv4.broadcastAddressFromCIDR(cidr).toString() === address) throw bad(`address ${address} is the broadcast address of its subnet`);
  }
  return prefix;
}

/** A bridge's gateway: none ('0.0.0.0' or ''), or a host of the bridge's subnet other than the bridge itself. */
export function checkBridgeGateway(gateway: string, address: string, prefix: number): string | undefined {
  if (gateway === '' || gateway === '0.0.0.0') return undefined;
  checkGateway(gateway);
  if (!contains(address, prefix, gateway)) throw bad(`gateway ${gateway} is not in ${networkOf(address, prefix)}/${prefix}`);
  if (gateway === address) throw bad(`gateway ${gateway} is the bridge's own address`);
  return gateway;
}
