import { estimateRecordSize, type OutgoingRecord } from './mapping.js';

/** One topic's share of a batch, as `producer.sendBatch` takes it. */
export interface TopicRecords {
  readonly topic: string;
  readonly messages: OutgoingRecord[];
}

/** Sends one batch; resolves when the broker acknowledged every record in it. */
export type SendBatch = (batch: TopicRecords[]) => Promise<void>;

/** Options of {@link PublishBatcher}. */
export interface PublishBatcherOptions {
  /** Records per request. */
  readonly maxBatchSize: number;
  /** Estimated bytes per request; a single larger record still goes, alone. */
  readonly maxBatchBytes: number;
  /** How long the first record of an idle batcher waits for others; 0 waits one event-loop turn. */
  readonly lingerMs: number;
  /** True when a failure means the broker rejected a record for its size (the batch can be split). */
  readonly isTooLarge: (error: unknown) => boolean;
  /** True when the same batch may succeed if sent again (broker unreachable, no leader yet …). */
  readonly isRetriable: (error: unknown) => boolean;
  /** Pause before sending a batch again after its `attempt`-th failure (1, 2, …). */
  readonly retryDelayMs: (attempt: number) => number;
  /**
   * Called when records were handed to `send` and the batch is then given up without an
   * acknowledgement (failed, expired, or closed). The broker may have stored some of them: the
   * adapter starts a new producer session, so that the next batch cannot reuse their sequence
   * numbers. Not called for a batch refused for its size (the broker stored nothing).
   */
  readonly onAbandoned?: (error: unknown) => void;
  /**
   * Turns the failure of a record of `topic` into what its caller gets (the adapter's
   * `PublishError`); by default the failure itself.
   */
  readonly toError?: (error: unknown, topic: string) => unknown;
}

/** Why a record was rejected without an answer from the broker. */
export type Unanswered = 'deadline' | 'closed';

/**
 * The rejection of a record that got no acknowledgement: its deadline passed (`deadline`) or the
 * batcher was closed (`closed`). `sent` says whether it was ever handed to the producer (if not,
 * it was certainly not stored); `lastError` is the last failure of its batch, if any.
 */
export class UnansweredError extends Error {
  readonly reason: Unanswered;
  readonly sent: boolean;
  readonly lastError: unknown;

  constructor(reason: Unanswered, sent: boolean, lastError: unknown) {
    super(
      reason === 'deadline' ? 'no acknowledgement before the deadline' : 'the publisher was closed before an acknowledgement',
    );
    this.name = 'UnansweredError';
    this.reason = reason;
    this.sent = sent;
    this.lastError = lastError;
  }
}

interface Pending {
  readonly topic: string;
  readonly record: OutgoingRecord;
  readonly size: number;
  /** `Date.now()` after which the caller gets an {@link UnansweredError} instead of waiting on. */
  readonly deadline: number;
  settled: boolean;
  /** Handed to `send` at least once. */
  sent: boolean;
  /** The caller's promise, settled once through `#succeed` / `#fail`. */
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** The batch being sent, and what the expiry timer and `close()` need to know about it. */
interface InFlight {
  readonly records: Pending[];
  /** The last attempt failed and the batch waits to be sent again (the brokers seem unreachable). */
  failing: boolean;
  lastError: unknown;
  /** Cuts the pause between two attempts short. */
  wake: (() => void) | null;
}

/**
 * Collects concurrent publishes into few produce requests, like a producer linger, while every
 * caller keeps its own promise.
 *
 * One batch is in flight at a time: everything enqueued while it is (or during the linger) goes
 * into the next one. That keeps publish order per partition (what the idempotent producer's
 * sequence numbers need anyway) and makes batching adaptive: the slower the broker, the bigger
 * the batches. When the broker rejects a batch of several records for its size, each record is
 * sent again on its own so that only the record that is really too large fails.
 *
 * Outages: a batch that fails with a retriable error is sent again, with backoff, until the
 * deadline of its records. Every record has its own deadline: when it passes, its caller is
 * rejected at once with an {@link UnansweredError}, whether the record is still queued or in a
 * batch whose attempt is still running (the attempt is never abandoned midway: the next batch
 * waits for it, so that two batches are never in flight). A record is resolved only by an
 * acknowledgement of an attempt that contained it.
 *
 * `close()` (the adapter is stopping): no new records, and no batch is sent again after a failure.
 * If the batch in flight is already failing, it and everything queued are rejected at once;
 * otherwise what is queued is still sent, one attempt per batch, and the first failure rejects the
 * rest.
 */
export class PublishBatcher {
  readonly #send: SendBatch;
  readonly #options: PublishBatcherOptions;
  #queue: Pending[] = [];
  #scheduled = false;
  #running: Promise<void> | null = null;
  #inFlight: InFlight | null = null;
  #closed = false;
  #expiryTimer: NodeJS.Timeout | null = null;
  #expiryAt = Number.POSITIVE_INFINITY;

