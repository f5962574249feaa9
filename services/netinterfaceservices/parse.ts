/** Readers of iproute2 JSON output (`ip -j route`, `ip -j -d link`, `ip -j -d addr`, `ip -j route get`). Pure. */
import ipaddr from 'ipaddr.js';
import { canonicalIpv6, isIpv4, isIpv6 } from '../../src/rpc/ip.ts';
import { maskOf } from './addr.ts';

export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  type?: string;
  flags?: string[];
  nexthops?: { gateway?: string; dev?: string }[];
}

/** The address families OMS reads, by iproute2's names. */
export type Family = 'inet' | 'inet6';

/** One entry of show_routing_table, as the OMS document shows it (`route -n` columns, all strings). */
export interface OmsRoute {
  destination: string;
  netmask: string;
  router: string;
  flags: string;
  metrics: string;
  count: string;
  use: string;
  interface: string;
}

/** A route reduced to what the service compares: network, prefix, gateway, device. */
export interface Route {
  destination: string;
  prefix: number;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric: number;
  type?: string;
  /** Only on a multipath route: every next hop (gateway and dev above are the first one's). */
  nexthops?: { gateway?: string; dev?: string }[];
}

function parseJson<T>(stdout: string, what: string): T {
  try {
    return JSON.parse(stdout) as T;
  } catch {
    throw new Error(`unreadable ${what} output`);
  }
}

/**
 * The destination of one route of the family as network address and prefix length: `default` is
 * the all-zero network, a bare address (iproute2 leaves out /32 and /128) a host route. Undefined
 * for anything that is not an address of the family.
 */
function destinationOf(dst: string, family: Family): { destination: string; prefix: number } | undefined {
  const [zero, host] = family === 'inet' ? ['0.0.0.0', 32] : ['::', 128];
  if (dst === 'default') return { destination: zero, prefix: 0 };
  const cidr = dst.includes('/') ? dst : `${dst}/${host}`;
  const address = cidr.slice(0, cidr.indexOf('/'));
  if (!(family === 'inet' ? isIpv4(address) : isIpv6(address)) || !ipaddr.isValidCIDR(cidr)) return undefined;
  const [net, prefix] = ipaddr.parseCIDR(cidr);
  return { destination: family === 'inet' ? net.toString() : canonicalIpv6(address), prefix };
}

/** Routes of one family from `ip -j -4|-6 route show table main`; entries of another family are skipped. */
function readRoutes(stdout: string, family: Family): Route[] {
  const out: Route[] = [];
  for (const r of parseJson<IpRoute[]>(stdout, 'ip route')) {
    const dst = destinationOf(r.dst, family);
    const hops = r.nexthops ?? [];
    const gateway = r.gateway ?? hops[0]?.gateway;
    // `default` names no family; its gateway does, when it has one.
    if (!dst || (gateway !== undefined && !(family === 'inet' ? isIpv4(gateway) : isIpv6(gateway)))) continue;
    out.push({
      ...dst,
      gateway,
      dev: r.dev ?? hops[0]?.dev,
      protocol: r.protocol,
      metric: r.metric ?? 0,
      type: r.type && r.type !== 'unicast' ? r.type : undefined,
      ...(hops.length > 1 ? { nexthops: hops.map((h) => ({ gateway: h.gateway, dev: h.dev })) } : {}),
    });
  }
  return out;
}

/** IPv4 routes of `ip -j route show table main`; entries that are not IPv4 (none, with -4) are skipped. */
export const parseRoutes = (stdout: string): Route[] => readRoutes(stdout, 'inet');

/** IPv6 routes of `ip -6 -j route show table main`, the default route as ::/0. */
export const parseRoutes6 = (stdout: string): Route[] => readRoutes(stdout, 'inet6');

/** One row of netinterfaceservices.list_routes: a route of either family, structured. */
export interface ListedRoute {
  family: Family;
  destination: string;
  prefix: number;
  gateway: string | null;
  interface: string | null;
  metric: number;
  protocol: string | null;
  type: string;
  nexthops?: { gateway: string | null; interface: string | null }[];
}

export function toListedRoute(r: Route, family: Family): ListedRoute {
  return {
    family,
    destination: r.destination,
    prefix: r.prefix,
    gateway: r.gateway ?? null,
    interface: r.dev ?? null,
    metric: r.metric,
    protocol: r.protocol ?? null,
    type: r.type ?? 'unicast',
    ...(r.nexthops ? { nexthops: r.nexthops.map((h) => ({ gateway: h.gateway ?? null, interface: h.dev ?? null })) } : {}),
  };
}

/**
 * The OMS shape. Flags as `route -n` prints them: U (up), G (via a gateway), H (host route),
 * ! (reject: unreachable, prohibit, blackhole). The kernel keeps no per-route reference or use
 * counters any more (route -n prints 0 for both), so count and use are "0".
 */
export function toOmsRoute(r: Route): OmsRoute {
  const reject = r.type === 'unreachable' || r.type === 'prohibit' || r.type === 'blackhole' || r.type === 'throw';
  const flags = (reject ? '!' : 'U') + (r.gateway ? 'G' : '') + (r.prefix === 32 ? 'H' : '');
  return {
    destination: r.prefix === 0 ? 'default' : r.destination,
    netmask: maskOf(r.prefix),
    router: r.gateway ?? (reject ? '-' : '*'),
    flags,
    metrics: String(r.metric),
    count: '0',
    use: '0',
    interface: r.dev ?? '-',
  };
}

