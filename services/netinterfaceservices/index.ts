/**
 * NetInterfaceService: a node's IPv4 routes and bridges, read and changed live with iproute2;
 * list_interfaces and list_routes (listings.ts) also show what the node has of IPv6.
 *
 * Every change first reads the node's routes, links and the path the gateway's own SSH
 * connection takes (see guard.ts); a change that would cut that path is refused with
 * SshPathError unless the trailing `force` param is true. Changes are live: they survive a reboot
 * only once save_network_config has written them and ifupdown reads that directory at boot.
 * get_network_config renders the live bridges, and the static and default routes through every
 * interface, as Debian ifupdown files (persist.ts); save_network_config writes those files into the node's networkConfigDir (a node
 * setting, default /etc/network/interfaces.d; lab nodes share the host's /etc, so tests point it
 * elsewhere).
 */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { ifName, ipv4, netmask } from '../../src/rpc/fields.ts';
import type { NodeHandle } from '../../src/fleet/access.ts';
import { nodeDirs } from '../../src/fleet/dirs.ts';
import type { Argv } from '../../src/nodes/command.ts';
import { checkBridgeGateway, checkGateway, checkHostAddress, checkRouteDestination, contains, networkOf } from './addr.ts';
import * as cmd from './commands.ts';
import { admin, server, view } from './common.ts';
import { additionCutsPath, defaultRouteChangeCutsPath, interfaceCarriesPath, removalCutsPath } from './guard.ts';
import { listingMethods } from './listings.ts';
import { parseLinks, parseRoutes, toOmsRoute, type Route } from './parse.ts';
import { CONFIG_DIR, NO_DIR_EXIT, parseRemoved, removeStaleConfigFiles, renderConfig, writeConfigFile } from './persist.ts';
import { change, readNetConfig, readState, readStateWith, requireBridge, requireInterface } from './state.ts';

const force = { name: 'force', schema: z.boolean(), optional: true, description: 'Do it even if it cuts the gateway SSH path to the node.' } as const;
/** A static route as add_static_route and delete_static_route name it. */
const routeParams = [server, { name: 'destination', schema: ipv4 }, { name: 'netmask', schema: netmask }, { name: 'gateway', schema: ipv4 }, { name: 'interface', schema: ifName }, force] as const;
/** add_bridge/edit_bridge: '' or '0.0.0.0' = no gateway. */
const bridgeGateway = z.union([ipv4, z.literal('')]);

const refuse = (node: string, what: string) => oms('SshPathError', { node, what });

/** The node's networkConfigDir setting (default CONFIG_DIR). */
const configDirOf = (node: NodeHandle): string => nodeDirs(node.settings).networkConfig;

/** Runs a persist.ts script; its missing-directory exit becomes NetworkConfigDirectoryError. */
async function persistRun(node: NodeHandle, argv: Argv, dir: string, input?: string): Promise<string> {
  try {
    return (await node.exec(argv, input === undefined ? {} : { input })).stdout;
  } catch (e) {
    if (isOmsError(e) && e.omsName === 'NodeCommandError' && Number(e.vars.exitCode) === NO_DIR_EXIT) throw oms('NetworkConfigDirectoryError', { node: node.name, dir });
    throw e;
  }
}

function findRoute(node: string, routes: Route[], destination: string, prefix: number, gateway: string | undefined, dev: string): Route {
  const r = routes.find((x) => x.type === undefined && x.destination === destination && x.prefix === prefix && x.gateway === gateway && x.dev === dev);
  if (!r) throw oms('UnknownRouteError', { node, destination, prefix, gateway: gateway ?? '0.0.0.0', interface: dev });
  if (r.protocol === 'kernel') throw oms('NotStaticRouteError', { node, destination, prefix, protocol: r.protocol });
  return r;
}