  constructor(send: SendBatch, options: PublishBatcherOptions) {
    this.#send = send;
    this.#options = options;
  }

  /** Records waiting to be sent (not counting the batch in flight). */
  get size(): number {
    return this.#queue.length;
  }

  /**
   * True while records of the batch in flight wait for it to be sent again after a retriable
   * failure (the brokers seem unreachable).
   */
  get failing(): boolean {
    const inFlight = this.#inFlight;
    return inFlight !== null && inFlight.failing && inFlight.records.some((pending) => !pending.settled);
  }

  /**
   * Queues `record` for `topic`; settles when the broker acknowledged it, when it failed for good,
   * or with an {@link UnansweredError} at `deadline` (a `Date.now()` value) or on `close()`.
   */
  enqueue(topic: string, record: OutgoingRecord, deadline: number): Promise<void> {
    // Runs for every publish: one object and the promise, no closures of its own.
    let pending!: Pending;
    const promise = new Promise<void>((resolve, reject) => {
      pending = { topic, record, size: estimateRecordSize(record), deadline, settled: false, sent: false, resolve, reject };
    });
    if (this.#closed) {
      this.#fail(pending, new UnansweredError('closed', false, this.#inFlight?.lastError));
    } else if (deadline <= Date.now()) {
      this.#fail(pending, new UnansweredError('deadline', false, this.#inFlight?.lastError));
    } else {
      this.#queue.push(pending);
      this.#armExpiry(deadline);
      this.#schedule();
    }
    return promise;
  }

  /**
   * Takes no more records and stops retrying: from now on a failed batch is rejected, not sent
   * again. If the batch in flight is already failing, it and everything queued are rejected now
   * (with an {@link UnansweredError} `closed`); otherwise what is queued is still sent, and
   * `flush()` waits for it.
   */
  close(): void {
    this.#closed = true;
    const inFlight = this.#inFlight;
    if (inFlight?.failing === true) this.#rejectWaiting(inFlight);
  }

  /** Resolves when every record queued so far was answered (acknowledged or rejected). */
  async flush(): Promise<void> {
    while (this.#running !== null || this.#queue.length > 0) {
      if (this.#running === null) this.#start();
      await this.#running;
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#running !== null) return;
    this.#scheduled = true;
    const go = (): void => {
      this.#scheduled = false;
      if (this.#running === null) this.#start();
    };
    if (this.#options.lingerMs > 0) setTimeout(go, this.#options.lingerMs);
    else setImmediate(go);
  }

  #start(): void {
    this.#running = this.#drain().finally(() => {
      this.#running = null;
      if (this.#queue.length > 0) this.#schedule();
      else this.#disarmExpiry();
    });
  }

  async #drain(): Promise<void> {
    for (let first = true; this.#queue.length > 0; first = false) {
      // After an acknowledgement, the callers it released publish again only a few microtasks
      // later (their await chains run after this one's): one event-loop turn lets them all enqueue,
      // so that the next request carries them instead of going out half full. Not needed when
      // the queue already holds a full batch.
      if (!first && this.#queue.length < this.#options.maxBatchSize) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.#queue.length === 0) break;
      }
      await this.#sendBatch(this.#take());
    }
  }

  /** Takes the next batch off the queue, bounded by count and estimated bytes. */
  #take(): Pending[] {
    const { maxBatchSize, maxBatchBytes } = this.#options;
    let count = 0;
    let bytes = 0;
    while (count < this.#queue.length && count < maxBatchSize) {
      const next = this.#queue[count]!;
      if (count > 0 && bytes + next.size > maxBatchBytes) break;
      bytes += next.size;
      count++;
    }
    return this.#queue.splice(0, count);
  }

  async #sendBatch(batch: Pending[]): Promise<void> {
    const inFlight: InFlight = { records: batch, failing: false, lastError: undefined, wake: null };
    this.#inFlight = inFlight;
    try {
      await this.#attempt(inFlight);
    } finally {
      this.#inFlight = null;
    }
  }

