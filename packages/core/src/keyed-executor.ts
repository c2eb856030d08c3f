interface QueuedTask {
  readonly key: string | null;
  readonly run: () => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Runs tasks with at most `concurrency` at a time, never two with the same key at once, and
 * tasks of one key in submission order (C6). Tasks without a key (`null`) only obey the limit.
 * With `concurrency: 1` everything runs one at a time in submission order.
 */
export class KeyedExecutor {
  readonly #concurrency: number;
  readonly #queue: QueuedTask[] = [];
  readonly #busyKeys = new Set<string>();
  #active = 0;

  constructor(concurrency = 1) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be an integer >= 1, got ${String(concurrency)}`);
    }
    this.#concurrency = concurrency;
  }

  /** Tasks queued or running. */
  get size(): number {
    return this.#queue.length + this.#active;
  }

  /** Queues `task`; the returned promise settles like the task. */
  run(key: string | null, task: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ key, run: task, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    for (let i = 0; i < this.#queue.length && this.#active < this.#concurrency; ) {
      const task = this.#queue[i]!;
      if (task.key !== null && this.#busyKeys.has(task.key)) {
        i++;
        continue;
      }
      this.#queue.splice(i, 1);
      this.#start(task);
    }
  }

  #start(task: QueuedTask): void {
    this.#active++;
    if (task.key !== null) this.#busyKeys.add(task.key);
    const done = (): void => {
      this.#active--;
      if (task.key !== null) this.#busyKeys.delete(task.key);
      this.#pump();
    };
    // A task that throws synchronously must not leave its key busy and its slot taken forever.
    let running: Promise<void>;
    try {
      running = Promise.resolve(task.run());
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      () => {
        done();
        task.resolve();
      },
      (error: unknown) => {
        done();
        task.reject(error);
      },
    );
  }
}
