import { hostname } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import amqplib from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import {
  BrokerStateError,
  ConfigurationError,
  ConnectionError,
  InvalidArgumentError,
  isMessagingError,
  PublishError,
  SubscribeError,
  type Message,
  type RetryPolicy,
} from '@msgport/core';
import {
  backoffDelay,
  describeValue,
  MessageBrokerBase,
  type AdapterHealth,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  type MessageBrokerBaseOptions,
} from '@msgport/core/adapter';
import { isAccessRefused, safeText, tlsFailure, tooLargeReport } from './internal/amqp-errors.js';
import {
  countMembers,
  declareGroupTopology,
  disownPartition,
  earlierPartitionCount,
  migrateLegacyQueue,
  ProbeChannel,
  tryOwnPartition,
  unbindEarlierPartitions,
} from './internal/group-topology.js';
import { fromAmqpDelivery, toAmqpPublish, type AmqpPublish } from './internal/mapping.js';
import { PartitionCoordinator, type PartitionDriver } from './internal/partition-coordinator.js';
import { createPartitioner, DEFAULT_PARTITIONS, MAX_PARTITIONS, MIN_PARTITIONS, type Partitioner } from './internal/partitioning.js';
import { groupLayout, type GroupLayout } from './internal/queue-layout.js';
import { redactUrl, secretsOf } from './internal/redact.js';
import { deadLetterExchangeName, deadLetterName } from './internal/topology.js';

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

/** The `tls.connect()` settings {@link RabbitMQAdapterOptions.tls} passes on; nothing else is. */
const TLS_OPTION_KEYS: { readonly [K in keyof Required<RabbitMQTlsOptions>]: true } = {
  ca: true,
  cert: true,
  key: true,
  passphrase: true,
  pfx: true,
  servername: true,
  rejectUnauthorized: true,
  checkServerIdentity: true,
  minVersion: true,
};

/** Options of {@link RabbitMQAdapter}. */
export interface RabbitMQAdapterOptions extends MessageBrokerBaseOptions {
  /**
   * AMQP URL, e.g. `amqp://user:password@host:5672/vhost` (`amqps://` for TLS). AMQP query
   * parameters such as `?heartbeat=10` are honoured. The password never appears in errors, logs
   * or health details.
   */
  readonly url: string;
  /** The durable direct exchange every topic is published to (routing key = topic). @default 'msgport' */
  readonly exchangeName?: string;
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

/** One AMQP connection and what was opened on it. */
interface Link {
  readonly connection: ChannelModel;
  closed: boolean;
  blocked: boolean;
  /** The confirm channel for publishing; `null` until the link is active, or while it is replaced. */
  publisher: Publisher | null;
  /** Dead-letter queues declared on this connection (declared once per connection). */
  readonly deadLetterQueues: Set<string>;
}

interface Publisher {
  readonly channel: ConfirmChannel;
  closed: boolean;
  /** Why the broker closed the channel, when it did. */
  closeError: unknown;
  /** Set while amqplib's write buffer is full; later publishes wait for `drain`. */
  drained: Promise<void> | null;
}

interface Consumer {
  readonly spec: ConsumerSpec;
  readonly deliver: Deliver;
  closed: boolean;
  link: Link | null;
  channel: Channel | null;
  consumerTag: string | null;
  attaching: { readonly link: Link; readonly promise: Promise<void> } | null;
  retryTimer: NodeJS.Timeout | null;
  retryAttempt: number;
  inFlight: number;
  idleWaiters: Array<() => void>;
  /** True once openConsumer() returned it: from then on, health expects it to be consuming. */
  opened: boolean;
  /**
   * Set on the consumer of one partition queue of a group (created and closed by the group's
   * coordinator, never in `#consumers`); `onLost` tells the coordinator its channel closed.
   */
  readonly partition: { readonly index: number; readonly queue: string; readonly onLost: () => void } | null;
  /**
   * For a group subscription: who decides which partitions it consumes on the current connection
   * (its own channel consumes the group's members queue, which counts the group's instances).
   */
  group: PartitionCoordinator | null;
}

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
  settled: boolean;
}

const DEFAULT_MAX_MESSAGE_BYTES = 134_217_728;
/** How often each instance of a group reviews which partitions it consumes (±20 % jitter). */
const PARTITION_REVIEW_INTERVAL_MS = 1_000;
const MAX_PREFETCH = 65_535;
/**
 * How long closing a connection waits for RabbitMQ's close-ok once the stop budget is spent. A
 * connection that does not answer by then (network silently down) is dropped, as a heartbeat
 * timeout would.
 */
const CLOSE_GRACE_MS = 1_000;

/**
 * The msgport port on RabbitMQ (amqplib), keeping the contract of `MessageBrokerPort`.
 *
 * Topology: a durable direct exchange `exchangeName` (routing key = topic); a group consumes the
 * durable queue `<topic>.<group>`; a subscription without a group gets its own exclusive,
 * auto-delete, server-named queue (broadcast). Dead letters go through the fanout exchange
 * `<exchangeName>.dlx` (bound to the main exchange) with routing key `<topic>.<group>.dlq`
 * (`<topic>.dlq` without a group), into the durable queue of that name; the dead-letter topic can
 * be subscribed like any other topic.
 *
 * Publishing: persistent messages on a confirm channel; `publish()` resolves on the broker's
 * confirm, concurrent publishes are pipelined. A message whose confirm was lost with the
 * connection is sent again on the next connection (a duplicate is possible, a loss is not) until
 * `publishTimeoutMs` runs out.
 *
 * Consuming: acknowledged after the handler resolved (or the message was dead-lettered); a
 * message core could not settle is rejected with requeue. Survives broker restarts: reconnects
 * with backoff, re-declares the topology and resumes every consumer.
 */
export class RabbitMQAdapter extends MessageBrokerBase {
  readonly #url: string;
  readonly #redactedUrl: string;
  readonly #secrets: readonly string[];
  readonly #exchange: string;
  readonly #deadLetterExchange: string;
  readonly #partitions: number;
  readonly #partitioner: Partitioner;
  /** Where this instance starts in the ring of partitions of every group (spreads instances' first picks). */
  readonly #partitionOffset: number;
  readonly #prefetch: number;
  readonly #connectionTimeoutMs: number;
  readonly #publishTimeoutMs: number;
  readonly #maxMessageBytes: number;
  readonly #backoff: RetryPolicy;
  readonly #tls: RabbitMQTlsOptions | undefined;
  /** `host:port` the URL connects to, for hints. */
  readonly #endpoint: string;

