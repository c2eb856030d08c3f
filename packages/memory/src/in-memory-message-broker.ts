import {
  isMessagingError,
  MessageBrokerBase,
  waitFor,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  type Message,
  type MessageBrokerBaseOptions,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
  type WaitForOptions,
} from '@msgport/core';
import { dispatchNested, insideDelivery, trackHandler, type HandlerHost } from './internal/delivery-context.js';

/** Options of {@link InMemoryMessageBroker}. */
export interface InMemoryMessageBrokerOptions extends MessageBrokerBaseOptions {
  /**
   * Keep every published message (dead letters included) for {@link InMemoryMessageBroker.published}.
   * Turn off for long-running processes.
   * @default true
   */
  readonly recordPublished?: boolean;
}

/**
 * The msgport port in one process, with no infrastructure: for tests, demos and local runs.
 *
 * When `publish()` resolves (messages are handed to the subscriptions in subscription order):
 * - **From outside any handler** (a test, a request handler, a timer the application started):
 *   after every target handler has settled, retries and dead-lettering included, also when the
 *   message first waits behind other messages of a busy consumer. So tests need no waiting.
 * - **From inside a handler** (any nesting depth, any topic; also code a handler started, such as
 *   a timer): after the handlers that could take the message at once have settled; for a consumer
 *   that is busy (the publishing handler's own subscription, or any consumer whose concurrency
 *   slots or key are taken), as soon as the message is queued there. It is handled once the
 *   consumer is free, after `publish()` resolved. Waiting for it could mean waiting for the
 *   publishing handler itself, which would never end. Dead letters are sent the same way.
 *
 * The parts of a handler that run after an `await` are recognised through `AsyncLocalStorage`,
 * only for handlers that return a promise: a handler's first call runs inside it, and a handler
 * that completed synchronously is called without it from then on (so synchronous handlers cost
 * nothing). Should such a handler return a promise later after all, publishes made anywhere in
 * the process while that call is pending resolve as from inside a handler.
 *
 * Also:
 * - Round-robin within a group in exact alternation; broadcast without a group; a copy per group.
 * - Failed messages go to `<topic>.DLT` with the `msgport-error-*` headers.
 * - Messages are not persisted: what is published while nobody is subscribed is gone (except from
 *   {@link published}), and so is what is still queued when `stop()` runs (a publish from outside
 *   any handler then rejects; a message published from inside one is logged as dropped).
 *
 * The package README lists every difference from Kafka and RabbitMQ an application can observe.
 */
export class InMemoryMessageBroker extends MessageBrokerBase {
  // Copy-on-write: a topic's array is replaced, never changed, when a consumer opens or closes, so
  // send() walks the array it read without copying it, and a consumer opened by a handler during a
  // send does not receive that send's message.
  readonly #consumers = new Map<string, readonly Deliver[]>();
  readonly #published: Message[] = [];
  readonly #recordPublished: boolean;
  readonly #host: HandlerHost = {
    isRunning: () => this.isRunning,
    dropped: (message, reason) => this.#dropped(message, reason),
  };

  constructor(options: InMemoryMessageBrokerOptions = {}) {
    super('memory', options);
    this.#recordPublished = options.recordPublished ?? true;
  }

  /** Every message published since creation or {@link clear}, in publish order (dead letters too). */
  get published(): readonly Message[] {
    return this.#published;
  }

  /** Messages published to `topic` so far. */
  publishedTo(topic: string): Message[] {
    return this.#published.filter((message) => message.topic === topic);
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
  async waitForMessage(predicate: (message: Message) => boolean, options: WaitForOptions & { readonly topic?: string } = {}): Promise<Message> {
    return waitFor(
      () => this.#published.find((message) => (options.topic === undefined || message.topic === options.topic) && predicate(message)),
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
    return super.subscribe(topic, typeof handler === 'function' ? trackHandler(handler, this.#host) : handler, group);
  }

  protected override send(message: Message): Promise<void> {
    return this.#dispatch(message, insideDelivery());
  }

  protected override sendDeadLetter(deadLetter: Message): Promise<void> {
    // Always sent from inside a delivery, also when the delivery's own handler completed
    // synchronously and its retries ran later: a dead-letter consumer may be busy with a handler
    // that is waiting for the delivery being dead-lettered.
    return this.#dispatch(deadLetter, true);
  }

  #dispatch(message: Message, fromDelivery: boolean): Promise<void> {
    if (this.#recordPublished) this.#published.push(message);
    const targets = this.#consumers.get(message.topic);
    if (targets === undefined || targets.length === 0) return Promise.resolve();
    if (fromDelivery) return dispatchNested(targets, message, (error) => this.#dropped(message, unhandledReason(error)));
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
    return pending === null ? first : Promise.all(pending).then(() => undefined);
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
  return isMessagingError(error) && error.code === 'CONSUMER_CLOSED'
    ? 'it was still queued when the broker stopped or its subscription ended'
    : `its delivery failed (${error instanceof Error ? error.message : String(error)})`;
}