export const netinterfaceservices = service({
  name: 'netinterfaceservices',
  aliases: ['netinterface', 'NetInterfaceService'],
  description: 'NetInterfaceService: routes and bridges of nodes (iproute2). list_interfaces and list_routes list addresses and routes of both families; the other methods are IPv4. Changes are live until save_network_config writes them as ifupdown files; the methods that change routes and bridges take a trailing optional `force` (default false) that allows changes cutting the gateway SSH path to the node.',
  envelope: 'oms',
  methods: [
    method({
      name: 'show_routing_table',
      description: 'The IPv4 main routing table in `route -n` terms: destination, netmask, router ("*" when directly connected), flags (U, G, H, ! for reject routes), metrics, count, use, interface.',
      auth: 'session',
      permission: view,
      cacheable: true,
      node: 'server_name',
      params: [server] as const,
      async run(ctx, { server_name }) {
        const r = await ctx.node(server_name).exec(cmd.showRoutes());
        return parseRoutes(r.stdout).map(toOmsRoute);
      },
    }),
    method({
      name: 'add_static_route',
      description: 'Adds a static route: destination network (no host bits), netmask, gateway ("0.0.0.0": directly on the interface), interface. Returns 0.',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_name',
      params: routeParams,
      async run(ctx, p) {
        const prefix = checkRouteDestination(p.destination, p.netmask);
        const gateway = checkGateway(p.gateway);
        const node = ctx.node(p.server_name);
        const st = await readStateWith(node, p.interface);
        if (st.routes.some((r) => r.destination === p.destination && r.prefix === prefix && r.metric === 0)) throw oms('RouteExistsError', { node: node.name, destination: p.destination, prefix });
        if (!p.force && additionCutsPath(p.destination, prefix, st.routes, st.path)) throw refuse(node.name, `a new route to ${p.destination}/${prefix}`);
        await change(node, cmd.addRoute({ destination: p.destination, prefix, gateway, dev: p.interface }));
        return 0;
      },
    }),
    method({
      name: 'edit_static_route',
      description: 'Changes a static route (found by old destination, netmask, gateway and interface) to a new destination, netmask and gateway on the same interface. Same destination: replaced in place; otherwise the new route is added before the old one is removed. Returns 0.',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_name',
      params: [
        server,
        { name: 'destination_old', schema: ipv4 },
        { name: 'netmask_old', schema: netmask },
        { name: 'gateway_old', schema: ipv4 },
        { name: 'interface', schema: ifName },
        { name: 'destination_new', schema: ipv4 },
        { name: 'netmask_new', schema: netmask },
        { name: 'gateway_new', schema: ipv4 },
        force,
      ] as const,
      async run(ctx, p) {
        const oldPrefix = checkRouteDestination(p.destination_old, p.netmask_old, 'destination_old');
        const newPrefix = checkRouteDestination(p.destination_new, p.netmask_new, 'destination_new');
        const oldGw = checkGateway(p.gateway_old, 'gateway_old');
        const newGw = checkGateway(p.gateway_new, 'gateway_new');
        const node = ctx.node(p.server_name);
        const st = await readStateWith(node, p.interface);
        const old = findRoute(node.name, st.routes, p.destination_old, oldPrefix, oldGw, p.interface);
        if (!p.force && (removalCutsPath(old, st.routes, st.path) || additionCutsPath(p.destination_new, newPrefix, st.routes, st.path))) {
          throw refuse(node.name, `the route ${p.destination_old}/${oldPrefix}`);
        }
        const next = { destination: p.destination_new, prefix: newPrefix, gateway: newGw, dev: p.interface, metric: old.metric };
        if (p.destination_new === p.destination_old && newPrefix === oldPrefix) {
          await change(node, cmd.replaceRoute(next));
          return 0;
        }
        if (st.routes.some((r) => r.destination === p.destination_new && r.prefix === newPrefix && r.metric === old.metric)) {
          throw oms('RouteExistsError', { node: node.name, destination: p.destination_new, prefix: newPrefix });
        }
        await change(node, cmd.addRoute(next));
        try {
          await change(node, cmd.deleteRoute({ ...old, dev: p.interface }));
        } catch (e) {
          // Leave the table as it was: the new route goes again, the error is the caller's answer.
          await change(node, cmd.deleteRoute(next)).catch((undo: unknown) => ctx.log.error({ node: node.name, err: undo }, 'edit_static_route: could not undo the added route'));
          throw e;
        }
        return 0;
      },
    }),
    method({
      name: 'delete_static_route',
      description: 'Deletes a static route given by destination, netmask, gateway and interface. Routes that belong to an interface address (proto kernel) are refused. Returns 0.',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_name',
      params: routeParams,
      async run(ctx, p) {
        const prefix = checkRouteDestination(p.destination, p.netmask);
        const gateway = checkGateway(p.gateway);
        const node = ctx.node(p.server_name);
        const st = await readStateWith(node, p.interface);
        const old = findRoute(node.name, st.routes, p.destination, prefix, gateway, p.interface);
        if (!p.force && removalCutsPath(old, st.routes, st.path)) throw refuse(node.name, `the route ${p.destination}/${prefix}`);
        await change(node, cmd.deleteRoute({ ...old, dev: p.interface }));
        return 0;
      },
    }),
    method({
      name: 'edit_static_gateway',
      description: 'Sets the default route: via gateway on interface (replacing the current default route). Returns 0.',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_name',
      params: [server, { name: 'gateway', schema: ipv4 }, { name: 'interface', schema: ifName }, force] as const,
      async run(ctx, p) {
        const gateway = checkGateway(p.gateway);
        if (!gateway) throw oms('ParameterMismatch', { reason: 'gateway 0.0.0.0 is not a gateway' });
        const node = ctx.node(p.server_name);
        const st = await readStateWith(node, p.interface);
        if (!p.force && defaultRouteChangeCutsPath(st.routes, st.path)) throw refuse(node.name, 'the default route');
        await change(node, cmd.replaceDefault(gateway, p.interface));
        return 0;
      },
    }),
    method({
      name: 'get_default_gateway',
      description: 'The gateway of the default route on the interface ("" when the interface has none).',
      auth: 'session',
      permission: view,
      cacheable: true,
      node: 'server_name',
      params: [server, { name: 'interface', schema: ifName }] as const,
      async run(ctx, p) {
        const node = ctx.node(p.server_name);
        const [routes, links] = await Promise.all([node.exec(cmd.showRoutes()), node.exec(cmd.showLinks())]);
        requireInterface(node.name, parseLinks(links.stdout), p.interface);
        const defaults = parseRoutes(routes.stdout).filter((r) => r.prefix === 0 && r.type === undefined && r.dev === p.interface && r.gateway);
        defaults.sort((a, b) => a.metric - b.metric);
        return defaults[0]?.gateway ?? '';
      },
    }),
    method({
      name: 'list_bridges',
      description: "The node's bridge interfaces with their members.",
      auth: 'session',
      permission: view,
      cacheable: true,
      node: 'server_name',
      params: [server] as const,
      async run(ctx, { server_name }) {
        const links = parseLinks((await ctx.node(server_name).exec(cmd.showLinks())).stdout);
        return [...links.bridges].map(([bridge, members]) => ({ bridge, members }));
      },
    }),
    method({
      name: 'add_bridge',
      description: 'Creates a bridge with an IPv4 address and brings it up. gateway: "" or "0.0.0.0" for none; otherwise a host of the bridge subnet that becomes the default route. Returns 0.',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_name',
      params: [server, { name: 'bridge_name', schema: ifName }, { name: 'ip_address', schema: ipv4 }, { name: 'netmask', schema: netmask }, { name: 'gateway', schema: bridgeGateway }, force] as const,
      async run(ctx, p) {
        const prefix = checkHostAddress(p.ip_address, p.netmask);
        const gateway = checkBridgeGateway(p.gateway, p.ip_address, prefix);
        const node = ctx.node(p.server_name);
        const st = await readState(node);
        if (st.links.names.includes(p.bridge_name)) throw oms('BridgeExistsError', { node: node.name, interface: p.bridge_name });
        if (!p.force && additionCutsPath(networkOf(p.ip_address, prefix), prefix, st.routes, st.path)) throw refuse(node.name, `the subnet ${networkOf(p.ip_address, prefix)}/${prefix}`);
        if (!p.force && gateway && defaultRouteChangeCutsPath(st.routes, st.path)) throw refuse(node.name, 'the default route');
        await change(node, cmd.addBridge(p.bridge_name));
        try {
          await change(node, cmd.addAddr(p.bridge_name, p.ip_address, prefix));
          await change(node, cmd.linkUp(p.bridge_name));
          if (gateway) await change(node, cmd.replaceDefault(gateway, p.bridge_name));
        } catch (e) {
          // All or nothing: a half-configured bridge would block the retry with BridgeExistsError.
          await change(node, cmd.deleteBridge(p.bridge_name)).catch((undo: unknown) => ctx.log.error({ node: node.name, err: undo }, 'add_bridge: could not remove the half-made bridge'));
          throw e;
        }
        return 0;
      },
    }),
    method({
      name: 'add_bridge_member',
      description: 'Adds an interface to a bridge. The interface must exist, not be a bridge and not be in a bridge already. Returns 0.',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_name',
      params: [server, { name: 'bridge_name', schema: ifName }, { name: 'bridge_member', schema: ifName }, force] as const,
      async run(ctx, p) {
        const node = ctx.node(p.server_name);
        const st = await readState(node);
        requireBridge(node.name, st.links, p.bridge_name);
        requireInterface(node.name, st.links, p.bridge_member);
        const fail = (reason: string) => oms('BridgeMemberError', { node: node.name, bridge: p.bridge_name, member: p.bridge_member, reason });
        if (st.links.bridges.has(p.bridge_member)) throw fail('it is a bridge itself');
        const master = st.links.masters.get(p.bridge_member);
        if (master) throw fail(master === p.bridge_name ? 'it is a member already' : `it is a member of ${master}`);
        if (!p.force && interfaceCarriesPath(p.bridge_member, st.links, st.path)) throw refuse(node.name, `interface ${p.bridge_member}`);
        await change(node, cmd.setMaster(p.bridge_member, p.bridge_name));
        return 0;
      },
    }),
    method({
      name: 'delete_bridge_member',
      description: 'Removes an interface from a bridge (the interface itself stays). Returns 0.',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_name',
      params: [server, { name: 'bridge_name', schema: ifName }, { name: 'bridge_member', schema: ifName }, force] as const,
      async run(ctx, p) {
        const node = ctx.node(p.server_name);
        const st = await readState(node);
        requireBridge(node.name, st.links, p.bridge_name);
        requireInterface(node.name, st.links, p.bridge_member);
        if (st.links.masters.get(p.bridge_member) !== p.bridge_name) throw oms('BridgeMemberError', { node: node.name, bridge: p.bridge_name, member: p.bridge_member, reason: 'it is not a member' });
        if (!p.force && interfaceCarriesPath(p.bridge_member, st.links, st.path)) throw refuse(node.name, `interface ${p.bridge_member}`);
        await change(node, cmd.noMaster(p.bridge_member));
        return 0;
      },
    }),
    method({
      name: 'delete_bridge',
      description: 'Deletes a bridge interface (only bridges); its members are released. Returns 0.',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_name',
      params: [server, { name: 'bridge_name', schema: ifName }, force] as const,
      async run(ctx, p) {
        const node = ctx.node(p.server_name);
        const st = await readState(node);
        const members = requireBridge(node.name, st.links, p.bridge_name);
        const carries = [p.bridge_name, ...members].some((i) => interfaceCarriesPath(i, st.links, st.path));
        if (!p.force && carries) throw refuse(node.name, `bridge ${p.bridge_name}`);
        await change(node, cmd.deleteBridge(p.bridge_name));
        return 0;
      },
    }),
    method({
      name: 'edit_bridge',
      description: "Replaces a bridge's IPv4 address (all its IPv4 addresses go, and with them the static routes through the bridge) and optionally sets the default route via gateway (\"\" or \"0.0.0.0\": unchanged; a default route through this bridge stays when its gateway is in the new subnet). Returns 0.",
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_name',
      params: [server, { name: 'bridge_name', schema: ifName }, { name: 'ip_address', schema: ipv4 }, { name: 'netmask', schema: netmask }, { name: 'gateway', schema: bridgeGateway }, force] as const,
      async run(ctx, p) {
        const prefix = checkHostAddress(p.ip_address, p.netmask);
        const gateway = checkBridgeGateway(p.gateway, p.ip_address, prefix);
        const node = ctx.node(p.server_name);
        const st = await readState(node);
        requireBridge(node.name, st.links, p.bridge_name);
        if (!p.force && interfaceCarriesPath(p.bridge_name, st.links, st.path)) throw refuse(node.name, `bridge ${p.bridge_name}`);
        if (!p.force && additionCutsPath(networkOf(p.ip_address, prefix), prefix, st.routes, st.path)) throw refuse(node.name, `the subnet ${networkOf(p.ip_address, prefix)}/${prefix}`);
        if (!p.force && gateway && defaultRouteChangeCutsPath(st.routes, st.path)) throw refuse(node.name, 'the default route');
        // Flushing the addresses makes the kernel drop every route through the bridge, the default
        // route too; without a new gateway that default route is put back when its gateway is
        // still in the new subnet (the caller asked to leave it unchanged).
        const keep = gateway ? [] : st.routes.filter((r) => r.dev === p.bridge_name && r.prefix === 0 && r.type === undefined && r.gateway && contains(p.ip_address, prefix, r.gateway));
        await change(node, cmd.flushAddrs(p.bridge_name));
        await change(node, cmd.addAddr(p.bridge_name, p.ip_address, prefix));
        if (gateway) await change(node, cmd.replaceDefault(gateway, p.bridge_name));
        for (const r of keep) await change(node, cmd.replaceRoute({ destination: r.destination, prefix: 0, gateway: r.gateway, dev: p.bridge_name, metric: r.metric || undefined }));
        return 0;
      },
    }),
    method({
      name: 'get_network_config',
      description: `The live bridges (address, gateway, members, routes) and the static and default routes through the other interfaces as Debian ifupdown files for the node's networkConfigDir (default ${CONFIG_DIR}): {directory, files: {name: content}}, one oms-<bridge> file per bridge and one oms-<interface> file per other interface carrying such routes (an auto stanza of its own that brings the interface up through its own stanza first, then adds the routes). IPv4 only: IPv6 addresses and routes (list_interfaces, list_routes) are not rendered. Nothing is written.`,
      auth: 'session',
      permission: view,
      cacheable: true,
      node: 'server_name',
      params: [server] as const,
      async run(ctx, { server_name }) {
        const node = ctx.node(server_name);
        return { directory: configDirOf(node), files: renderConfig(await readNetConfig(node), node.name) };
      },
    }),
    method({
      name: 'save_network_config',
      description: `Writes the files get_network_config renders into the node's networkConfigDir (funcservices.set_node_settings; default ${CONFIG_DIR}), each replaced atomically, and removes the oms-<interface> files OMS wrote there earlier for bridges that no longer exist and interfaces that no longer carry such routes; other files are left alone. {directory, written: [names], removed: [names]}. NetworkConfigDirectoryError when the directory is missing.`,
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_name',
      params: [server] as const,
      async run(ctx, { server_name }) {
        const node = ctx.node(server_name);
        const directory = configDirOf(node);
        const files = renderConfig(await readNetConfig(node), node.name);
        const written: string[] = [];
        for (const [name, content] of Object.entries(files)) {
          await persistRun(node, writeConfigFile(directory, name), directory, content);
          written.push(name);
        }
        // Only once every write succeeded: a failed save never leaves fewer files than it found.
        const removed = parseRemoved(await persistRun(node, removeStaleConfigFiles(directory, written), directory));
        return { directory, written, removed };
      },
    }),
    ...listingMethods,
  ],
});