  #link: Link | null = null;
  readonly #consumers = new Set<Consumer>();
  /** Every publish not settled yet, in the order they began. */
  readonly #pendingPublishes = new Set<PendingPublish>();
  /** Woken when {@link #pendingPublishes} becomes empty. */
  #publishesSettled: Array<() => void> = [];
  /** The one timer that rejects publishes whose confirm did not come by their deadline. */
  #deadlineTimer: NodeJS.Timeout | null = null;
  /** When {@link #deadlineTimer} fires (infinity while not armed). */
  #deadlineTimerAt = Number.POSITIVE_INFINITY;
  #waiters = new Set<() => void>();
  /** Changes on every connect() and disconnect(), so a stale reconnection attempt gives up. */
  #epoch = 0;
  #closing = true;
  /**
   * Set when stop() begins (before core drains the handlers): from then on the adapter does not
   * reconnect, and a publish or subscribe that finds no connection fails at once instead of
   * waiting for one that will not come.
   */
  #stopping = false;
  /** When the stop budget (`shutdownTimeoutMs` from the stop() call) runs out. */
  #stopDeadline = 0;
  /** The connection a reconnection attempt is restoring consumers on, before it becomes `#link`. */
  #restoring: Link | null = null;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #reconnectAttempt = 0;
  #outageSince: number | null = null;
  #lastError: string | null = null;
  #accessRefused = false;
  /** The last reconnection attempt failed in the TLS handshake (listener without TLS, untrusted certificate). */
  #tlsFailed = false;

