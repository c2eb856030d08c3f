import type { Channel, ConsumeMessage } from 'amqplib';
import { isMessagingError, SubscribeError, type Logger, type Message } from '@msgport/core';
import { backoffDelay, CONSUMER_CLOSED, type ConsumerHandle, type ConsumerSpec, type Deliver } from '@msgport/core/adapter';
import { safeText } from './amqp-errors.js';
import type { Connection } from './connection.js';
import { attachOnOwnChannel, createConsumer, describeSpec, settle, waitIdle, type Consumer } from './consumer.js';
import { attachGroup } from './group-attachment.js';
import { legacyQueueFor } from './legacy-options.js';
import { attachSwitchingGroup, prepareSharedQueue } from './legacy-queue.js';
import type { Link } from './link.js';
import { fromAmqpDelivery } from './mapping.js';
import { deadLetterQueueArguments } from './queue-layout.js';
import { queueTypeArguments, queueTypeMismatch } from './queue-type.js';
import type { Settings } from './settings.js';
import { deadLetterName } from './topology.js';

/** What health() reports of the consumers. */
export interface ConsumersHealth {
  readonly active: number;
  readonly expected: number;
  readonly ownedPartitions: Record<string, number[]>;
}

/**
 * The adapter's consumers: each has a channel of its own on the current connection, acknowledges a
 * delivery after core handled it (or dead-lettered it), returns it to the queue when core could not,
 * and is resumed on the next connection after an outage. A broadcast subscription consumes its own
 * exclusive queue; a group subscription is attached by group-attachment.ts (partition queues).
 */
export class QueueConsumers {
  readonly #settings: Settings;
  readonly #logger: Logger;
  readonly #connection: Connection;
  /** Where this instance starts in the ring of partitions of every group (spreads instances' first picks). */
  readonly #partitionOffset: number;
  readonly #consumers = new Set<Consumer>();

  constructor(settings: Settings, logger: Logger, connection: Connection) {
    this.#settings = settings;
    this.#logger = logger;
    this.#connection = connection;
    this.#partitionOffset = Math.floor(Math.random() * settings.partitions);
  }

  get settings(): Settings {
    return this.#settings;
  }

  get logger(): Logger {
    return this.#logger;
  }

  get partitionOffset(): number {
    return this.#partitionOffset;
  }

