import { createDeadLetterMessage, createFallbackDeadLetterMessage, type DeadLetterCause } from './dead-letter.js';
import { settledBefore } from './adapter/deadline.js';
import { IdleLatch } from './adapter/idle-latch.js';
import { describeFailure } from './describe-failure.js';
import { BrokerStateError } from './errors/broker-state-error.js';
import { ConnectionError } from './errors/connection-error.js';
import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { CONSUMER_CLOSED, isMessagingError, MessagingError } from './errors/messaging-error.js';
import { PublishError } from './errors/publish-error.js';
import { SubscribeError } from './errors/subscribe-error.js';
import { isPromiseLike, RESOLVED } from './internal/promises.js';
import { KeyedExecutor } from './keyed-executor.js';
import { createConsoleLogger, type Logger } from './logger.js';
import { createOutgoingMessage, describe, describeValue, withMetadata, type Message, type Payload } from './message.js';
import type {
  HandlerContext,
  HealthReport,
  HealthStatus,
  MessageBrokerPort,
  MessageHandler,
  PublishOptions,
  SubscribeOptions,
  Subscription,
} from './message-broker-port.js';
import { backoffDelay, resolveRetryPolicy, type RetryPolicy, type RetryPolicyOptions } from './retry-policy.js';
import { assertGroup, assertTopic, NAME_PATTERN } from './topic.js';

/** Options every adapter built on {@link MessageBrokerBase} accepts. */
export interface MessageBrokerBaseOptions {
  /** Default retry policy of every subscription. @default DEFAULT_RETRY_POLICY */
  readonly retry?: RetryPolicyOptions;
  /** How long `stop()` waits for in-flight handlers. @default 30000 */
  readonly shutdownTimeoutMs?: number;
  /**
   * Messages of one consumer (one group on one topic, or one broadcast subscription) handled at
   * once. Messages with the same key are never handled concurrently, whatever this is.
   * @default 1
   */
  readonly concurrency?: number;
  /** Where the broker logs. @default a console logger at level 'warn' */
  readonly logger?: Logger;
}

/** What an adapter is asked to consume: one (topic, group), or one broadcast subscription. */
export interface ConsumerSpec {
  readonly topic: string;
  /** `null` for a broadcast subscription: the consumer must receive every message on its own. */
  readonly group: string | null;
  /** Unique per consumer in this process; for broadcast consumers, unique per subscription. */
  readonly id: string;
  /**
   * Messages of this consumer handled at once (the subscription's `concurrency`, else the
   * broker's). Core enforces it itself unless {@link MessageBrokerBase.transportOrdersDeliveries};
   * an adapter that orders deliveries itself should hand over at most this many at once.
   */
  readonly concurrency: number;
}

/**
 * Hands a received message to core: resolves once the message has been handled or dead-lettered,
 * so the adapter may acknowledge or commit it; rejects when it must not be acknowledged (it will
 * be redelivered).
 */
export type Deliver = (message: Message) => Promise<void>;

/** An open consumer, as returned by {@link MessageBrokerBase.openConsumer}. */
export interface ConsumerHandle {
  /**
   * Stops taking new messages and releases the consumer. Deliveries already handed to core may
   * still finish (and must still be acknowledged if the connection allows).
   */
  close(): Promise<void>;
}

