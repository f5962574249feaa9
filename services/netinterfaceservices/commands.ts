/**
 * What NetInterfaceService runs on a node: iproute2 argv. Every value here was validated by a
 * field schema (interface names, dotted quads) and by addr.ts before a builder is called; routes
 * are written `proto static` so they read back as static.
 */
import type { Argv } from '../../src/nodes/command.ts';

export const showRoutes = (): Argv => ['ip', '-4', '-j', 'route', 'show', 'table', 'main'];

export const showLinks = (): Argv => ['ip', '-j', '-d', 'link', 'show'];

export const showAddrs = (): Argv => ['ip', '-4', '-j', 'addr', 'show'];

/** The IPv6 main table, for list_routes (show_routing_table stays IPv4, as OMS documents it). */
export const showRoutes6 = (): Argv => ['ip', '-6', '-j', 'route', 'show', 'table', 'main'];

/** Every interface with link details (kind, bridge) and addresses of both families, for list_interfaces. */
export const showInterfaces = (): Argv => ['ip', '-j', '-d', 'addr', 'show'];

/**
 * The peer address of this SSH session (first word of $SSH_CONNECTION) and the route the node
 * takes to it. A fixed script: no caller data in it. Exit 3: not an SSH session.
 */
export const sshPath = (): Argv => ['sh', '-c', 'set -- $SSH_CONNECTION; [ -n "$1" ] || exit 3; echo "$1"; ip -j route get "$1"', 'oms-ssh-path'];

export interface RouteSpec {
  destination: string;
  prefix: number;
  /** Undefined: directly connected (the OMS '0.0.0.0'). */
  gateway?: string;
  dev: string;
  metric?: number;
}

function routeArgs(r: RouteSpec): string[] {
  const args = [`${r.destination}/${r.prefix}`];
  if (r.gateway) args.push('via', r.gateway);
  args.push('dev', r.dev);
  if (r.metric !== undefined) args.push('metric', String(r.metric));
  return args;
}

export const addRoute = (r: RouteSpec): Argv => ['ip', 'route', 'add', ...routeArgs(r), 'proto', 'static'];

/** Same destination: replaced in one netlink call, so there is no moment without the route. */
export const replaceRoute = (r: RouteSpec): Argv => ['ip', 'route', 'replace', ...routeArgs(r), 'proto', 'static'];

export const deleteRoute = (r: RouteSpec): Argv => ['ip', 'route', 'del', ...routeArgs(r)];

export const replaceDefault = (gateway: string, dev: string): Argv => ['ip', 'route', 'replace', 'default', 'via', gateway, 'dev', dev, 'proto', 'static'];

export const addBridge = (name: string): Argv => ['ip', 'link', 'add', 'name', name, 'type', 'bridge'];

export const linkUp = (name: string): Argv => ['ip', 'link', 'set', 'dev', name, 'up'];

export const flushAddrs = (dev: string): Argv => ['ip', '-4', 'addr', 'flush', 'dev', dev];

export const addAddr = (dev: string, address: string, prefix: number): Argv => ['ip', 'addr', 'add', `${address}/${prefix}`, 'dev', dev];

export const setMaster = (member: string, bridge: string): Argv => ['ip', 'link', 'set', 'dev', member, 'master', bridge];

export const noMaster = (member: string): Argv => ['ip', 'link', 'set', 'dev', member, 'nomaster'];

export const deleteBridge = (name: string): Argv => ['ip', 'link', 'del', 'dev', name, 'type', 'bridge'];