  /**
   * Starts consuming for `spec`, waiting for a connection up to `publishTimeoutMs`.
   * @throws {SubscribeError} when that fails; {@link ConfigurationError} for a queue of the other type.
   */
  async open(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle> {
    // A group sharing a PyFly service's queue consumes that queue (see legacy-queue.ts).
    const legacy = legacyQueueFor(this.#settings, spec);
    const consumer = createConsumer(spec, deliver, null, legacy?.phase === 'share' ? legacy.queue : null);
    const deadline = Date.now() + this.#settings.publishTimeoutMs;
    // Registered first: a reconnection while this runs attaches it too (attach is idempotent per link).
    this.#consumers.add(consumer);
    try {
      for (;;) {
        const link = await this.#awaitLink(deadline, spec);
        try {
          await this.attach(consumer, link);
          break;
        } catch (error) {
          // The connection dropped under us: the reconnection attaches the consumer again.
          const kind = this.#connection.state.kind;
          if (!link.closed || kind === 'closed' || kind === 'stopping' || Date.now() >= deadline) throw error;
        }
      }
    } catch (error) {
      consumer.closed = true;
      this.#consumers.delete(consumer);
      if (isMessagingError(error)) throw error;
      throw new SubscribeError(
        `Cannot subscribe to "${spec.topic}"${spec.group === null ? '' : ` in group "${spec.group}"`}: ` +
          `${safeText(error, this.#settings.secrets)}. If the queue exists with other arguments, delete it or use another group.`,
        { cause: error },
      );
    }
    consumer.opened = true;
    return { close: () => this.close(consumer) };
  }

  /** Resumes every consumer on `link` (not open yet); returns what to run once it is open. */
  async restore(link: Link): Promise<() => void> {
    const consumers = [...this.#consumers];
    const results = await Promise.allSettled(consumers.map((consumer) => this.attach(consumer, link)));
    return () => {
      results.forEach((result, index) => {
        const consumer = consumers[index]!;
        if (result.status === 'rejected' && !consumer.closed) {
          this.#logger.warn(
            `Cannot resume the consumer of "${describeSpec(consumer.spec)}": ${safeText(result.reason, this.#settings.secrets)}; retrying.`,
          );
          this.#scheduleRetry(consumer, link);
        }
      });
    };
  }

  /** `link` was lost: its consumers forget their channels (the reconnection attaches them again). */
  lost(link: Link): void {
    for (const consumer of this.#consumers) {
      if (consumer.link !== link) continue;
      consumer.channel = null;
      consumer.consumerTag = null;
      // Its partition locks went with the connection; the reconnection starts afresh.
      consumer.group?.abandon();
      consumer.group = null;
    }
  }

  /** The adapter disconnects: every consumer still registered is closed with the connection. */
  abandonAll(): void {
    for (const consumer of this.#consumers) {
      consumer.closed = true;
      if (consumer.retryTimer !== null) clearTimeout(consumer.retryTimer);
      // Still running when the stop budget ran out: its partitions go with the connection.
      consumer.group?.abandon();
    }
    this.#consumers.clear();
  }

  health(): ConsumersHealth {
    let active = 0;
    let expected = 0;
    const ownedPartitions: Record<string, number[]> = {};
    for (const consumer of this.#consumers) {
      if (!consumer.opened) continue;
      expected++;
      if (consumer.consumerTag !== null && consumer.channel !== null) active++;
      if (consumer.spec.group !== null) ownedPartitions[consumer.spec.id] = consumer.group?.owned ?? [];
    }
    return { active, expected, ownedPartitions };
  }

  /** Opens a channel for `consumer` on `link`, declares its queues and starts consuming. Idempotent per link. */
  attach(consumer: Consumer, link: Link): Promise<void> {
    if (consumer.closed) return Promise.resolve();
    if (consumer.link === link && consumer.channel !== null) return Promise.resolve();
    if (consumer.attaching !== null && consumer.attaching.link === link) return consumer.attaching.promise;
    const promise = this.#doAttach(consumer, link).catch((error: unknown) => {
      throw queueTypeMismatch(error, this.#settings.queueType, this.#settings.secrets) ?? error;
    });
    const attaching = { link, promise };
    consumer.attaching = attaching;
    const clear = (): void => {
      if (consumer.attaching === attaching) consumer.attaching = null;
    };
    promise.then(clear, clear);
    return promise;
  }

  /** Stops `consumer`: no new deliveries; resolves once those handed to core were settled and its channel closed. */
  async close(consumer: Consumer): Promise<void> {
    if (consumer.closed && !this.#consumers.has(consumer)) {
      await waitIdle(consumer);
      return;
    }
    consumer.closed = true;
    this.#consumers.delete(consumer);
    if (consumer.retryTimer !== null) clearTimeout(consumer.retryTimer);
    consumer.retryTimer = null;
    // An attachment on a connection that is closed or closing (a reconnection abandoned by stop())
    // cannot deliver anything any more: no need to wait for it to fail.
    const attaching = consumer.attaching;
    if (attaching !== null && !attaching.link.closed) await attaching.promise.catch(() => undefined);
    // A group first hands its partitions over (each after handling what it received from it).
    const group = consumer.group;
    consumer.group = null;
    if (group !== null) await group.stop();
    const channel = consumer.channel;
    const consumerTag = consumer.consumerTag;
    consumer.consumerTag = null;
    if (consumer.partition !== null) {
      // A partition changing hands is not cancelled (basic.cancel): a quorum queue returns the
      // deliveries that were on their way to a cancelled consumer behind newer messages, which the
      // next owner would then handle first (per-key order, C6). Deliveries arriving from now on
      // are held unacknowledged instead; closing the channel returns them to their place in the
      // queue, on quorum and classic queues alike.
      consumer.holding = true;
    } else if (channel !== null && consumerTag !== null) {
      // No new deliveries; those already handed to core finish and are acknowledged on this channel.
      await channel.cancel(consumerTag).catch(() => undefined);
    }
    await waitIdle(consumer);
    consumer.channel = null;
    if (channel !== null) await channel.close().catch(() => undefined);
  }

  /** What a consumer's channel does when it closes while the consumer still consumes (see {@link #onChannelClosed}). */
  watchChannel(consumer: Consumer, link: Link, channel: Channel): void {
    channel.on('error', (error: unknown) => {
      // While attaching, the failure reaches the caller; afterwards, only this log tells of it.
      if (consumer.channel !== channel) return;
      this.#logger.warn(
        `The RabbitMQ channel of "${describeSpec(consumer.spec)}" failed: ${safeText(error, this.#settings.secrets)}.`,
      );
    });
    channel.on('close', () => this.#onChannelClosed(consumer, link, channel));
  }

  /** Waits until a connection is open (or the deadline passes, or the adapter stops). */
  async #awaitLink(deadline: number, spec: ConsumerSpec): Promise<Link> {
    for (;;) {
      const kind = this.#connection.state.kind;
      if (kind === 'closed')
        throw new SubscribeError('Cannot subscribe: the RabbitMQ adapter is stopping.', { retriable: false });
      const link = this.#connection.current;
      if (link !== null) return link;
      if (kind === 'stopping') {
        throw new SubscribeError('Cannot subscribe: the RabbitMQ adapter is stopping and has no connection to RabbitMQ.', {
          retriable: false,
        });
      }
      if (!(await this.#connection.wait(deadline))) {
        throw new SubscribeError(
          `Cannot subscribe to "${describeSpec(spec)}": no connection to RabbitMQ at ${this.#settings.redactedUrls} within ` +
            `${this.#settings.publishTimeoutMs} ms (${this.#connection.lastError ?? 'reconnecting'}).`,
        );
      }
    }
  }

  async #doAttach(consumer: Consumer, link: Link): Promise<void> {
    if (consumer.spec.group !== null && consumer.partition === null && consumer.legacyQueue === null) {
      const legacy = legacyQueueFor(this.#settings, consumer.spec);
      if (legacy?.phase === 'switch') return attachSwitchingGroup(this, consumer, link, legacy);
      return attachGroup(this, consumer, link);
    }
    await attachOnOwnChannel(this, consumer, link, {
      prepare: async (channel) => {
        await channel.prefetch(this.#settings.prefetch);
        // A partition queue was declared by its group; a broadcast subscription declares its own.
        return (
          consumer.partition?.queue ??
          (consumer.legacyQueue === null
            ? await this.#declareBroadcastQueue(channel, link, consumer.spec)
            : await prepareSharedQueue(channel, link, this.#settings, legacyQueueFor(this.#settings, consumer.spec)!))
        );
      },
      consume: async (channel, queue) => {
        const { consumerTag } = await channel.consume(queue, (delivery) => this.#onDelivery(consumer, channel, delivery), {
          noAck: false,
        });
        if (consumer.channel === channel) consumer.consumerTag = consumerTag;
      },
    });
  }

  /** Declares a broadcast subscription's queue (and its dead-letter queue), binds them, returns the queue to consume. */
  async #declareBroadcastQueue(channel: Channel, link: Link, spec: ConsumerSpec): Promise<string> {
    const { exchange, deadLetterExchange, queueType } = this.#settings;
    const deadLetterQueue = deadLetterName(spec.topic, null);
    await channel.assertQueue(deadLetterQueue, { durable: true, arguments: deadLetterQueueArguments(queueType) });
    await channel.bindQueue(deadLetterQueue, exchange, deadLetterQueue);
    link.deadLetterQueues.add(deadLetterQueue);
    const queueArguments = {
      'x-dead-letter-exchange': deadLetterExchange,
      'x-dead-letter-routing-key': deadLetterQueue,
      // Whatever the virtual host's default queue type: quorum queues cannot be exclusive.
      ...queueTypeArguments('classic', true),
    };
    const { queue } = await channel.assertQueue('', {
      exclusive: true,
      autoDelete: true,
      durable: false,
      arguments: queueArguments,
    });
    await channel.bindQueue(queue, exchange, spec.topic);
    return queue;
  }

  #onDelivery(consumer: Consumer, channel: Channel, delivery: ConsumeMessage | null): void {
    const { secrets } = this.#settings;
    if (delivery === null) {
      // basic.cancel from the broker: the queue was deleted. Declare it again and go on consuming.
      if (consumer.channel !== channel || consumer.closed) return;
      this.#logger.warn(
        `RabbitMQ cancelled the consumer of "${describeSpec(consumer.spec)}" (queue deleted?); declaring it again.`,
      );
      consumer.consumerTag = null;
      void channel.close().catch(() => undefined);
      return;
    }
    // Giving the partition up: left unacknowledged, returned to its place when the channel closes.
    if (consumer.holding) return;
    let message: Message;
    try {
      message = fromAmqpDelivery(delivery, consumer.spec.topic, consumer.partition?.index ?? null);
    } catch (error) {
      this.#logger.error(
        `Cannot decode a message from "${describeSpec(consumer.spec)}"; rejecting it to the dead-letter exchange.`,
        {
          error: safeText(error, secrets),
        },
      );
      settle(consumer, channel, () => channel.nack(delivery, false, false));
      return;
    }
    consumer.inFlight++;
    consumer.deliver(message).then(
      () => this.#settleDelivery(consumer, channel, () => channel.ack(delivery)),
      (error: unknown) => {
        // A legacy queue has no dead-letter exchange: there, the message waits in the queue instead.
        if (isMessagingError(error) && error.code === 'DEAD_LETTER_FAILED' && consumer.legacyQueue === null) {
          // Core could not publish the dead letter, not even with minimal headers (and logged it
          // at error): RabbitMQ's own dead-lettering moves the message to the same queue.
          this.#settleDelivery(consumer, channel, () => channel.nack(delivery, false, false));
          return;
        }
        // CONSUMER_CLOSED: core did not start the handler because stop() began or the subscription
        // ended while the delivery waited its turn. Expected, and the broker redelivers it.
        const closing = isMessagingError(error) && error.code === CONSUMER_CLOSED;
        const line =
          `A message from "${describeSpec(consumer.spec)}" was not handled` +
          `${closing ? ' (the consumer is closing)' : ''}; returning it to the queue.`;
        const fields = { error: safeText(error, secrets), ...(isMessagingError(error) ? { code: error.code } : {}) };
        if (closing) this.#logger.debug(line, fields);
        else this.#logger.warn(line, fields);
        if (consumer.partition === null) {
          this.#settleDelivery(consumer, channel, () => channel.nack(delivery, false, true));
          return;
        }
        // A partition consumer never requeues with a nack: a quorum queue puts the message behind
        // newer ones, which the partition's next reader would handle first (C6). Left
        // unacknowledged, it returns to its place when the channel closes: soon, when the consumer
        // is closing (CONSUMER_CLOSED); otherwise the channel is closed now, and the partition is
        // taken again like one whose channel failed.
        this.#settleDelivery(consumer, channel, () => undefined);
        if (!closing && !consumer.closed && !consumer.holding && consumer.channel === channel) {
          void channel.close().catch(() => undefined);
        }
      },
    );
  }

  #settleDelivery(consumer: Consumer, channel: Channel, action: () => void): void {
    settle(consumer, channel, action);
    if (--consumer.inFlight === 0) {
      const waiters = consumer.idleWaiters;
      consumer.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #onChannelClosed(consumer: Consumer, link: Link, channel: Channel): void {
    if (consumer.channel !== channel) return;
    consumer.channel = null;
    consumer.consumerTag = null;
    if (consumer.closed || this.#connection.state.kind === 'closed') return;
    if (consumer.partition !== null) {
      // A partition's consumer is not repaired here: its coordinator takes the partition again.
      consumer.closed = true;
      consumer.partition.onLost();
      return;
    }
    // Wait a turn: when the whole connection closes, its channels close first, and the
    // reconnection (not this) resumes the consumer.
    setImmediate(() => {
      if (link === this.#connection.current && !consumer.closed) this.#scheduleRetry(consumer, link);
    });
  }

  #scheduleRetry(consumer: Consumer, link: Link): void {
    if (consumer.retryTimer !== null || consumer.closed) return;
    const attempt = ++consumer.retryAttempt;
    consumer.retryTimer = setTimeout(
      () => {
        consumer.retryTimer = null;
        if (consumer.closed || link !== this.#connection.current) return;
        this.attach(consumer, link).then(
          () => this.#logger.info(`Resumed the consumer of "${describeSpec(consumer.spec)}".`),
          (error: unknown) => {
            this.#connection.lastError = safeText(error, this.#settings.secrets);
            this.#logger.warn(
              `Cannot resume the consumer of "${describeSpec(consumer.spec)}" (attempt ${attempt}): ${this.#connection.lastError}.`,
            );
            if (link === this.#connection.current) this.#scheduleRetry(consumer, link);
          },
        );
      },
      backoffDelay(this.#settings.backoff, attempt),
    );
  }
}
