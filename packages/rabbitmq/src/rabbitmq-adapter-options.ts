import type { ConnectionOptions } from 'node:tls';
import type { MessageBrokerBaseOptions } from '@msgport/core/adapter';

/** Backoff between reconnection attempts: exponential (factor 2) with ±20 % jitter. */
export interface RabbitMQReconnectOptions {
  /** Delay before the first reconnection attempt after the connection dropped. @default 100 */
  readonly initialDelayMs?: number;
  /** Upper bound of the delay between two attempts. @default 5000 */
  readonly maxDelayMs?: number;
}

/**
 * TLS settings for an `amqps://` URL, handed to Node's `tls.connect()`. Without them, the broker's
 * certificate must be signed by a CA Node trusts (its bundled roots, or `NODE_EXTRA_CA_CERTS`) and
 * name the host of the URL.
 */
export type RabbitMQTlsOptions = Pick<
  ConnectionOptions,
  'ca' | 'cert' | 'key' | 'passphrase' | 'pfx' | 'servername' | 'rejectUnauthorized' | 'checkServerIdentity' | 'minVersion'
>;

/**
 * The type of the durable queues the adapter declares for groups (partition queues) and dead
 * letters: `quorum` (replicated on a cluster, RabbitMQ 3.10+) or `classic`. Broadcast queues are
 * always exclusive classic queues (quorum queues cannot be exclusive).
 */
export type RabbitMQQueueType = 'quorum' | 'classic';

/**
 * Where a group stands in its migration from a PyFly service's queue (see {@link RabbitMQLegacyQueue}):
 * - `share`: side by side with the PyFly instances: the group's msgport instances consume the
 *   PyFly queue too (competing consumers, so each message is handled once by the whole fleet) and
 *   declare no queue of their own for the topic;
 * - `switch`: every PyFly instance is stopped: the first msgport instance moves the topic's
 *   messages from the PyFly queue to the group's partition queues in one broker operation, then
 *   each instance drains what the PyFly queue still holds before it consumes the partition queues.
 */
export type RabbitMQLegacyPhase = 'share' | 'switch';

/**
 * A group that takes over the queue of a PyFly service (or of any consumer that bound one durable
 * queue to the topic on the same exchange): PyFly names a group's queue by the group alone
 * (`pyfly.<topic>` without a group), msgport consumes `<topic>.<group>.p<i>`. See the migration
 * guide (docs/migration-from-pyfly.md) for the steps and what holds at each.
 */
export interface RabbitMQLegacyQueue {
  /** The topic (routing key) the legacy queue is bound with. */
  readonly topic: string;
  /** The msgport group that takes the queue over. */
  readonly group: string;
  /** The legacy queue: PyFly's group name, or `pyfly.<topic>`. It must exist. */
  readonly queue: string;
  /** Where the migration stands. */
  readonly phase: RabbitMQLegacyPhase;
  /**
   * In the `switch` phase: delete the legacy queue once drained, if it is empty and nobody
   * consumes it (atomically: RabbitMQ's if-empty, if-unused delete). @default false
   */
  readonly deleteWhenDrained?: boolean;
}

/** Options of {@link RabbitMQAdapter}. */
export interface RabbitMQAdapterOptions extends MessageBrokerBaseOptions {
  /**
   * AMQP URL, e.g. `amqp://user:password@host:5672/vhost` (`amqps://` for TLS), or the URLs of the
   * nodes of a cluster (an array, or one string of URLs separated by commas). The adapter connects to the first node that answers and, when the
   * connection drops, tries the next ones in turn (with the `reconnect` backoff). AMQP query
   * parameters such as `?heartbeat=10` are honoured. Passwords never appear in errors, logs or
   * health details.
   */
  readonly url: string | readonly string[];
  /** The durable direct exchange every topic is published to (routing key = topic). @default 'msgport' */
  readonly exchangeName?: string;
  /**
   * The type of group (partition) queues and dead-letter queues. An existing queue of the other
   * type makes `subscribe()` fail with a `ConfigurationError` naming the queue.
   * @default 'quorum'
   */
  readonly queueType?: RabbitMQQueueType;
  /**
   * Partitions of every topic: a group consumes one durable single-active-consumer queue per
   * partition (`<topic>.<group>.p0` …), a keyed message goes to the partition of its key's murmur2
   * hash (as on Kafka), messages without a key take the partitions in turn. Each partition is
   * consumed by one instance of the group at a time, which keeps per-key order across instances
   * (C6); the instances share the partitions, so at most `partitions` instances of a group work at
   * once. Use the same value in every publisher and every instance of a topic.
   * @default 4
   */
  readonly partitions?: number;
  /**
   * Unacknowledged messages RabbitMQ hands to each consumer at once (`basic.qos`). Must be at
   * least `concurrency`. Order per key is kept whatever this is.
   * @default 100
   */
  readonly prefetch?: number;
  /** How long `start()` keeps trying to connect before it fails with a `ConnectionError`. @default 10000 */
  readonly connectionTimeoutMs?: number;
  /**
   * How long `publish()` (and `subscribe()`) wait for the broker during an outage, including the
   * wait for the publisher confirm, before rejecting with `PublishError` code `PUBLISH_TIMEOUT`.
   * @default 30000
   */
  readonly publishTimeoutMs?: number;
  /**
   * Largest value `publish()` sends; larger ones reject with `PublishError` code
   * `MESSAGE_TOO_LARGE` before anything is sent. Keep it at or below the broker's
   * `max_message_size` (128 MiB by default on RabbitMQ 3.10, 16 MiB on 4.x).
   * @default 134217728
   */
  readonly maxMessageBytes?: number;
  /** Backoff between reconnection attempts. @default { initialDelayMs: 100, maxDelayMs: 5000 } */
  readonly reconnect?: RabbitMQReconnectOptions;
  /**
   * CA, client certificate and key (and other `tls.connect()` settings) for an `amqps://` URL,
   * e.g. `{ ca: [readFileSync('ca.pem')] }`. Only valid with `amqps://`. The passphrase never
   * appears in errors or logs.
   */
  readonly tls?: RabbitMQTlsOptions;
  /**
   * Groups that take over a PyFly service's queue, one entry per (topic, group): in the `share`
   * phase the group consumes that queue instead of its partition queues; in the `switch` phase it
   * moves the topic to its partition queues and drains the legacy queue first. @default []
   */
  readonly legacyQueues?: readonly RabbitMQLegacyQueue[];
}
