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
}
