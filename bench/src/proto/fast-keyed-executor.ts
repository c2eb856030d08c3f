/*
 * PROTOTYPE, not used by msgport: packages/core/src/keyed-executor.ts with an acquire/release fast
 * path and a head index instead of splice(0, 1). See fast-message-broker-base.ts.
 */
interface QueuedTask {
  readonly key: string | null;
  readonly run: () => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * At most `concurrency` tasks at a time, never two with the same key, tasks of one key in
 * submission order. A task holds its slot until `release(key)` is called for it (by the task).
 */
export class FastKeyedExecutor {
  readonly #concurrency: number;
  #queue: Array<QueuedTask | undefined> = [];
  #head = 0;
  readonly #busyKeys = new Set<string>();
  #active = 0;
  #pumping = false;

  constructor(concurrency = 1) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be an integer >= 1, got ${String(concurrency)}`);
    }
    this.#concurrency = concurrency;
  }

  get size(): number {
    return this.#queue.length - this.#head + this.#active;
  }

  /** Takes a slot for `key` at once when nothing waits, the limit allows and `key` is free. */
  tryAcquire(key: string | null): boolean {
    if (this.#active >= this.#concurrency || this.#head !== this.#queue.length) return false;
    if (key !== null) {
      if (this.#busyKeys.has(key)) return false;
      this.#busyKeys.add(key);
    }
    this.#active++;
    return true;
  }

  /** Gives back the slot taken for `key` and starts what may start now. */
  release(key: string | null): void {
    this.#active--;
    if (key !== null) this.#busyKeys.delete(key);
    if (this.#head !== this.#queue.length) this.#pump();
  }

  /** Queues `task`, which starts holding a slot and must release it; settles like the task. */
  enqueue(key: string | null, task: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ key, run: task, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    // A task that completes synchronously releases inside the loop: don't recurse, loop on.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (let i = this.#head; i < this.#queue.length && this.#active < this.#concurrency; ) {
        const task = this.#queue[i]!;
        if (task.key !== null && this.#busyKeys.has(task.key)) {
          i++;
          continue;
        }
        if (i === this.#head) {
          this.#queue[i] = undefined;
          this.#head++;
          i++;
        } else {
          this.#queue.splice(i, 1);
        }
        this.#active++;
        if (task.key !== null) this.#busyKeys.add(task.key);
        let running: Promise<void>;
        try {
          running = task.run();
        } catch (error) {
          running = Promise.reject(error);
        }
        running.then(task.resolve, task.reject);
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1_024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
