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
}

interface Pending {
  readonly topic: string;
  readonly record: OutgoingRecord;
  readonly size: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
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
 */
export class PublishBatcher {
  readonly #send: SendBatch;
  readonly #options: PublishBatcherOptions;
  #queue: Pending[] = [];
  #scheduled = false;
  #running: Promise<void> | null = null;

  constructor(send: SendBatch, options: PublishBatcherOptions) {
    this.#send = send;
    this.#options = options;
  }

  /** Records waiting to be sent (not counting the batch in flight). */
  get size(): number {
    return this.#queue.length;
  }

  /** Queues `record` for `topic`; settles when the broker acknowledged or rejected it. */
  enqueue(topic: string, record: OutgoingRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ topic, record, size: estimateRecordSize(record), resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves when every record queued so far was acknowledged or rejected. */
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
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
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
    try {
      await this.#send(group(batch));
    } catch (error) {
      if (batch.length > 1 && this.#options.isTooLarge(error)) {
        // The broker refused the whole request for its size; nothing was stored (a size
        // rejection is final, not a timeout), so each record can safely be tried on its own.
        for (const pending of batch) await this.#sendBatch([pending]);
        return;
      }
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const pending of batch) pending.resolve();
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
