import { PublishError, type Message } from '@msgport/core';
import {
  MessageBrokerBase,
  type AdapterHealth,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  settledBefore,
} from '@msgport/core/adapter';
import { ConfirmPublisher } from './internal/confirm-publisher.js';
import { Connection } from './internal/connection.js';
import { createPartitioner } from './internal/partitioning.js';
import { QueueConsumers } from './internal/queue-consumers.js';
import { resolveSettings, type Settings } from './internal/settings.js';
import { deadLetterName } from './internal/topology.js';
import type { RabbitMQAdapterOptions } from './rabbitmq-adapter-options.js';

export type {
  RabbitMQAdapterOptions,
  RabbitMQLegacyPhase,
  RabbitMQLegacyQueue,
  RabbitMQQueueType,
  RabbitMQReconnectOptions,
  RabbitMQTlsOptions,
} from './rabbitmq-adapter-options.js';

/**
 * The msgport port on RabbitMQ (amqplib), keeping the contract of `MessageBrokerPort`.
 *
 * Topology: a durable direct exchange `exchangeName` (routing key = topic); a group consumes the
 * durable partition queues `<topic>.<group>.p<i>` (quorum queues by default, see `queueType`); a
 * subscription without a group gets its own exclusive, auto-delete, server-named queue
 * (broadcast). Dead letters go through the fanout exchange `<exchangeName>.dlx` (bound to the main
 * exchange) with routing key `<topic>.<group>.dlq` (`<topic>.dlq` without a group), into the
 * durable queue of that name; the dead-letter topic can be subscribed like any other topic.
 *
 * Publishing: persistent messages on a confirm channel; `publish()` resolves on the broker's
 * confirm, concurrent publishes are pipelined. A message whose confirm was lost with the
 * connection is sent again on the next connection (a duplicate is possible, a loss is not) until
 * `publishTimeoutMs` runs out.
 *
 * Consuming: acknowledged after the handler resolved (or the message was dead-lettered); a
 * message core could not settle is rejected with requeue. Survives broker restarts and the loss
 * of a cluster node: reconnects with backoff (to the next of its URLs), re-declares the topology
 * and resumes every consumer.
 *
 * The work is split by concern: {@link Connection} (connection state and recovery),
 * {@link ConfirmPublisher} (publishing with confirms), {@link QueueConsumers} (consuming); this
 * class composes them under core's lifecycle.
 */
export class RabbitMQAdapter extends MessageBrokerBase {
  readonly #settings: Settings;
  readonly #connection: Connection;
  readonly #publisher: ConfirmPublisher;
  readonly #consumers: QueueConsumers;

  /**
   * @throws {InvalidArgumentError} for a missing or unparseable URL, or an option out of range.
   */
  constructor(options: RabbitMQAdapterOptions) {
    super('rabbitmq', options);
    this.#settings = resolveSettings(options);
    this.#connection = new Connection(this.#settings, this.logger, {
      restore: (link) => this.#consumers.restore(link),
      lost: (link) => this.#consumers.lost(link),
    });
    this.#publisher = new ConfirmPublisher(this.#settings, this.#connection, createPartitioner(this.#settings.partitions));
    this.#consumers = new QueueConsumers(this.#settings, this.logger, this.#connection);
  }

  // ---- MessageBrokerBase ----------------------------------------------------------------------

  protected override connect(): Promise<void> {
    return this.#connection.start();
  }

  /**
   * stop() began, before core closes the consumers and drains the handlers: nothing waits for a
   * reconnection meanwhile (a handler whose publish waited for the connection would otherwise hold
   * stop() for `publishTimeoutMs`).
   */
  protected override stopBegan(): void {
    this.#connection.beginStop();
  }

  protected override async disconnect(deadline = Date.now() + this.shutdownTimeoutMs): Promise<void> {
    const link = this.#connection.shutDown();
    this.#consumers.abandonAll();
    // Publishes already on the wire get their confirm before the close (within the stop budget;
    // a confirm still missing then is lost with the channel, and its publish rejects). Publishes
    // that were waiting for a connection were woken above and reject without waiting.
    if (this.#publisher.pending > 0 && !(await settledBefore(this.#publisher.whenSettled(), deadline))) {
      this.logger.warn(
        `stop(): ${this.#publisher.pending} publish(es) still without a confirm after shutdownTimeoutMs ` +
          `(${this.shutdownTimeoutMs} ms); closing anyway. They reject: the messages may or may not have been stored.`,
      );
    }
    if (link !== null) await this.#connection.close(link, deadline);
    this.#publisher.dispose();
  }

  protected override send(message: Message): Promise<void> {
    const { maxMessageBytes, exchange } = this.#settings;
    if (message.value.length > maxMessageBytes) {
      return Promise.reject(
        new PublishError(
          `Cannot publish to "${message.topic}": the value is ${message.value.length} bytes, more than maxMessageBytes ` +
            `(${maxMessageBytes}). Send a reference to the payload instead, or raise maxMessageBytes together with ` +
            "the broker's max_message_size.",
          { code: 'MESSAGE_TOO_LARGE', retriable: false },
        ),
      );
    }
    return this.#publisher.publish(exchange, message, null);
  }

  protected override sendDeadLetter(deadLetter: Message): Promise<void> {
    // The dead-letter topic is partitioned like any topic: groups may subscribe to it.
    return this.#publisher.publish(this.#settings.deadLetterExchange, deadLetter, deadLetter.topic);
  }

  protected override deadLetterTopic(topic: string, group: string | null): string {
    return deadLetterName(topic, group);
  }

  /** Every queue has `<topic>.<group>.dlq` as its dead-letter route: a delivery rejected without requeue goes there. */
  protected override get transportDeadLetters(): boolean {
    return true;
  }

  protected override openConsumer(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle> {
    return this.#consumers.open(spec, deliver);
  }

  protected override checkHealth(): Promise<AdapterHealth> {
    const connection = this.#connection.health();
    const consumers = this.#consumers.health();
    const { exchange, partitions } = this.#settings;
    const { url, connection: state, reconnectAttempts, ...outage } = connection.details;
    const details = {
      url,
      exchange,
      connection: state,
      activeConsumers: consumers.active,
      expectedConsumers: consumers.expected,
      pendingPublishes: this.#publisher.pending,
      partitions,
      ownedPartitions: consumers.ownedPartitions,
      reconnectAttempts,
      ...outage,
    };
    const link = connection.link;
    if (link === null) return Promise.resolve({ status: connection.down ? 'down' : 'degraded', details });
    const healthy = link.publisher !== null && !link.blocked && consumers.active === consumers.expected;
    return Promise.resolve({ status: healthy ? 'up' : 'degraded', details });
  }
}