  /** Sends `inFlight` until it is acknowledged, fails for good, or nobody waits for it any more. */
  async #attempt(inFlight: InFlight): Promise<void> {
    const batch = inFlight.records;
    let attempts = 0;
    let previous: Pending[] = [];
    for (;;) {
      const live = batch.filter((pending) => !pending.settled);
      if (live.length === 0) {
        // Every caller already got its rejection (deadline or close) while the batch waited.
        if (attempts > 0) this.#options.onAbandoned?.(inFlight.lastError);
        return;
      }
      // Records expired since the last attempt: the batch is now different from what the broker
      // may have stored, so a new producer session must send the rest.
      if (attempts > 0 && live.length !== previous.length) this.#options.onAbandoned?.(inFlight.lastError);
      previous = live;
      attempts++;
      for (const pending of live) pending.sent = true;
      let error: unknown;
      try {
        await this.#send(group(live));
        for (const pending of live) this.#succeed(pending);
        inFlight.failing = false;
        return;
      } catch (caught) {
        error = caught;
      }
      inFlight.lastError = error;
      if (live.length > 1 && this.#options.isTooLarge(error)) {
        // The broker refused the whole request for its size; nothing was stored (a size
        // rejection is final, not a timeout), so each record can safely be tried on its own.
        for (const pending of live) await this.#sendBatch([pending]);
        return;
      }
      if (this.#closed || !this.#options.isRetriable(error)) {
        for (const pending of live)
          this.#fail(
            pending,
            this.#closed && this.#options.isRetriable(error) ? new UnansweredError('closed', true, error) : error,
          );
        if (!this.#options.isTooLarge(error)) this.#options.onAbandoned?.(error);
        if (this.#closed) this.#rejectWaiting(inFlight);
        return;
      }
      inFlight.failing = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#options.retryDelayMs(attempts));
        function done(): void {
          clearTimeout(timer);
          inFlight.wake = null;
          resolve();
        }
        inFlight.wake = done;
        // Nobody left to send for (expired or closed meanwhile): no need to wait.
        if (batch.every((pending) => pending.settled)) done();
      });
    }
  }

  /** Rejects the batch in flight and everything queued (the batcher is closed and failing). */
  #rejectWaiting(inFlight: InFlight): void {
    for (const pending of inFlight.records) this.#fail(pending, new UnansweredError('closed', pending.sent, inFlight.lastError));
    for (const pending of this.#queue.splice(0)) this.#fail(pending, new UnansweredError('closed', false, inFlight.lastError));
    inFlight.wake?.();
  }

  #succeed(pending: Pending): void {
    if (pending.settled) return;
    pending.settled = true;
    pending.resolve();
  }

  #fail(pending: Pending, error: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    const toError = this.#options.toError;
    pending.reject(toError === undefined ? error : toError(error, pending.topic));
  }

  // ---- deadlines ------------------------------------------------------------------------------

  /**
   * One timer for all deadlines, set no later than the earliest one: when it fires, every expired
   * record (queued or in the batch in flight) is rejected and the timer is set for the next one.
   */
  #armExpiry(deadline: number): void {
    if (this.#expiryTimer !== null && this.#expiryAt <= deadline) return;
    if (this.#expiryTimer !== null) clearTimeout(this.#expiryTimer);
    this.#expiryAt = deadline;
    this.#expiryTimer = setTimeout(() => this.#expire(), Math.max(0, deadline - Date.now()));
  }

  #disarmExpiry(): void {
    if (this.#expiryTimer !== null) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
    this.#expiryAt = Number.POSITIVE_INFINITY;
  }

  #expire(): void {
    this.#expiryTimer = null;
    this.#expiryAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    const inFlight = this.#inFlight;
    let next = Number.POSITIVE_INFINITY;
    if (inFlight !== null) {
      for (const pending of inFlight.records) {
        if (pending.settled) continue;
        if (pending.deadline <= now) this.#fail(pending, new UnansweredError('deadline', pending.sent, inFlight.lastError));
        else next = Math.min(next, pending.deadline);
      }
      if (inFlight.records.every((pending) => pending.settled)) inFlight.wake?.();
    }
    const lastError = inFlight?.lastError;
    this.#queue = this.#queue.filter((pending) => {
      if (pending.deadline > now) {
        next = Math.min(next, pending.deadline);
        return true;
      }
      this.#fail(pending, new UnansweredError('deadline', false, lastError));
      return false;
    });
    if (next !== Number.POSITIVE_INFINITY) this.#armExpiry(next);
  }
}

function group(batch: readonly Pending[]): TopicRecords[] {
  const byTopic = new Map<string, OutgoingRecord[]>();
  for (const pending of batch) {
    let records = byTopic.get(pending.topic);
    if (records === undefined) {
      records = [];
      byTopic.set(pending.topic, records);
    }
    records.push(pending.record);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
