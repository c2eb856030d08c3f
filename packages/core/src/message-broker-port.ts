import type { Message, Payload } from './message.js';
import type { RetryPolicyOptions } from './retry-policy.js';

/**
 * What a handler gets besides the message (second argument of {@link MessageHandler}). The same
 * object for every delivery of one broker run: keep no per-message state on it.
 */
export interface HandlerContext {
  /**
   * Aborted when `stop()` reaches its shutdown timeout (`shutdownTimeoutMs`, less a short reserve
   * for closing connections) while this handler still runs; its `reason` is a `MessagingError` of
   * code `SHUTDOWN_TIMEOUT`. A long handler can pass it on (`fetch(url, { signal })`) or check it,
   * and give up cleanly: whatever it throws then, the message is neither retried nor dead-lettered
   * but left unacknowledged, and real brokers redeliver it later. A handler that ignores it is not
   * interrupted (C7); `stop()` closes the connections anyway.
   */
  readonly signal: AbortSignal;
}

/**
 * Handles one message. Resolve to acknowledge it; throw (or reject) to have it retried under the
 * subscription's retry policy and, after the last attempt, dead-lettered. A `NonRetriableError`
 * (or any error whose `retriable` is `false`) is dead-lettered after this one attempt. Never
 * acknowledged before it resolves (at-least-once): make handlers idempotent, `message.id` helps.
 */
export type MessageHandler = (message: Message, context: HandlerContext) => void | Promise<void>;

/** Options of {@link MessageBrokerPort.publish}. */
export interface PublishOptions {
  /**
   * Partitioning and ordering key. Messages with the same key are handled one at a time, in
   * publish order, within a group, across all its instances. Strings are encoded as UTF-8.
   * @default null
   */
  readonly key?: Payload | null;
  /**
   * Application headers: string values, any Unicode. Names starting with `msgport-` are reserved,
   * except `msgport-message-id`: set it to give the message your own id (C11), else a UUID v7 is
   * generated.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Gives up waiting: when the signal is aborted (before or during the publish), `publish()`
   * rejects with a `MessagingError` of code `ABORTED` whose `cause` is the signal's `reason`. An
   * abort before the message was handed to the broker means it was not sent. An abort after that
   * only stops the wait: the message may still be (or already have been) accepted, and nothing is
   * undone; a publish that already resolved is not affected at all.
   */
  readonly signal?: AbortSignal;
}

/** Options of {@link MessageBrokerPort.subscribe}, for when a group name alone is not enough. */
export interface SubscribeOptions {
  /**
   * Consumer group. Same group: each message goes to one member. No group: broadcast, every
   * subscription receives every message published while it is subscribed.
   */
  readonly group?: string;
  /**
   * Retry policy for this subscription; unset fields fall back to the broker's policy.
   * @default { maxAttempts: 3, initialDelayMs: 100, multiplier: 2, maxDelayMs: 10000, jitter: 0.2, deadLetter: true }
   */
  readonly retry?: RetryPolicyOptions;
  /**
   * Messages of this subscription handled at once. Messages with the same key never run at the
   * same time and keep their publish order, whatever this is; keyless messages only obey the
   * limit. On Kafka this holds within one partition too (messages with different keys of one
   * partition run at once; offsets are committed only up to the lowest unfinished message).
   * Subscriptions of one group to one topic in one process share a consumer: they must agree on it.
   * @default the broker's `concurrency` option (1)
   */
  readonly concurrency?: number;
}

