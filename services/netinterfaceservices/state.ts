/** Reading a node's network state, and running network changes with their errors mapped. */
import type { NodeHandle } from '../../src/fleet/access.ts';
import type { Argv } from '../../src/nodes/command.ts';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { showAddrs, showLinks, showRoutes, sshPath } from './commands.ts';
import { parseAddrs, parseLinks, parseRoutes, parseSshPath, type Links, type Route, type SshPath } from './parse.ts';
import { netConfig, type NetConfig } from './persist.ts';

export interface NetState {
  routes: Route[];
  links: Links;
  path: SshPath;
}

export async function readState(node: NodeHandle): Promise<NetState> {
  const [routes, links, path] = await Promise.all([node.exec(showRoutes()), node.exec(showLinks()), node.exec(sshPath())]);
  return { routes: parseRoutes(routes.stdout), links: parseLinks(links.stdout), path: parseSshPath(path.stdout) };
}

/** The live bridges and the routes through every interface: what get/save_network_config render. */
export async function readNetConfig(node: NodeHandle): Promise<NetConfig> {
  const [routes, links, addrs] = await Promise.all([node.exec(showRoutes()), node.exec(showLinks()), node.exec(showAddrs())]);
  return netConfig(parseLinks(links.stdout), parseAddrs(addrs.stdout), parseRoutes(routes.stdout));
}

/** Runs one change; the node's refusal (iproute2's message) becomes NetworkChangeError. */
export async function change(node: NodeHandle, argv: Argv): Promise<void> {
  try {
    await node.exec(argv);
  } catch (e) {
    if (isOmsError(e) && e.omsName === 'NodeCommandError') throw oms('NetworkChangeError', { node: node.name, reason: String(e.vars.stderr) });
    throw e;
  }
}

export function requireInterface(node: string, links: Links, name: string): void {
  if (!links.names.includes(name)) throw oms('UnknownInterfaceError', { node, interface: name });
}

/** The node's state, for a change that names one of its interfaces (UnknownInterfaceError otherwise). */
export async function readStateWith(node: NodeHandle, iface: string): Promise<NetState> {
  const st = await readState(node);
  requireInterface(node.name, st.links, iface);
  return st;
}

export function requireBridge(node: string, links: Links, name: string): string[] {
  requireInterface(node, links, name);
  const members = links.bridges.get(name);
  if (!members) throw oms('NotABridgeError', { node, interface: name });
  return members;
}
