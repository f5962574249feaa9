/**
 * One gate for every SSH connection attempt of a gateway (issue 16: 500 nodes on one gateway).
 * After a gateway restart, or when a network blip drops many links at once, every node's
 * watchers, health sampler and callers want a connection in the same second: 500 key exchanges
 * at once would stall the event loop and hit every node's sshd at the same instant. The gate
 * bounds how many attempts run at once (`max`), and an attempt that arrives while others are
 * running first waits a random delay of up to `jitterMs`, so a burst is spread over that window
 * instead of queueing in lockstep. An attempt that finds the gate idle starts at once: the one
 * reconnect of a single dropped node costs no added delay.
 */

export interface ConnectGateStats {
  /** Attempts running now (a slot held). */
  readonly inFlight: number;
  /** Attempts waiting for their jitter or a slot. */
  readonly waiting: number;
  /** The most attempts ever running at once since the gate was made. */
  readonly peak: number;
  /** Attempts started since the gate was made. */
  readonly started: number;
}

export interface ConnectGateOptions {
  /** Attempts running at once, at least 1. */
  readonly max: number;
  /** Upper bound of the random delay before an attempt made while the gate is busy; 0: none. */
  readonly jitterMs: number;
  /** [0, 1), for tests. */
  readonly random?: () => number;
}

export class ConnectGate {
  readonly max: number;
  readonly jitterMs: number;
  readonly #random: () => number;
  #inFlight = 0;
  #jittering = 0;
  #peak = 0;
  #started = 0;
  readonly #queue: (() => void)[] = [];

  constructor(opts: ConnectGateOptions) {
    if (!Number.isInteger(opts.max) || opts.max < 1) throw new Error('connect gate max must be a positive integer');
    if (!Number.isFinite(opts.jitterMs) || opts.jitterMs < 0) throw new Error('connect gate jitterMs must be >= 0');
    this.max = opts.max;
    this.jitterMs = opts.jitterMs;
    this.#random = opts.random ?? Math.random;
  }

  stats(): ConnectGateStats {
    return { inFlight: this.#inFlight, waiting: this.#jittering + this.#queue.length, peak: this.#peak, started: this.#started };
  }

  /** Runs `attempt` once the gate lets it; the slot is held until its promise settles. */
  async run<T>(attempt: () => Promise<T>): Promise<T> {
    const busy = this.#inFlight > 0 || this.#jittering > 0 || this.#queue.length > 0;
    if (busy && this.jitterMs > 0) {
      this.#jittering++;
      try {
        await new Promise((r) => setTimeout(r, Math.floor(this.#random() * this.jitterMs)));
      } finally {
        this.#jittering--;
      }
    }
    if (this.#inFlight >= this.max || this.#queue.length > 0) await new Promise<void>((r) => this.#queue.push(r));
    else this.#inFlight++;
    this.#started++;
    this.#peak = Math.max(this.#peak, this.#inFlight);
    try {
      return await attempt();
    } finally {
      const next = this.#queue.shift();
      // The slot passes straight to the next in line, so a newcomer cannot overtake the queue.
      if (next) next();
      else this.#inFlight--;
    }
  }
}
