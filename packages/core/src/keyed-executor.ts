import { isPromiseLike, RESOLVED } from './internal/promises.js';

/** A task: returns a promise, or nothing when it completed synchronously. */
type Task = () => void | PromiseLike<void>;

interface QueuedTask {
  readonly key: string | null;
  readonly run: Task;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Runs tasks with at most `concurrency` at a time, never two with the same key at once, and
 * tasks of one key in submission order (C6). Tasks without a key (`null`) only obey the limit.
 * With `concurrency: 1` everything runs one at a time in submission order.
 *
 * A task that may start at once starts inside {@link run}, before it returns.
 */
export class KeyedExecutor {
  readonly #concurrency: number;
  // A FIFO with a head index: taking the front is O(1) (a `splice(0, 1)` per task made a long
  // queue quadratic). Taken slots are cleared; the array is reset or compacted in #pump.
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

  /** Tasks queued or running. */
  get size(): number {
    return this.#queue.length - this.#head + this.#active;
  }

  /**
   * Runs `task` as soon as the limit and its key allow; the returned promise settles like the task
   * (a synchronous throw rejects it). A task that returns something other than a promise has
   * completed synchronously: its slot and key are free again when `run` returns.
   */
  run(key: string | null, task: () => void | PromiseLike<void>): Promise<void> {
    // Idle fast path: nothing waits (so no task of this key can be overtaken), the limit allows
    // and the key is free. No promise and no queue entry for a task that completes synchronously,
    // which is what a synchronous message handler makes of a delivery.
    if (this.tryAcquire(key)) return this.#execute(key, task);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ key, run: task, resolve, reject });
      this.#pump();
    });
  }

  /**
   * For a caller that runs a task itself when it may start at once, without a promise of the
   * executor's: takes a slot (and `key`) and returns true when nothing waits, the limit allows and
   * the key is free, exactly when {@link run} would start a task at once. The caller must then call
   * {@link release} with the same key once its task has settled (synchronously or not).
   */
  tryAcquire(key: string | null): boolean {
    return this.#head === this.#queue.length && this.#tryAcquire(key);
  }

  /** Frees the slot and key taken by a successful {@link tryAcquire}, starting tasks that wait. */
  release(key: string | null): void {
    this.#release(key);
  }

  #tryAcquire(key: string | null): boolean {
    if (this.#active >= this.#concurrency || (key !== null && this.#busyKeys.has(key))) return false;
    this.#active++;
    if (key !== null) this.#busyKeys.add(key);
    return true;
  }

  #release(key: string | null): void {
    this.#active--;
    if (key !== null) this.#busyKeys.delete(key);
    if (this.#head !== this.#queue.length) this.#pump();
  }

  /** Runs `task`, which already holds a slot (and its key), and releases them when it settles. */
  #execute(key: string | null, task: Task): Promise<void> {
    let result: void | PromiseLike<void>;
    try {
      result = task();
    } catch (error) {
      // A task that throws synchronously must not leave its key busy and its slot taken forever.
      this.#release(key);
      return Promise.reject(error);
    }
    if (!isPromiseLike(result)) {
      this.#release(key);
      return RESOLVED;
    }
    return Promise.resolve(result).then(
      () => this.#release(key),
      (error: unknown) => {
        this.#release(key);
        throw error;
      },
    );
  }

  /**
   * Runs a task taken from the queue, which already holds a slot (and its key), and settles its
   * promise once it settled, right after releasing them (one reaction, no promise in between).
   */
  #executeQueued(task: QueuedTask): void {
    let result: void | PromiseLike<void>;
    try {
      result = task.run();
    } catch (error) {
      this.#release(task.key);
      task.reject(error);
      return;
    }
    if (!isPromiseLike(result)) {
      this.#release(task.key);
      task.resolve();
      return;
    }
    void Promise.resolve(result).then(
      () => {
        this.#release(task.key);
        task.resolve();
      },
      (error: unknown) => {
        this.#release(task.key);
        task.reject(error);
      },
    );
  }

  #pump(): void {
    // A task that completes synchronously releases its slot while this loop runs it, which calls
    // #pump again: that call returns at once and this loop carries on instead (no recursion, and
    // the queue is never scanned by two loops at once).
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (let i = this.#head; i < this.#queue.length && this.#active < this.#concurrency;) {
        const task = this.#queue[i]!;
        if (!this.#tryAcquire(task.key)) {
          i++; // its key is busy: later tasks of other keys may pass it
          continue;
        }
        if (i === this.#head) {
          this.#queue[i] = undefined;
          this.#head = ++i;
        } else {
          this.#queue.splice(i, 1);
        }
        this.#executeQueued(task);
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
