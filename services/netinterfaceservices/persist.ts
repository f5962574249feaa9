/**
 * Persistence: the live bridge and route state rendered as Debian ifupdown files in the node's
 * networkConfigDir (default CONFIG_DIR): one `oms-<bridge>` per bridge, one `oms-<interface>` per
 * other interface that carries static routes or the default route (see renderRouted for why
 * those take a form of their own), the argv that writes one atomically on a node (temp name +
 * rename), and the argv that removes the files of bridges and interfaces that are gone
 * (save_network_config runs both). Pure. Commands inside the files (`up`/`down` lines, run by
 * ifupdown through /bin/sh) are made by shellLine from the same argv builders the live path uses,
 * so quoting stays in one place. ifupdown.ts reads the files back.
 */
import { defaultNodeDirs } from '../../src/fleet/dirs.ts';
import { raw, shellLine, type Argv } from '../../src/nodes/command.ts';
import { addAddr, addRoute, deleteRoute, replaceRoute, type RouteSpec } from './commands.ts';
import type { Links, Route } from './parse.ts';

/** Debian's directory; the default of the node setting networkConfigDir. */
export const CONFIG_DIR = defaultNodeDirs.networkConfig;
export const configFileName = (iface: string): string => `oms-${iface}`;
/**
 * The ifupdown name of the stanza that holds the routes of a non-bridge interface. 15 characters
 * before the interface name, so it is at least 16 long and can never be a kernel interface name
 * (IFNAMSIZ): no bridge OMS writes, and no real link `ip link set ... up` could touch, has it.
 */
export const routesStanzaName = (iface: string): string => `oms-routes-via-${iface}`;
/** First words of every file OMS writes; removeStaleConfigFiles only touches files that start so. */
export const CONFIG_HEADER = '# Written by OMS ';
/** Exit status of the scripts below when the directory does not exist. */
export const NO_DIR_EXIT = 3;

/** A route as it is persisted: what `ip route` needs to make it again (dev is the interface it rides). */
export interface PersistedRoute {
  destination: string;
  prefix: number;
  gateway?: string;
  dev: string;
  metric: number;
}

export interface BridgeState {
  name: string;
  addresses: { address: string; prefix: number }[];
  members: string[];
  /** Gateway of the metric-0 default route through this bridge (ifupdown's `gateway` option). */
  gateway?: string;
  /** Other persisted routes through this bridge (not the kernel's subnet routes); defaults with a metric too. */
  routes: PersistedRoute[];
}

/** A non-bridge interface (eth0 ...) with the static routes and default routes that ride it. */
export interface RoutedInterface {
  name: string;
  routes: PersistedRoute[];
}

/** Everything save_network_config writes: what show_routing_table, get_default_gateway and the bridge methods can change. */
export interface NetConfig {
  bridges: BridgeState[];
  routed: RoutedInterface[];
}

/**
 * Routes worth persisting: unicast routes OMS or the administrator made (proto static, or boot:
 * `ip route add` without a proto, ifupdown's own `gateway`). Not the kernel's subnet routes, not
 * routes a DHCP client or a routing daemon keeps (they come back by themselves, and frozen copies
 * would fight them), not reject routes (the methods neither make nor list-change them).
 */
export const persistable = (r: Route): boolean =>
  r.type === undefined && r.dev !== undefined && (r.protocol === undefined || r.protocol === 'boot' || r.protocol === 'static');

const persisted = (r: Route): PersistedRoute => ({ destination: r.destination, prefix: r.prefix, ...(r.gateway ? { gateway: r.gateway } : {}), dev: r.dev!, metric: r.metric });

/** Routes in a fixed order (destination, prefix, metric, gateway), so the same table always renders the same file. */
const ordered = (rs: PersistedRoute[]): PersistedRoute[] =>
  [...rs].sort((a, b) => a.destination.localeCompare(b.destination) || a.prefix - b.prefix || a.metric - b.metric || (a.gateway ?? '').localeCompare(b.gateway ?? ''));

