import { BrokerStateError, PublishError, type Message } from '@msgport/core';
import { backoffDelay, settledBefore, type Backoff } from '@msgport/core/adapter';
import { safeText, tooLargeReport } from './amqp-errors.js';
import type { Connection } from './connection.js';
import type { Link, Publisher } from './link.js';
import { toAmqpPublish, type AmqpPublish } from './mapping.js';
import type { Partitioner } from './partitioning.js';
import { deadLetterQueueArguments } from './queue-layout.js';
import { queueTypeMismatch } from './queue-type.js';
import type { Settings } from './settings.js';

/** One `publish()` (or dead letter) until it settles. */
interface PendingPublish {
  readonly exchange: string;
  readonly amqp: AmqpPublish;
  readonly topic: string;
  /** For a dead letter: the queue to declare (once per connection) before publishing. */
  readonly deadLetterQueue: string | null;
  /** When `publishTimeoutMs` runs out for this publish. */
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  /**
   * The channel the message was written to, while its confirm is awaited: the deadline timer
   * watches only these. `null` before the write, while waiting for a connection or for `drain`
   * (which have deadlines of their own), and once settled.
   */
  awaiting: Publisher | null;
  /** The message was sent once and its confirm was lost with the channel or connection. */
  lostOnce: boolean;
  /** How many confirm channels nacked it (each nack retires the channel that sent it). */
  nacks: number;
  settled: boolean;
}

/**
 * Publishes to one routing key held back after a nack: nothing is written for that key until
 * `timer` fires, then the held publishes are sent again in the order they began (per-key order).
 */
interface NackHold {
  readonly waiting: PendingPublish[];
  readonly timer: NodeJS.Timeout;
}

/**
 * How many fresh confirm channels may nack one message before its publish rejects. RabbitMQ 3.10
 * can leave a confirm channel opened during a node failover nacking every publish to some quorum
 * queues while a channel opened seconds later works: with the backoff below, the tries span about
 * 7 s. A queue that refuses every message (a length limit with `reject-publish`) rejects after them.
 */
export const MAX_NACKING_CHANNELS = 6;

/** The delay before sending a nacked message again, on a fresh channel. */
export const NACK_BACKOFF: Backoff = Object.freeze({ initialDelayMs: 250, multiplier: 2, maxDelayMs: 3_000, jitter: 0 });

/**
 * Publishes persistent messages on the confirm channel of the current connection and resolves on
 * the broker's confirm (C2). A confirm lost with the channel or connection is retried on the next
 * one until `publishTimeoutMs` (a duplicate is possible, a loss is not). A nacked message was not
 * stored: the channel that nacked it is retired and the message is sent again on a fresh channel
 * after a backoff, up to {@link MAX_NACKING_CHANNELS} channels, within `publishTimeoutMs`.
 * Concurrent publishes are pipelined; one timer watches every confirm deadline.
 */
export class ConfirmPublisher {
  readonly #settings: Settings;
  readonly #connection: Connection;
  readonly #partitioner: Partitioner;
  /** Every publish not settled yet, in the order they began. */
  readonly #pending = new Set<PendingPublish>();
  /** Woken when {@link #pending} becomes empty. */
  #settledWaiters: Array<() => void> = [];
  /** The one timer that rejects publishes whose confirm did not come by their deadline. */
  #deadlineTimer: NodeJS.Timeout | null = null;
  /** When {@link #deadlineTimer} fires (infinity while not armed). */
  #deadlineTimerAt = Number.POSITIVE_INFINITY;
  /** Routing keys held back after a nack (keyed by exchange and routing key). */
  readonly #holds = new Map<string, NackHold>();
  /** Numbers publishes in the order they began, so that held ones are sent again in that order. */
  #sequence = 0;
  readonly #order = new WeakMap<PendingPublish, number>();

  constructor(settings: Settings, connection: Connection, partitioner: Partitioner) {
    this.#settings = settings;
    this.#connection = connection;
    this.#partitioner = partitioner;
  }

