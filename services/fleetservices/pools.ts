/**
 * Resource pool methods: create, delete, list, add and remove members. A pool's grants reach
 * its members (src/auth/permissions.ts), so putting a guest into a pool is a change of who may
 * act on it: it needs vm.config on the guest as it is now and on the pool it joins, and a move
 * from another pool also vm.config on that pool ("rights on both").
 */
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { containerId, nodeName, poolName, vmName } from '../../src/rpc/fields.ts';
import { oms } from '../../src/rpc/errors.ts';
import { paths } from '../../src/auth/permissions.ts';
import type { PoolMember } from '../../src/fleet/pools.ts';
import { containers, kvmGuests } from '../kvmplusovzservices/index.ts';

const poolParam = { name: 'pool', schema: poolName } as const;

const member = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('kvm'), node: nodeName, guest: vmName }).strict(),
  z.object({ kind: z.literal('ct'), node: nodeName, guest: containerId }).strict(),
]);
const members = z.array(member).min(1).max(500);

/** The caller may act on the pool's guests as a pool (its own grants: user.admin to make or drop one). */
const onPool = (privilege: 'vm.view' | 'vm.config' | 'user.admin') => ({ privilege, path: (p: { pool: string }) => paths.pool(p.pool) });

/** Refuses a member the caller cannot see on its node (UnknownGuestError), one listing per node. */
async function mustExist(ctx: CallContext, list: readonly PoolMember[]): Promise<void> {
  for (const node of new Set(list.map((m) => m.node))) {
    ctx.app.nodes.signed(node);
    const wanted = list.filter((m) => m.node === node);
    const kvm = wanted.some((m) => m.kind === 'kvm') ? (await kvmGuests(ctx, node)).map((g) => g.id) : [];
    const ct = wanted.some((m) => m.kind === 'ct') ? (await containers(ctx, node)).map((g) => g.id) : [];
    for (const m of wanted) if (!(m.kind === 'kvm' ? kvm : ct).includes(m.guest)) throw oms('UnknownGuestError', { kind: m.kind === 'kvm' ? 'KVM' : 'container', guest: m.guest, node });
  }
}

const view = (ctx: CallContext, name: string) => {
  const p = ctx.app.pools.require(name);
  return { ...p, members: p.members.filter((m) => ctx.can('vm.view', paths.vm(m.node, m.guest))) };
};

export const poolMethods: MethodDecl[] = [
  method({
    name: 'create_pool',
    description: 'Creates a resource pool: a named set of KVM guests and containers across nodes. Grants on /pools/{pool} then apply to every member. 0.',
    auth: 'session',
    permission: onPool('user.admin'),
    mutates: true,
    lock: { none: 'pools live in the gateway database; no guest is touched' },
    params: [poolParam, { name: 'description', schema: z.string().max(1024).regex(/^[^\u0000-\u0008\u000b-\u001f\u007f]*$/, 'control characters'), optional: true }] as const,
    run(ctx, { pool, description }) {
      ctx.app.pools.create(pool, description ?? '', ctx.principal?.userName);
      return 0;
    },
  }),
  method({
    name: 'delete_pool',
    description: 'Deletes an empty resource pool (PoolNotEmptyError while it has members: its grants would silently stop reaching them). Grants on its path stay until revoked. 0.',
    auth: 'session',
    permission: onPool('user.admin'),
    mutates: true,
    lock: { none: 'pools live in the gateway database; no guest is touched' },
    params: [poolParam] as const,
    run(ctx, { pool }) {
      ctx.app.pools.delete(pool);
      return 0;
    },
  }),
  method({
    name: 'list_pools',
    description: 'Resource pools the caller may view (vm.view on /pools/{pool}, or on a member): name, description, created_at, created_by, members [{kind, node, guest}] (those the caller may see).',
    auth: 'session',
    permission: 'authenticated',
    params: [] as const,
    run(ctx) {
      return ctx.app.pools
        .names()
        .map((n) => view(ctx, n))
        .filter((p) => ctx.can('vm.view', paths.pool(p.name)) || p.members.length > 0);
    },
  }),
  method({
    name: 'get_pool',
    description: 'One resource pool: name, description, created_at, created_by, members [{kind, node, guest}] the caller may see.',
    auth: 'session',
    permission: onPool('vm.view'),
    params: [poolParam] as const,
    run: (ctx, { pool }) => view(ctx, pool),
  }),
  method({
    name: 'add_pool_members',
    description:
      'Puts guests into a pool: members [{kind: kvm|ct, node, guest}] (a KVM guest by name, a container by id). A guest is in one pool at most: one in another pool moves, which needs vm.config on that pool too; every member also needs vm.config on the guest as it is now. All or none: the first refusal (PermissionDenied, UnknownGuestError, UnknownNodeError) changes nothing. Returns {added, moved: [{kind, node, guest, from}]}.',
    auth: 'session',
    permission: onPool('vm.config'),
    mutates: true,
    lock: { none: 'pool membership lives in the gateway database; the guests are not touched' },
    params: [poolParam, { name: 'members', schema: members }] as const,
    async run(ctx, { pool, members: list }) {
      ctx.app.pools.require(pool);
      for (const m of list) {
        const path = paths.vm(m.node, m.guest);
        if (!ctx.can('vm.config', path)) throw oms('PermissionDenied', { privilege: 'vm.config', path });
        const from = ctx.app.pools.poolOf(m.kind, m.node, m.guest);
        if (from && from !== pool && !ctx.can('vm.config', paths.pool(from))) throw oms('PermissionDenied', { privilege: 'vm.config', path: paths.pool(from) });
      }
      await mustExist(ctx, list);
      const moved: (PoolMember & { from: string })[] = [];
      ctx.app.db.transaction(() => {
        for (const m of list) {
          const from = ctx.app.pools.add(pool, m);
          if (from && from !== pool) moved.push({ ...m, from });
        }
      })();
      return { added: list.length, moved };
    },
  }),
  method({
    name: 'remove_pool_members',
    description: 'Takes guests out of a pool: members [{kind, node, guest}]; NotPoolMemberError for one that is not in it (nothing changed then). 0.',
    auth: 'session',
    permission: onPool('vm.config'),
    mutates: true,
    lock: { none: 'pool membership lives in the gateway database; the guests are not touched' },
    params: [poolParam, { name: 'members', schema: members }] as const,
    run(ctx, { pool, members: list }) {
      ctx.app.pools.require(pool);
      ctx.app.db.transaction(() => {
        for (const m of list)
          if (!ctx.app.pools.remove(pool, m)) throw oms('NotPoolMemberError', { kind: m.kind === 'kvm' ? 'KVM' : 'container', guest: m.guest, node: m.node, pool });
      })();
      return 0;
    },
  }),
];