/** What {@link MessageBrokerBase.checkHealth} reports while running. */
export interface AdapterHealth {
  readonly status: Extract<HealthStatus, 'up' | 'degraded' | 'down'>;
  readonly details?: Readonly<Record<string, unknown>>;
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

interface Member {
  readonly handler: MessageHandler;
  readonly policy: RetryPolicy;
}

/** Reason of the handlers' signal when stop() runs out of time (see HandlerContext.signal). */
function shutdownTimeout(adapterName: string, timeoutMs: number): MessagingError {
  return new MessagingError(
    `The ${adapterName} broker is stopping and its shutdownTimeoutMs (${timeoutMs} ms) is running out: ` +
      'give up handling this message; it is not acknowledged and will be redelivered.',
    'SHUTDOWN_TIMEOUT',
    { retriable: true },
  );
}

interface ConsumerEntry {
  readonly key: string;
  readonly spec: ConsumerSpec;
  readonly members: Member[];
  readonly executor: KeyedExecutor | null;
  next: number;
  handle: ConsumerHandle | null;
  opening: Promise<void> | null;
}

let nextSubscriptionId = 0;

/** Tries at publishing a dead letter (and then its fallback) while the failure may pass. */
const DEAD_LETTER_TRIES = 3;
/** Pause before the second try at a dead letter; each further pause is 4 times longer. */
const DEAD_LETTER_RETRY_DELAY_MS = 100;
/** Longest key (as base64) in the log line of a message that could not be dead-lettered. */
const MAX_LOGGED_KEY_LENGTH = 128;

/** How many valid topic names a broker remembers (see #assertPublishArguments). */
const MAX_REMEMBERED_TOPICS = 1_000;

/**
 * The shared half of every adapter: argument validation, lifecycle (idempotent start/stop,
 * start after stop), subscription bookkeeping, round-robin within a group, per-key ordering,
 * retry with backoff, dead-lettering with the error headers, draining on stop and health.
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
  readonly #entries = new Map<string, ConsumerEntry>();
  #state: State = 'new';
  #startPromise: Promise<void> | null = null;
  #stopPromise: Promise<void> | null = null;
  readonly #inFlight = new IdleLatch();
  /** Wakes the retry backoffs in progress: stop() began or a member left (see #backoff). */
  readonly #backoffWakers = new Set<() => void>();
  // Replaced at every start(): the signal of one run is aborted when its stop() runs out of time.
  #abort = new AbortController();
  #context: HandlerContext = Object.freeze({ signal: this.#abort.signal });
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
      return Promise.reject(
        isMessagingError(error)
          ? error
          : new InvalidArgumentError(`Cannot publish to "${topic}": the options could not be read (${errorText(error)}).`, {
              cause: error,
            }),
      );
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

