/**
 * Live events (issue 14): subscribe on the /ws websocket (notifications `events.event`), or long
 * poll from any wire format (`events.poll`); GET /events (SSE) is served by src/http/sse.ts from
 * the same bus. Each subscriber sees only the events its grants let it read (src/events/visibility.ts).
 */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { oms } from '../../src/rpc/errors.ts';
import { nodeName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import { checkFilter, type EventFilter, type FilterRequest } from '../../src/events/filter.ts';
import { liveViewer } from '../../src/events/viewer.ts';
import type { LiveViewer } from '../../src/events/subscription.ts';

const types = z.array(z.string().min(1).max(64)).max(20);
const nodes = z.array(nodeName).max(1000);
const since = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const filter = z.object({ types: types.optional(), nodes: nodes.optional() }).strict();

/** Longest wait of one long poll; proxies commonly cut idle requests at 60 s or more. */
const MAX_POLL_SECONDS = 300;
/** Most events in one poll answer; the caller polls again from `next_since` for more. */
const POLL_LIMIT = 1000;

/** The filter asked for: known types, signed nodes the caller may view. */
function filterFor(ctx: CallContext, req: FilterRequest | undefined): EventFilter {
  const f = checkFilter(req, (n) => !!ctx.app.nodes.find(n)?.signed);
  for (const n of f.nodes ?? []) if (!ctx.can('node.view', paths.node(n))) throw oms('PermissionDenied', { privilege: 'node.view', path: paths.node(n) });
  return f;
}

const viewerOf = (ctx: CallContext): LiveViewer =>
  liveViewer({ permissions: ctx.app.permissions, sessions: ctx.app.sessions, recheckMs: ctx.app.config.sessionRecheckMs }, ctx.principal!, ctx.secret!);

export const events = service({
  name: 'events',
  aliases: ['eventservices'],
  description: 'Live events: every change in the fleet, numbered (seq), resumable with `since`.',
  envelope: 'oms',
  methods: [
    method({
      name: 'subscribe',
      description:
        'On the /ws websocket only: pushes each event the caller may see as a notification `events.event` (params: the event `{seq, time, type, node?, target?, action, data}`), in seq order. `types` and `nodes` narrow it; `since` first replays the journal after that seq (a `resync` event first when the journal no longer holds it). A second subscribe on the same socket replaces the first. Returns `{latest}`, the newest seq now.',
      auth: 'session',
      permission: 'authenticated',
      params: [
        { name: 'types', schema: types, optional: true, description: 'kvm, container, node, task, inventory, console' },
        { name: 'nodes', schema: nodes, optional: true },
        { name: 'since', schema: since, optional: true },
      ] as const,
      run(ctx, p) {
        if (!ctx.events) throw oms('EventTransportError', { transport: ctx.transport });
        const f = filterFor(ctx, p);
        ctx.events.subscribe(viewerOf(ctx), f, p.since);
        return { latest: ctx.app.bus.latest() };
      },
    }),
    method({
      name: 'unsubscribe',
      description: "Ends this websocket's event subscription. 1 when there was one, 0 otherwise.",
      auth: 'session',
      permission: 'authenticated',
      params: [] as const,
      run(ctx) {
        if (!ctx.events) throw oms('EventTransportError', { transport: ctx.transport });
        return ctx.events.unsubscribe() ? 1 : 0;
      },
    }),
    method({
      name: 'poll',
      description:
        'Long poll, for every wire format: the events after `since` the caller may see (at most 1000), at once when there are some, else the first one within `timeout_seconds` (0: answer at once), else none. `since` null: only events from now on. Returns `{events, next_since}`; pass `next_since` as `since` next time. A `since` older than the journal answers a `resync` event first.',
      auth: 'session',
      permission: 'authenticated',
      params: [
        { name: 'since', schema: since.nullable() },
        { name: 'timeout_seconds', schema: z.number().min(0).max(MAX_POLL_SECONDS) },
        { name: 'filter', schema: filter, optional: true },
      ] as const,
      run(ctx, p) {
        const f = filterFor(ctx, p.filter);
        return ctx.app.bus.poll({ viewer: viewerOf(ctx), filter: f, since: p.since ?? undefined, timeoutMs: Math.round(p.timeout_seconds * 1000), signal: ctx.signal, limit: POLL_LIMIT });
      },
    }),
  ],
});