export function bridgeStates(links: Links, addrs: Map<string, { address: string; prefix: number }[]>, routes: Route[]): BridgeState[] {
  return [...links.bridges].map(([name, members]) => {
    const addresses = addrs.get(name) ?? [];
    const via = routes.filter((r) => r.dev === name && persistable(r)).map(persisted);
    // ifupdown's `gateway` option makes a metric-0 default route and needs a static address;
    // any other default route through the bridge is an ordinary route line.
    const gw = addresses.length ? via.find((r) => r.prefix === 0 && r.metric === 0 && r.gateway) : undefined;
    return { name, addresses, members, ...(gw ? { gateway: gw.gateway } : {}), routes: ordered(via.filter((r) => r !== gw)) };
  });
}

/** Non-bridge interfaces with persistable routes (the default route included), by name. */
export function routedInterfaces(links: Links, routes: Route[]): RoutedInterface[] {
  const by = new Map<string, PersistedRoute[]>();
  for (const r of routes) {
    if (!persistable(r) || links.bridges.has(r.dev!)) continue;
    by.set(r.dev!, [...(by.get(r.dev!) ?? []), persisted(r)]);
  }
  return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([name, rs]) => ({ name, routes: ordered(rs) }));
}

export const netConfig = (links: Links, addrs: Map<string, { address: string; prefix: number }[]>, routes: Route[]): NetConfig => ({
  bridges: bridgeStates(links, addrs, routes),
  routed: routedInterfaces(links, routes),
});

const spec = (r: PersistedRoute): RouteSpec => ({ destination: r.destination, prefix: r.prefix, gateway: r.gateway, dev: r.dev, metric: r.metric || undefined });

const header = (node: string) => `${CONFIG_HEADER}from the live state of node ${node}. Changes made here are not read back by OMS.`;

/** One bridge as an ifupdown stanza (bridge-utils options): OMS made it, so OMS owns its whole stanza. */
export function renderBridge(b: BridgeState, node: string): string {
  const [first, ...more] = b.addresses;
  const lines = [header(node), `auto ${b.name}`, `iface ${b.name} inet ${first ? 'static' : 'manual'}`];
  if (first) lines.push(`    address ${first.address}/${first.prefix}`);
  if (first && b.gateway) lines.push(`    gateway ${b.gateway}`);
  lines.push(`    bridge_ports ${b.members.length ? b.members.join(' ') : 'none'}`, '    bridge_stp off', '    bridge_fd 0');
  for (const a of more) lines.push(`    up ${shellLine(addAddr(b.name, a.address, a.prefix))}`);
  for (const r of b.routes) lines.push(`    up ${shellLine(addRoute(spec(r)))}`, `    down ${shellLine(deleteRoute(spec(r)))}`);
  return lines.join('\n') + '\n';
}

/**
 * The routes of a non-bridge interface (eth0) as an ifupdown stanza of their own.
 *
 * eth0's own stanza (address, dhcp or static, often a `gateway`) belongs to the distribution's
 * /etc/network/interfaces, so OMS must add to it without a clashing copy. A second
 * `iface eth0 inet manual` stanza is what interfaces(5) offers for that, and it is wrong here
 * (tried with Debian 12's ifupdown 0.8.41): Debian's interfaces file sources interfaces.d at
 * its top, so such a stanza runs BEFORE the distribution's, when eth0 has no address yet; a route
 * via a gateway then fails ("Nexthop has invalid gateway"), and one failing command there aborts
 * eth0 entirely: the distribution's stanza never runs and the node boots without its address.
 * And a default route put there first makes the distribution's `gateway` line fail ("File
 * exists"), failing eth0 again.
 *
 * So the routes live in a stanza with a name of their own (routesStanzaName), marked `auto` so
 * `ifup -a` at boot brings it up. Its `pre-up ifup eth0` brings eth0 up first through the
 * distribution's own stanza (a no-op when eth0 is up already; the later hotplug `ifup eth0` then
 * finds it configured), and only then do the `up` lines run. They use `ip route replace`, so the
 * default route replaces the one the distribution's `gateway` made instead of clashing with it,
 * and running them again (ifup after a partial ifdown) changes nothing. `down` lines tolerate a
 * route already gone with eth0's address (`|| true`), so `ifdown -a` never stops half-way.
 * Limits: if eth0 cannot come up (or ifupdown does not know it), the routes are not added and
 * ifup reports the routes stanza as failed; after `ifdown eth0; ifup eth0` by hand, run
 * `ifup <routes stanza>` again (`ifdown` of the routes stanza first, ifupdown remembers it as up).
 */
