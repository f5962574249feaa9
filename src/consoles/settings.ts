/** Console settings, derived from the gateway configuration (OMS_CONSOLE_POOL, OMS_CONSOLE_TICKET_TTL). */
import type { Config } from '../config.ts';

/** The kinds of console; each has its own pool of spots. (Here, not in store.ts, which imports this module.) */
export type ConsoleKind = 'vnc' | 'ssh' | 'serial';

export interface ConsoleSettings {
  /** Tunnels of one kind that may exist at once (over all sessions); more: *PoolSpotSetUpError. */
  readonly poolSize: number;
  /** A ticket must be redeemed (websocket opened) within this many milliseconds. */
  readonly ticketTtlMs: number;
}

/** First handle ("port") of each kind's pool; the OMS document shows VNC 6801 and SSH 6900. */
export const poolBase: Record<ConsoleKind, number> = { vnc: 6801, ssh: 6900, serial: 7000 };

export function consoleSettings(config: Pick<Config, 'consolePoolSize' | 'consoleTicketTtlSeconds'>): ConsoleSettings {
  return { poolSize: config.consolePoolSize, ticketTtlMs: config.consoleTicketTtlSeconds * 1000 };
}
