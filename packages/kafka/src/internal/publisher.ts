import { PublishError, type Logger, type Message, type MessagingError } from '@msgport/core';
import { keyPartition, type Redact } from '@msgport/core/adapter';
import kafkajs, { type ICustomPartitioner, type Kafka as KafkaClient, type Producer } from 'kafkajs';
import { describeError, isMessageTooLarge, isRetriableSendError, isUnknownTopic, toPublishError } from './errors.js';
import { toKafkaRecord, type OutgoingRecord } from './mapping.js';
import { PRODUCER_RETRY, publishRetryDelayMs, type ResolvedOptions } from './options.js';
import { PublishBatcher, UnansweredError } from './publish-batcher.js';
import { sendEveryRecord } from './send-every-record.js';
import { TopicCreationError, type TopicAdmin } from './topics.js';

// kafkajs is CommonJS and Node cannot see all of its named exports: take them off the default export.
const { Partitioners } = kafkajs;

/** Publishing figures `health()` reports; kept by the adapter across connections. */
export interface PublishStats {
  produceRequests: number;
  messagesSent: number;
  /** The error of the latest failed publish, until a batch is acknowledged. */
  lastError: string | undefined;
}

/** What a {@link Publisher} works with. */
export interface PublisherOptions {
  readonly options: ResolvedOptions;
  /** The client of the producer: short retries (PRODUCER_RETRY). */
  readonly fastKafka: KafkaClient;
  /** A producer of `fastKafka`, connected. */
  readonly producer: Producer;
  readonly topics: TopicAdmin;
  /** Aborted when the connection begins to close: publishes waiting for an outage to end give up. */
  readonly closing: AbortSignal;
  readonly stats: PublishStats;
  readonly logger: Logger;
  readonly redact: Redact;
}

/**
 * The publish path of one connection: creates the topic on first use, batches concurrent
 * publishes into few produce requests (PublishBatcher), sends with `acks: -1` on an idempotent
 * producer, and replaces the producer after a batch was given up.
 */
export class Publisher {
  readonly #options: ResolvedOptions;
  readonly #fastKafka: KafkaClient;
  readonly #topics: TopicAdmin;
  readonly #closing: AbortSignal;
  readonly #stats: PublishStats;
  readonly #logger: Logger;
  readonly #redact: Redact;
  readonly #batcher: PublishBatcher;
  /** Replaced by a new one (a new idempotent producer id) after a batch was given up. */
  #producer: Producer;
  /** False until `producer` connected (a replacement connects on its first send). */
  #producerConnected = true;
  /** Set when a batch was given up: the next send first replaces the producer. */
  #producerStale = false;

  constructor(publisher: PublisherOptions) {
    this.#options = publisher.options;
    this.#fastKafka = publisher.fastKafka;
    this.#producer = publisher.producer;
    this.#topics = publisher.topics;
    this.#closing = publisher.closing;
    this.#stats = publisher.stats;
    this.#logger = publisher.logger;
    this.#redact = publisher.redact;
    this.#batcher = new PublishBatcher(
      async (topicMessages) => {
        const ready = await this.#readyProducer();
        // Not sendBatch alone: after a leader change it can resolve for records it never sent.
        await sendEveryRecord(
          (pending) => ready.sendBatch({ topicMessages: pending, acks: -1, timeout: this.#options.requestTimeoutMs }),
          topicMessages,
          (count) =>
            this.#logger.info(
              `kafkajs left ${count} record(s) of a produce request unsent after a partition leader changed; sending them again.`,
            ),
        );
        for (const { messages } of topicMessages) this.#stats.messagesSent += messages.length;
        this.#stats.lastError = undefined;
      },
      {
        maxBatchSize: this.#options.maxBatchSize,
        maxBatchBytes: this.#options.maxBatchBytes,
        lingerMs: this.#options.lingerMs,
        isTooLarge: isMessageTooLarge,
        isRetriable: isRetriableSendError,
        retryDelayMs: publishRetryDelayMs,
        onAbandoned: () => {
          this.#producerStale = true;
        },
        toError: (error, topic) => this.#publishFailed(error, topic),
      },
    );
  }

  /** Messages waiting for a produce request. */
  get queued(): number {
    return this.#batcher.size;
  }

  /** A produce request failed for a retriable reason and is being sent again (an outage). */
  get retrying(): boolean {
    return this.#batcher.failing;
  }

  /** Resolves once every in-sync replica has `message`; rejects with a `PublishError`. */
  send(message: Message): Promise<void> {
    const topic = message.topic;
    // The common case, without an async function or a wrapper per publish: a topic already
    // created. The batcher settles the caller's promise itself (errors through #publishFailed).
    if (this.#topics.isReady(topic) && !this.#closing.aborted) {
      return this.#batcher.enqueue(topic, toKafkaRecord(message), Date.now() + this.#options.publishTimeoutMs);
    }
    return this.#sendFirst(message);
  }

  /**
   * Takes no more publishes and waits for the answers of those queued (rejected at once when the
   * brokers are unreachable), then disconnects the producer.
   */
  async close(): Promise<void> {
    this.#batcher.close();
    await this.#batcher.flush();
  }

