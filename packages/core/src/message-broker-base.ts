import type { AdapterHealth, ConsumerHandle, ConsumerSpec, Deliver, MessageBrokerBaseOptions } from './adapter/contract.js';
import { settledBefore } from './adapter/deadline.js';
import { BrokerStateError } from './errors/broker-state-error.js';
import { ConnectionError } from './errors/connection-error.js';
import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { isMessagingError, type MessagingError } from './errors/messaging-error.js';
import { PublishError } from './errors/publish-error.js';
import { SubscribeError } from './errors/subscribe-error.js';
import {
  aborted,
  abortable,
  assertSignal,
  errorText,
  guardedLogger,
  publishArgumentError,
  shutdownTimeout,
} from './internal/broker-support.js';
import { ConsumerRegistry, type ConsumerEntry, type Member } from './internal/consumer-registry.js';
import { DeliveryPipeline, type DeliveryHost } from './internal/delivery-pipeline.js';
import { RESOLVED } from './internal/promises.js';
import { KeyedExecutor } from './keyed-executor.js';
import { createConsoleLogger, type Logger } from './logger.js';
import { createOutgoingMessage, describe, describeValue, type Message, type Payload } from './message.js';
import type {
  HealthReport,
  HealthStatus,
  MessageBrokerPort,
  MessageHandler,
  PublishOptions,
  SubscribeOptions,
  Subscription,
} from './message-broker-port.js';
import { resolveRetryPolicy, type RetryPolicy } from './retry-policy.js';
import { assertGroup, assertTopic, NAME_PATTERN } from './topic.js';

