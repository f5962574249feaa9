/**
 * Per-node limit on open SSH channels with a bounded FIFO queue.
 *
 * OpenSSH refuses channels past its MaxSessions (10 by default) and a node has finite CPU for
 * parallel virsh/lvm calls, so at most `max` channels are open per node; further callers wait in
 * arrival order, and once `maxQueued` are waiting the next caller is refused at once (the error
 * comes from `onFull`, so this file stays free of catalogue names).
 */

export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
  fail: (reason: unknown) => void;
}

export class ChannelLimiter {
  #inUse = 0;
  readonly #queue: Waiter[] = [];

  constructor(
    readonly max: number,
    readonly maxQueued: number,
    private readonly onFull: () => Error,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new Error('limiter max must be a positive integer');
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new Error('limiter maxQueued must be a non-negative integer');
  }

  get inUse(): number {
    return this.#inUse;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Resolves with a release function once a slot is held. The release function is idempotent, so
   * callers can call it from every path that ends the channel without double-counting.
   * An abort while queued removes the waiter and rejects with the signal's reason.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#inUse < this.max && this.#queue.length === 0) {
      this.#inUse++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#queue.length >= this.maxQueued) return Promise.reject(this.onFull());
    return new Promise<Release>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        fail: reject,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Rejects everyone still waiting (pool shutdown). Held slots are released by their owners. */
  rejectWaiting(reason: unknown): void {
    for (const w of this.#queue.splice(0)) w.fail(reason);
  }

  #releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      // Hand the slot straight to the next waiter so a newcomer cannot overtake the queue.
      if (next) next.grant(this.#releaser());
      else this.#inUse--;
    };
  }
}