    const id = `${this.adapterName}-${process.pid}-${++nextSubscriptionId}`;
    const key = groupName === null ? `s\u0000${id}` : `g\u0000${topic}\u0000${groupName}`;
    let entry = this.#entries.get(key);
    if (entry !== undefined && entry.spec.concurrency !== concurrency) {
      throw new InvalidArgumentError(
        `Cannot subscribe to "${topic}" in group "${groupName}" with concurrency ${concurrency}: this broker already ` +
          `has a subscription of that group to that topic with concurrency ${entry.spec.concurrency}, and they share ` +
          'one consumer. Give both the same concurrency.',
      );
    }
    if (entry === undefined) {
      entry = {
        key,
        spec: Object.freeze({ topic, group: groupName, id: groupName === null ? id : `${topic}.${groupName}`, concurrency }),
        members: [],
        executor: this.transportOrdersDeliveries ? null : new KeyedExecutor(concurrency),
        next: 0,
        handle: null,
        opening: null,
      };
      this.#entries.set(key, entry);
    }
    entry.members.push(member);

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
      const current = entry;
      if (this.#removeMember(current, member)) await this.#close(current);
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
    if (this.#abort.signal.aborted) {
      this.#abort = new AbortController();
      this.#context = Object.freeze({ signal: this.#abort.signal });
    }
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
    this.#wakeBackoffs();
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
      consumers: this.#entries.size,
      inFlight: this.#inFlight.count,
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
      return Promise.reject(
        isMessagingError(error)
          ? error
          : new InvalidArgumentError(`Cannot publish to "${topic}": the options could not be read (${errorText(error)}).`, {
              cause: error,
            }),
      );
    }
    let sent: Promise<void>;
    try {
      sent = this.send(message);
    } catch (error) {
      return Promise.reject(this.#publishError(topic, error));
    }
    // A send() that passes on what #deliver returned for deliveries that completed synchronously
    // (the in-memory broker does) returns RESOLVED: nothing can fail any more, nothing to wrap.
    if (sent === RESOLVED) return sent;
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
      await Promise.all([...this.#entries.values()].map((entry) => this.#open(entry)));
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
        await this.#inFlight.whenIdle();
      })(),
      deadline - disconnectReserve,
    );
    if (!drained) {
      // Handlers that listen to their signal give up now; what they throw leaves their message
      // unacknowledged (see #handle). They get half of the reserve to settle.
      this.#abort.abort(shutdownTimeout(this.adapterName, this.shutdownTimeoutMs));
      await settledBefore(this.#inFlight.whenIdle(), deadline - disconnectReserve / 2);
      this.logger.warn(
        this.#inFlight.count > 0
          ? `stop(): ${this.#inFlight.count} handler(s) still running near the end of shutdownTimeoutMs (${this.shutdownTimeoutMs} ms); ` +
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
    for (const entry of this.#entries.values()) {
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
          entry.handle = await this.openConsumer(entry.spec, (message) => this.#deliver(entry, message));
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
    await Promise.all([...this.#entries.values()].map((entry) => this.#close(entry)));
  }

  /** Removes `member`; returns true when the entry has no member left (and was forgotten). */
  #removeMember(entry: ConsumerEntry, member: Member): boolean {
    const index = entry.members.indexOf(member);
    if (index >= 0) entry.members.splice(index, 1);
    this.#wakeBackoffs();
    if (entry.members.length > 0) return false;
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    return true;
  }

  #deliver(entry: ConsumerEntry, message: Message): Promise<void> {
    const members = entry.members;
    if (members.length === 0) {
      return Promise.reject(
        new MessagingError(
          `No handler is subscribed to "${entry.spec.topic}" any more; the message will be redelivered.`,
          'NO_SUBSCRIBER',
          {
            retriable: true,
          },
        ),
      );
    }
    const member = members[entry.next % members.length]!;
    entry.next = (entry.next + 1) % members.length;
    this.#inFlight.enter();
    // When the consumer is idle, the handler runs within this call (in the executor too); a
    // synchronous handler then completes the delivery before it returns, without a promise.
    if (entry.executor === null) return this.#beginDelivery(entry, member, message) ?? RESOLVED;
    return entry.executor.run(keyOf(message), () => this.#beginDelivery(entry, member, message));
  }

  /**
   * Starts a delivery whose turn has come. Returns nothing when it completed synchronously (the
   * handler returned something that is not a promise), else a promise that settles when the
   * delivery has (handled, retried, dead-lettered or rejected). Either way the delivery is no
   * longer counted in flight by then.
   */
  #beginDelivery(entry: ConsumerEntry, member: Member, message: Message): Promise<void> | undefined {
    // A delivery may wait in the executor behind others. When its turn comes the broker may be
    // stopping or its handler unsubscribed: then it must not start (C7: stop takes no new
    // messages); it is rejected so the adapter does not acknowledge it and the broker redelivers.
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      this.#settled();
      return Promise.reject(
        new MessagingError(
          `Not handling a message from "${entry.spec.topic}": the broker is stopping. It was not acknowledged and will be redelivered.`,
          CONSUMER_CLOSED,
          { retriable: true },
        ),
      );
    }
    const handler = this.#memberFor(entry, member);
    if (handler === null) {
      this.#settled();
      return Promise.reject(subscriptionEnded(entry));
    }
    const context = this.#context;
    let outcome: unknown;
    let pending: boolean;
    try {
      outcome = handler.handler(message, context);
      // Reading `then` can throw too (a Proxy, a getter): awaiting the outcome would reject alike.
      pending = isPromiseLike(outcome);
    } catch (error) {
      return this.#handle(entry, handler, message, context, Promise.reject(error));
    }
    if (pending) return this.#handle(entry, handler, message, context, outcome as PromiseLike<unknown>);
    this.#settled();
    return undefined;
  }

  /**
   * The rest of a delivery whose first attempt did not complete synchronously: waits for it, then
   * retries under the member's policy and dead-letters after the last attempt.
   */
  async #handle(
    entry: ConsumerEntry,
    first: Member,
    message: Message,
    context: HandlerContext,
    firstAttempt: PromiseLike<unknown>,
  ): Promise<void> {
    let member = first;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await (attempt === 1 ? firstAttempt : member.handler(withMetadata(message, { attempt }), context));
          return;
        } catch (error) {
          const policy = member.policy;
          if (context.signal.aborted) {
            // stop() ran out of time and the handler gave up: neither retried nor dead-lettered.
            throw new MessagingError(
              `Gave up handling a message from "${entry.spec.topic}": the broker stopped (shutdownTimeoutMs). ` +
                'It was not acknowledged and will be redelivered.',
              CONSUMER_CLOSED,
              { retriable: true, cause: error },
            );
          }
          if (attempt >= policy.maxAttempts || !this.#shouldRetry(policy, error, message)) {
            await this.#deadLetter(entry, message, error, attempt, policy);
            return;
          }
          const delay = backoffDelay(policy, attempt);
          this.logger.debug(`Handler for "${message.topic}" failed (attempt ${attempt}); retrying in ${delay} ms.`, {
            error: errorText(error),
          });
          await this.#backoff(
            delay,
            () => this.#state === 'stopping' || this.#state === 'stopped' || !entry.members.includes(member),
          );
          // stop() began, or the member left, during the backoff: the message is not acknowledged
          // (the transport redelivers it, with its attempts counted afresh) rather than retried by a
          // member that is gone or dead-lettered early; a remaining member of the group retries it.
          if (this.#state === 'stopping' || this.#state === 'stopped') throw brokerStopping(entry);
          const next = this.#memberFor(entry, member);
          if (next === null) throw subscriptionEnded(entry);
          member = next;
        }
      }
    } finally {
      this.#settled();
    }
  }

  /** `member` while it is subscribed, else the group's next member, or null when none is left. */
  #memberFor(entry: ConsumerEntry, member: Member): Member | null {
    if (entry.members.includes(member)) return member;
    const remaining = entry.members;
    if (remaining.length === 0 || this.#entries.get(entry.key) !== entry) return null;
    const next = remaining[entry.next % remaining.length]!;
    entry.next = (entry.next + 1) % remaining.length;
    return next;
  }

  /** Waits `ms`, or less once `interrupted()` holds when a waker runs (stop() began, a member left). */
  async #backoff(ms: number, interrupted: () => boolean): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => {
      wake = () => {
        if (interrupted()) resolve();
      };
      timer = setTimeout(resolve, ms);
    });
    this.#backoffWakers.add(wake);
    try {
      await woken;
    } finally {
      clearTimeout(timer);
      this.#backoffWakers.delete(wake);
    }
  }

  #wakeBackoffs(): void {
    for (const wake of [...this.#backoffWakers]) wake();
  }

  /**
   * Whether a failure may be retried: not a `NonRetriableError` nor any error whose `retriable` is
   * `false`, and the policy's `shouldRetry` (if any) says yes. Never throws (hostile thrown values).
   */
  #shouldRetry(policy: RetryPolicy, error: unknown, message: Message): boolean {
    try {
      if (typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === false) return false;
    } catch {
      // A thrown value every read of which throws: retried like any other failure.
    }
    if (policy.shouldRetry === undefined) return true;
    try {
      return policy.shouldRetry(error, message) !== false;
    } catch (failure) {
      this.logger.warn(`retry.shouldRetry threw for a message from "${message.topic}"; retrying it.`, {
        error: errorText(failure),
      });
      return true;
    }
  }

  /** Counts a delivery done; wakes stop() when none is left in flight. */
  #settled(): void {
    this.#inFlight.leave();
  }

  /**
   * Dead-letters a message whose last attempt failed, or drops it when the policy says so. Never
   * fails for what the handler threw (see describeFailure). When the dead letter cannot be
   * published, it is tried again while the failure may pass (DEAD_LETTER_TRIES), then published
   * with minimal headers (the same tries); when even that fails, see {@link transportDeadLetters}.
   * While the broker stops, a failure rejects instead: the transport redelivers the message later.
   */
  async #deadLetter(
    entry: ConsumerEntry,
    message: Message,
    error: unknown,
    attempts: number,
    policy: RetryPolicy,
  ): Promise<void> {
    const { topic, group } = entry.spec;
    const where = group === null ? `"${topic}"` : `"${topic}" (group "${group}")`;
    if (!policy.deadLetter) {
      this.logger.warn(
        `Dropped a message from "${topic}" after ${attempts} failed attempt(s) (retry policy deadLetter: false).`,
        {
          error: errorText(error),
        },
      );
      return;
    }
    const cause: DeadLetterCause = { error, group, attempts };
    let destination = '(unknown)';
    const full = await this.#tryDeadLetter(() => {
      destination = this.deadLetterTopic(topic, group);
      return this.sendDeadLetter(createDeadLetterMessage(message, destination, cause), message, group);
    });
    if (full === DEAD_LETTERED) {
      this.logger.warn(`Dead-lettered a message from "${topic}" to "${destination}" after ${attempts} failed attempt(s).`, {
        error: errorText(error),
      });
      return;
    }
    this.logger.error(
      `Cannot dead-letter a message from ${where} to "${destination}" after ${attempts} failed attempt(s): ${errorText(full)}. ` +
        'Publishing it there with minimal headers instead.',
      { error: errorText(error) },
    );
    const fallback = await this.#tryDeadLetter(() =>
      this.sendDeadLetter(createFallbackDeadLetterMessage(message, destination, cause, full), message, group),
    );
    if (fallback === DEAD_LETTERED) {
      this.logger.warn(
        `Dead-lettered a message from ${where} to "${destination}" with minimal headers: its own headers were left out ` +
          '(msgport-dead-letter-error says why).',
        { error: errorText(error) },
      );
      return;
    }
    const fields = { error: errorText(error), deadLetterError: errorText(fallback), ...locate(message) };
    if (this.#state !== 'running') {
      throw new PublishError(
        `Cannot dead-letter a message from ${where} to "${destination}" while the broker stops (${errorText(fallback)}); ` +
          'it was not acknowledged and will be redelivered.',
        { cause: fallback, retriable: true },
      );
    }
    if (this.transportDeadLetters) {
      this.logger.error(
        `Cannot dead-letter a message from ${where} to "${destination}", not even with minimal headers ` +
          `(${errorText(fallback)}). Rejecting it so that the broker dead-letters it itself.`,
        fields,
      );
      throw new PublishError(
        `Cannot dead-letter a message from ${where} to "${destination}", not even with minimal headers (${errorText(fallback)}). ` +
          'Reject it without requeue: the broker dead-letters it.',
        { code: 'DEAD_LETTER_FAILED', retriable: false, cause: fallback },
      );
    }
    this.logger.error(
      `Cannot dead-letter a message from ${where} to "${destination}", not even with minimal headers (${errorText(fallback)}). ` +
        `Acknowledging it so that the messages behind it are handled: it can still be read in "${topic}"${position(message)}.`,
      fields,
    );
  }

  /** Runs `send` up to DEAD_LETTER_TRIES times while it fails for a reason that may pass. */
  async #tryDeadLetter(send: () => Promise<void>): Promise<unknown /* DEAD_LETTERED, or the last error */> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= DEAD_LETTER_TRIES; attempt++) {
      if (attempt > 1) await sleep(DEAD_LETTER_RETRY_DELAY_MS * 4 ** (attempt - 2));
      try {
        await send();
        return DEAD_LETTERED;
      } catch (error) {
        lastError = error;
        this.logger.warn(`Dead-lettering failed (try ${attempt} of ${DEAD_LETTER_TRIES}): ${errorText(error)}`);
        if ((isMessagingError(error) && !error.retriable) || this.#state !== 'running') break;
      }
    }
    return lastError;
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

