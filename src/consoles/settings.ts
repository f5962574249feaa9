/** Console settings, derived from the gateway configuration (OMS_CONSOLE_*). */
import type { Config } from '../config.ts';

/** The kinds of console; each has its own pool of spots. (Here, not in store.ts, which imports this module.) */
export type ConsoleKind = 'vnc' | 'ssh' | 'serial';

export interface ConsoleSettings {
  /** Tunnels of one kind that may exist at once (over all sessions); more: *PoolSpotSetUpError. */
  readonly poolSize: number;
  /** A ticket must be redeemed (websocket opened) within this many milliseconds. */
  readonly ticketTtlMs: number;
  /** First handle ("port") of each kind's pool; the OMS document shows VNC 6801 and SSH 6900. */
  readonly bases: Readonly<Record<ConsoleKind, number>>;
}

/** Kinds whose spots listen on their own port (OMS_CONSOLE_SPOT_PORTS): the two the OMS document opens by port. */
export const listeningKinds: readonly ConsoleKind[] = ['vnc', 'ssh'];

type ConsoleConfig = Pick<Config, 'consolePoolSize' | 'consoleTicketTtlSeconds' | 'consoleVncBase' | 'consoleSshBase' | 'consoleSerialBase'>;

export function consoleSettings(config: ConsoleConfig): ConsoleSettings {
  const bases = { vnc: config.consoleVncBase, ssh: config.consoleSshBase, serial: config.consoleSerialBase };
  return { poolSize: config.consolePoolSize, ticketTtlMs: config.consoleTicketTtlSeconds * 1000, bases };
}
