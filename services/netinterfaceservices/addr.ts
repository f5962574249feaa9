/**
 * IPv4 arithmetic for routes and bridge addresses. Pure. The field schemas (src/rpc/fields.ts)
 * already refuse malformed dotted quads and non-contiguous netmasks; what is checked here needs
 * two values at once (host bits under a netmask, a gateway inside a subnet) or is about what an
 * address means (loopback, multicast, broadcast), so it is stricter than the syntax.
 */
import { oms } from '../../src/rpc/errors.ts';

export const toInt = (a: string): number => a.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
export const toDotted = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

/** Prefix length of a contiguous netmask (fields.netmask guarantees contiguity). */
export const prefixOf = (mask: string): number => {
  const m = toInt(mask);
  let bits = 0;
  for (let i = 31; i >= 0 && (m >>> i) & 1; i--) bits++;
  return bits;
};

export const maskOf = (prefix: number): string => toDotted(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

export const networkOf = (addr: string, prefix: number): string => toDotted((toInt(addr) & toInt(maskOf(prefix))) >>> 0);

export const contains = (net: string, prefix: number, addr: string): boolean => networkOf(addr, prefix) === networkOf(net, prefix);

const bad = (reason: string) => oms('ParameterMismatch', { reason });

/** 0.0.0.0/8, 127/8, 224/4 (multicast) and 240/4 (reserved, broadcast): never a host or gateway. */
function special(addr: string): string | undefined {
  const first = toInt(addr) >>> 24;
  if (first === 0) return 'in 0.0.0.0/8';
  if (first === 127) return 'a loopback address';
  if (first >= 224) return 'a multicast or reserved address';
  return undefined;
}

/** A static route's destination: a network address (no host bits) that is not special. */
export function checkRouteDestination(destination: string, netmask: string, what = 'destination'): number {
  const prefix = prefixOf(netmask);
  if (prefix === 0) throw bad(`${what} 0.0.0.0/0 is the default route: use edit_static_gateway`);
  if (networkOf(destination, prefix) !== destination) throw bad(`${what} ${destination} has host bits set under netmask ${netmask}`);
  const s = special(destination);
  if (s) throw bad(`${what} ${destination} is ${s}`);
  return prefix;
}

/** A gateway: '0.0.0.0' means none (a directly connected route); anything else must be a unicast host address. */
export function checkGateway(gateway: string, what = 'gateway'): string | undefined {
  if (gateway === '0.0.0.0') return undefined;
  const s = special(gateway);
  if (s) throw bad(`${what} ${gateway} is ${s}`);
  return gateway;
}

/** An interface address with its netmask: a host address of its subnet, not the network or broadcast address. */
export function checkHostAddress(address: string, netmask: string): number {
  const prefix = prefixOf(netmask);
  if (prefix === 0) throw bad(`netmask ${netmask} is not usable for an interface address`);
  const s = special(address);
  if (s) throw bad(`address ${address} is ${s}`);
  if (prefix <= 30) {
    const host = toInt(address) & ~toInt(netmask);
    if (host === 0) throw bad(`address ${address} is the network address of its subnet`);
    if (host === ~toInt(netmask) >>> 0) throw bad(`address ${address} is the broadcast address of its subnet`);
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
