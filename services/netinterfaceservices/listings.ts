/**
 * Structured listings of a node's network, both address families: what the OMS-shaped methods
 * (show_routing_table in `route -n` terms, list_bridges with members only) cannot say without
 * changing the shapes the OMS document shows. Read-only; the changing methods stay IPv4.
 */
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import * as cmd from './commands.ts';
import { server, view } from './common.ts';
import { parseInterfaces, parseRoutes, parseRoutes6, toListedRoute } from './parse.ts';

export const listingMethods: MethodDecl[] = [
  method({
    name: 'list_interfaces',
    description:
      "Every interface of the node with its addresses of both families: [{interface, kind (bridge, veth, ... or the link type: ether, loopback), master (the bridge it is a port of, or null), state (UP, DOWN, UNKNOWN ...), mac, mtu, addresses: [{family ('inet' or 'inet6'), address (IPv6 as RFC 5952 writes it), prefix, scope (host, link, global), flags (iproute2's address flags that are set: secondary, nodad, tentative, dadfailed, deprecated, dynamic ...)}]}], in the kernel's order.",
    auth: 'session',
    permission: view,
    cacheable: true,
    node: 'server_name',
    params: [server] as const,
    async run(ctx, { server_name }) {
      return parseInterfaces((await ctx.node(server_name).exec(cmd.showInterfaces())).stdout);
    },
  }),
  method({
    name: 'list_routes',
    description:
      "The main routing table of both families (show_routing_table is its IPv4 part in the OMS shape), IPv4 routes first: [{family ('inet' or 'inet6'), destination (network address; 0.0.0.0 or :: for the default route), prefix, gateway (null when directly connected), interface (null when the route names none, as IPv4 reject routes; IPv6 ones name lo), metric, protocol (kernel, static, boot, ra, dhcp ... or null), type (unicast, unreachable, prohibit, blackhole ...), nexthops (multipath routes only: [{gateway, interface}]; gateway and interface above are the first hop's)}].",
    auth: 'session',
    permission: view,
    cacheable: true,
    node: 'server_name',
    params: [server] as const,
    async run(ctx, { server_name }) {
      const node = ctx.node(server_name);
      const [v4, v6] = await Promise.all([node.exec(cmd.showRoutes()), node.exec(cmd.showRoutes6())]);
      return [...parseRoutes(v4.stdout).map((r) => toListedRoute(r, 'inet')), ...parseRoutes6(v6.stdout).map((r) => toListedRoute(r, 'inet6'))];
    },
  }),
];