export function renderRouted(i: RoutedInterface, node: string): string {
  const stanza = routesStanzaName(i.name);
  const lines = [header(node), `# The static and default routes through ${i.name}; ${i.name}'s own stanza stays the distribution's.`, `auto ${stanza}`, `iface ${stanza} inet manual`, `    pre-up ${shellLine(['ifup', i.name])}`];
  for (const r of i.routes) lines.push(`    up ${shellLine(replaceRoute(spec(r)))}`);
  for (const r of i.routes) lines.push(`    down ${shellLine([...deleteRoute(spec(r)), raw('|| true')])}`);
  return lines.join('\n') + '\n';
}

/** File name -> content: one file per bridge, one per routed non-bridge interface. */
export const renderConfig = (config: NetConfig, node: string): Record<string, string> =>
  Object.fromEntries([
    ...config.bridges.map((b) => [configFileName(b.name), renderBridge(b, node)]),
    ...config.routed.map((i) => [configFileName(i.name), renderRouted(i, node)]),
  ]);

/**
 * Writes stdin to dir/name atomically: a hidden temp file in the same directory, then rename.
 * A fixed script; dir and name arrive as $1 and $2, the content as the command's input.
 */
export const writeConfigFile = (dir: string, name: string): Argv => [
  'sh',
  '-c',
  '[ -d "$1" ] || exit 3; t="$1/.$2.oms-tmp"; rm -f -- "$t" && cat > "$t" && chmod 644 "$t" && mv -f -- "$t" "$1/$2" || { rm -f -- "$t"; exit 2; }',
  'oms-write-config',
  dir,
  name,
];

/**
 * Removes the files OMS wrote for bridges and interfaces not in `keep` (file names) and prints each removed name
 * on its own line. Only a regular file (not a symlink) named oms-<interface name> (the ifName
 * pattern: what configFileName can make) whose first line starts with CONFIG_HEADER is removed;
 * anything else in the directory, including hand-made oms-* files and the writer's hidden temp
 * files, is left alone. A fixed script: dir, header and the keep-list arrive as $1, $2, $3...
 * LC_ALL=C keeps the character ranges bytewise in shells that honour the locale.
 */
export const removeStaleConfigFiles = (dir: string, keep: readonly string[]): Argv => [
  'sh',
  '-c',
  [
    'LC_ALL=C; d=$1; h=$2; shift 2',
    '[ -d "$d" ] || exit 3',
    'for f in "$d"/oms-*; do',
    '  n=${f##*/}; i=${n#oms-}',
    '  [ -f "$f" ] && [ ! -L "$f" ] || continue',
    "  case $i in ''|[!A-Za-z0-9]*|*[!A-Za-z0-9_.-]*|*..*) continue ;; esac",
    '  [ ${#i} -le 15 ] || continue',
    '  first=; IFS= read -r first < "$f"',
    '  case $first in "$h"*) ;; *) continue ;; esac',
    '  for k in "$@"; do [ "$k" = "$n" ] && continue 2; done',
    '  rm -f -- "$f" || exit 2',
    "  printf '%s\\n' \"$n\"",
    'done',
  ].join('\n'),
  'oms-remove-configs',
  dir,
  CONFIG_HEADER,
  ...keep,
];

/** The names removeStaleConfigFiles printed. */
export const parseRemoved = (stdout: string): string[] => stdout.split('\n').filter((l) => l !== '');
