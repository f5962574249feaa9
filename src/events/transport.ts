/**
 * How numbered events reach every subscriber of every gateway. One in-process implementation
 * now; a shared one (PostgreSQL LISTEN/NOTIFY carrying the seq, subscribers reading the journal)
 * replaces it when several gateways share a database, without the bus or the delivery changing.
 * A transport only carries events already in the journal: it never numbers or stores them.
 */
import type { OmsEvent } from './types.ts';

export interface EventTransport {
  /** Hands a journaled event to every listener (of this and, for a shared transport, other gateways). */
  send(event: OmsEvent): void;
  /** Registers a listener; returns the function that removes it. */
  listen(listener: (event: OmsEvent) => void): () => void;
  close(): void;
}

/** Listeners in this process, called synchronously in the order they registered. */
export class InProcessTransport implements EventTransport {
  readonly #listeners = new Set<(event: OmsEvent) => void>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  send(event: OmsEvent): void {
    for (const l of [...this.#listeners]) {
      // One broken listener must not keep the event from the others.
      try {
        l(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  listen(listener: (event: OmsEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  close(): void {
    this.#listeners.clear();
  }
}
