/**
 * Which changes would cut the gateway's own SSH path to a node. Pure: given the node's routes,
 * links and the path its SSH connection takes (`ip route get <peer>` on the node), each check
 * says whether a change touches that path. A change that does is refused unless forced: after
 * it, the gateway might never reach the node again to undo it.
 *
 * The kernel picks the most specific route, then the lowest metric, in the main table; when the
 * device that pick names differs from what `ip route get` reported (policy routing, another
 * table), we cannot tell which entry serves the path and treat every route towards the peer on
 * the SSH device as serving it.
 */
import { isIpv4 } from '../../src/rpc/ip.ts';
import { contains } from './addr.ts';
import type { Links, Route, SshPath } from './parse.ts';

const usable = (r: Route) => r.type === undefined;
/**
 * The gateway reaches the node over IPv6: no IPv4 route is on that path (interfaces still are).
 * parseSshPath made sure the peer is an IP address, so anything but a dotted quad is IPv6.
 */
const overIpv6 = (path: SshPath) => !isIpv4(path.peer);

/** The main-table route the node uses to reach the peer, or undefined when that is unclear. */
export function servingRoute(routes: readonly Route[], path: SshPath): Route | undefined {
  if (overIpv6(path)) return undefined;
  const covering = routes.filter((r) => usable(r) && contains(r.destination, r.prefix, path.peer));
  covering.sort((a, b) => b.prefix - a.prefix || a.metric - b.metric);
  const best = covering[0];
  return best && best.dev === path.dev ? best : undefined;
}

const same = (a: Route, b: Route) => a.destination === b.destination && a.prefix === b.prefix && a.gateway === b.gateway && a.dev === b.dev && a.metric === b.metric;

/** Removing (or replacing) this route takes the SSH path away. */
export function removalCutsPath(route: Route, routes: readonly Route[], path: SshPath): boolean {
  if (overIpv6(path)) return false;
  const serving = servingRoute(routes, path);
  if (serving) return same(serving, route);
  return contains(route.destination, route.prefix, path.peer) && route.dev === path.dev;
}

/** A new route to destination/prefix would take over (or compete for) the SSH path. */
export function additionCutsPath(destination: string, prefix: number, routes: readonly Route[], path: SshPath): boolean {
  if (overIpv6(path)) return false;
  if (!contains(destination, prefix, path.peer)) return false;
  const serving = servingRoute(routes, path);
  return !serving || prefix >= serving.prefix;
}

/** Replacing the default route changes the SSH path: it is the route serving it (or we cannot tell). */
export function defaultRouteChangeCutsPath(routes: readonly Route[], path: SshPath): boolean {
  if (overIpv6(path)) return false;
  const serving = servingRoute(routes, path);
  return !serving || serving.prefix === 0;
}

/**
 * The interface carries the SSH path: it is the device, a port of the bridge that is the device,
 * or the bridge whose port is the device.
 */
export function interfaceCarriesPath(ifname: string, links: Links, path: SshPath): boolean {
  return ifname === path.dev || links.masters.get(ifname) === path.dev || links.masters.get(path.dev) === ifname;
}
