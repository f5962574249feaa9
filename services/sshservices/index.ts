/**
 * SSHService: SSH terminals to nodes in the browser. set_up_ssh_connection reserves a spot
 * ("port") for this session, and the gateway serves the terminal page on that port while it is
 * reserved (`https://gateway:6900/?SESSID=..`, as the OMS document opens it). The page connects
 * with the session id there, or with a single-use ticket (get_ssh_ticket, or the page at
 * /web-vnc/terminal.html?SESSID=..&port=..) at /consoles/ws; the gateway opens a pty shell on
 * the node over its SSH connection.
 */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { nodeName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import { nodeAlive } from '../../src/consoles/commands.ts';
import { closeTunnels, consolePage, consoleStore, reserveSpot, type ConsoleRow } from '../../src/consoles/tunnels.ts';

const port = z.coerce.number().int().min(1).max(65535);

export const sshservices = service({
  name: 'sshservices',
  aliases: ['ssh', 'SSHService'],
  description: 'SSHService: SSH terminals to nodes in the browser.',
  envelope: 'oms',
  methods: [
    method({
      name: 'set_up_ssh_connection',
      description:
        'Sets up an SSH terminal connection to the node for this session and returns its port (a string, as in the OMS document), on which the gateway then serves the terminal page: open https://gateway:PORT/?SESSID=.. as the OMS document says, or /web-vnc/terminal.html?SESSID=..&port=.. (or ?ticket= from get_ssh_ticket) on the gateway\'s own port.',
      auth: 'session',
      permission: { privilege: 'node.admin', path: (p: { server_hostname: string }) => paths.node(p.server_hostname) },
      mutates: true,
      params: [{ name: 'server_hostname', schema: nodeName }] as const,
      async run(ctx, { server_hostname: node }) {
        const store = consoleStore(ctx.app);
        const me = ctx.principal!;
        const refuse = (row: ConsoleRow) =>
          row.sessionKey === me.sessionKey ? oms('SSHAlreadySetUpError', { node, port: row.handle }) : oms('SSHAlreadySetUpAnotherSessionError', { node });
        const existing = store.find('ssh', node, '');
        if (existing) throw refuse(existing);
        try {
          await ctx.node(node).exec(nodeAlive(), { timeoutMs: 15_000 });
        } catch (e) {
          if (isOmsError(e) && e.omsName !== 'UnknownNodeError') throw oms('SSHRemoteSetUpError', { node, reason: e.omsName });
          throw e;
        }
        const made = await reserveSpot(ctx.app, 'ssh', me, node, '');
        if ('conflict' in made) throw refuse(made.conflict);
        if ('full' in made) throw oms('SSHPoolSpotSetUpError', { size: store.settings.poolSize });
        if ('portFailed' in made) throw oms('SSHSpotPortError', made.portFailed);
        return String(made.row.handle);
      },
    }),
    method({
      name: 'remove_session_ssh_connections',
      description: "Removes all of this session's SSH connections (open terminals disconnect); returns 0.",
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      params: [] as const,
      run(ctx) {
        let rows: ConsoleRow[];
        try {
          rows = consoleStore(ctx.app).removeSession(ctx.principal!.sessionKey, 'ssh');
        } catch (e) {
          ctx.log.error({ err: e }, 'removing SSH connections failed');
          throw oms('SSHRemoveError', { reason: 'database update failed' });
        }
        closeTunnels(ctx.app, rows);
        return 0;
      },
    }),
    method({
      name: 'list_session_ssh_connections',
      description: "This session's SSH connections: [{host, port}].",
      auth: 'session',
      permission: 'authenticated',
      params: [] as const,
      run: (ctx) => consoleStore(ctx.app).ofSession('ssh', ctx.principal!.sessionKey).map((r) => ({ host: r.node, port: r.handle })),
    }),
    method({
      name: 'check_session_ssh_connection',
      description: 'Checks that the SSH connection on this port belongs to this session and that its node answers; returns "0".',
      auth: 'session',
      permission: 'authenticated',
      params: [{ name: 'port', schema: port }] as const,
      async run(ctx, { port: handle }) {
        const row = consoleStore(ctx.app).mine('ssh', handle, ctx.principal!.sessionKey);
        if (!row) throw oms('SSHConnectionCheckError', { port: handle, reason: 'no such connection in this session' });
        try {
          await ctx.node(row.node).exec(nodeAlive(), { timeoutMs: 15_000 });
        } catch (e) {
          if (isOmsError(e)) throw oms('SSHConnectionCheckError', { port: handle, reason: e.omsName });
          throw e;
        }
        return '0';
      },
    }),
    method({
      name: 'get_ssh_ticket',
      description: 'A single-use ticket (valid for a few seconds) for opening the SSH connection on this port from the terminal page: {host, port, ticket, expires_in, url}.',
      auth: 'session',
      permission: 'authenticated',
      params: [{ name: 'port', schema: port }] as const,
      run(ctx, { port: handle }) {
        const store = consoleStore(ctx.app);
        const row = store.mine('ssh', handle, ctx.principal!.sessionKey);
        if (!row || !ctx.can('node.admin', paths.node(row.node))) throw oms('SSHConnectionCheckError', { port: handle, reason: 'no such connection in this session' });
        const { ticket, expiresAt } = store.issueTicket(row);
        return { host: row.node, port: row.handle, ticket, expires_in: Math.round((expiresAt - Date.now()) / 1000), url: consolePage('ssh', ticket) };
      },
    }),
  ],
});