  /** Disconnects the producer (after {@link close}). */
  disconnect(): Promise<void> {
    return this.#producer.disconnect();
  }

  /** A publish to a topic this client has not created yet, or while the adapter stops. */
  async #sendFirst(message: Message): Promise<void> {
    const topic = message.topic;
    const deadline = Date.now() + this.#options.publishTimeoutMs;
    try {
      if (!this.#topics.isReady(topic)) await this.#topics.ready(topic, deadline);
      if (this.#closing.aborted) throw new UnansweredError('closed', false, undefined);
    } catch (error) {
      throw this.#publishFailed(error, topic);
    }
    return this.#batcher.enqueue(topic, toKafkaRecord(message), deadline);
  }

  /** The error a publish to `topic` rejects with; health() reports it until a batch is acknowledged. */
  #publishFailed(error: unknown, topic: string): MessagingError {
    const wrapped = this.#toPublishError(error, topic);
    this.#stats.lastError = wrapped.message;
    return wrapped;
  }

  /**
   * The producer to send with. After a batch was given up (its records may or may not be stored),
   * a new producer replaces the old one: a new producer id starts its sequence numbers afresh, so
   * the next batch cannot be taken by the broker for a duplicate of the lost one (and acknowledged
   * without being stored) nor be refused as out of sequence. Only the batcher calls this, one
   * batch at a time.
   */
  async #readyProducer(): Promise<Producer> {
    if (this.#producerStale) {
      this.#producerStale = false;
      const old = this.#producer;
      this.#producer = createProducer(this.#fastKafka, this.#stats);
      this.#producerConnected = false;
      await old.disconnect().catch((error: unknown) => {
        this.#logger.debug(`Error while disconnecting a replaced Kafka producer: ${describeError(error, this.#redact)}`);
      });
    }
    if (!this.#producerConnected) {
      try {
        await this.#producer.connect();
      } catch (error) {
        await this.#producer.disconnect().catch(() => undefined);
        throw error;
      }
      this.#producerConnected = true;
    }
    return this.#producer;
  }

  /** The `PublishError` for a failed `send()`. */
  #toPublishError(error: unknown, topic: string): MessagingError {
    if (error instanceof TopicCreationError) {
      return new PublishError(
        `Cannot publish to "${topic}": the topic could not be created (${describeError(error.cause, this.#redact)}).`,
        {
          cause: error.cause,
        },
      );
    }
    if (error instanceof UnansweredError) {
      const last = error.lastError === undefined ? '' : `; last error: ${describeError(error.lastError, this.#redact)}`;
      const cause = error.lastError === undefined ? {} : { cause: error.lastError };
      if (error.reason === 'deadline') {
        return new PublishError(
          `Cannot publish to "${topic}": Kafka at ${this.#options.brokers.join(',')} did not acknowledge the message within ` +
            `publishTimeoutMs (${this.#options.publishTimeoutMs} ms)${last}. ` +
            (error.sent
              ? 'It may or may not have been stored; publish it again if it must arrive.'
              : 'It was not sent; publish it again later.'),
          { code: 'PUBLISH_TIMEOUT', retriable: true, ...cause },
        );
      }
      return new PublishError(
        `Cannot publish to "${topic}": the Kafka adapter was stopped before the broker acknowledged the message${last}. ` +
          (error.sent ? 'It may or may not have been stored.' : 'It was not sent.'),
        { retriable: true, ...cause },
      );
    }
    // The topic vanished (deleted, or a broker that lost its data): the next publish creates it again.
    if (isUnknownTopic(error)) this.#topics.forget(topic);
    return toPublishError(error, topic, this.#redact);
  }
}

/** An idempotent producer of `kafka` that counts its produce requests in `stats`. */
export function createProducer(kafka: KafkaClient, stats: PublishStats): Producer {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: stickyPartitioner,
    allowAutoTopicCreation: false,
    retry: PRODUCER_RETRY,
  });
  producer.on(producer.events.REQUEST, ({ payload }) => {
    if (payload.apiName === 'Produce') stats.produceRequests++;
  });
  return producer;
}

/**
 * kafkajs' default partitioner (Java-compatible murmur2 for keys, round-robin without), except
 * that a record keeps the partition it got first when its batch is sent again. Otherwise a batch
 * of keyless records sent again would be spread differently, and the idempotent producer's
 * per-partition sequence numbers would no longer match what the broker may have stored.
 */
const stickyPartitioner: ICustomPartitioner = () => {
  const partition = Partitioners.DefaultPartitioner();
  return (args) => {
    // The choice is kept on the record itself (an OutgoingRecord, ours until it is acknowledged).
    const record = args.message as OutgoingRecord;
    const previous = record.chosenPartition;
    if (previous >= 0 && previous < args.partitionMetadata.length) return previous;
    // Keyed records are hashed here: kafkajs' murmur2 blocks the event loop on large keys (see keyPartition).
    const next = record.key === null ? partition(args) : keyPartition(record.key, args.partitionMetadata.length);
    record.chosenPartition = next;
    return next;
  };
};
