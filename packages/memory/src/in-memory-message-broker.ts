import {
  BrokerStateError,
  InvalidArgumentError,
  isMessagingError,
  waitFor,
  type Message,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
  type WaitForOptions,
} from '@msgport/core';
import {
  CONSUMER_CLOSED,
  MessageBrokerBase,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  type MessageBrokerBaseOptions,
} from '@msgport/core/adapter';
import { dispatchNested, insideDelivery, settleAll, trackHandler } from './internal/delivery-context.js';

/** Options of {@link InMemoryMessageBroker}. */
export interface InMemoryMessageBrokerOptions extends MessageBrokerBaseOptions {
  /**
   * Record published messages (dead letters included) for {@link InMemoryMessageBroker.published}
   * and the other test helpers. `false` records nothing.
   * @default true
   */
  readonly recordPublished?: boolean;
  /**
   * How many published messages the record keeps: the most recent ones; older ones are dropped
   * (with one warning in the log), so a long-running process on this broker does not grow without
   * bound. `Infinity` keeps every message. Kept small by default: a record of 10,000 kept messages
   * alive long enough to reach the old generation, which cost a third of the throughput with async
   * handlers (bench/README.md).
   * @default 1000
   */
  readonly recordLimit?: number;
}

/** Default {@link InMemoryMessageBrokerOptions.recordLimit}. */
const DEFAULT_RECORD_LIMIT = 1_000;

/**
 * The msgport port in one process, with no infrastructure: for tests, demos and local runs.
 *
 * When `publish()` resolves (messages are handed to the subscriptions in subscription order):
 * - **From outside any handler** (a test, a request handler, a timer the application set): after
 *   every target handler has settled, retries and dead-lettering included, also when the message
 *   first waits behind other messages of a busy subscription. So tests need no waiting.
 * - **From inside a handler** (any nesting depth, any topic, also in code the handler awaits):
 *   after the handlers that could take the message at once have settled; for a subscription that
 *   is busy (the publishing handler's own, or any whose `concurrency` slots or the message's key
 *   are taken), as soon as the message is queued there. Waiting for it could mean waiting for the
 *   publishing handler itself, forever. It is handled once the subscription is free, one turn of
 *   the event loop later (so timers and I/O run between follow-ups), after `publish()` resolved.
 * - **A dead letter** is sent like a publish made inside a handler.
 *
 * A handler's synchronous part is recognised by a counter; the first 1,000 calls of a handler
 * that return a promise run inside an `AsyncLocalStorage` context that follows what they await
 * (its very first call always does: a probe of its shape), later ones without it, counted while
 * pending (on Node 20 and 22 the storage slows down every promise in the process). Consequences:
 * code a handler starts without awaiting it (a timer) publishes "from inside" when its handler
 * ran in the context and the storage is on, else "from outside"; and while a call that ran without the
 * context is pending beyond the code that made it, every publish the broker cannot place
 * resolves as if made inside a handler (no deadlock; it may not wait for queued messages). The
 * package README says more.
 *
 * Also:
 * - Round-robin within a group in exact alternation; broadcast without a group; a copy per group.
 * - Failed messages go to `<topic>.DLT` with the `msgport-error-*` headers.
 * - Messages are not persisted: what is published while nobody is subscribed is gone (except from
 *   {@link published}), and so is what is still queued when `stop()` runs (a publish from outside
 *   any handler then rejects; a message published from inside one is logged as dropped), and what
 *   handlers publish while `stop()` drains (logged too).
 *
 * The package README lists every difference from Kafka and RabbitMQ an application can observe.
 */
export class InMemoryMessageBroker extends MessageBrokerBase {
  // Copy-on-write: a topic's array is replaced, never changed, when a consumer opens or closes, so
  // send() walks the array it read without copying it, and a consumer opened by a handler during a
  // send does not receive that send's message.
  readonly #consumers = new Map<string, readonly Deliver[]>();
  // The record: up to twice the limit between two trims (amortized O(1) per publish); readers trim
  // it to the limit first, in place, so an array obtained from `published` stays live.
  readonly #published: Message[] = [];
  readonly #recordPublished: boolean;
  readonly #recordLimit: number;
  #recordTrimmed = false;

  constructor(options: InMemoryMessageBrokerOptions = {}) {
    super('memory', options);
    this.#recordPublished = options.recordPublished ?? true;
    const limit = options.recordLimit ?? DEFAULT_RECORD_LIMIT;
    if (typeof limit !== 'number' || !(limit === Number.POSITIVE_INFINITY || (Number.isInteger(limit) && limit >= 1))) {
      throw new InvalidArgumentError(`recordLimit must be an integer >= 1 or Infinity, got ${String(limit)}.`);
    }
    this.#recordLimit = limit;
  }

  /**
   * The most recent published messages (at most `recordLimit`, default 1,000) since creation or
   * {@link clear}, in publish order (dead letters too).
   */
  get published(): readonly Message[] {
    return this.#trimRecord();
  }

  /** Messages published to `topic` so far. */
  publishedTo(topic: string): Message[] {
    return this.#trimRecord().filter((message) => message.topic === topic);
  }

  /** Forgets the record of published messages. */
  clear(): void {
    this.#published.length = 0;
  }

  /**
   * Waits until at least `count` messages were published to `topic`, and returns them.
   * @throws {MessagingError} code `WAIT_TIMEOUT` after `timeoutMs` (default 5000).
   */
  async waitForMessages(topic: string, count = 1, options: WaitForOptions = {}): Promise<Message[]> {
    return waitFor(
      () => {
        const messages = this.publishedTo(topic);
        return messages.length >= count ? messages : undefined;
      },
      { description: `${count} message(s) on "${topic}"`, ...options },
    );
  }