/** The handle returned by {@link MessageBrokerPort.subscribe}. */
export interface Subscription {
  /** The subscribed topic. */
  readonly topic: string;
  /** The group, or `null` for a broadcast subscription. */
  readonly group: string | null;
  /**
   * Stops delivery to this handler. Messages already being handled finish; with real brokers a
   * message not yet handled goes to another member of the group or waits for the next one.
   * Idempotent.
   */
  unsubscribe(): Promise<void>;
  /** Unsubscribes, so that `await using subscription = await broker.subscribe(…)` works. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Overall state reported by {@link MessageBrokerPort.health}. */
export type HealthStatus = 'starting' | 'up' | 'degraded' | 'down' | 'stopped';

/** A health report for readiness probes. Never contains credentials. */
export interface HealthReport {
  readonly status: HealthStatus;
  /** Adapter-specific facts: connection state, consumer count, last error message … */
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * The one port application code publishes and consumes through. Every adapter keeps this contract,
 * and the conformance suite in `@msgport/testkit` checks it against the real broker.
 *
 * Errors: everything thrown or rejected by a member is a `MessagingError` (`code`, `retriable`,
 * `cause`); client-library errors never cross the port, and messages never contain credentials.
 */
export interface MessageBrokerPort {
  /**
   * Publishes `value` to `topic` (C2).
   *
   * Resolves only once the broker has durably accepted the message: Kafka with `acks: -1`, RabbitMQ
   * on the publisher confirm of a persistent message, the in-memory broker once every target
   * handler (retries and dead-lettering included) has settled (when published from inside a
   * handler: once queued for a busy subscription, so that a handler may await a publish to its own
   * topic; see `InMemoryMessageBroker`). It never resolves for a message that was lost.
   *
   * Strings are encoded as UTF-8. Allowed while the broker is running, and while `stop()` drains
   * (so handlers can still publish).
   *
   * @throws {InvalidArgumentError} for an illegal topic, a value or key that is neither a string nor
   *   bytes, or a header value that is not a string.
   * @throws {BrokerStateError} before `start()` or after `stop()`.
   * @throws {MessagingError} code `ABORTED` when `options.signal` was aborted (see {@link PublishOptions.signal}).
   * @throws {PublishError} when the broker did not confirm (`MESSAGE_TOO_LARGE`, `PUBLISH_TIMEOUT`, …).
   */
  publish(topic: string, value: Payload, options?: PublishOptions): Promise<void>;

  /**
   * Subscribes `handler` to `topic` (C3, C4). Works before and after `start()`; before, delivery
   * begins when the broker starts.
   *
   * Groups: within one group each message is handled by exactly one subscriber (round-robin in one
   * process, balanced by the broker across processes); without a group, every subscription
   * receives every message published while it is subscribed; each group receives every message.
   *
   * Order (C6): within a group, messages with the same key are handled one at a time, in publish
   * order (of one publisher), across every instance of the group: Kafka and RabbitMQ map a key to
   * one partition, consumed by one instance at a time. Messages with different keys may run in
   * parallel. After a crash, a message handled but not yet acknowledged may be handled again.
   *
   * Failures (C5): a message is acknowledged only after its handler resolves. A handler that
   * throws is retried under the retry policy; after the last attempt the message goes to the
   * dead-letter destination (`<topic>.DLT` on Kafka and memory, `<topic>.<group>.dlq` on RabbitMQ)
   * with its key, value and headers plus `msgport-error-message`, `msgport-error-type`,
   * `msgport-original-topic`, `msgport-group` and `msgport-attempts`. Nothing is dropped unless the
   * policy says `deadLetter: false`. A failing message never blocks its partition or queue forever.
   *
   * @param group a group name, or options with the group and a retry policy.
   * @throws {InvalidArgumentError} for an illegal topic or group name, or a handler that is not a function.
   * @throws {SubscribeError} when the broker refused the subscription.
   */
  subscribe(topic: string, handler: MessageHandler, group?: string | SubscribeOptions): Promise<Subscription>;

  /**
   * Connects and starts delivery to every subscription (C7). Idempotent; works again after
   * `stop()`.
   *
   * @throws {ConnectionError} when the broker cannot be reached within the adapter's timeout or
   *   refuses the credentials.
   */
  start(): Promise<void>;

  /**
   * Stops gracefully (C7): takes no new messages, waits for in-flight handlers (up to
   * `shutdownTimeoutMs`, default 30 s) without ever interrupting one, acknowledges or commits what
   * finished, then closes connections. What was not handled is redelivered later by real brokers.
   * Idempotent; never rejects for a broker that is already gone.
   */
  stop(): Promise<void>;

  /** Reports `starting | up | degraded | down | stopped` with details, for readiness probes (C10). */
  health(): Promise<HealthReport>;

  /** Stops the broker like {@link stop}, so that `await using broker = …` works. */
  [Symbol.asyncDispose](): Promise<void>;
}

const PORT_MEMBERS = ['publish', 'subscribe', 'start', 'stop', 'health'] as const;

/** True when `value` has every member of {@link MessageBrokerPort}. */
export function isMessageBrokerPort(value: unknown): value is MessageBrokerPort {
  return (
    typeof value === 'object' &&
    value !== null &&
    PORT_MEMBERS.every((member) => typeof (value as Record<string, unknown>)[member] === 'function')
  );
}