  /**
   * @throws {InvalidArgumentError} for a missing or unparseable URL, or an option out of range.
   */
  constructor(options: RabbitMQAdapterOptions) {
    super('rabbitmq', options);
    if (typeof options !== 'object' || options === null || typeof options.url !== 'string' || options.url === '') {
      throw new InvalidArgumentError('RabbitMQAdapter needs a `url`, e.g. amqp://guest:guest@localhost:5672/.');
    }
    this.#url = options.url;
    const passphrase = options.tls?.passphrase;
    this.#secrets = [...secretsOf(options.url), ...(typeof passphrase === 'string' && passphrase !== '' ? [passphrase] : [])];
    this.#redactedUrl = redactUrl(options.url);
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new InvalidArgumentError(`RabbitMQAdapter: invalid url ${this.#redactedUrl}. Use amqp://user:password@host:5672/vhost.`);
    }
    const protocol = parsed.protocol;
    if (protocol !== 'amqp:' && protocol !== 'amqps:') {
      throw new InvalidArgumentError(
        `RabbitMQAdapter: the url must start with amqp:// or amqps://, got ${this.#redactedUrl}.`,
      );
    }
    this.#endpoint = `${parsed.hostname}:${parsed.port === '' ? (protocol === 'amqps:' ? '5671' : '5672') : parsed.port}`;
    if (options.tls !== undefined) {
      if (typeof options.tls !== 'object' || options.tls === null) {
        throw new InvalidArgumentError('RabbitMQAdapter: tls must be an object of tls.connect() options (ca, cert, key, …).');
      }
      if (protocol !== 'amqps:') {
        throw new InvalidArgumentError(
          `RabbitMQAdapter: tls options need an amqps:// url, got ${this.#redactedUrl}. Use amqps://host:5671/ for TLS.`,
        );
      }
    }
    this.#tls = options.tls === undefined ? undefined : pickTlsOptions(options.tls);
    this.#exchange = options.exchangeName ?? 'msgport';
    if (typeof this.#exchange !== 'string' || !/^[A-Za-z0-9._:-]{1,250}$/.test(this.#exchange) || this.#exchange.startsWith('amq.')) {
      throw new InvalidArgumentError(
        `RabbitMQAdapter: invalid exchangeName ${typeof this.#exchange === 'string' ? JSON.stringify(this.#exchange) : describeValue(this.#exchange)}. ` +
          'Use 1-250 characters from ' +
          'A-Z, a-z, 0-9, ".", "_", ":" and "-", not starting with "amq.".',
      );
    }
    this.#deadLetterExchange = deadLetterExchangeName(this.#exchange);
    this.#partitions = options.partitions ?? DEFAULT_PARTITIONS;
    if (!Number.isInteger(this.#partitions) || this.#partitions < MIN_PARTITIONS || this.#partitions > MAX_PARTITIONS) {
      throw new InvalidArgumentError(
        `RabbitMQAdapter: partitions must be an integer from ${MIN_PARTITIONS} to ${MAX_PARTITIONS}, got ${String(options.partitions)}. ` +
          'Use the same value in every publisher and every instance of a topic.',
      );
    }
    this.#partitioner = createPartitioner(this.#partitions);
    this.#partitionOffset = Math.floor(Math.random() * this.#partitions);

    const concurrency = options.concurrency ?? 1;
    this.#prefetch = options.prefetch ?? Math.max(100, concurrency);
    if (!Number.isInteger(this.#prefetch) || this.#prefetch < concurrency || this.#prefetch > MAX_PREFETCH) {
      throw new InvalidArgumentError(
        `RabbitMQAdapter: prefetch must be an integer from concurrency (${concurrency}) to ${MAX_PREFETCH}, got ${describeValue(options.prefetch)}.`,
      );
    }
    this.#connectionTimeoutMs = positive(options.connectionTimeoutMs, 10_000, 'connectionTimeoutMs');
    this.#publishTimeoutMs = positive(options.publishTimeoutMs, 30_000, 'publishTimeoutMs');
    this.#maxMessageBytes = positive(options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes');
    const initialDelayMs = positive(options.reconnect?.initialDelayMs, 100, 'reconnect.initialDelayMs');
    const maxDelayMs = positive(options.reconnect?.maxDelayMs, 5_000, 'reconnect.maxDelayMs');
    this.#backoff = Object.freeze({
      maxAttempts: Number.POSITIVE_INFINITY,
      initialDelayMs,
      multiplier: 2,
      maxDelayMs: Math.max(initialDelayMs, maxDelayMs),
      jitter: 0.2,
      deadLetter: true,
    });
  }

  #scrub(text: string): string {
    return safeText(text, this.#secrets);
  }

  /** What to check when the TLS handshake fails. */
  #tlsHint(): string {
    return (
      `The broker's listener at ${this.#endpoint} may not speak TLS (use amqp://) or its certificate is not trusted ` +
      "(pass CA/cert options: the `tls` option, e.g. tls: { ca: [readFileSync('ca.pem')] })."
    );
  }

  // ---- MessageBrokerBase ----------------------------------------------------------------------

  protected override async connect(): Promise<void> {
    const epoch = ++this.#epoch;
    this.#closing = false;
    this.#stopping = false;
    this.#reconnectAttempt = 0;
    this.#outageSince = null;
    this.#lastError = null;
    this.#accessRefused = false;
    this.#tlsFailed = false;
    const deadline = Date.now() + this.#connectionTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const link = await this.#openLink(deadline);
        if (epoch !== this.#epoch) {
          await closeQuietly(link.connection);
          throw new ConnectionError(`Cannot start the RabbitMQ adapter: it was stopped while connecting to ${this.#redactedUrl}.`);
        }
        this.#activate(link);
        this.logger.info(`Connected to RabbitMQ at ${this.#redactedUrl}.`);
        return;
      } catch (error) {
        if (isMessagingError(error)) throw error;
        if (isAccessRefused(error)) {
          throw new ConnectionError(
            `Cannot connect to RabbitMQ at ${this.#redactedUrl}: the broker refused the credentials or access to the ` +
              `virtual host (${safeText(error, this.#secrets)}). Check the user name, password and vhost permissions.`,
            { code: 'AUTHENTICATION_FAILED', retriable: false, cause: error },
          );
        }
        const tls = tlsFailure(error);
        if (tls !== null) {
          throw new ConnectionError(
            `Cannot connect to RabbitMQ at ${this.#redactedUrl}: the TLS handshake failed: ${this.#scrub(tls)}. ${this.#tlsHint()}`,
            { code: 'TLS_FAILED', retriable: false, cause: error },
          );
        }
        const delay = backoffDelay(this.#backoff, attempt);
        if (Date.now() + delay >= deadline) {
          throw new ConnectionError(
            `Cannot connect to RabbitMQ at ${this.#redactedUrl} within ${this.#connectionTimeoutMs} ms ` +
              `(${attempt} attempt(s)): ${safeText(error, this.#secrets)}. Check that the broker is running and reachable.`,
            { cause: error },
          );
        }
        this.logger.debug(`Connecting to RabbitMQ at ${this.#redactedUrl} failed; retrying in ${delay} ms.`, {
          error: safeText(error, this.#secrets),
        });
        await sleep(delay);
      }
    }
  }

  /**
   * Besides core's stop: tells the adapter that stop() began, before core closes the consumers
   * and drains the handlers, so that nothing waits for a reconnection meanwhile (a handler whose
   * publish waited for the connection would otherwise hold stop() for `publishTimeoutMs`).
   */
  override stop(): Promise<void> {
    if (this.isRunning) this.#beginStop();
    return super.stop();
  }

  protected override async disconnect(): Promise<void> {
    const deadline = this.#stopping ? this.#stopDeadline : Date.now() + this.shutdownTimeoutMs;
    this.#abandonReconnection();
    this.#closing = true;
    const link = this.#link;
    this.#link = null;
    this.#wakeWaiters();
    for (const consumer of this.#consumers) {
      consumer.closed = true;
      if (consumer.retryTimer !== null) clearTimeout(consumer.retryTimer);
      // Still running when the stop budget ran out: its partitions go with the connection.
      consumer.group?.abandon();
    }
    this.#consumers.clear();
    // Publishes already on the wire get their confirm before the close (within the stop budget;
    // a confirm still missing then is lost with the channel, and its publish rejects). Publishes
    // that were waiting for a connection were woken above and reject without waiting.
    if (this.#pendingPublishes.size > 0) {
      if (!(await beforeDeadline(this.#whenPublishesSettled(), deadline))) {
        this.logger.warn(
          `stop(): ${this.#pendingPublishes.size} publish(es) still without a confirm after shutdownTimeoutMs ` +
            `(${this.shutdownTimeoutMs} ms); closing anyway. They reject: the messages may or may not have been stored.`,
        );
      }
    }
    if (link !== null) await this.#closeLink(link, deadline);
    // Nothing left to time out: leave no timer behind.
    if (this.#pendingPublishes.size === 0 && this.#deadlineTimer !== null) {
      clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = null;
      this.#deadlineTimerAt = Number.POSITIVE_INFINITY;
    }
  }

  protected override send(message: Message): Promise<void> {
    if (message.value.length > this.#maxMessageBytes) {
      return Promise.reject(
        new PublishError(
          `Cannot publish to "${message.topic}": the value is ${message.value.length} bytes, more than maxMessageBytes ` +
            `(${this.#maxMessageBytes}). Send a reference to the payload instead, or raise maxMessageBytes together with ` +
            "the broker's max_message_size.",
          { code: 'MESSAGE_TOO_LARGE', retriable: false },
        ),
      );
    }
    return this.#publish(this.#exchange, message, null);
  }

  protected override sendDeadLetter(deadLetter: Message): Promise<void> {
    // The dead-letter topic is partitioned like any topic: groups may subscribe to it.
    return this.#publish(this.#deadLetterExchange, deadLetter, deadLetter.topic);
  }

  protected override deadLetterTopic(topic: string, group: string | null): string {
    return deadLetterName(topic, group);
  }

  /** Every queue has `<topic>.<group>.dlq` as its dead-letter route: a delivery rejected without requeue goes there. */
  protected override get transportDeadLetters(): boolean {
    return true;
  }

  protected override async openConsumer(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle> {
    const consumer: Consumer = {
      spec,
      deliver,
      closed: false,
      link: null,
      channel: null,
      consumerTag: null,
      attaching: null,
      retryTimer: null,
      retryAttempt: 0,
      inFlight: 0,
      idleWaiters: [],
      opened: false,
      partition: null,
      group: null,
    };
    const deadline = Date.now() + this.#publishTimeoutMs;
    // Registered first: a reconnection while this runs attaches it too (attach is idempotent per link).
    this.#consumers.add(consumer);
    try {
      for (;;) {
        const link = await this.#awaitLink(deadline, () => this.#subscribeTimeout(spec));
        try {
          await this.#attach(consumer, link);
          break;
        } catch (error) {
          // The connection dropped under us: the reconnection attaches the consumer again.
          if (!link.closed || this.#closing || this.#stopping || Date.now() >= deadline) throw error;
        }
      }
    } catch (error) {
      consumer.closed = true;
      this.#consumers.delete(consumer);
      if (isMessagingError(error)) throw error;
      throw new SubscribeError(
        `Cannot subscribe to "${spec.topic}"${spec.group === null ? '' : ` in group "${spec.group}"`}: ` +
          `${safeText(error, this.#secrets)}. If the queue exists with other arguments, delete it or use another group.`,
        { cause: error },
      );
    }
    consumer.opened = true;
    return { close: () => this.#closeConsumer(consumer) };
  }

  protected override async checkHealth(): Promise<AdapterHealth> {
    const link = this.#link;
    let active = 0;
    let expected = 0;
    const ownedPartitions: Record<string, number[]> = {};
    for (const consumer of this.#consumers) {
      if (!consumer.opened) continue;
      expected++;
      if (consumer.consumerTag !== null && consumer.channel !== null) active++;
      if (consumer.spec.group !== null) ownedPartitions[consumer.spec.id] = consumer.group?.owned ?? [];
    }
    const outageMs = this.#outageSince === null ? null : Date.now() - this.#outageSince;
    const details = {
      url: this.#redactedUrl,
      exchange: this.#exchange,
      connection: link === null ? 'reconnecting' : link.blocked ? 'blocked' : 'open',
      activeConsumers: active,
      expectedConsumers: expected,
      pendingPublishes: this.#pendingPublishes.size,
      partitions: this.#partitions,
      ownedPartitions,
      reconnectAttempts: this.#reconnectAttempt,
      ...(outageMs === null ? {} : { outageMs }),
      ...(this.#lastError === null ? {} : { lastError: this.#lastError }),
    };
    if (link === null) {
      const down = this.#accessRefused || this.#tlsFailed || (outageMs !== null && outageMs > this.#publishTimeoutMs);
      return { status: down ? 'down' : 'degraded', details };
    }
    const healthy = link.publisher !== null && !link.blocked && active === expected;
    return { status: healthy ? 'up' : 'degraded', details };
  }

  // ---- connections ----------------------------------------------------------------------------

  /** Connects, opens the confirm channel and declares the exchanges. The link is not active yet. */
  async #openLink(deadline: number): Promise<Link> {
    const remaining = Math.max(1, deadline - Date.now());
    const connection = await withTimeout(
      amqplib.connect(this.#url, {
        ...this.#tls,
        timeout: remaining,
        // Without it (amqplib's default), Nagle's algorithm holds small writes (acks, a lone
        // publish) until the previous segment is acknowledged: tens of ms of latency.
        noDelay: true,
        clientProperties: { connection_name: `msgport@${hostname()}:${process.pid}` },
      }),
      remaining,
      () => new Error(`connection attempt timed out after ${remaining} ms`),
      closeQuietly,
    );
    const link: Link = { connection, closed: false, blocked: false, publisher: null, deadLetterQueues: new Set() };
    connection.on('error', (error: unknown) => {
      this.#lastError = safeText(error, this.#secrets);
    });
    connection.on('close', (error?: unknown) => this.#onLinkClosed(link, error));
    connection.on('blocked', (reason: unknown) => {
      link.blocked = true;
      this.logger.warn(`RabbitMQ blocked publishing on this connection: ${String(reason)}.`);
    });
    connection.on('unblocked', () => {
      link.blocked = false;
      this.logger.info('RabbitMQ unblocked publishing on this connection.');
    });
    try {
      const publisher = await this.#openPublisher(link);
      link.publisher = publisher;
      return link;
    } catch (error) {
      link.closed = true;
      await closeQuietly(connection);
      if (isDeclarationMismatch(error)) {
        throw new ConfigurationError(
          `Cannot use exchange "${this.#exchange}" on ${this.#redactedUrl}: ${safeText(error, this.#secrets)}. ` +
            'It exists with other settings (msgport needs a durable direct exchange and a durable fanout ' +
            `"${this.#deadLetterExchange}"); delete it or set another exchangeName.`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** Opens a confirm channel and declares the main exchange, the dead-letter exchange and their binding. */
  async #openPublisher(link: Link): Promise<Publisher> {
    const channel = await link.connection.createConfirmChannel();
    const publisher: Publisher = { channel, closed: false, closeError: null, drained: null };
    channel.on('error', (error: unknown) => {
      publisher.closeError = error;
    });
    channel.on('close', () => {
      publisher.closed = true;
      if (link.publisher !== publisher) return;
      link.publisher = null;
      // Wait a turn: when the whole connection closes, its channels close first.
      setImmediate(() => {
        if (!link.closed && !this.#closing && link === this.#link) this.#replacePublisher(link, 1);
      });
    });
    await channel.assertExchange(this.#exchange, 'direct', { durable: true });
    await channel.assertExchange(this.#deadLetterExchange, 'fanout', { durable: true });
    await channel.bindExchange(this.#exchange, this.#deadLetterExchange, '');
    return publisher;
  }

  #replacePublisher(link: Link, attempt: number): void {
    this.#openPublisher(link).then(
      (publisher) => {
        if (link.closed || link !== this.#link) {
          void publisher.channel.close().catch(() => undefined);
          return;
        }
        link.publisher = publisher;
        this.#wakeWaiters();
      },
      (error: unknown) => {
        if (link.closed || link !== this.#link || this.#closing) return;
        this.#lastError = safeText(error, this.#secrets);
        this.logger.warn(`Cannot reopen the RabbitMQ publishing channel (attempt ${attempt}): ${this.#lastError}.`);
        const timer = setTimeout(() => {
          if (!link.closed && link === this.#link && !this.#closing) this.#replacePublisher(link, attempt + 1);
        }, backoffDelay(this.#backoff, attempt));
        timer.unref();
      },
    );
  }

  /** Makes `link` the current connection: publishes and subscriptions waiting for it go ahead. */
  #activate(link: Link): void {
    // Checked in the same turn as the assignment: a close event cannot slip in between.
    if (link.closed) throw new ConnectionError('The RabbitMQ connection closed while it was being set up; it will be retried.');
    this.#link = link;
    this.#wakeWaiters();
  }

  #onLinkClosed(link: Link, error: unknown): void {
    link.closed = true;
    link.publisher = null;
    if (link !== this.#link) return;
    this.#link = null;
    for (const consumer of this.#consumers) {
      if (consumer.link === link) {
        consumer.channel = null;
        consumer.consumerTag = null;
        // Its partition locks went with the connection; the reconnection starts afresh.
        consumer.group?.abandon();
        consumer.group = null;
      }
    }
    if (this.#closing) return;
    this.#outageSince = Date.now();
    this.#lastError = error === undefined ? 'connection closed' : safeText(error, this.#secrets);
    if (this.#stopping) {
      // stop() is under way: no reconnection; publishes waiting for one fail now.
      this.logger.warn(`Lost the connection to RabbitMQ at ${this.#redactedUrl} (${this.#lastError}) while stopping; not reconnecting.`);
      this.#wakeWaiters();
      return;
    }
    this.logger.warn(`Lost the connection to RabbitMQ at ${this.#redactedUrl} (${this.#lastError}); reconnecting.`);
    this.#scheduleReconnect(this.#epoch);
  }

  /** stop() began. During an outage, the reconnection ends here: stop() does not wait for it. */
  #beginStop(): void {
    this.#stopping = true;
    this.#stopDeadline = Date.now() + this.shutdownTimeoutMs;
    if (this.#link === null) this.#abandonReconnection();
  }

  /**
   * Ends the reconnection loop: cancels the next attempt, makes a running one give up (its epoch
   * is stale), and closes the connection it was restoring consumers on (a closing amqplib
   * connection hands out no more deliveries). Wakes whatever waits for a connection, to fail.
   */
  #abandonReconnection(): void {
    this.#epoch++;
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const restoring = this.#restoring;
    this.#restoring = null;
    if (restoring !== null) void this.#closeLink(restoring, Date.now());
    this.#wakeWaiters();
  }

  /**
   * Closes `link`'s connection, waiting for RabbitMQ's close-ok until `deadline` (at least
   * {@link CLOSE_GRACE_MS}); a connection that does not answer is dropped, so that stop() never
   * waits for a heartbeat timeout on a network that went silent.
   */
  async #closeLink(link: Link, deadline: number): Promise<void> {
    link.closed = true;
    const closing = closeQuietly(link.connection);
    if (await beforeDeadline(closing, Math.max(deadline, Date.now() + CLOSE_GRACE_MS))) return;
    this.logger.warn(
      `RabbitMQ at ${this.#redactedUrl} did not answer the connection close (network down?); dropping the connection. ` +
        'Unacknowledged messages are redelivered.',
    );
    dropConnection(link.connection);
  }

  #scheduleReconnect(epoch: number): void {
    if (this.#closing || epoch !== this.#epoch) return;
    const attempt = ++this.#reconnectAttempt;
    const delay = backoffDelay(this.#backoff, attempt);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#reconnect(epoch).then(
        () => {
          const outage = this.#outageSince === null ? 0 : Date.now() - this.#outageSince;
          this.#reconnectAttempt = 0;
          this.#outageSince = null;
          this.#accessRefused = false;
          this.#tlsFailed = false;
          this.logger.info(`Reconnected to RabbitMQ at ${this.#redactedUrl} after ${outage} ms (${attempt} attempt(s)).`);
        },
        (error: unknown) => {
          if (this.#closing || epoch !== this.#epoch) return;
          this.#accessRefused = isAccessRefused(error);
          const tls = this.#accessRefused ? null : tlsFailure(error);
          this.#tlsFailed = tls !== null;
          // A TLS failure keeps being retried (the broker may be reconfigured), but health says
          // `down` and the log says why at error level, as for refused credentials.
          this.#lastError = tls !== null ? `TLS handshake failed: ${this.#scrub(tls)}` : safeText(error, this.#secrets);
          const log = this.#accessRefused || this.#tlsFailed ? this.logger.error : this.logger.debug;
          log.call(
            this.logger,
            `Reconnecting to RabbitMQ at ${this.#redactedUrl} failed (attempt ${attempt}): ${this.#lastError}.` +
              (this.#tlsFailed ? ` ${this.#tlsHint()} Retrying.` : ''),
          );
          this.#scheduleReconnect(epoch);
        },
      );
    }, delay);
  }

  /** One reconnection attempt: connect, declare, resume every consumer, then let publishes through. */
  async #reconnect(epoch: number): Promise<void> {
    const link = await this.#openLink(Date.now() + this.#connectionTimeoutMs);
    if (this.#closing || epoch !== this.#epoch) {
      await this.#closeLink(link, Date.now());
      return;
    }
    const consumers = [...this.#consumers];
    this.#restoring = link;
    let results: PromiseSettledResult<void>[];
    try {
      results = await Promise.allSettled(consumers.map((consumer) => this.#attach(consumer, link)));
    } finally {
      if (this.#restoring === link) this.#restoring = null;
    }
    if (this.#closing || epoch !== this.#epoch) {
      await this.#closeLink(link, Date.now());
      return;
    }
    if (link.closed) throw new ConnectionError('The RabbitMQ connection closed while consumers were being restored; it will be retried.');
    this.#activate(link);
    results.forEach((result, index) => {
      const consumer = consumers[index]!;
      if (result.status === 'rejected' && !consumer.closed) {
        this.logger.warn(`Cannot resume the consumer of "${describeSpec(consumer.spec)}": ${safeText(result.reason, this.#secrets)}; retrying.`);
        this.#scheduleConsumerRetry(consumer, link);
      }
    });
  }

  /** Waits until a connection is active (or the deadline passes, or the adapter stops). */
  async #awaitLink(deadline: number, onTimeout: () => Error): Promise<Link> {
    for (;;) {
      if (this.#closing) throw new SubscribeError('Cannot subscribe: the RabbitMQ adapter is stopping.', { retriable: false });
      const link = this.#link;
      if (link !== null && !link.closed) return link;
      if (this.#stopping) {
        throw new SubscribeError('Cannot subscribe: the RabbitMQ adapter is stopping and has no connection to RabbitMQ.', {
          retriable: false,
        });
      }
      if (!(await this.#wait(deadline))) throw onTimeout();
    }
  }

  /** Resolves true when woken before `deadline`, false when the deadline passed. */
  #wait(deadline: number): Promise<boolean> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve(false);
      }, remaining);
      this.#waiters.add(wake);
    });
  }

  #wakeWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  #subscribeTimeout(spec: ConsumerSpec): Error {
    return new SubscribeError(
      `Cannot subscribe to "${describeSpec(spec)}": no connection to RabbitMQ at ${this.#redactedUrl} within ` +
        `${this.#publishTimeoutMs} ms (${this.#lastError ?? 'reconnecting'}).`,
    );
  }

  // ---- publishing -----------------------------------------------------------------------------

  /**
   * Publishes on the confirm channel and resolves on the broker's confirm. A confirm lost with the
   * channel or connection is retried on the next one until `publishTimeoutMs`; a nack rejects.
   * `deadLetterQueue`, when set, is declared (once per connection) before publishing, so the dead
   * letter is kept even when nobody consumes it. The message carries the partition the partitioner
   * picks for its key (the `msgport-partition` header the topic's partition exchanges route by).
   *
   * The common case (a connection and an open, writable channel) writes the message right here;
   * anything else (outage, full write buffer, a dead-letter queue to declare, a lost confirm) goes
   * through {@link #publishWhenReady}. Confirm deadlines are watched by one timer for all publishes
   * ({@link #watchDeadline}), not one per publish.
   *
   * @throws {InvalidArgumentError} (as a rejection) for a header name AMQP cannot encode.
   */
  #publish(exchange: string, message: Message, deadLetterQueue: string | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const publish: PendingPublish = {
        exchange,
        amqp: toAmqpPublish(message, this.#partitioner(message.key)),
        topic: message.topic,
        deadLetterQueue,
        deadline: Date.now() + this.#publishTimeoutMs,
        resolve,
        reject,
        awaiting: null,
        lostOnce: false,
        settled: false,
      };
      this.#pendingPublishes.add(publish);
      const link = this.#closing ? null : this.#link;
      const publisher = link?.publisher ?? null;
      if (
        link !== null &&
        !link.closed &&
        publisher !== null &&
        !publisher.closed &&
        publisher.drained === null &&
        (deadLetterQueue === null || link.deadLetterQueues.has(deadLetterQueue))
      ) {
        this.#write(publish, publisher);
      } else {
        void this.#publishWhenReady(publish);
      }
    });
  }

  /**
   * Waits for a connection with an open channel (and for the channel's write buffer to drain),
   * declares the dead-letter queue if needed, then writes the message; rejects `publish` when
   * that does not happen by its deadline or the adapter stops.
   */
  async #publishWhenReady(publish: PendingPublish): Promise<void> {
    const { topic, deadline, deadLetterQueue } = publish;
    try {
      for (;;) {
        const { link, publisher } = await this.#awaitPublisher(deadline, topic, publish.lostOnce);
        if (deadLetterQueue !== null && !link.deadLetterQueues.has(deadLetterQueue)) {
          try {
            await this.#declareDeadLetterQueue(link, deadLetterQueue);
          } catch (error) {
            if (link.closed && Date.now() < deadline) continue;
            throw new PublishError(
              `Cannot dead-letter to "${topic}": declaring queue "${deadLetterQueue}" failed: ${safeText(error, this.#secrets)}.`,
              { cause: error },
            );
          }
        }
        while (publisher.drained !== null) {
          if (!(await beforeDeadline(publisher.drained, deadline))) throw this.#confirmTimeout(topic);
        }
        if (publisher.closed) {
          publish.lostOnce = true;
          continue;
        }
        this.#write(publish, publisher);
        return;
      }
    } catch (error) {
      this.#settlePublish(publish, error instanceof Error ? error : new Error(String(error)));
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
        this.#settlePublish(
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
      this.#settlePublish(publish, null);
      return;
    }
    const topic = publish.topic;
    if (error instanceof Error && error.message === 'message nacked') {
      this.#settlePublish(
        publish,
        new PublishError(`Cannot publish to "${topic}": RabbitMQ nacked the message (it could not store it).`, { cause: error }),
      );
      return;
    }
    const tooLarge = tooLargeReport(publisher.closeError);
    if (tooLarge !== null && tooLarge.size === publish.amqp.content.length) {
      this.#settlePublish(
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

  /** Resolves (`error` null) or rejects `publish`, once. */
  #settlePublish(publish: PendingPublish, error: Error | null): void {
    if (publish.settled) return;
    publish.settled = true;
    publish.awaiting = null;
    this.#pendingPublishes.delete(publish);
    if (this.#pendingPublishes.size === 0 && this.#publishesSettled.length > 0) {
      const waiters = this.#publishesSettled;
      this.#publishesSettled = [];
      for (const wake of waiters) wake();
    }
    if (error === null) publish.resolve();
    else publish.reject(error);
  }

  /** Resolves once no publish is pending. */
  #whenPublishesSettled(): Promise<void> {
    if (this.#pendingPublishes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#publishesSettled.push(resolve));
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
    for (const publish of this.#pendingPublishes) {
      if (publish.awaiting === null) continue;
      if (publish.deadline <= now) this.#settlePublish(publish, this.#confirmTimeout(publish.topic));
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
      await channel.assertQueue(queue, { durable: true });
      await channel.bindQueue(queue, this.#exchange, queue);
      link.deadLetterQueues.add(queue);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async #awaitPublisher(deadline: number, topic: string, lostOnce: boolean): Promise<{ link: Link; publisher: Publisher }> {
    for (;;) {
      const link = this.#closing ? null : this.#link;
      const publisher = link?.publisher ?? null;
      if (link !== null && !link.closed && publisher !== null && !publisher.closed) return { link, publisher };
      // Stopping without a connection: none will come (the adapter no longer reconnects).
      if (this.#closing || (this.#stopping && (link === null || link.closed))) throw this.#stoppedBeforeSending(topic, lostOnce);
      if (!(await this.#wait(deadline))) {
        throw new PublishError(
          `Cannot publish to "${topic}": no connection to RabbitMQ at ${this.#redactedUrl} for ${this.#publishTimeoutMs} ms ` +
            `(${this.#lastError ?? 'reconnecting'})` +
            (lostOnce ? '; the message was sent once but its confirm was lost with the connection, so it may have been stored.' : '.') +
            ' Publish it again later.',
          { code: 'PUBLISH_TIMEOUT', retriable: true },
        );
      }
    }
  }

  /** Why a publish that has no connection fails once stop() began. */
  #stoppedBeforeSending(topic: string, lostOnce: boolean): Error {
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

  #confirmTimeout(topic: string): PublishError {
    return new PublishError(
      `Cannot publish to "${topic}": RabbitMQ did not confirm the message within ${this.#publishTimeoutMs} ms ` +
        `(${this.#link?.blocked === true ? 'the broker blocks publishers: memory or disk alarm' : (this.#lastError ?? 'no confirm')}). ` +
        'It may or may not have been stored; publish it again if it must arrive.',
      { code: 'PUBLISH_TIMEOUT', retriable: true },
    );
  }

  // ---- consuming ------------------------------------------------------------------------------

  /** Opens a channel for `consumer` on `link`, declares its queues and starts consuming. Idempotent per link. */
  #attach(consumer: Consumer, link: Link): Promise<void> {
    if (consumer.closed) return Promise.resolve();
    if (consumer.link === link && consumer.channel !== null) return Promise.resolve();
    if (consumer.attaching !== null && consumer.attaching.link === link) return consumer.attaching.promise;
    const promise = this.#doAttach(consumer, link);
    const attaching = { link, promise };
    consumer.attaching = attaching;
    const clear = (): void => {
      if (consumer.attaching === attaching) consumer.attaching = null;
    };
    promise.then(clear, clear);
    return promise;
  }

  async #doAttach(consumer: Consumer, link: Link): Promise<void> {
    if (consumer.spec.group !== null && consumer.partition === null) return this.#doAttachGroup(consumer, link);
    const channel = await link.connection.createChannel();
    channel.on('error', (error: unknown) => {
      // While attaching, the failure reaches the caller; afterwards, only this log tells of it.
      if (consumer.channel !== channel) return;
      this.logger.warn(`The RabbitMQ channel of "${describeSpec(consumer.spec)}" failed: ${safeText(error, this.#secrets)}.`);
    });
    channel.on('close', () => this.#onConsumerChannelClosed(consumer, link, channel));
    try {
      await channel.prefetch(this.#prefetch);
      // A partition queue was declared by its group; a broadcast subscription declares its own.
      const queue = consumer.partition?.queue ?? (await this.#declareBroadcastQueue(channel, link, consumer.spec));
      if (consumer.closed) {
        await channel.close().catch(() => undefined);
        return;
      }
      if (link.closed) throw new ConnectionError('The RabbitMQ connection closed while the consumer was being set up; it will be retried.');
      consumer.link = link;
      consumer.channel = channel;
      const { consumerTag } = await channel.consume(queue, (delivery) => this.#onDelivery(consumer, channel, delivery), {
        noAck: false,
      });
      if (consumer.channel === channel) consumer.consumerTag = consumerTag;
      consumer.retryAttempt = 0;
    } catch (error) {
      if (consumer.channel === channel) consumer.channel = null;
      await channel.close().catch(() => undefined);
      throw error;
    }
  }

  /** Declares a broadcast subscription's queue (and its dead-letter queue), binds them, returns the queue to consume. */
  async #declareBroadcastQueue(channel: Channel, link: Link, spec: ConsumerSpec): Promise<string> {
    const deadLetterQueue = deadLetterName(spec.topic, null);
    await channel.assertQueue(deadLetterQueue, { durable: true });
    await channel.bindQueue(deadLetterQueue, this.#exchange, deadLetterQueue);
    link.deadLetterQueues.add(deadLetterQueue);
    const deadLettering = {
      'x-dead-letter-exchange': this.#deadLetterExchange,
      'x-dead-letter-routing-key': deadLetterQueue,
    };
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false, arguments: deadLettering });
    await channel.bindQueue(queue, this.#exchange, spec.topic);
    return queue;
  }

  /**
   * Attaches a group subscription to `link`: declares the group's partition queues (see
   * queue-layout.ts), checks for queues of an earlier layout, joins the group's members queue on a
   * channel of its own, then starts the coordinator that picks the partitions this instance
   * consumes (its first review is over when this resolves).
   */
  async #doAttachGroup(consumer: Consumer, link: Link): Promise<void> {
    const previous = consumer.group;
    consumer.group = null;
    // The coordinator of an earlier attachment on this connection gives its partitions up first:
    // its locks belong to this connection too, and the new one must not inherit them.
    if (previous !== null) await previous.stop();
    const { topic, group } = consumer.spec;
    const layout = groupLayout(this.#exchange, topic, group!, this.#partitions);
    const channel = await link.connection.createChannel();
    channel.on('error', (error: unknown) => {
      if (consumer.channel !== channel) return;
      this.logger.warn(`The RabbitMQ channel of "${describeSpec(consumer.spec)}" failed: ${safeText(error, this.#secrets)}.`);
    });
    channel.on('close', () => this.#onConsumerChannelClosed(consumer, link, channel));
    const probe = new ProbeChannel(link.connection);
    try {
      // Queues of earlier layouts: looked for before and after declaring (see group-topology.ts).
      const earlier = await earlierPartitionCount(probe, layout);
      await declareGroupTopology(channel, layout);
      link.deadLetterQueues.add(layout.deadLetterQueue);
      if (earlier !== null) await unbindEarlierPartitions(probe, layout, earlier, this.logger);
      await migrateLegacyQueue(probe, layout, this.logger);
      const { consumerTag } = await channel.consume(
        layout.membersQueue,
        (delivery) => {
          // Nothing is routed to the members queue; a cancel means it was deleted: attach again.
          if (delivery === null && consumer.channel === channel) void channel.close().catch(() => undefined);
        },
        { noAck: true },
      );
      if (consumer.closed) {
        await probe.close();
        await channel.close().catch(() => undefined);
        return;
      }
      if (link.closed) throw new ConnectionError('The RabbitMQ connection closed while the consumer was being set up; it will be retried.');
      consumer.link = link;
      consumer.channel = channel;
      consumer.consumerTag = consumerTag;
      consumer.retryAttempt = 0;
    } catch (error) {
      if (consumer.channel === channel) consumer.channel = null;
      await probe.close();
      await channel.close().catch(() => undefined);
      throw error;
    }
    let coordinator: PartitionCoordinator | null = null;
    coordinator = new PartitionCoordinator({
      partitions: this.#partitions,
      driver: this.#partitionDriver(consumer, link, layout, probe, (partition) => coordinator?.lost(partition)),
      logger: this.logger,
      intervalMs: PARTITION_REVIEW_INTERVAL_MS,
      offset: this.#partitionOffset,
      describe: describeSpec(consumer.spec),
    });
    consumer.group = coordinator;
    await coordinator.start();
  }

  /**
   * What the coordinator of `group` does on `link`: locks, member count, and one consumer per owned
   * partition, whose channel closing unexpectedly is reported to `onLost`.
   */
  #partitionDriver(group: Consumer, link: Link, layout: GroupLayout, probe: ProbeChannel, onLost: (partition: number) => void): PartitionDriver {
    const consumers = new Map<number, Consumer>();
    /** Consumers whose channel closed under them, until their partition is given up. */
    const lost = new Map<number, Consumer>();
    return {
      countMembers: () => countMembers(probe, layout),
      tryOwn: (partition) => tryOwnPartition(probe, layout, partition),
      disown: async (partition) => {
        // The broker returned a lost consumer's unacknowledged messages to the queue; handlers of
        // some may still run here. The next owner must not get them before those end.
        const consumer = lost.get(partition);
        if (consumer !== undefined) await waitIdle(consumer);
        lost.delete(partition);
        await disownPartition(probe, layout, partition);
      },
      redeclare: () => probe.run((channel) => declareGroupTopology(channel, layout)),
      consume: async (partition) => {
        const consumer: Consumer = {
          spec: group.spec,
          deliver: group.deliver,
          closed: false,
          link: null,
          channel: null,
          consumerTag: null,
          attaching: null,
          retryTimer: null,
          retryAttempt: 0,
          inFlight: 0,
          idleWaiters: [],
          opened: true,
          partition: {
            index: partition,
            queue: layout.partitionQueues[partition]!,
            onLost: () => {
              if (consumers.get(partition) === consumer) consumers.delete(partition);
              lost.set(partition, consumer);
              onLost(partition);
            },
          },
          group: null,
        };
        consumers.set(partition, consumer);
        try {
          await this.#attach(consumer, link);
        } catch (error) {
          consumers.delete(partition);
          consumer.closed = true;
          throw error;
        }
      },
      stopConsuming: async (partition) => {
        const consumer = consumers.get(partition);
        consumers.delete(partition);
        if (consumer !== undefined) await this.#closeConsumer(consumer);
      },
      close: () => probe.close(),
    };
  }

  #onDelivery(consumer: Consumer, channel: Channel, delivery: ConsumeMessage | null): void {
    if (delivery === null) {
      // basic.cancel from the broker: the queue was deleted. Declare it again and go on consuming.
      if (consumer.channel !== channel || consumer.closed) return;
      this.logger.warn(`RabbitMQ cancelled the consumer of "${describeSpec(consumer.spec)}" (queue deleted?); declaring it again.`);
      consumer.consumerTag = null;
      void channel.close().catch(() => undefined);
      return;
    }
    let message: Message;
    try {
      message = fromAmqpDelivery(delivery, consumer.spec.topic, consumer.partition?.index ?? null);
    } catch (error) {
      this.logger.error(
        `Cannot decode a message from "${describeSpec(consumer.spec)}"; rejecting it to the dead-letter exchange.`,
        { error: safeText(error, this.#secrets) },
      );
      settle(consumer, channel, () => channel.nack(delivery, false, false));
      return;
    }
    consumer.inFlight++;
    consumer.deliver(message).then(
      () => this.#settleDelivery(consumer, channel, () => channel.ack(delivery)),
      (error: unknown) => {
        if (isMessagingError(error) && error.code === 'DEAD_LETTER_FAILED') {
          // Core could not publish the dead letter, not even with minimal headers (and logged it
          // at error): RabbitMQ's own dead-lettering moves the message to the same queue.
          this.#settleDelivery(consumer, channel, () => channel.nack(delivery, false, false));
          return;
        }
        // CONSUMER_CLOSED: core did not start the handler because stop() began or the subscription
        // ended while the delivery waited its turn. Expected, and the broker redelivers it.
        const closing = isMessagingError(error) && error.code === 'CONSUMER_CLOSED';
        const log = closing ? this.logger.debug : this.logger.warn;
        log.call(
          this.logger,
          `A message from "${describeSpec(consumer.spec)}" was not handled` +
            `${closing ? ' (the consumer is closing)' : ''}; returning it to the queue.`,
          { error: safeText(error, this.#secrets), ...(isMessagingError(error) ? { code: error.code } : {}) },
        );
        this.#settleDelivery(consumer, channel, () => channel.nack(delivery, false, true));
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

  #onConsumerChannelClosed(consumer: Consumer, link: Link, channel: Channel): void {
    if (consumer.channel !== channel) return;
    consumer.channel = null;
    consumer.consumerTag = null;
    if (consumer.closed || this.#closing) return;
    if (consumer.partition !== null) {
      // A partition's consumer is not repaired here: its coordinator takes the partition again.
      consumer.closed = true;
      consumer.partition.onLost();
      return;
    }
    // Wait a turn: when the whole connection closes, its channels close first, and the
    // reconnection (not this) resumes the consumer.
    setImmediate(() => {
      if (!link.closed && link === this.#link && !consumer.closed) this.#scheduleConsumerRetry(consumer, link);
    });
  }

  #scheduleConsumerRetry(consumer: Consumer, link: Link): void {
    if (consumer.retryTimer !== null || consumer.closed) return;
    const attempt = ++consumer.retryAttempt;
    consumer.retryTimer = setTimeout(() => {
      consumer.retryTimer = null;
      if (consumer.closed || link.closed || link !== this.#link || this.#closing) return;
      this.#attach(consumer, link).then(
        () => this.logger.info(`Resumed the consumer of "${describeSpec(consumer.spec)}".`),
        (error: unknown) => {
          this.#lastError = safeText(error, this.#secrets);
          this.logger.warn(`Cannot resume the consumer of "${describeSpec(consumer.spec)}" (attempt ${attempt}): ${this.#lastError}.`);
          if (!link.closed && link === this.#link) this.#scheduleConsumerRetry(consumer, link);
        },
      );
    }, backoffDelay(this.#backoff, attempt));
  }

  async #closeConsumer(consumer: Consumer): Promise<void> {
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
    // No new deliveries; those already handed to core finish and are acknowledged on this channel.
    if (channel !== null && consumerTag !== null) await channel.cancel(consumerTag).catch(() => undefined);
    await waitIdle(consumer);
    consumer.channel = null;
    if (channel !== null) await channel.close().catch(() => undefined);
  }
}

function settle(consumer: Consumer, channel: Channel, action: () => void): void {
  // A delivery tag is only valid on the channel it came from; on another one the message is redelivered.
  if (consumer.channel !== channel) return;
  try {
    action();
  } catch {
    // The channel closed meanwhile: the broker redelivers the message.
  }
}

function waitIdle(consumer: Consumer): Promise<void> {
  if (consumer.inFlight === 0) return Promise.resolve();
  return new Promise((resolve) => consumer.idleWaiters.push(resolve));
}

function describeSpec(spec: ConsumerSpec): string {
  return spec.group === null ? spec.topic : `${spec.topic}" in group "${spec.group}`;
}

function isDeclarationMismatch(error: unknown): boolean {
  return error instanceof Error && /PRECONDITION[-_]FAILED|inequivalent arg/.test(error.message);
}

/** Only the supported settings of `tls` (a stray `host` or `timeout` must not reach amqplib). */
function pickTlsOptions(tls: RabbitMQTlsOptions): RabbitMQTlsOptions {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(TLS_OPTION_KEYS) as Array<keyof RabbitMQTlsOptions>) {
    if (tls[key] !== undefined) picked[key] = tls[key];
  }
  return Object.freeze(picked) as RabbitMQTlsOptions;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`RabbitMQAdapter: ${name} must be a number > 0, got ${describeValue(value)}.`);
  }
  return value;
}

async function closeQuietly(connection: ChannelModel): Promise<void> {
  try {
    await connection.close();
  } catch {
    // Already closed.
  }
}

/**
 * Ends a connection that does not answer by destroying its socket with an error: amqplib then
 * closes the connection and its channels as after a heartbeat timeout. The socket is not in
 * amqplib's public types; if that internal changes, this does nothing (the heartbeat ends it).
 */
function dropConnection(connection: ChannelModel): void {
  const stream = (connection.connection as unknown as { stream?: { destroy?: unknown } }).stream;
  if (stream !== undefined && typeof stream.destroy === 'function') {
    (stream.destroy as (error: Error) => void).call(stream, new Error('RabbitMQ did not answer the connection close'));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true when `promise` settles before `deadline`, false otherwise. */
async function beforeDeadline(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `promise`, or a rejection with `timeoutError()` after `ms`; a value that arrives after the
 * timeout is handed to `discard` (e.g. a connection that opened too late is closed).
 */
function withTimeout<T>(promise: Promise<T>, ms: number, timeoutError: () => Error, discard: (late: T) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(timeoutError());
    }, ms);
    promise.then(
      (value) => {
        if (timedOut) void discard(value);
        else {
          clearTimeout(timer);
          resolve(value);
        }
      },
      (error: unknown) => {
        if (!timedOut) {
          clearTimeout(timer);
          reject(error);
        }
      },
    );
  });
}