export type { AdapterHealth, ConsumerHandle, ConsumerSpec, Deliver, MessageBrokerBaseOptions } from './adapter/contract.js';

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** How many valid topic names a broker remembers (see #assertPublishArguments). */
const MAX_REMEMBERED_TOPICS = 1_000;

/**
 * The shared half of every adapter: argument validation, lifecycle (idempotent start/stop,
 * start after stop), subscription bookkeeping, round-robin within a group, per-key ordering,
 * retry with backoff, dead-lettering with the error headers, draining on stop and health.
 *
 * This class holds the port and the lifecycle; the subscriptions live in a ConsumerRegistry, what
 * happens to a delivered message in the DeliveryPipeline (internal/), dead letters in
 * internal/dead-letterer.ts.
 *
 * An adapter is a thin translation: it implements {@link connect}, {@link disconnect},
 * {@link send} and {@link openConsumer}, and may override {@link deadLetterTopic},
 * {@link sendDeadLetter} and {@link checkHealth}.
 */
export abstract class MessageBrokerBase implements MessageBrokerPort {
  /** Adapter name used in messages and health details, e.g. `kafka`. */
  readonly adapterName: string;
  protected readonly logger: Logger;
  protected readonly retryPolicy: RetryPolicy;
  protected readonly shutdownTimeoutMs: number;
  readonly #concurrency: number;
  readonly #registry: ConsumerRegistry;
  readonly #pipeline: DeliveryPipeline;
  #state: State = 'new';
  #startPromise: Promise<void> | null = null;
  #stopPromise: Promise<void> | null = null;
  readonly #validTopics = new Set<string>();

  protected constructor(adapterName: string, options: MessageBrokerBaseOptions = {}) {
    this.adapterName = adapterName;
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(`The ${adapterName} broker needs an options object, got ${describeValue(options)}.`);
    }
    this.logger = guardedLogger(options.logger ?? createConsoleLogger('warn', `msgport:${adapterName}`), adapterName);
    this.retryPolicy = resolveRetryPolicy(options.retry);
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
    if (typeof this.shutdownTimeoutMs !== 'number' || !(this.shutdownTimeoutMs >= 0)) {
      throw new InvalidArgumentError(`shutdownTimeoutMs must be a number >= 0, got ${describeValue(options.shutdownTimeoutMs)}.`);
    }
    this.#concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new InvalidArgumentError(`concurrency must be an integer >= 1, got ${describeValue(options.concurrency)}.`);
    }
    this.#registry = new ConsumerRegistry(adapterName);
    const host: DeliveryHost = {
      logger: this.logger,
      isRunning: () => this.#state === 'running',
      isStopping: () => this.#state === 'stopping' || this.#state === 'stopped',
      transportDeadLetters: () => this.transportDeadLetters,
      deadLetterTopic: (topic, group) => this.deadLetterTopic(topic, group),
      sendDeadLetter: (deadLetter, original, group) => this.sendDeadLetter(deadLetter, original, group),
    };
    this.#pipeline = new DeliveryPipeline(host, this.#registry);
  }

  // ---- what adapters implement -------------------------------------------------------------

  /** Opens connections. Throw a {@link ConnectionError} (or anything; it is wrapped) on failure. */
  protected abstract connect(): Promise<void>;
  /**
   * Closes connections. Called after consumers were closed and in-flight handlers drained, or once
   * the drain ran out of time. `deadline` (epoch ms) is when `stop()` must have finished: by then
   * the adapter has given up on anything still waiting for the broker (closing its sockets), so
   * that `stop()` and the process's exit are never later than `shutdownTimeoutMs`.
   */
  protected abstract disconnect(deadline?: number): Promise<void>;
  /** Publishes durably; resolves only when the broker accepted the message (C2). */
  protected abstract send(message: Message): Promise<void>;
  /** Starts consuming for `spec`, handing every message to `deliver` and acknowledging after it resolves. */
  protected abstract openConsumer(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle>;

  /** Dead-letter destination of `topic` for `group`. @default `<topic>.DLT` */
  protected deadLetterTopic(topic: string, _group: string | null): string {
    return `${topic}.DLT`;
  }

  /** Publishes a dead-letter message (its topic is the destination). @default {@link send} */
  protected sendDeadLetter(deadLetter: Message, _original: Message, _group: string | null): Promise<void> {
    return this.send(deadLetter);
  }

  /**
   * Called once when `stop()` begins on a running broker, before core closes the consumers and
   * drains the in-flight handlers; `deadline` (epoch ms) is when `stop()` must have finished (the
   * same one {@link disconnect} gets). An adapter that waits for its broker (a reconnection, a
   * publish waiting for a connection) stops waiting here, so that a draining handler's publish
   * does not hold `stop()`. Must not throw. @default does nothing
   */
  protected stopBegan(_deadline: number): void {
    // Nothing to do by default.
  }

  /** Health while running. @default up */
  protected async checkHealth(): Promise<AdapterHealth> {
    return { status: 'up' };
  }

  /**
   * Whether the transport already delivers one message at a time per key (Kafka: one partition at
   * a time). When false, core serializes deliveries per consumer as `concurrency` allows.
   */
  protected get transportOrdersDeliveries(): boolean {
    return false;
  }

  /**
   * Whether the transport dead-letters a delivery it rejects without requeueing it (RabbitMQ's
   * dead-letter exchange). It decides what happens to a message that core could dead-letter
   * neither with its own headers nor with minimal ones: when true, {@link Deliver} rejects with a
   * `PublishError` of code `DEAD_LETTER_FAILED` and the adapter must reject the delivery without
   * requeue, so that the broker moves it to the dead-letter queue itself; when false, core logs
   * the message at `error` (where it still is: topic, partition, offset, key) and resolves, so that
   * the adapter acknowledges it and the partition or queue moves on.
   */
  protected get transportDeadLetters(): boolean {
    return false;
  }

  /**
   * Whether every promise {@link send} returns resolves to `undefined` or rejects with a
   * `MessagingError` (as the promises {@link Deliver} returns do). When true, `publish()` returns
   * it as is; when false, it wraps any other rejection in a `PublishError`, at the price of one
   * more promise per publish.
   */
  protected get sendRejectsWithMessagingErrors(): boolean {
    return false;
  }

  // ---- the port -------------------------------------------------------------------------------

  publish(topic: string, value: Payload, options?: PublishOptions): Promise<void> {
    // Not `async`: while running, a publish is validated, built and handed to send() without a
    // promise of its own, and a send() that completed synchronously is returned as is. Every
    // failure still surfaces as a rejected promise, never as a synchronous throw.
    let signal: AbortSignal | undefined;
    try {
      this.#assertPublishArguments(topic, options);
      signal = options?.signal;
      if (signal !== undefined) {
        assertSignal(topic, signal);
        if (signal.aborted) return Promise.reject(aborted(topic, signal, false));
      }
    } catch (error) {
      return Promise.reject(publishArgumentError(topic, error));
    }
    const published =
      this.#state === 'running' || this.#state === 'stopping'
        ? this.#publishNow(topic, value, options)
        : this.#publishWhenStarted(topic, value, options);
    return signal === undefined ? published : abortable(topic, published, signal);
  }

  async subscribe(topic: string, handler: MessageHandler, group?: string | SubscribeOptions): Promise<Subscription> {
    assertTopic(topic, 'subscribe');
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(`Cannot subscribe to "${topic}": the handler must be a function, got ${describe(handler)}.`);
    }
    const options: SubscribeOptions =
      typeof group === 'string' || group === undefined ? (group === undefined ? {} : { group }) : group;
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(
        `Cannot subscribe to "${topic}": the third argument must be a group name or options, got ${describe(group)}.`,
      );
    }
    const groupName = options.group ?? null;
    if (groupName !== null) assertGroup(groupName, topic);
    const concurrency = options.concurrency ?? this.#concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new InvalidArgumentError(
        `Cannot subscribe to "${topic}": concurrency must be an integer >= 1, got ${describeValue(options.concurrency)}.`,
      );
    }
    const member: Member = { handler, policy: resolveRetryPolicy(options.retry, this.retryPolicy) };
    if (member.policy.deadLetter) this.#assertDeadLetterTopic(topic, groupName);

    const entry = this.#registry.add(topic, groupName, concurrency, member, () =>
      this.transportOrdersDeliveries ? null : new KeyedExecutor(concurrency),
    );

    if (this.#state === 'starting') await this.#startPromise?.catch(() => undefined);
    if (this.#state === 'running') {
      try {
        await this.#open(entry);
      } catch (error) {
        this.#removeMember(entry, member);
        throw error;
      }
    }

    let active = true;
    const unsubscribe = async (): Promise<void> => {
      if (!active) return;
      active = false;
      if (this.#removeMember(entry, member)) await this.#close(entry);
    };
    return Object.freeze({ topic, group: groupName, unsubscribe, [Symbol.asyncDispose]: unsubscribe });
  }

  start(): Promise<void> {
    switch (this.#state) {
      case 'running':
        return Promise.resolve();
      case 'starting':
        return this.#startPromise!;
      case 'stopping':
        return this.#stopPromise!.then(() => this.start());
      default:
        break;
    }
    this.#state = 'starting';
    this.#pipeline.renewSignal();
    this.#startPromise = this.#doStart();
    return this.#startPromise;
  }

  stop(): Promise<void> {
    switch (this.#state) {
      case 'new':
      case 'stopped':
        return Promise.resolve();
      case 'stopping':
        return this.#stopPromise!;
      case 'starting':
        return this.#startPromise!.catch(() => undefined).then(() => this.stop());
      default:
        break;
    }
    this.#state = 'stopping';
    this.#pipeline.wakeBackoffs();
    const deadline = Date.now() + this.shutdownTimeoutMs;
    try {
      this.stopBegan(deadline);
    } catch (error) {
      this.logger.warn(`stop(): the ${this.adapterName} adapter failed when stopping began: ${errorText(error)}`);
    }
    this.#stopPromise = this.#doStop(deadline);
    return this.#stopPromise;
  }

  /** Stops the broker (see {@link stop}): `await using broker = new …` stops it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async health(): Promise<HealthReport> {
    const base = {
      adapter: this.adapterName,
      state: this.#state,
      consumers: this.#registry.size,
      inFlight: this.#pipeline.inFlight,
    };
    if (this.#state !== 'running') {
      const status: HealthStatus = this.#state === 'starting' ? 'starting' : 'stopped';
      return Object.freeze({ status, details: Object.freeze(base) });
    }
    try {
      const adapter = await this.checkHealth();
      return Object.freeze({ status: adapter.status, details: Object.freeze({ ...base, ...adapter.details }) });
    } catch (error) {
      return Object.freeze({
        status: 'down',
        details: Object.freeze({ ...base, error: errorText(error) }),
      });
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  /** True while the broker takes and delivers messages (for adapters' own checks). */
  protected get isRunning(): boolean {
    return this.#state === 'running';
  }

  #assertPublishArguments(topic: string, options: PublishOptions | undefined): void {
    // A topic name is checked once per broker, then remembered (bounded, in case an application
    // publishes to ever new names): the check is a regular expression, and publish is hot.
    if (!this.#validTopics.has(topic)) {
      assertTopic(topic, 'publish');
      if (this.#validTopics.size >= MAX_REMEMBERED_TOPICS) this.#validTopics.clear();
      this.#validTopics.add(topic);
    }
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new InvalidArgumentError(`Cannot publish to "${topic}": options must be an object, got ${describe(options)}.`);
    }
  }

  /** A publish made before start() finished, before start() or after stop(). */
  async #publishWhenStarted(topic: string, value: Payload, options: PublishOptions | undefined): Promise<void> {
    if (this.#state === 'starting') await this.#startPromise?.catch(() => undefined);
    // Aborted while start() ran: nothing was sent yet, so nothing is sent.
    if (options?.signal?.aborted === true) throw aborted(topic, options.signal, false);
    if (this.#state !== 'running' && this.#state !== 'stopping') {
      throw new BrokerStateError(
        this.#state === 'stopped'
          ? `Cannot publish to "${topic}": broker stopped. Call start() again before publishing.`
          : `Cannot publish to "${topic}": broker not started. Call start() first.`,
      );
    }
    return this.#publishNow(topic, value, options);
  }

  #publishNow(topic: string, value: Payload, options: PublishOptions | undefined): Promise<void> {
    let message: Message;
    try {
      message = createOutgoingMessage(topic, value, options?.key, options?.headers);
    } catch (error) {
      // Reading the options may throw too (a getter): that is still a bad argument.
      return Promise.reject(publishArgumentError(topic, error));
    }
    let sent: Promise<void>;
    try {
      sent = this.send(message);
    } catch (error) {
      return Promise.reject(this.#publishError(topic, error));
    }
    // A send() that passes on what #deliver returned for deliveries that completed synchronously
    // (the in-memory broker does) returns RESOLVED: nothing can fail any more, nothing to wrap.
    if (sent === RESOLVED || this.sendRejectsWithMessagingErrors) return sent;
    return sent.then(undefined, (error: unknown) => {
      throw this.#publishError(topic, error);
    });
  }

  #publishError(topic: string, error: unknown): MessagingError {
    return isMessagingError(error)
      ? error
      : new PublishError(`Cannot publish to "${topic}": the ${this.adapterName} broker did not accept the message.`, {
          cause: error,
        });
  }

  async #doStart(): Promise<void> {
    try {
      await this.connect();
      // All at once: an adapter can then join one group membership for all the topics of a group
      // (Kafka) instead of rebalancing once per topic.
      await Promise.all(this.#registry.entries().map((entry) => this.#open(entry)));
      this.#state = 'running';
    } catch (error) {
      await this.#closeAll().catch(() => undefined);
      await this.disconnect().catch(() => undefined);
      this.#state = 'stopped';
      if (isMessagingError(error)) throw error;
      throw new ConnectionError(`Cannot start the ${this.adapterName} broker: ${errorText(error)}`, { cause: error });
    }
  }

  async #doStop(deadline: number): Promise<void> {
    // What disconnect() may take once the drain is over: a tenth of the timeout, at most 1 s.
    const disconnectReserve = Math.min(1_000, this.shutdownTimeoutMs / 10);
    const drained = await settledBefore(
      (async () => {
        await this.#closeAll();
        await this.#pipeline.whenIdle();
      })(),
      deadline - disconnectReserve,
    );
    if (!drained) {
      // Handlers that listen to their signal give up now; what they throw leaves their message
      // unacknowledged (see #handle). They get half of the reserve to settle.
      this.#pipeline.abortHandlers(shutdownTimeout(this.adapterName, this.shutdownTimeoutMs));
      await settledBefore(this.#pipeline.whenIdle(), deadline - disconnectReserve / 2);
      const inFlight = this.#pipeline.inFlight;
      this.logger.warn(
        inFlight > 0
          ? `stop(): ${inFlight} handler(s) still running near the end of shutdownTimeoutMs (${this.shutdownTimeoutMs} ms); ` +
              'closing anyway. Their messages were not acknowledged and will be redelivered.'
          : `stop(): consumers still closing near the end of shutdownTimeoutMs (${this.shutdownTimeoutMs} ms), ` +
              'the broker may be unreachable; closing the connections anyway.',
      );
    }
    try {
      await this.disconnect(deadline);
    } catch (error) {
      this.logger.warn(`stop(): error while disconnecting: ${errorText(error)}`);
    }
    for (const entry of this.#registry.entries()) {
      entry.handle = null;
      entry.opening = null;
    }
    this.#state = 'stopped';
  }

  async #open(entry: ConsumerEntry): Promise<void> {
    if (entry.handle !== null) return;
    if (entry.opening === null) {
      entry.opening = (async () => {
        try {
          entry.handle = await this.openConsumer(entry.spec, (message) => this.#pipeline.deliver(entry, message));
        } catch (error) {
          if (isMessagingError(error)) throw error;
          throw new SubscribeError(
            `Cannot subscribe to "${entry.spec.topic}"${entry.spec.group === null ? '' : ` in group "${entry.spec.group}"`}: ${errorText(error)}`,
            { cause: error },
          );
        } finally {
          entry.opening = null;
        }
      })();
    }
    await entry.opening;
  }

  async #close(entry: ConsumerEntry): Promise<void> {
    if (entry.opening !== null) await entry.opening.catch(() => undefined);
    const handle = entry.handle;
    entry.handle = null;
    if (handle !== null) await handle.close();
  }

  async #closeAll(): Promise<void> {
    await Promise.all(this.#registry.entries().map((entry) => this.#close(entry)));
  }

  /** Removes `member`; returns true when the entry has no member left (and was forgotten). */
  #removeMember(entry: ConsumerEntry, member: Member): boolean {
    const emptied = this.#registry.remove(entry, member);
    // A retry of the member waiting for its backoff gives up (a remaining member takes it over).
    this.#pipeline.wakeBackoffs();
    return emptied;
  }

  /** Checks at subscribe time that the dead letters of `topic` can be published and read back. */
  #assertDeadLetterTopic(topic: string, group: string | null): void {
    const destination = this.deadLetterTopic(topic, group);
    if (!NAME_PATTERN.test(destination)) {
      throw new InvalidArgumentError(
        `Cannot subscribe to "${topic}"${group === null ? '' : ` in group "${group}"`}: its dead-letter topic ` +
          `"${destination.slice(0, 60)}…" has ${destination.length} characters, and a topic may have at most 249. ` +
          'Use a shorter topic or group name, or subscribe with retry: { deadLetter: false }.',
      );
    }
  }
}