  /**
   * Waits until a message matching `predicate` was published (to `topic`, when given), and returns it.
   * @throws {MessagingError} code `WAIT_TIMEOUT` after `timeoutMs` (default 5000).
   */
  async waitForMessage(
    predicate: (message: Message) => boolean,
    options: WaitForOptions & { readonly topic?: string } = {},
  ): Promise<Message> {
    return waitFor(
      () =>
        this.#trimRecord().find(
          (message) => (options.topic === undefined || message.topic === options.topic) && predicate(message),
        ),
      { description: `a matching message${options.topic === undefined ? '' : ` on "${options.topic}"`}`, ...options },
    );
  }

  protected override async connect(): Promise<void> {}

  protected override async disconnect(): Promise<void> {}

  /**
   * Subscribes like {@link MessageBrokerBase.subscribe}; the handler is wrapped so that what it
   * publishes is known to come from inside a delivery (see the class documentation).
   */
  override subscribe(topic: string, handler: MessageHandler, group?: string | SubscribeOptions): Promise<Subscription> {
    return super.subscribe(topic, typeof handler === 'function' ? trackHandler(handler) : handler, group);
  }

  /** What send() returns settles like core's deliveries, or rejects with a BrokerStateError. */
  protected override get sendRejectsWithMessagingErrors(): boolean {
    return true;
  }

  protected override send(message: Message): Promise<void> {
    if (this.#recordPublished) this.#record(message);
    const targets = this.#consumers.get(message.topic);
    if (targets === undefined || targets.length === 0) return this.#nobodyListens(message);
    if (insideDelivery()) return this.#dispatchNested(targets, message);
    const first = targets[0]!(message);
    if (targets.length === 1) return first;
    // Core returns one shared, already resolved promise for every delivery that completed
    // synchronously, and a promise that is the same object needs waiting for only once: with
    // synchronous handlers, a publish to several consumers waits for nothing more.
    let pending: Promise<void>[] | null = null;
    for (let i = 1; i < targets.length; i++) {
      const delivered = targets[i]!(message);
      if (delivered !== first) (pending ??= [first]).push(delivered);
    }
    return pending === null ? first : settleAll(pending);
  }

  protected override sendDeadLetter(deadLetter: Message): Promise<void> {
    // Always as from inside a delivery (it is sent by one): a dead-letter consumer may be busy
    // with a handler that waits for the delivery being dead-lettered.
    if (this.#recordPublished) this.#record(deadLetter);
    const targets = this.#consumers.get(deadLetter.topic);
    if (targets === undefined || targets.length === 0) return this.#nobodyListens(deadLetter, true);
    return this.#dispatchNested(targets, deadLetter);
  }

  #record(message: Message): void {
    this.#published.push(message);
    if (this.#published.length >= 2 * this.#recordLimit) this.#trimRecord();
  }

  #trimRecord(): Message[] {
    const excess = this.#published.length - this.#recordLimit;
    if (excess > 0) {
      this.#published.splice(0, excess);
      if (!this.#recordTrimmed) {
        this.#recordTrimmed = true;
        this.logger.warn(
          `The record of published messages keeps the last ${this.#recordLimit} (recordLimit); older ones are dropped from it ` +
            '(published, publishedTo, waitForMessage…). Set recordLimit, or recordPublished: false to record nothing.',
        );
      }
    }
    return this.#published;
  }

  #nobodyListens(message: Message, fromDelivery = insideDelivery()): Promise<void> {
    if (this.isRunning) return Promise.resolve();
    // While stop() drains, the subscriptions are closed already; a real broker would keep the
    // message for the next start, this one cannot. A handler finishing its work may still publish
    // (its publish, or a dead letter, resolves, and the drop is logged: see the README); any other publish rejects
    // rather than resolve for a message nobody will ever handle.
    if (fromDelivery) {
      this.logger.warn(
        `Dropped a message published to "${message.topic}" while the broker was stopping: its subscriptions ` +
          'take no more messages, and the in-memory broker keeps none.',
      );
      return Promise.resolve();
    }
    return Promise.reject(
      new BrokerStateError(
        `Cannot publish to "${message.topic}": the in-memory broker is stopping, its subscriptions take no more ` +
          'messages, and it keeps none for a next start. Publish before stop(), or use a broker that stores messages.',
      ),
    );
  }

  #dispatchNested(targets: readonly Deliver[], message: Message): Promise<void> {
    return dispatchNested(targets, message, (error) => this.#dropped(message, unhandledReason(error)));
  }

  #dropped(message: Message, reason: string): void {
    this.logger.warn(
      `Dropped a message published to "${message.topic}" from inside a handler: ${reason}. ` +
        'The in-memory broker keeps no messages, so it will not be redelivered.',
    );
  }

  protected override async openConsumer(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle> {
    this.#consumers.set(spec.topic, [...(this.#consumers.get(spec.topic) ?? []), deliver]);
    return {
      close: async () => {
        const targets = this.#consumers.get(spec.topic) ?? [];
        const remaining = targets.filter((target) => target !== deliver);
        if (remaining.length === 0) this.#consumers.delete(spec.topic);
        else this.#consumers.set(spec.topic, remaining);
      },
    };
  }
}

function unhandledReason(error: unknown): string {
  return isMessagingError(error) && error.code === CONSUMER_CLOSED
    ? 'it was still queued when the broker stopped or its subscription ended'
    : `its delivery failed (${error instanceof Error ? error.message : String(error)})`;
}
