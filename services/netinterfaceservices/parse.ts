/** Readers of iproute2 JSON output (`ip -j route`, `ip -j -d link`, `ip -j route get`). Pure. */
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
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

function parseJson<T>(stdout: string, what: string): T {
  try {
    return JSON.parse(stdout) as T;
  } catch {
    throw new Error(`unreadable ${what} output`);
  }
}

/** IPv4 routes of `ip -j route show table main`; entries that are not IPv4 (none, with -4) are skipped. */
export function parseRoutes(stdout: string): Route[] {
  const out: Route[] = [];
  for (const r of parseJson<IpRoute[]>(stdout, 'ip route')) {
    let destination: string;
    let prefix: number;
    if (r.dst === 'default') [destination, prefix] = ['0.0.0.0', 0];
    else {
      const [net, len] = r.dst.split('/');
      if (!IPV4.test(net)) continue;
      [destination, prefix] = [net, len === undefined ? 32 : Number(len)];
    }
    const hop = r.nexthops?.[0];
    out.push({
      destination,
      prefix,
      gateway: r.gateway ?? hop?.gateway,
      dev: r.dev ?? hop?.dev,
      protocol: r.protocol,
      metric: r.metric ?? 0,
      type: r.type && r.type !== 'unicast' ? r.type : undefined,
    });
  }
  return out;
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

/** `ip -4 -j addr show`: IPv4 addresses with prefix lengths, per interface. */
export function parseAddrs(stdout: string): Map<string, { address: string; prefix: number }[]> {
  const links = parseJson<{ ifname: string; addr_info?: { family: string; local: string; prefixlen: number }[] }[]>(stdout, 'ip addr');
  return new Map(links.map((l) => [l.ifname, (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => ({ address: a.local, prefix: a.prefixlen }))]));
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
  if (!peer || !got?.dev) throw new Error('could not tell which path the SSH connection takes');
  return { peer, dev: got.dev, gateway: got.gateway };
}

