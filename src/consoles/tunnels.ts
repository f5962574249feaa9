/**
 * What services use: the console store of an app, reserving spots, and closing tunnels. Closing is
 * announced on `app.events` ('console-closed'); the websocket side (hub.ts) ends the live bytes and
 * the spot's own port closes (spot-listeners.ts). Services never touch sockets themselves.
 */
import type { AppServices } from '../rpc/context.ts';
import { consoleSettings } from './settings.ts';
import { SpotPortError } from './spots.ts';
import { ConsoleStore, type ConsoleKind, type ConsoleRow, type CreateResult } from './store.ts';

export const CONSOLE_CLOSED = 'console-closed';

export interface ConsoleClosed {
  readonly kind: ConsoleKind;
  readonly handle: number;
}

export const consoleStore = (app: Pick<AppServices, 'db' | 'config'>): ConsoleStore => new ConsoleStore(app.db, consoleSettings(app.config));

/** Removes tunnels and tells the hub to end their live connections. */
export function closeTunnels(app: Pick<AppServices, 'events'>, rows: readonly Pick<ConsoleRow, 'kind' | 'handle'>[]): void {
  for (const r of rows) app.events.emit(CONSOLE_CLOSED, { kind: r.kind, handle: r.handle } satisfies ConsoleClosed);
}

/** A reservation, or the port the gateway could not listen on for it (and why). */
export type Reservation = CreateResult | { readonly portFailed: { readonly port: number; readonly reason: string } };

/**
 * Reserves the lowest free spot of a kind for the caller and, where spots listen on their own
 * port, opens that port before the spot is handed out: a number set-up returns is one a client
 * can connect to. A port another program holds is skipped for the next free spot; when every
 * free spot was taken that way, or the address refuses any port (EACCES, EADDRNOTAVAIL), the
 * caller gets `portFailed` for its typed error.
 */
export async function reserveSpot(
  app: Pick<AppServices, 'db' | 'config' | 'log' | 'consoleSpots' | 'events'>,
  kind: ConsoleKind,
  owner: { readonly sessionKey: string; readonly userName: string },
  node: string,
  vm: string,
): Promise<Reservation> {
  const store = consoleStore(app);
  const taken = new Set<number>();
  for (;;) {
    const made = store.create(kind, owner.sessionKey, owner.userName, node, vm, taken);
    if (!('row' in made)) return 'full' in made && taken.size ? { portFailed: { port: Math.min(...taken), reason: `address in use (${taken.size} port${taken.size > 1 ? 's' : ''} tried)` } } : made;
    const { handle } = made.row;
    try {
      await app.consoleSpots.open(kind, handle);
    } catch (e) {
      store.remove(kind, handle);
      if (!(e instanceof SpotPortError)) throw e;
      app.log.warn({ part: 'consoles', kind, port: handle, reason: e.reason }, 'console spot port cannot be opened');
      if (e.code !== 'EADDRINUSE') return { portFailed: { port: handle, reason: e.reason } };
      taken.add(handle);
      continue;
    }
    // A session that ended while the port was opening took its spot along (the close reached the
    // listener mid-open, which then shuts itself); this only makes sure no port outlives its row.
    if (!store.byHandle(kind, handle)) app.consoleSpots.close(kind, handle);
    return made;
  }
}

/** The page that shows a console of this kind, with a ticket, relative to the gateway's origin. */
export function consolePage(kind: ConsoleKind, ticket: string): string {
  const page = kind === 'vnc' ? 'vnc.html' : 'terminal.html';
  return `/web-vnc/${page}?${new URLSearchParams({ ticket })}`;
}

export type { ConsoleKind, ConsoleRow } from './store.ts';