/** @throws {InvalidArgumentError} when `signal` is not an AbortSignal. */
function assertSignal(topic: string, signal: unknown): void {
  if (!(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(
      `Cannot publish to "${topic}": options.signal must be an AbortSignal, got ${describe(signal)}.`,
    );
  }
}

/** The error of a publish given up because its signal was aborted. */
function aborted(topic: string, signal: AbortSignal, mayHaveBeenSent: boolean): MessagingError {
  return new MessagingError(
    mayHaveBeenSent
      ? `Stopped waiting for the publish to "${topic}": its signal was aborted. The message may still have been accepted by the broker.`
      : `Did not publish to "${topic}": its signal was aborted before the message was sent.`,
    'ABORTED',
    { retriable: false, cause: signal.reason },
  );
}

/** `published`, or a rejection with code ABORTED as soon as `signal` aborts, whichever comes first. */
function abortable(topic: string, published: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(aborted(topic, signal, true));
    signal.addEventListener('abort', onAbort, { once: true });
    published.finally(() => signal.removeEventListener('abort', onAbort)).then(resolve, reject);
  });
}

function keyOf(message: Message): string | null {
  return message.key === null ? null : message.key.toString('latin1');
}

function brokerStopping(entry: ConsumerEntry): MessagingError {
  return new MessagingError(
    `Not retrying a message from "${entry.spec.topic}": the broker is stopping. It was not acknowledged and will be redelivered.`,
    CONSUMER_CLOSED,
    { retriable: true },
  );
}

