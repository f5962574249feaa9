/**
 * UserService: the gateway's own users, groups, roles and grants (permissions as data, see
 * src/auth/permissions.ts), API tokens for scripts, and the audit log.
 */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { containerId, poolName, userName, nodeName, vmName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import { digest, newApiToken } from '../../src/auth/tokens.ts';
import { nowSeconds } from '../../src/db/database.ts';

const admin = { privilege: 'user.admin', path: () => paths.users } as const;
const password = z.string().min(1).max(1024);
const roleName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, 'not a valid role name');
const groupName = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,31}$/, 'not a valid group name');
const subjectType = z.enum(['user', 'group']);
/** An audited method as `service.method` or a bare method name (the audit stores canonical service names). */
const auditMethod = z.string().regex(/^(?:[a-z][a-z0-9_-]{0,63}\.)?[A-Za-z][A-Za-z0-9_]{0,63}$/, 'not a method name (service.method or method)');
const tokenName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/, 'not a valid token name');

/**
 * ACL paths: `/`, `/access`, `/nodes`, `/nodes/{node}`, `/nodes/{node}/vms/{vm}`, `/pools`,
 * `/pools/{pool}` (reaching every member of the pool); names checked by their field types. A
 * guest is a KVM guest's name or a container's numeric id.
 */
const aclPath = z.string().max(400).refine((p) => {
  if (p === '/' || p === '/access' || p === '/nodes' || p === '/pools') return true;
  const pool = /^\/pools\/([^/]+)$/.exec(p);
  if (pool) return poolName.safeParse(pool[1]).success;
  const m = /^\/nodes\/([^/]+)(?:\/vms\/([^/]+))?$/.exec(p);
  return !!m && nodeName.safeParse(m[1]).success && (m[2] === undefined || vmName.safeParse(m[2]).success || containerId.safeParse(m[2]).success);
}, 'not a valid permission path');

