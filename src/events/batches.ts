/**
 * The publishing loop of a node reader: what the reader has read waits in a batch, and one step
 * runs at a time (a batch published, a listing compared), so events and listings keep their
 * order. A batch is taken whole when its step starts, so what arrives while the states are read
 * goes into the next one.
 */
export class SerialBatches<T> {
  #pending: T[] = [];
  #scheduled = false;
  #busy: Promise<void> = Promise.resolve();

  constructor(
    /** Publishes one batch (never empty). */
    private readonly publish: (batch: T[]) => Promise<void>,
    /** A step that failed; the loop goes on with the next. */
    private readonly onError: (e: unknown) => void,
  ) {}

  /** Adds an item; its batch is published after the steps already queued. */
  add(item: T): void {
    this.#pending.push(item);
    if (this.#scheduled) return;
    this.#scheduled = true;
    void this.run(async () => {
      this.#scheduled = false;
      const batch = this.#pending;
      this.#pending = [];
      if (batch.length) await this.publish(batch);
    });
  }

  /** Runs a step after those queued before it; settles when it ran (its failure goes to onError). */
  run(step: () => Promise<void>): Promise<void> {
    const next = this.#busy.then(step).catch(this.onError);
    this.#busy = next;
    return next;
  }
}