interface IpLink {
  ifname: string;
  master?: string;
  linkinfo?: { info_kind?: string };
}

export interface Links {
  /** Every interface name. */
  names: string[];
  /** Bridge name -> member names, in the order the kernel lists them. */
  bridges: Map<string, string[]>;
  /** Interface name -> its bridge, for members. */
  masters: Map<string, string>;
}

/** `ip -j -d link show`: which interfaces exist, which are bridges, and their members. */
export function parseLinks(stdout: string): Links {
  const links = parseJson<IpLink[]>(stdout, 'ip link');
  const bridges = new Map<string, string[]>();
  const masters = new Map<string, string>();
  for (const l of links) if (l.linkinfo?.info_kind === 'bridge') bridges.set(l.ifname, []);
  for (const l of links) {
    // veth peers print as `name@peer` in text output only; the JSON name is clean.
    if (l.master && bridges.has(l.master)) {
      bridges.get(l.master)!.push(l.ifname);
      masters.set(l.ifname, l.master);
    }
  }
  return { names: links.map((l) => l.ifname), bridges, masters };
}

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
  [flag: string]: unknown;
}

interface IpAddrLink extends IpLink {
  operstate?: string;
  link_type?: string;
  address?: string;
  mtu?: number;
  addr_info?: IpAddrInfo[];
}

/** `ip -4 -j addr show`: IPv4 addresses with prefix lengths, per interface. */
export function parseAddrs(stdout: string): Map<string, { address: string; prefix: number }[]> {
  const links = parseJson<IpAddrLink[]>(stdout, 'ip addr');
  return new Map(links.map((l) => [l.ifname, (l.addr_info ?? []).filter((a) => a.family === 'inet' && isIpv4(a.local)).map((a) => ({ address: a.local, prefix: a.prefixlen }))]));
}

/** An interface address as list_interfaces shows it. */
export interface ListedAddress {
  family: Family;
  address: string;
  prefix: number;
  /** host, link, global ... */
  scope: string | null;
  /** iproute2's address flags that are set: secondary, nodad, tentative, dadfailed, deprecated, dynamic ... */
  flags: string[];
}

/** One row of netinterfaceservices.list_interfaces. */
export interface ListedInterface {
  interface: string;
  /** The link kind (bridge, veth, ...) or, for plain devices, the link type (ether, loopback). */
  kind: string | null;
  /** The bridge this interface is a port of. */
  master: string | null;
  state: string | null;
  mac: string | null;
  mtu: number | null;
  addresses: ListedAddress[];
}

function listedAddress(a: IpAddrInfo): ListedAddress | undefined {
  if (a.family === 'inet' && isIpv4(a.local)) return { family: 'inet', address: a.local, prefix: a.prefixlen, scope: a.scope ?? null, flags: flagsOf(a) };
  if (a.family === 'inet6' && isIpv6(a.local)) return { family: 'inet6', address: canonicalIpv6(a.local), prefix: a.prefixlen, scope: a.scope ?? null, flags: flagsOf(a) };
  return undefined; // another family (none with `ip addr`), or not an address
}

/** iproute2 prints each address flag as a JSON `true` (and `dynamic` for what is not permanent). */
const flagsOf = (a: IpAddrInfo): string[] => Object.keys(a).filter((k) => a[k] === true);

/** `ip -j -d addr show`: every interface with its kind, bridge, state and addresses of both families. */
export function parseInterfaces(stdout: string): ListedInterface[] {
  return parseJson<IpAddrLink[]>(stdout, 'ip addr').map((l) => ({
    interface: l.ifname,
    kind: l.linkinfo?.info_kind ?? l.link_type ?? null,
    master: l.master ?? null,
    state: l.operstate ?? null,
    mac: l.address ?? null,
    mtu: l.mtu ?? null,
    addresses: (l.addr_info ?? []).map(listedAddress).filter((a): a is ListedAddress => a !== undefined),
  }));
}

/** Where the node sends packets for the gateway's side of the SSH connection. */
export interface SshPath {
  /** The gateway-side address as the node sees it (first field of $SSH_CONNECTION). */
  peer: string;
  dev: string;
  gateway?: string;
}

/** Output of sshPathScript: the peer address on line 1, then `ip -j route get` JSON. */
export function parseSshPath(stdout: string): SshPath {
  const nl = stdout.indexOf('\n');
  const peer = stdout.slice(0, nl).trim();
  const got = parseJson<{ dev?: string; gateway?: string }[]>(stdout.slice(nl + 1), 'ip route get')[0];
  // The guard's route arithmetic parses the peer: anything but an IP address (IPv6 with its zone
  // when link-local) is no path it can judge.
  if (!(isIpv4(peer) || ipaddr.IPv6.isValid(peer)) || !got?.dev) throw new Error('could not tell which path the SSH connection takes');
  return { peer, dev: got.dev, gateway: got.gateway };
}

