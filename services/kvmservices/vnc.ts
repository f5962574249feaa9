/**
 * kvmservices' console methods, spread into the service in index.ts: the OMS VNC methods
 * (set_up_vnc_connection, remove_vnc_connection, remove_session_vnc_connections,
 * list_session_vnc_connections, check_session_vnc_connection), get_vnc_ticket for the page, and
 * the guest serial console (open_console/close_console, after CloudSigma's actions).
 *
 * A tunnel is a spot of a pool ("port" in the OMS results) owned by the calling session; the page
 * connects to that port with the session id (the OMS document's vnc.html on the page port), or
 * with a single-use ticket to /consoles/ws (src/consoles/hub.ts); either reaches the guest's VNC
 * server on the node's loopback through the node's SSH connection.
 */
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { nodeName, vmName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { ttyConsole } from '../../src/consoles/commands.ts';
import { reasonOf, ttyPath } from '../../src/consoles/parse.ts';
import { vncTarget as resolveVnc } from '../../src/consoles/vnc-target.ts';
import { closeTunnels, consolePage, consoleStore, reserveSpot, type ConsoleRow } from '../../src/consoles/tunnels.ts';

const CHECK_TIMEOUT_MS = 15_000;
/** Handles as the OMS document shows them: numbers, or their decimal strings from query URLs. */
const port = z.coerce.number().int().min(1).max(65535);
const onVm = { privilege: 'vm.console', path: (p: { server_hostname: string; kvm_vm_name: string }) => paths.vm(p.server_hostname, p.kvm_vm_name) } as const;
const vmParams = [
  { name: 'server_hostname', schema: nodeName },
  { name: 'kvm_vm_name', schema: vmName },
] as const;

const uriOf = (ctx: CallContext, node: string): string => ctx.node(node).settings.libvirtUri ?? 'qemu:///system';

/** The guest's VNC server as the node reports it (src/consoles/vnc-target.ts); VNCRemoteSetUpError when there is none. */
const vncTarget = (ctx: CallContext, node: string, vm: string) => resolveVnc(ctx.node(node), vm, { timeoutMs: CHECK_TIMEOUT_MS });

/** Opens the tunnel once and reads the RFB greeting, so a set-up that succeeds is one that works. */
async function probeTunnel(ctx: CallContext, node: string, vm: string, target: { host: string; port: number }): Promise<void> {
  let stream;
  try {
    stream = await ctx.node(node).forwardOut(target.host, target.port, { timeoutMs: CHECK_TIMEOUT_MS });
  } catch (e) {
    throw oms('VNCTunnelSetUpError', { node, vm, reason: isOmsError(e) ? e.omsName : 'channel refused' });
  }
  const s = stream;
  const greeting = await new Promise<string>((resolve) => {
    let got = Buffer.alloc(0);
    const done = (text: string) => {
      clearTimeout(timer);
      s.destroy();
      resolve(text);
    };
    const timer = setTimeout(() => done(got.toString('latin1')), 5000);
    s.on('data', (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length >= 12) done(got.subarray(0, 12).toString('latin1'));
    });
    s.on('error', () => done(''));
    s.on('close', () => done(got.toString('latin1')));
  });
  if (!/^RFB \d{3}\.\d{3}\n$/.test(greeting)) throw oms('VNCTunnelSetUpError', { node, vm, reason: 'no RFB greeting from the VNC server' });
}

const ticketFor = (ctx: CallContext, row: ConsoleRow) => {
  const store = consoleStore(ctx.app);
  const { ticket, expiresAt } = store.issueTicket(row);
  return { host: row.node, port: row.handle, vm: row.vm, ticket, expires_in: Math.round((expiresAt - Date.now()) / 1000), url: consolePage(row.kind, ticket) };
};

