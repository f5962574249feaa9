/**
 * What the command palette offers: every screen, every node, every guest and container, and the
 * console's actions; and how typed text picks among them (every word must appear; names that
 * start with the text come first).
 */
import { fleet } from '../fleet/store.ts';
import { oms } from '../lib/client.ts';
import type { EventSink } from '../lib/live.ts';
import { href } from '../lib/router.ts';
import { logout } from '../lib/session.ts';
import { screens } from '../shell/screens.ts';

export interface Item {
  /** Unique, also the option's element id. */
  id: string;
  kind: 'Screen' | 'Node' | 'Guest' | 'Container' | 'Action';
  label: string;
  /** Shown after the label (a guest's node). */
  detail?: string;
  /** Where it goes, or what it does. */
  go: string | (() => void);
}

const byName = new Intl.Collator(undefined, { numeric: true }).compare;

export function fixedItems(): Item[] {
  const out: Item[] = screens.map((s) => ({ id: `screen-${s.id}`, kind: 'Screen', label: s.label, go: href(s.id) }));
  out.push(
    { id: 'act-user', kind: 'Action', label: 'Create a user', go: '#/admin/users' },
    { id: 'act-grant', kind: 'Action', label: 'Grant a role on a path', go: '#/admin/grants' },
    { id: 'act-token', kind: 'Action', label: 'Create an API token', go: '#/admin/tokens' },
    { id: 'act-audit', kind: 'Action', label: 'Show the audit log', go: '#/admin/audit' },
    { id: 'act-logout', kind: 'Action', label: 'Log out', go: () => void logout() },
  );
  for (const n of [...fleet.names.value].sort(byName)) out.push({ id: `node-${n}`, kind: 'Node', label: n, go: `#/node/${encodeURIComponent(n)}` });
  return out;
}

/** list_vms_status answers `[{name: {...}}]` (kvm) or `{id: {...}}` (containers): the names. */
function namesOf(result: unknown): string[] {
  const byKey = (Array.isArray(result) ? result[0] : result) as Record<string, unknown> | undefined;
  return Object.keys(byKey ?? {});
}

/**
 * The last complete guest list, reused by a palette opened again soon after (this tab only), and
 * forgotten as soon as an event says a guest or container changed anywhere (or a node came or went).
 */
let recent: { at: number; items: Item[] } | undefined;
const REUSE_MS = 30_000;

export const guestEvents: EventSink = {
  relist: () => void (recent = undefined),
  apply: (ev) => {
    if (ev.type === 'kvm' || ev.type === 'container' || ev.type === 'node') recent = undefined;
  },
};

/**
 * Every node's guests and containers, node by node as they answer (`add` is called for each);
 * a node that cannot answer (unreachable, no permission) simply adds nothing. A list completed
 * less than 30 s ago is given at once instead of asking every node again.
 */
export async function loadGuests(add: (items: Item[]) => void, signal: AbortSignal): Promise<void> {
  if (recent && Date.now() - recent.at < REUSE_MS) return add(recent.items);
  const all: Item[] = [];
  const keep = (items: Item[]) => (all.push(...items), add(items));
  await Promise.all(
    fleet.names.value.map(async (node) => {
      const guest = (name: string, kind: 'Guest' | 'Container'): Item => ({
        id: `${kind}-${node}-${name}`.replace(/[^A-Za-z0-9_-]/g, '_'),
        kind,
        label: name,
        detail: node,
        go: `#/guest/${encodeURIComponent(node)}/${encodeURIComponent(name)}`,
      });
      const [vms, cts] = await Promise.allSettled([oms.kvmservices.list_vms_status(node, { signal }), oms.ovzservices.list_vms_status(node, { signal })]);
      if (signal.aborted) return;
      const found = [...(vms.status === 'fulfilled' ? namesOf(vms.value).map((n) => guest(n, 'Guest')) : []), ...(cts.status === 'fulfilled' ? namesOf(cts.value).map((n) => guest(n, 'Container')) : [])];
      if (found.length) keep(found);
    }),
  );
  if (!signal.aborted) recent = { at: Date.now(), items: all };
}

/** The items matching `text`, best first, at most `max`. */
export function match(items: Item[], text: string, max = 50): Item[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return items.slice(0, max);
  const scored: [number, number, Item][] = [];
  items.forEach((it, i) => {
    const hay = `${it.label} ${it.detail ?? ''} ${it.kind}`.toLowerCase();
    if (!words.every((w) => hay.includes(w))) return;
    const label = it.label.toLowerCase();
    const score = label === words[0] ? 0 : label.startsWith(words[0]) ? 1 : label.includes(words[0]) ? 2 : 3;
    scored.push([score, i, it]);
  });
  return scored
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .slice(0, max)
    .map((s) => s[2]);
}
