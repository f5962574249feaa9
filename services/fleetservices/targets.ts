/**
 * From a selector to its targets: signed nodes (with their tags), or guests found by listing the
 * nodes they can be on (KVM guests and containers, as the caller may see them: kvmplusovzservices'
 * listing filters by vm.view, so a pool user finds exactly the pool's guests). A node that cannot
 * be listed is reported with its typed error, never silently left out; a selector matching
 * nothing is FleetNoMatchError.
 */
import type { CallContext } from '../../src/rpc/context.ts';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { internal } from '../../src/rpc/internal.ts';
import { paths } from '../../src/auth/permissions.ts';
import { containers, kvmGuests } from '../kvmplusovzservices/index.ts';
import { runBounded, type Failure } from './runner.ts';
import { matchGuest, matchNode, nodeNarrowing, poolNarrowing, type GuestFacts, type GuestType, type Selector } from './selector.ts';

/** Nodes listed at once while selecting guests. */
const LIST_CONCURRENCY = 16;

export const failureOf = (ctx: CallContext) => (e: unknown): Failure => {
  const err = isOmsError(e) ? e : internal(e, ctx.log);
  return { name: err.omsName, code: err.code, message: err.message };
};

/** Signed nodes matching the selector that the caller may view. */
export function selectNodes(ctx: CallContext, sel: Selector): string[] {
  const names = ctx.app.nodes
    .listSigned()
    .filter((n) => ctx.can('node.view', paths.node(n.name)))
    .filter((n) => matchNode(sel, { name: n.name, tags: ctx.app.tags.ofNode(n.name).map((t) => t.tag) }))
    .map((n) => n.name);
  if (names.length === 0) throw oms('FleetNoMatchError', { selector: JSON.stringify(sel.text), targets: 'node you may view' });
  return names;
}

export interface GuestSelection {
  guests: GuestFacts[];
  /** Nodes that could not be listed: their guests are unknown. */
  unlisted: { node: string; error: Failure }[];
}

/** Guests matching the selector, of the given types, that the caller may see. */
export async function selectGuests(ctx: CallContext, sel: Selector, types: readonly GuestType[] = ['kvm', 'ct']): Promise<GuestSelection> {
  const onNode = nodeNarrowing(sel);
  const inPools = poolNarrowing(sel);
  // A pool selector only needs the nodes its members are on.
  const poolNodes = inPools && new Set(inPools.flatMap((p) => ctx.app.pools.get(p)?.members.map((m) => m.node) ?? []));
  const nodes = ctx.app.nodes
    .listSigned()
    .map((n) => n.name)
    .filter((n) => (!onNode || onNode(n)) && (!poolNodes || poolNodes.has(n)));
  const guests: GuestFacts[] = [];
  const listed = await runBounded(nodes, {
    concurrency: LIST_CONCURRENCY,
    failure: failureOf(ctx),
    async work(node) {
      const [kvm, ct] = await Promise.all([types.includes('kvm') ? kvmGuests(ctx, node) : [], types.includes('ct') ? containers(ctx, node) : []]);
      for (const g of [...kvm, ...ct]) {
        const facts: GuestFacts = {
          node,
          type: g.type === 'kvm' ? 'kvm' : 'ct',
          id: g.id,
          name: g.name,
          state: g.state,
          tags: g.tags.map((t) => t.tag),
          pools: g.pools,
        };
        if (matchGuest(sel, facts)) guests.push(facts);
      }
    },
  });
  const unlisted = listed.outcomes.filter((o) => !o.ok).map((o) => ({ node: o.target, error: o.error! }));
  guests.sort((a, b) => a.node.localeCompare(b.node) || a.type.localeCompare(b.type) || a.id.localeCompare(b.id, undefined, { numeric: true }));
  if (guests.length === 0) {
    const why = unlisted.length ? ` (${unlisted.length} node(s) could not be listed: ${unlisted.map((u) => `${u.node} ${u.error.name}`).join(', ').slice(0, 400)})` : '';
    throw oms('FleetNoMatchError', { selector: JSON.stringify(sel.text), targets: `${types.length === 1 ? (types[0] === 'kvm' ? 'KVM guest' : 'container') : 'guest'} you may see${why}` });
  }
  return { guests, unlisted };
}
