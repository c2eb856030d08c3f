/**
 * Counts work in progress and tells when none is left: what `stop()` waits for (handlers in flight,
 * publishes awaiting a confirm). `enter()` when a piece starts, `leave()` when it settles (in a
 * `finally`), `whenIdle()` to wait.
 */
export class IdleLatch {
  #count = 0;
  #waiters: Array<() => void> = [];

  /** Pieces of work in progress. */
  get count(): number {
    return this.#count;
  }

  /** One more piece of work started. */
  enter(): void {
    this.#count++;
  }

  /** One piece of work settled; wakes every waiter when it was the last one. Extra calls are ignored. */
  leave(): void {
    if (this.#count === 0) return;
    if (--this.#count > 0 || this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once no work is in progress (at once when none is). Never rejects. */
  whenIdle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
