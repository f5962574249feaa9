/**
 * Exponential backoff between connection attempts to one node: after n consecutive failed
 * attempts the next one is allowed min·2^(n-1) ms (capped at max) after the last failure.
 * Calls in that window fail fast instead of piling connect attempts onto a dead node.
 */
export class Backoff {
  #failures = 0;
  #notBefore = 0;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(minMs >= 0) || !(maxMs >= minMs)) throw new Error('backoff needs 0 <= min <= max');
  }

  get failures(): number {
    return this.#failures;
  }

  /** Milliseconds until the next attempt is allowed (0 = now). */
  remainingMs(): number {
    return Math.max(0, this.#notBefore - this.now());
  }

  failure(): void {
    this.#failures++;
    const delay = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.#failures - 1, 30));
    this.#notBefore = this.now() + delay;
  }

  success(): void {
    this.#failures = 0;
    this.#notBefore = 0;
  }
}
