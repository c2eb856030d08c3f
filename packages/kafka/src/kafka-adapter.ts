import { BrokerStateError, type Message } from '@msgport/core';
import {
  createRedactor,
  MessageBrokerBase,
  type AdapterHealth,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  type Redact,
} from '@msgport/core/adapter';
import type { KafkaAdapterOptions } from './kafka-adapter-options.js';
import { KafkaConnection } from './internal/connection.js';
import { requireObject, resolveOptions, type ResolvedOptions } from './internal/options.js';
import { createPartitionAssigners } from './internal/partition-assigners.js';
import type { PublishStats } from './internal/publisher.js';
import { Subscriptions } from './internal/subscriptions.js';

export type { KafkaAdapterOptions, KafkaSaslOptions } from './kafka-adapter-options.js';

/**
 * The msgport port on Apache Kafka, through kafkajs.
 *
 * - `publish()` resolves once every in-sync replica has the message (`acks: -1`, idempotent
 *   producer). Concurrent publishes are sent in few produce requests; each caller still gets its
 *   own acknowledgement or error. The key picks the partition (Java-compatible murmur2). During
 *   an outage a publish waits up to `publishTimeoutMs`, sending again with backoff, then rejects.
 * - One kafkajs consumer per group, subscribed to every topic the group has in this process (one
 *   group membership, one rebalance however many topics); several handlers of one (topic, group)
 *   in this process share its messages round-robin. Partitions go only to members subscribed to
 *   their topic (`partitionAssigners`). No group: a throwaway group per subscription (broadcast),
 *   deleted on unsubscribe. `subscribe()` resolves once the consumer joined its group and has partitions: what
 *   is published afterwards is delivered.
 * - At-least-once: an offset is committed only after the handler resolved or the message was
 *   dead-lettered to `<topic>.DLT`. A message that cannot even be dead-lettered is not committed
 *   and is delivered again. Messages of one partition are handled one at a time, in order, unless
 *   the subscription's `concurrency` is above 1: then messages with different keys of one partition
 *   run at once, one key at a time in offset order, and commits stop at the lowest unfinished one.
 * - Topics are created through the admin client before first use, with `numPartitions`,
 *   `replicationFactor` and `minInsyncReplicas`.
 */
export class KafkaAdapter extends MessageBrokerBase {
  readonly #options: ResolvedOptions;
  readonly #redact: Redact;
  readonly #subscriptions: Subscriptions;
  /** Kept across connections (reported by `health()`). */
  readonly #stats: PublishStats = { produceRequests: 0, messagesSent: 0, lastError: undefined };
  #connection: KafkaConnection | null = null;

  /** @throws {InvalidArgumentError} for missing bootstrap servers or an out-of-range option. */
  constructor(options: KafkaAdapterOptions) {
    super('kafka', requireObject(options));
    this.#options = resolveOptions(options);
    this.#redact = createRedactor([
      options.sasl?.password,
      typeof options.ssl === 'object' && options.ssl !== null && typeof options.ssl.passphrase === 'string'
        ? options.ssl.passphrase
        : undefined,
    ]);
    this.#subscriptions = new Subscriptions({
      options: this.#options,
      assigners: createPartitionAssigners(this.#options.partitionAssigners, this.logger),
      logger: this.logger,
      redact: this.#redact,
      connection: (operation) => this.#requireConnection(operation),
    });
  }

  protected override get transportOrdersDeliveries(): boolean {
    return true;
  }

  protected override async connect(): Promise<void> {
    const deadline = Date.now() + this.#options.connectionTimeoutMs;
    // Consumers an earlier stop() gave up on (brokers unreachable) end first: kafkajs gives up on
    // them quickly once their connections are closed.
    if (!(await this.#subscriptions.whenAbandonedClosed(deadline))) {
      this.logger.warn(
        'start(): Kafka consumers an earlier stop() gave up on are still closing (a handler still running?); starting anyway.',
      );
    }
    this.#connection = await KafkaConnection.open(
      { options: this.#options, logger: this.logger, redact: this.#redact, stats: this.#stats },
      deadline,
    );
    this.#stats.lastError = undefined;
  }

  protected override async disconnect(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    const connection = this.#connection;
    if (connection === null) return;
    // Publishes still creating their topic or waiting for an outage to end give up.
    connection.beginClosing();
    // Consumers still open here belong to handlers that outlived shutdownTimeoutMs, or could not
    // leave their group in time (brokers unreachable): given up, and awaited until `deadline`
    // (else the next start() waits for them).
    this.#subscriptions.abandonAll();
    await connection.close(deadline, () => {
      this.#connection = null;
    });
    if (Number.isFinite(deadline)) await this.#subscriptions.whenAbandonedClosed(deadline);
  }

  protected override send(message: Message): Promise<void> {
    const connection = this.#connection;
    if (connection === null) {
      return Promise.reject(this.#closedError(`publish to "${message.topic}"`));
    }
    return connection.publisher.send(message);
  }

  protected override openConsumer(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle> {
    return this.#subscriptions.open(spec, deliver);
  }

  protected override async checkHealth(): Promise<AdapterHealth> {
    const consumers = this.#subscriptions.health;
    const connection = this.#connection;
    const brokerError = connection === null ? 'not connected' : await connection.probe();
    const details: Record<string, unknown> = {
      brokers: this.#options.brokers,
      clientId: this.#options.clientId,
      producer: {
        produceRequests: this.#stats.produceRequests,
        messagesSent: this.#stats.messagesSent,
        queued: this.#connection?.publisher.queued ?? 0,
        // A produce request failed for a retriable reason and is being sent again (an outage).
        retrying: this.#connection?.publisher.retrying ?? false,
        ...(this.#stats.lastError === undefined ? {} : { lastError: this.#stats.lastError }),
      },
      kafkaConsumers: consumers,
    };
    if (brokerError !== null) return { status: 'down', details: { ...details, error: brokerError } };
    const degraded = consumers.some((consumer) => consumer.state === 'restarting');
    return { status: degraded ? 'degraded' : 'up', details };
  }

  #requireConnection(operation: string): KafkaConnection {
    if (this.#connection === null) throw this.#closedError(operation);
    return this.#connection;
  }

  #closedError(operation: string): BrokerStateError {
    return new BrokerStateError(`Cannot ${operation}: the Kafka connection is closed. Call start() first.`);
  }
}