function subscriptionEnded(entry: ConsumerEntry): MessagingError {
  return new MessagingError(
    `Not handling a message from "${entry.spec.topic}": its subscription ended. It was not acknowledged and will be redelivered.`,
    CONSUMER_CLOSED,
    { retriable: true },
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * `logger` with every method guarded: a logger that throws (or is missing a method) must not turn
 * a log line into a failure of the delivery being logged.
 *
 * @throws {InvalidArgumentError} when `logger` is not an object.
 */
function guardedLogger(logger: Logger, adapterName: string): Logger {
  if (typeof logger !== 'object' || logger === null) {
    throw new InvalidArgumentError(
      `The ${adapterName} broker's logger must be an object with debug, info, warn and error methods, got ${describeValue(logger)}.`,
    );
  }
  const guard =
    (level: keyof Logger) =>
    (message: string, fields?: Record<string, unknown>): void => {
      try {
        // eslint-disable-next-line @typescript-eslint/unbound-method -- called with `logger` as `this` right below
        const write = logger[level];
        if (typeof write === 'function') write.call(logger, message, fields);
      } catch {
        // Nowhere left to report it: the logger itself failed.
      }
    };
  return Object.freeze({ debug: guard('debug'), info: guard('info'), warn: guard('warn'), error: guard('error') });
}

/** Marks a dead letter published by #tryDeadLetter. */
const DEAD_LETTERED: unique symbol = Symbol('dead-lettered');

/** What a log line or an error message says of any thrown value: never throws, bounded (see describeFailure). */
function errorText(error: unknown): string {
  return describeFailure(error).message;
}

/** Where a message that was not dead-lettered can still be found, for the log line. */
function locate(message: Message): Record<string, unknown> {
  const { partition, offset } = message.metadata;
  const messageId = message.headers['msgport-message-id'];
  return {
    topic: message.topic,
    ...(partition === undefined ? {} : { partition }),
    ...(offset === undefined ? {} : { offset }),
    ...(messageId === undefined ? {} : { messageId }),
    key: message.key === null ? null : message.key.toString('base64').slice(0, MAX_LOGGED_KEY_LENGTH),
    valueBytes: message.value.length,
  };
}

function position(message: Message): string {
  const { partition, offset } = message.metadata;
  return partition === undefined || offset === undefined ? '' : ` at partition ${partition}, offset ${offset}`;
}
