/**
 * What services use: the console store of an app, and closing tunnels. Closing is announced on
 * `app.events` ('console-closed'); the websocket side (hub.ts) ends the live bytes. Services never
 * touch sockets themselves.
 */
import type { AppServices } from '../rpc/context.ts';
import { consoleSettings } from './settings.ts';
import { ConsoleStore, type ConsoleKind, type ConsoleRow } from './store.ts';

export const CONSOLE_CLOSED = 'console-closed';

export interface ConsoleClosed {
  readonly kind: ConsoleKind;
  readonly handle: number;
}

export const consoleStore = (app: Pick<AppServices, 'db' | 'config'>): ConsoleStore => new ConsoleStore(app.db, consoleSettings(app.config));

/** Removes tunnels and tells the hub to end their live connections. */
export function closeTunnels(app: Pick<AppServices, 'events'>, rows: readonly ConsoleRow[]): void {
  for (const r of rows) app.events.emit(CONSOLE_CLOSED, { kind: r.kind, handle: r.handle } satisfies ConsoleClosed);
}

/** The page that shows a console of this kind, with a ticket, relative to the gateway's origin. */
export function consolePage(kind: ConsoleKind, ticket: string): string {
  const page = kind === 'vnc' ? 'vnc.html' : 'terminal.html';
  return `/web-vnc/${page}?${new URLSearchParams({ ticket })}`;
}

export type { ConsoleKind, ConsoleRow } from './store.ts';