export const userservices = service({
  name: 'userservices',
  aliases: ['users', 'UserService'],
  description: 'Users, groups, roles, permission grants, API tokens and the audit log of the gateway.',
  envelope: 'oms',
  methods: [
    method({
      name: 'whoami',
      description: 'The calling user, their groups and their effective privileges on a path (default `/`).',
      auth: 'session',
      permission: 'authenticated',
      params: [{ name: 'path', schema: aclPath, optional: true }] as const,
      result: z.object({ name: z.string(), groups: z.array(z.string()), path: z.string(), privileges: z.array(z.string()) }),
      run(ctx, { path }) {
        const p = ctx.principal!;
        const u = ctx.app.users.list().find((x) => x.name === p.userName);
        return { name: p.userName, groups: u?.groups ?? [], path: path ?? '/', privileges: [...ctx.app.permissions.effective(p.userId, p.userName, path ?? '/')].sort() };
      },
    }),
    method({
      name: 'list_users',
      description: 'All users with their groups and direct grants.',
      auth: 'session',
      permission: admin,
      params: [] as const,
      run: (ctx) => ctx.app.users.list(),
    }),
    method({
      name: 'add_user',
      description: 'Creates a user; `roles` grants roles on paths, e.g. `[{"path":"/nodes/n1","role":"Operator"}]`.',
      auth: 'session',
      permission: admin,
      mutates: true,
      secretParams: ['password'],
      params: [
        { name: 'username', schema: userName },
        { name: 'password', schema: password },
        { name: 'roles', schema: z.array(z.object({ path: aclPath, role: roleName }).strict()).max(100), optional: true },
      ] as const,
      async run(ctx, { username, password: pw, roles }) {
        for (const r of roles ?? []) ctx.app.users.requireRole(r.role);
        await ctx.app.users.add(username, pw, roles ?? []);
        return 0;
      },
    }),
    method({
      name: 'delete_user',
      description: 'Deletes a user, their grants and sessions. The last administrator cannot be deleted.',
      auth: 'session',
      permission: admin,
      mutates: true,
      params: [{ name: 'username', schema: userName }] as const,
      run(ctx, { username }) {
        // Delete first (it may refuse: last administrator), then end the sessions it cascaded away.
        const id = ctx.app.users.require(username).id;
        const keys = ctx.app.sessions.keysOf(id);
        ctx.app.users.delete(username);
        // Their API tokens went with the cascade too: nothing remembered about the user may answer again.
        ctx.app.sessions.forgetUser(id);
        ctx.app.sessions.announceEnded(keys);
        return 0;
      },
    }),
    method({
      name: 'change_password',
      description: "Sets a user's password. Users may change their own; changing another's needs user.admin. Other sessions of that user end.",
      auth: 'session',
      permission: { privilege: 'user.admin', path: () => paths.users, orSelf: 'username' },
      mutates: true,
      secretParams: ['new_password'],
      params: [
        { name: 'username', schema: userName },
        { name: 'new_password', schema: password },
      ] as const,
      async run(ctx, { username, new_password }) {
        const p = ctx.principal!;
        await ctx.app.users.setPassword(username, new_password);
        ctx.app.sessions.destroyForUser(ctx.app.users.require(username).id, p.sessionKey);
        return 0;
      },
    }),
    method({
      name: 'list_roles',
      description: 'Roles and the privileges each holds.',
      auth: 'session',
      permission: 'authenticated',
      params: [] as const,
      run: (ctx) => ctx.app.users.roles(),
    }),
    method({
      name: 'list_acl',
      description: 'Every grant: path, subject (user or group), role, propagate.',
      auth: 'session',
      permission: admin,
      params: [] as const,
      run: (ctx) => ctx.app.users.grants(),
    }),
    method({
      name: 'grant',
      description: 'Grants a role on a path to a user or a group; `propagate` (default true) extends it to everything below the path.',
      auth: 'session',
      permission: admin,
      mutates: true,
      params: [
        { name: 'path', schema: aclPath },
        { name: 'subject_type', schema: subjectType },
        { name: 'subject', schema: z.string().max(32) },
        { name: 'role', schema: roleName },
        { name: 'propagate', schema: z.boolean(), optional: true },
      ] as const,
      run(ctx, { path, subject_type, subject, role, propagate }) {
        ctx.app.users.grant({ path, subject_type, subject, role, propagate: propagate ?? true });
        return 0;
      },
    }),
    method({
      name: 'revoke',
      description: 'Removes a grant. Returns 1 when a grant was removed, 0 when there was none.',
      auth: 'session',
      permission: admin,
      mutates: true,
      params: [
        { name: 'path', schema: aclPath },
        { name: 'subject_type', schema: subjectType },
        { name: 'subject', schema: z.string().max(32) },
        { name: 'role', schema: roleName },
      ] as const,
      run: (ctx, { path, subject_type, subject, role }) => (ctx.app.users.revoke({ path, subject_type, subject, role }) ? 1 : 0),
    }),
    method({
      name: 'set_roles',
      description: "Replaces a user's direct grants with the given list of `{path, role}`.",
      auth: 'session',
      permission: admin,
      mutates: true,
      params: [
        { name: 'username', schema: userName },
        { name: 'roles', schema: z.array(z.object({ path: aclPath, role: roleName }).strict()).max(100) },
      ] as const,
      run(ctx, { username, roles }) {
        const { users, db } = ctx.app;
        users.require(username);
        db.transaction(() => {
          db.prepare("DELETE FROM acl WHERE subject_type = 'user' AND subject = ?").run(username);
          for (const r of roles) users.grant({ path: r.path, subject_type: 'user', subject: username, role: r.role, propagate: true });
          if (users.adminCount() === 0) throw oms('LastAdminError');
        })();
        return 0;
      },
    }),
    method({
      name: 'list_groups',
      description: 'Groups and their members.',
      auth: 'session',
      permission: admin,
      params: [] as const,
      run: (ctx) => ctx.app.users.groups(),
    }),
    method({
      name: 'add_group',
      description: 'Creates a group.',
      auth: 'session',
      permission: admin,
      mutates: true,
      params: [
        { name: 'group', schema: groupName },
        { name: 'comment', schema: z.string().max(200), optional: true },
      ] as const,
      run(ctx, { group, comment }) {
        ctx.app.users.addGroup(group, comment);
        return 0;
      },
    }),
    method({
      name: 'delete_group',
      description: 'Deletes a group and its grants.',
      auth: 'session',
      permission: admin,
      mutates: true,
      params: [{ name: 'group', schema: groupName }] as const,
      run(ctx, { group }) {
        ctx.app.users.deleteGroup(group);
        return 0;
      },
    }),
    method({
      name: 'set_group_members',
      description: "Replaces a group's members.",
      auth: 'session',
      permission: admin,
      mutates: true,
      params: [
        { name: 'group', schema: groupName },
        { name: 'members', schema: z.array(userName).max(1000) },
      ] as const,
      run(ctx, { group, members }) {
        ctx.app.users.setGroupMembers(group, members);
        return 0;
      },
    }),
    method({
      name: 'create_api_token',
      description: 'Creates an API token for the calling user (for `Authorization: Bearer`). The token is shown only in this answer.',
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      params: [{ name: 'name', schema: tokenName }] as const,
      result: z.object({ name: z.string(), token: z.string() }),
      run(ctx, { name }) {
        const p = ctx.principal!;
        if (p.via === 'token') throw oms('PermissionDenied', { privilege: 'a password session', path: paths.users });
        const token = newApiToken();
        const exists = ctx.app.db.prepare('SELECT 1 FROM api_tokens WHERE user_id = ? AND name = ?').get(p.userId, name);
        if (exists) throw oms('UserExistsError', { user: `token ${name}` });
        ctx.app.db.prepare('INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)').run(p.userId, name, digest(token), nowSeconds());
        return { name, token };
      },
    }),
    method({
      name: 'list_api_tokens',
      description: "The calling user's API tokens (names and dates, never the tokens).",
      auth: 'session',
      permission: 'authenticated',
      params: [] as const,
      run: (ctx) => ctx.app.db.prepare('SELECT name, created_at, last_used FROM api_tokens WHERE user_id = ? ORDER BY name').all(ctx.principal!.userId),
    }),
    method({
      name: 'revoke_api_token',
      description: "Deletes one of the calling user's API tokens; websockets, event streams and console tunnels opened with it close at once.",
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      params: [{ name: 'name', schema: tokenName }] as const,
      run(ctx, { name }) {
        if (!ctx.app.sessions.revokeToken(ctx.principal!.userId, name)) throw oms('UnknownUserError', { user: `token ${name}` });
        return 0;
      },
    }),
    method({
      name: 'list_audit',
      description:
        'The newest audit rows (every call that changed something), optionally for one user, one method (`service.method` or a bare method name) and a time range (`since`/`until`, milliseconds since the epoch, inclusive).',
      auth: 'session',
      permission: { privilege: 'audit.view', path: () => '/' },
      params: [
        { name: 'limit', schema: z.number().int().min(1).max(10000), optional: true },
        { name: 'username', schema: userName, optional: true },
        { name: 'method', schema: auditMethod, optional: true },
        { name: 'since', schema: z.number().int().min(0), optional: true },
        { name: 'until', schema: z.number().int().min(0), optional: true },
      ] as const,
      run: (ctx, { limit, username, method: m, since, until }) => ctx.app.audit.list({ limit: limit ?? 100, user: username, method: m, since, until }),
    }),
  ],
});
