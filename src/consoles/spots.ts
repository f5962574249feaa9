/**
 * The seam between the console methods and the ports their spots listen on. A VNC or SSH spot
 * ("port" in the OMS results) listens on that very port while it is reserved, so a front-end
 * written for the OMS document can open `https://host:6900/?SESSID=..` or point noVNC at
 * `host:6801`. Services only ask this object to open a spot's port; the sockets themselves live
 * in spot-listeners.ts, attached by mount.ts when OMS_CONSOLE_SPOT_PORTS is on. Closing goes the
 * other way, through the 'console-closed' event every removal already emits (tunnels.ts).
 */
import type { ConsoleKind } from './store.ts';
import { listeningKinds } from './settings.ts';

/** Why a spot's port could not be opened: the system's code (EADDRINUSE, EACCES, ...) and a short reason. */
export class SpotPortError extends Error {
  constructor(
    readonly port: number,
    readonly code: string,
  ) {
    super(`port ${port}: ${reasonOfCode(code)}`);
    this.name = 'SpotPortError';
  }

  get reason(): string {
    return reasonOfCode(this.code);
  }
}

const reasonOfCode = (code: string): string =>
  code === 'EADDRINUSE' ? 'address in use' : code === 'EACCES' ? 'permission denied' : code === 'EADDRNOTAVAIL' ? 'address not available' : `cannot listen (${code})`;

export interface SpotPortOpener {
  /** Listens on the spot's port; rejects with SpotPortError when it cannot. */
  open(kind: ConsoleKind, handle: number): Promise<void>;
  close(kind: ConsoleKind, handle: number): void;
}

export class ConsoleSpots {
  #opener: SpotPortOpener | undefined;

  /** Installs the listeners; returns the function that removes them again. */
  attach(opener: SpotPortOpener): () => void {
    this.#opener = opener;
    return () => {
      if (this.#opener === opener) this.#opener = undefined;
    };
  }

  /** Whether reserved spots of this kind listen on their own port. */
  listens(kind: ConsoleKind): boolean {
    return this.#opener !== undefined && listeningKinds.includes(kind);
  }

  async open(kind: ConsoleKind, handle: number): Promise<void> {
    if (this.listens(kind)) await this.#opener!.open(kind, handle);
  }

  close(kind: ConsoleKind, handle: number): void {
    this.#opener?.close(kind, handle);
  }
}