  /** Publishes not settled yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Publishes `message` to `exchange` and resolves on the broker's confirm. `deadLetterQueue`, when
   * set, is declared (once per connection) before publishing, so the dead letter is kept even when
   * nobody consumes it. The message carries the partition the partitioner picks for its key.
   *
   * The common case (a connection and an open, writable channel) writes the message right here;
   * anything else (outage, full write buffer, a dead-letter queue to declare, a lost confirm) goes
   * through {@link #publishWhenReady}.
   *
   * @throws {InvalidArgumentError} (as a rejection) for a header name AMQP cannot encode.
   */
  publish(exchange: string, message: Message, deadLetterQueue: string | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const publish: PendingPublish = {
        exchange,
        amqp: toAmqpPublish(message, this.#partitioner(message.key)),
        topic: message.topic,
        deadLetterQueue,
        deadline: Date.now() + this.#settings.publishTimeoutMs,
        resolve,
        reject,
        awaiting: null,
        lostOnce: false,
        nacks: 0,
        settled: false,
      };
      this.#order.set(publish, this.#sequence++);
      this.#pending.add(publish);
      const link = this.#connection.current;
      const publisher = link?.publisher ?? null;
      if (
        link !== null &&
        publisher !== null &&
        !publisher.closed &&
        publisher.drained === null &&
        !this.#holds.has(holdKey(publish)) &&
        (deadLetterQueue === null || link.deadLetterQueues.has(deadLetterQueue))
      ) {
        this.#write(publish, publisher);
      } else {
        void this.#publishWhenReady(publish);
      }
    });
  }

  /** Resolves once no publish is pending. */
  whenSettled(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  /** Stops the deadline timer once nothing is left to time out (after disconnecting). */
  dispose(): void {
    if (this.#pending.size > 0 || this.#deadlineTimer === null) return;
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = null;
    this.#deadlineTimerAt = Number.POSITIVE_INFINITY;
  }

  /**
   * Waits for a connection with an open channel (and for the channel's write buffer to drain),
   * declares the dead-letter queue if needed, then writes the message; rejects `publish` when
   * that does not happen by its deadline or the adapter stops.
   */
  async #publishWhenReady(publish: PendingPublish): Promise<void> {
    const { topic, deadline, deadLetterQueue } = publish;
    const hold = this.#holds.get(holdKey(publish));
    if (hold !== undefined) {
      hold.waiting.push(publish);
      return;
    }
    try {
      for (;;) {
        const { link, publisher } = await this.#awaitPublisher(deadline, topic, publish.lostOnce);
        if (deadLetterQueue !== null && !link.deadLetterQueues.has(deadLetterQueue)) {
          try {
            await this.#declareDeadLetterQueue(link, deadLetterQueue);
          } catch (error) {
            if (link.closed && Date.now() < deadline) continue;
            throw (
              queueTypeMismatch(error, this.#settings.queueType, this.#settings.secrets) ??
              new PublishError(
                `Cannot dead-letter to "${topic}": declaring queue "${deadLetterQueue}" failed: ${safeText(error, this.#settings.secrets)}.`,
                { cause: error },
              )
            );
          }
        }
        while (publisher.drained !== null) {
          if (!(await settledBefore(publisher.drained, deadline))) throw this.#confirmTimeout(topic);
        }
        if (publisher.closed) {
          publish.lostOnce = true;
          continue;
        }
        this.#write(publish, publisher);
        return;
      }
    } catch (error) {
      this.#settle(publish, error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Writes `publish` on `publisher`; its confirm (or the loss of the channel) settles or retries it. */
  #write(publish: PendingPublish, publisher: Publisher): void {
    const { amqp } = publish;
    let writable: boolean;
    publish.awaiting = publisher;
    try {
      writable = publisher.channel.publish(publish.exchange, amqp.routingKey, amqp.content, amqp.options, (error: unknown) =>
        this.#onConfirm(publish, publisher, error),
      );
    } catch (error) {
      publish.awaiting = null;
      if (error instanceof RangeError) {
        this.#settle(
          publish,
          new PublishError(
            `Cannot publish to "${publish.topic}": the headers are too large to encode (${error.message}). Send fewer or shorter headers.`,
            { code: 'MESSAGE_TOO_LARGE', retriable: false, cause: error },
          ),
        );
        return;
      }
      // The channel closed under us (amqplib throws on a closed channel): try the next one.
      publisher.closed = true;
      publish.lostOnce = true;
      void this.#publishWhenReady(publish);
      return;
    }
    this.#watchDeadline(publish.deadline);
    if (!writable && publisher.drained === null) {
      const channel = publisher.channel;
      publisher.drained = new Promise<void>((resolveDrain) => {
        const done = (): void => {
          channel.off('drain', done);
          channel.off('close', done);
          publisher.drained = null;
          resolveDrain();
        };
        channel.on('drain', done);
        channel.on('close', done);
      });
    }
  }

  /** amqplib's confirm callback: `null` for an ack, an error for a nack or a closed channel. */
  #onConfirm(publish: PendingPublish, publisher: Publisher, error: unknown): void {
    // Not awaited on this channel any more: it timed out meanwhile.
    if (publish.awaiting !== publisher) return;
    publish.awaiting = null;
    if (error === null || error === undefined) {
      this.#settle(publish, null);
      return;
    }
    const topic = publish.topic;
    if (error instanceof Error && error.message === 'message nacked') {
      this.#onNack(publish, publisher, error);
      return;
    }
    const tooLarge = tooLargeReport(publisher.closeError);
    if (tooLarge !== null && tooLarge.size === publish.amqp.content.length) {
      this.#settle(
        publish,
        new PublishError(
          `Cannot publish to "${topic}": the value is ${tooLarge.size} bytes, more than the broker's max_message_size ` +
            `(${tooLarge.max}). Lower maxMessageBytes to match the broker, or send a reference to the payload instead.`,
          { code: 'MESSAGE_TOO_LARGE', retriable: false, cause: publisher.closeError },
        ),
      );
      return;
    }
    // Lost with the channel or connection: send it again on the next one.
    publish.lostOnce = true;
    void this.#publishWhenReady(publish);
  }

  /**
   * A nack: RabbitMQ did not store the message, so sending it again cannot duplicate it. Retires
   * the channel that nacked it (a fresh one is opened), holds the message's routing key back for a
   * backoff, then sends the held messages again in order; rejects once
   * {@link MAX_NACKING_CHANNELS} channels nacked it.
   */
  #onNack(publish: PendingPublish, publisher: Publisher, error: Error): void {
    publish.nacks += 1;
    const link = this.#connection.current;
    if (link !== null) this.#connection.retirePublisher(link, publisher);
    else publisher.closed = true;
    if (publish.nacks >= MAX_NACKING_CHANNELS) {
      this.#settle(
        publish,
        new PublishError(
          `Cannot publish to "${publish.topic}": RabbitMQ nacked the message (it could not store it) on ${publish.nacks} ` +
            'fresh channels in a row. Check the queue (a length limit with reject-publish overflow, a quorum queue ' +
            'without a majority of its members online) and publish it again.',
          { cause: error },
        ),
      );
      return;
    }
    const key = holdKey(publish);
    const hold = this.#holds.get(key);
    if (hold !== undefined) {
      hold.waiting.push(publish);
      return;
    }
    const delay = Math.min(backoffDelay(NACK_BACKOFF, publish.nacks), Math.max(0, publish.deadline - Date.now()));
    const waiting: PendingPublish[] = [publish];
    const timer = setTimeout(() => this.#release(key), delay);
    this.#holds.set(key, { waiting, timer });
  }

  /** Ends the hold on `key` and sends its publishes again, in the order they began. */
  #release(key: string): void {
    const hold = this.#holds.get(key);
    if (hold === undefined) return;
    this.#holds.delete(key);
    const order = (publish: PendingPublish): number => this.#order.get(publish) ?? 0;
    const waiting = [...hold.waiting].sort((a, b) => order(a) - order(b));
    const now = Date.now();
    for (const publish of waiting) {
      if (publish.settled) continue;
      if (publish.deadline <= now) {
        this.#settle(
          publish,
          publish.nacks === 0
            ? this.#confirmTimeout(publish.topic)
            : new PublishError(
                `Cannot publish to "${publish.topic}": RabbitMQ nacked the message (it could not store it) on ` +
                  `${publish.nacks} channel(s) and publishTimeoutMs (${this.#settings.publishTimeoutMs} ms) ran out before ` +
                  'a fresh channel could take it. Publish it again later.',
                { code: 'PUBLISH_TIMEOUT', retriable: true },
              ),
        );
        continue;
      }
      void this.#publishWhenReady(publish);
    }
  }

  /** Resolves (`error` null) or rejects `publish`, once. */
  #settle(publish: PendingPublish, error: Error | null): void {
    if (publish.settled) return;
    publish.settled = true;
    publish.awaiting = null;
    this.#pending.delete(publish);
    if (this.#pending.size === 0 && this.#settledWaiters.length > 0) {
      const waiters = this.#settledWaiters;
      this.#settledWaiters = [];
      for (const wake of waiters) wake();
    }
    if (error === null) publish.resolve();
    else publish.reject(error);
  }

  /**
   * Makes sure the confirm deadline timer fires by `deadline`. One timer serves every publish: it
   * is armed for the earliest deadline of the publishes awaiting a confirm, and when it fires
   * ({@link #sweepDeadlines}) it rejects those past their deadline and re-arms for the next one.
   * Publishes share `publishTimeoutMs`, so a new deadline is almost never earlier than the one
   * armed, and the hot path costs a comparison. Unreferenced: a publish awaiting a confirm has a
   * channel on an open connection, whose socket keeps the process alive.
   */
  #watchDeadline(deadline: number): void {
    if (deadline >= this.#deadlineTimerAt) return;
    if (this.#deadlineTimer !== null) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimerAt = deadline;
    this.#deadlineTimer = setTimeout(this.#sweepDeadlines, Math.max(0, deadline - Date.now()));
    this.#deadlineTimer.unref();
  }

  readonly #sweepDeadlines = (): void => {
    this.#deadlineTimer = null;
    this.#deadlineTimerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const publish of this.#pending) {
      if (publish.awaiting === null) continue;
      if (publish.deadline <= now) this.#settle(publish, this.#confirmTimeout(publish.topic));
      else if (publish.deadline < next) next = publish.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.#watchDeadline(next);
  };

  /**
   * Declares and binds a dead-letter queue on a short-lived channel of its own: if the broker
   * refuses (the queue exists with other arguments), only that channel closes, not the publisher's.
   */
  async #declareDeadLetterQueue(link: Link, queue: string): Promise<void> {
    const channel = await link.connection.createChannel();
    channel.on('error', () => undefined);
    try {
      await channel.assertQueue(queue, { durable: true, arguments: deadLetterQueueArguments(this.#settings.queueType) });
      await channel.bindQueue(queue, this.#settings.exchange, queue);
      link.deadLetterQueues.add(queue);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async #awaitPublisher(deadline: number, topic: string, lostOnce: boolean): Promise<{ link: Link; publisher: Publisher }> {
    for (;;) {
      const link = this.#connection.current;
      const publisher = link?.publisher ?? null;
      if (link !== null && publisher !== null && !publisher.closed) return { link, publisher };
      // Stopping without a connection: none will come (the adapter no longer reconnects).
      const kind = this.#connection.state.kind;
      if (kind === 'closed' || (kind === 'stopping' && link === null)) throw stoppedBeforeSending(topic, lostOnce);
      if (!(await this.#connection.wait(deadline))) {
        const { redactedUrls, publishTimeoutMs } = this.#settings;
        throw new PublishError(
          `Cannot publish to "${topic}": no connection to RabbitMQ at ${redactedUrls} for ${publishTimeoutMs} ms ` +
            `(${this.#connection.lastError ?? 'reconnecting'})` +
            (lostOnce
              ? '; the message was sent once but its confirm was lost with the connection, so it may have been stored.'
              : '.') +
            ' Publish it again later.',
          { code: 'PUBLISH_TIMEOUT', retriable: true },
        );
      }
    }
  }

  #confirmTimeout(topic: string): PublishError {
    const blocked = this.#connection.current?.blocked === true;
    return new PublishError(
      `Cannot publish to "${topic}": RabbitMQ did not confirm the message within ${this.#settings.publishTimeoutMs} ms ` +
        `(${blocked ? 'the broker blocks publishers: memory or disk alarm' : (this.#connection.lastError ?? 'no confirm')}). ` +
        'It may or may not have been stored; publish it again if it must arrive.',
      { code: 'PUBLISH_TIMEOUT', retriable: true },
    );
  }
}

/** Publishes are held back after a nack per exchange and routing key (one partition queue). */
function holdKey(publish: PendingPublish): string {
  return `${publish.exchange}\u0000${publish.amqp.routingKey}`;
}

/** Why a publish that has no connection fails once stop() began. */
function stoppedBeforeSending(topic: string, lostOnce: boolean): Error {
  if (lostOnce) {
    return new PublishError(
      `Cannot publish to "${topic}": the RabbitMQ adapter stopped before the broker confirmed the message; it was ` +
        'sent once but its confirm was lost with the connection, so it may have been stored. Publish it again after start() if it must arrive.',
      { retriable: true },
    );
  }
  return new BrokerStateError(
    `Cannot publish to "${topic}": the broker was stopped while the publish waited for the connection to RabbitMQ; ` +
      'the message was not sent. Publish it again after start().',
  );
}
