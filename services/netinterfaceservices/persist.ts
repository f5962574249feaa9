/**
 * Persistence: the live bridge and route state rendered as Debian ifupdown files, one
 * `oms-<bridge>` per bridge in the node's networkConfigDir (default CONFIG_DIR), the argv that
 * writes one atomically on a node (temp name + rename), and the argv that removes the files of
 * bridges that are gone (save_network_config runs both). Pure. Commands inside the files
 * (`up`/`down` lines, run by ifupdown through /bin/sh) are made by shellLine from the same argv
 * builders the live path uses, so quoting stays in one place.
 */
import { defaultNodeDirs } from '../../src/fleet/dirs.ts';
import { shellLine, type Argv } from '../../src/nodes/command.ts';
import { addAddr, addRoute, deleteRoute } from './commands.ts';
import type { Links, Route } from './parse.ts';

/** Debian's directory; the default of the node setting networkConfigDir. */
export const CONFIG_DIR = defaultNodeDirs.networkConfig;
export const configFileName = (bridge: string): string => `oms-${bridge}`;
/** First words of every file OMS writes; removeStaleConfigFiles only touches files that start so. */
export const CONFIG_HEADER = '# Written by OMS ';
/** Exit status of the scripts below when the directory does not exist. */
export const NO_DIR_EXIT = 3;

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
  const lines = [`${CONFIG_HEADER}from the live state of node ${node}. Changes made here are not read back by OMS.`, `auto ${b.name}`, `iface ${b.name} inet ${first ? 'static' : 'manual'}`];
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
  '[ -d "$1" ] || exit 3; t="$1/.$2.oms-tmp"; rm -f -- "$t" && cat > "$t" && chmod 644 "$t" && mv -f -- "$t" "$1/$2" || { rm -f -- "$t"; exit 2; }',
  'oms-write-config',
  dir,
  name,
];

/**
 * Removes the files OMS wrote for bridges not in `keep` (file names) and prints each removed name
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