export const vncMethods: MethodDecl[] = [
  method({
    name: 'set_up_vnc_connection',
    description:
      'Sets up a VNC connection to a running guest for this session and returns its port (a string, as in the OMS document), on which the gateway then accepts the console websocket. Open https://gateway:8002/vnc.html?SESSID=..&host=gateway&port=.. as the OMS document says, or /web-vnc/vnc.html?SESSID=..&port=.. (or ?ticket= from get_vnc_ticket) on the gateway\'s own port. The guest\'s VNC server stays on the node\'s loopback; bytes go through the node\'s SSH connection.',
    auth: 'session',
    permission: onVm,
    mutates: true,
    lock: { none: "a console tunnel of this session; the guest itself is not changed" },
    params: vmParams,
    async run(ctx, { server_hostname: node, kvm_vm_name: vm }) {
      const store = consoleStore(ctx.app);
      const me = ctx.principal!;
      const refuse = (row: ConsoleRow) =>
        row.sessionKey === me.sessionKey ? oms('VNCAreadySetUpError', { node, vm, port: row.handle }) : oms('VNCAreadySetUpAnotherSessionError', { node, vm });
      const existing = store.find('vnc', node, vm);
      if (existing) throw refuse(existing);
      await probeTunnel(ctx, node, vm, await vncTarget(ctx, node, vm));
      const made = await reserveSpot(ctx.app, 'vnc', me, node, vm);
      if ('conflict' in made) throw refuse(made.conflict);
      if ('full' in made) throw oms('VNCPoolSpotSetUpError', { size: store.settings.poolSize });
      if ('portFailed' in made) throw oms('VNCSpotPortError', made.portFailed);
      return String(made.row.handle);
    },
  }),
  method({
    name: 'remove_vnc_connection',
    description: "Removes this session's VNC connection to the guest (an open console window disconnects) and returns its port.",
    auth: 'session',
    permission: onVm,
    mutates: true,
    lock: { none: "a console tunnel of this session; the guest itself is not changed" },
    params: vmParams,
    run(ctx, { server_hostname: node, kvm_vm_name: vm }) {
      const store = consoleStore(ctx.app);
      const row = store.find('vnc', node, vm);
      if (!row || row.sessionKey !== ctx.principal!.sessionKey || !store.remove('vnc', row.handle)) throw oms('VNCRemoveError', { what: `to ${vm} on ${node}` });
      closeTunnels(ctx.app, [row]);
      return String(row.handle);
    },
  }),
  method({
    name: 'remove_session_vnc_connections',
    description: "Removes all of this session's VNC connections; returns 0.",
    auth: 'session',
    permission: 'authenticated',
    mutates: true,
    lock: { none: "a console tunnel of this session; the guest itself is not changed" },
    params: [] as const,
    run(ctx) {
      closeTunnels(ctx.app, consoleStore(ctx.app).removeSession(ctx.principal!.sessionKey, 'vnc'));
      return 0;
    },
  }),
  method({
    name: 'list_session_vnc_connections',
    description: "This session's VNC connections: [{host, port, vm}].",
    auth: 'session',
    permission: 'authenticated',
    params: [] as const,
    run: (ctx) => consoleStore(ctx.app).ofSession('vnc', ctx.principal!.sessionKey).map((r) => ({ host: r.node, port: r.handle, vm: r.vm })),
  }),
  method({
    name: 'check_session_vnc_connection',
    description: 'Checks that the VNC connection on this port belongs to this session and that the guest still has its VNC server; returns "0".',
    auth: 'session',
    permission: 'authenticated',
    params: [{ name: 'port', schema: port }] as const,
    async run(ctx, { port: handle }) {
      const row = consoleStore(ctx.app).mine('vnc', handle, ctx.principal!.sessionKey);
      if (!row) throw oms('VNCConnectionCheckError', { port: handle, reason: 'no such connection in this session' });
      try {
        await vncTarget(ctx, row.node, row.vm);
      } catch (e) {
        if (isOmsError(e)) throw oms('VNCConnectionCheckError', { port: handle, reason: e.omsName === 'VNCRemoteSetUpError' ? String(e.vars.reason) : e.omsName });
        throw e;
      }
      return '0';
    },
  }),
  method({
    name: 'get_vnc_ticket',
    description:
      'A single-use ticket (valid for a few seconds) for opening the VNC connection on this port from the page: {host, port, vm, ticket, expires_in, url}. Open `url` (relative to the gateway) in a window without bars.',
    auth: 'session',
    permission: 'authenticated',
    params: [{ name: 'port', schema: port }] as const,
    run(ctx, { port: handle }) {
      const row = consoleStore(ctx.app).mine('vnc', handle, ctx.principal!.sessionKey);
      if (!row || !ctx.can('vm.console', paths.vm(row.node, row.vm))) throw oms('VNCConnectionCheckError', { port: handle, reason: 'no such connection in this session' });
      return ticketFor(ctx, row);
    },
  }),
  method({
    name: 'open_console',
    description:
      "Opens the guest's serial console (virsh console on the node) for this session: {host, port, vm, ticket, expires_in, url}; `url` is the terminal page with a single-use ticket. Calling it again in the same session gives a fresh ticket for the same console.",
    auth: 'session',
    permission: onVm,
    mutates: true,
    lock: { none: "a console tunnel of this session; the guest itself is not changed" },
    params: vmParams,
    async run(ctx, { server_hostname: node, kvm_vm_name: vm }) {
      const store = consoleStore(ctx.app);
      const me = ctx.principal!;
      const existing = store.find('serial', node, vm);
      if (existing && existing.sessionKey !== me.sessionKey) throw oms('ConsoleAlreadyOpenAnotherSessionError', { node, vm });
      const r = await ctx.node(node).exec(ttyConsole(uriOf(ctx, node), vm), { okExitCodes: [0, 1], timeoutMs: CHECK_TIMEOUT_MS });
      if (r.code !== 0 || !ttyPath(r.stdout)) throw oms('ConsoleRemoteSetUpError', { node, vm, reason: r.code === 0 ? 'the guest has no serial console' : reasonOf(r.stderr) });
      if (existing) return ticketFor(ctx, existing);
      const made = store.create('serial', me.sessionKey, me.userName, node, vm);
      if ('conflict' in made) {
        if (made.conflict.sessionKey !== me.sessionKey) throw oms('ConsoleAlreadyOpenAnotherSessionError', { node, vm });
        return ticketFor(ctx, made.conflict);
      }
      if ('full' in made) throw oms('ConsolePoolSpotSetUpError', { size: store.settings.poolSize });
      return ticketFor(ctx, made.row);
    },
  }),
  method({
    name: 'close_console',
    description: "Closes this session's serial console of the guest (an open terminal disconnects); returns its port.",
    auth: 'session',
    permission: onVm,
    mutates: true,
    lock: { none: "a console tunnel of this session; the guest itself is not changed" },
    params: vmParams,
    run(ctx, { server_hostname: node, kvm_vm_name: vm }) {
      const store = consoleStore(ctx.app);
      const row = store.find('serial', node, vm);
      if (!row || row.sessionKey !== ctx.principal!.sessionKey || !store.remove('serial', row.handle)) throw oms('ConsoleNotOpenError', { node, vm });
      closeTunnels(ctx.app, [row]);
      return String(row.handle);
    },
  }),
];
