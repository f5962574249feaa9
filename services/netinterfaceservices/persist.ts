/**
 * Persistence: the live bridge and route state rendered as Debian ifupdown files, one
 * `/etc/network/interfaces.d/oms-<bridge>` per bridge, and the argv that writes one atomically
 * on a node (temp name + rename). Pure. Commands inside the files (`up`/`down` lines, run by
 * ifupdown through /bin/sh) are made by shellLine from the same argv builders the live path
 * uses, so quoting stays in one place.
 */
import { shellLine, type Argv } from '../../src/nodes/command.ts';
import { addAddr, addRoute, deleteRoute } from './commands.ts';
import type { Links, Route } from './parse.ts';

export const CONFIG_DIR = '/etc/network/interfaces.d';
export const configFileName = (bridge: string): string => `oms-${bridge}`;

export interface BridgeState {
  name: string;
  addresses: { address: string; prefix: number }[];
  members: string[];
  /** Gateway of a default route through this bridge. */
  gateway?: string;
  /** Static routes through this bridge (not the kernel's subnet routes, not the default). */
  routes: Route[];
}

export function bridgeStates(links: Links, addrs: Map<string, { address: string; prefix: number }[]>, routes: Route[]): BridgeState[] {
  return [...links.bridges].map(([name, members]) => {
    const via = routes.filter((r) => r.dev === name && r.type === undefined);
    return {
      name,
      addresses: addrs.get(name) ?? [],
      members,
      gateway: via.filter((r) => r.prefix === 0 && r.gateway).sort((a, b) => a.metric - b.metric)[0]?.gateway,
      routes: via.filter((r) => r.prefix > 0 && r.protocol !== 'kernel'),
    };
  });
}

/** One bridge as an ifupdown stanza (bridge-utils options). */
export function renderBridge(b: BridgeState, node: string): string {
  const [first, ...more] = b.addresses;
  const lines = [`# Written by OMS from the live state of node ${node}. Changes made here are not read back by OMS.`, `auto ${b.name}`, `iface ${b.name} inet ${first ? 'static' : 'manual'}`];
  if (first) lines.push(`    address ${first.address}/${first.prefix}`);
  if (first && b.gateway) lines.push(`    gateway ${b.gateway}`);
  lines.push(`    bridge_ports ${b.members.length ? b.members.join(' ') : 'none'}`, '    bridge_stp off', '    bridge_fd 0');
  for (const a of more) lines.push(`    up ${shellLine(addAddr(b.name, a.address, a.prefix))}`);
  for (const r of b.routes) {
    const spec = { destination: r.destination, prefix: r.prefix, gateway: r.gateway, dev: b.name, metric: r.metric || undefined };
    lines.push(`    up ${shellLine(addRoute(spec))}`, `    down ${shellLine(deleteRoute(spec))}`);
  }
  return lines.join('\n') + '\n';
}

/** File name -> content, one file per bridge. */
export const renderConfig = (states: BridgeState[], node: string): Record<string, string> =>
  Object.fromEntries(states.map((b) => [configFileName(b.name), renderBridge(b, node)]));

/**
 * Writes stdin to dir/name atomically: a hidden temp file in the same directory, then rename.
 * A fixed script; dir and name arrive as $1 and $2, the content as the command's input.
 */
export const writeConfigFile = (dir: string, name: string): Argv => [
  'sh',
  '-c',
  '[ -d "$1" ] || exit 3; t="$1/.$2.oms-tmp"; cat > "$t" && chmod 644 "$t" && mv -f -- "$t" "$1/$2" || { rm -f -- "$t"; exit 2; }',
  'oms-write-config',
  dir,
  name,
];
