/**
 * One AbortSignal per call that fires when the call's time budget runs out or when the caller
 * aborts, carrying the error the call should reject with. Every wait of a call (queue, connect,
 * channel open, run) listens to this one signal.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort = (): void => this.#controller.abort(this.#caller?.reason);

  constructor(timeoutMs: number, caller: AbortSignal | undefined, onTimeout: () => Error) {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error('timeoutMs must be a positive number');
    this.#caller = caller;
    this.#timer = setTimeout(() => this.#controller.abort(onTimeout()), timeoutMs);
    if (caller?.aborted) this.#controller.abort(caller.reason);
    else caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Stops the timer and forgets the caller's signal; call once the call has settled. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }
}

/**
 * The result of `start()`, or the signal's reason if it aborts first. `start` is not called at all
 * when the signal has already fired. A late outcome of the promise stays handled (our handlers
 * remain attached), and whoever shares that promise sees it.
 */
export function untilAborted<T>(start: () => Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    start().then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
