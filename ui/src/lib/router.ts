/**
 * The current screen, from the address's hash (`#/fleet?tag=OpenNode`): a reload, a bookmark and
 * the back button all land where the operator was, and the login screen, shown in place of any
 * route, leaves it untouched so logging in again returns there.
 */
import { signal } from '@preact/signals';

export interface Route {
  /** First path segment: 'fleet', ... */
  screen: string;
  /** Further segments. */
  rest: string[];
  query: URLSearchParams;
}

export const DEFAULT_SCREEN = 'fleet';

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const mark = raw.indexOf('?');
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { screen: parts[0] ?? DEFAULT_SCREEN, rest: parts.slice(1), query: new URLSearchParams(mark < 0 ? '' : raw.slice(mark + 1)) };
}

export const route = signal<Route>(parseHash(location.hash));

addEventListener('hashchange', () => {
  route.value = parseHash(location.hash);
});

/** An href for a screen, e.g. href('fleet', { tag: 'x' }). */
export function href(screen: string, query?: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return `#/${encodeURIComponent(screen)}${s ? `?${s}` : ''}`;
}
