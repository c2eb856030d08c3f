import { setMaxListeners } from 'node:events';
import { ConnectionError, type Logger } from '@msgport/core';
import { backoffDelay, settleWithin, TimeoutExpiredError, type Redact } from '@msgport/core/adapter';
import kafkajs, { type Admin, type ISocketFactory, type Kafka as KafkaClient, type logCreator } from 'kafkajs';
import { describeError, isAuthenticationFailure, isTlsFailure, toConnectionError } from './errors.js';
import { createLogCreator } from './log-creator.js';
import {
  CLIENT_RETRY,
  HEALTH_PROBE_TIMEOUT_MS,
  kafkaConfig,
  PRODUCER_RETRY,
  RETRY_BACKOFF,
  type ResolvedOptions,
} from './options.js';
import { createProducer, Publisher, type PublishStats } from './publisher.js';
import { SocketRegistry } from './socket-registry.js';
import { TopicAdmin } from './topics.js';

// kafkajs is CommonJS and Node cannot see all of its named exports: take them off the default export.
const { Kafka, logLevel } = kafkajs;

/** What {@link KafkaConnection.open} needs. */
export interface KafkaConnectionOptions {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly redact: Redact;
  /** Publishing figures, kept across connections. */
  readonly stats: PublishStats;
}

/**
 * The clients of one `start()`..`stop()`: the producer (through {@link Publisher}), the admin
 * clients, the topics created ({@link TopicAdmin}), and what consumers share (logging, retries).
 */
export class KafkaConnection {
  /** The sockets of the producer and admin clients (consumers have their own): closed after they disconnect. */
  readonly sockets: SocketRegistry;
  /** Shared by every kafkajs client of this connection, so that repeated lines are counted once. */
  readonly logCreator: logCreator;
  /**
   * Creates topics, probes health and deletes throwaway groups: operations that never add topics
   * to the client's metadata. kafkajs refreshes metadata for every topic a client has looked at,
   * and `createTopics` fails as soon as one of them no longer exists (deleted elsewhere, or a
   * broker that lost its data), which would make the adapter unable to create it again.
   */
  readonly admin: Admin;
  /** Reads group and topic offsets (copes with vanished topics). */
  readonly offsetsAdmin: Admin;
  readonly topics: TopicAdmin;
  readonly publisher: Publisher;
  /** Aborted when `close()` begins: publishes waiting for an outage to end give up. */
  readonly #closing: AbortController;
  readonly #options: ResolvedOptions;
  readonly #logger: Logger;
  readonly #redact: Redact;
  #healthProbe: Promise<string | null> | null = null;

  private constructor(
    connection: KafkaConnectionOptions,
    clients: { sockets: SocketRegistry; logCreator: logCreator; fastKafka: KafkaClient; admin: Admin; offsetsAdmin: Admin },
    producer: ReturnType<typeof createProducer>,
  ) {
    this.#options = connection.options;
    this.#logger = connection.logger;
    this.#redact = connection.redact;
    this.sockets = clients.sockets;
    this.logCreator = clients.logCreator;
    this.admin = clients.admin;
    this.offsetsAdmin = clients.offsetsAdmin;
    this.#closing = new AbortController();
    // Every publish that waits for its topic during an outage listens to it (and stops listening
    // when done): many at once are expected, not a leak.
    setMaxListeners(0, this.#closing.signal);
    this.topics = new TopicAdmin(this.#options, this.admin, this.offsetsAdmin, this.#closing.signal);
    this.publisher = new Publisher({
      options: this.#options,
      fastKafka: clients.fastKafka,
      producer,
      topics: this.topics,
      closing: this.#closing.signal,
      stats: connection.stats,
      logger: this.#logger,
      redact: this.#redact,
    });
  }

  /**
   * Reaches the brokers and connects the producer and admin clients within
   * `connectionTimeoutMs`.
   *
   * @throws {ConnectionError} when the brokers cannot be reached or refuse the credentials.
   */
  static async open(connection: KafkaConnectionOptions): Promise<KafkaConnection> {
    const { options, redact } = connection;
    const deadline = Date.now() + options.connectionTimeoutMs;
    await waitForBrokers(options, redact, deadline);

    const logCreator = createLogCreator(connection.logger, redact);
    const sockets = new SocketRegistry();
    const kafka = new Kafka(kafkaConfig(options, { retry: CLIENT_RETRY, logCreator, socketFactory: sockets.factory }));
    const fastKafka = new Kafka(kafkaConfig(options, { retry: PRODUCER_RETRY, logCreator, socketFactory: sockets.factory }));
    const admin = fastKafka.admin();
    const offsetsAdmin = kafka.admin();
    const producer = createProducer(fastKafka, connection.stats);
    try {
      await settleWithin(Promise.all([admin.connect(), offsetsAdmin.connect(), producer.connect()]), deadline - Date.now());
    } catch (error) {
      await Promise.allSettled([admin.disconnect(), offsetsAdmin.disconnect(), producer.disconnect()]);
      sockets.close();
      throw error instanceof TimeoutExpiredError
        ? new ConnectionError(
            `Cannot connect to Kafka at ${options.brokers.join(',')} within ${options.connectionTimeoutMs} ms. ` +
              'Check bootstrapServers and that the broker is running.',
          )
        : toConnectionError(error, options.brokers, redact);
    }
    return new KafkaConnection(connection, { sockets, logCreator, fastKafka, admin, offsetsAdmin }, producer);
  }

  /** True once `close()` began. */
  get closing(): boolean {
    return this.#closing.signal.aborted;
  }

  /** A kafkajs client for a consumer session (its own sockets, `socketFactory`), sharing this connection's logging. */
  newConsumerClient(socketFactory: ISocketFactory): KafkaClient {
    return new Kafka(kafkaConfig(this.#options, { retry: CLIENT_RETRY, logCreator: this.logCreator, socketFactory }));
  }

  /** Publishes still creating their topic or waiting for an outage to end give up. */
  beginClosing(): void {
    this.#closing.abort();
  }

  /**
   * Answers the publishes queued and disconnects the producer and admin clients. At `deadline`
   * whatever still waits for the brokers is given up. `flushed` runs once the queued publishes
   * are answered, before the clients disconnect.
   */
  async close(deadline: number, flushed: () => void): Promise<void> {
    this.beginClosing();
    // Publishes already queued get their answer before the producer goes, unless the brokers are
    // unreachable: then they are rejected now, not retried (the batch in flight, if a produce
    // request is running, is awaited: kafkajs cannot abort it, and closing the producer under it
    // would make kafkajs reconnect).
    // At `deadline` (the end of stop()'s shutdownTimeoutMs) whatever still waits for the brokers is
    // given up: closing the sockets makes kafkajs fail at once.
    const giveUp = Number.isFinite(deadline)
      ? setTimeout(() => this.sockets.close(), Math.max(0, deadline - Date.now()))
      : undefined;
    let results: PromiseSettledResult<void>[];
    try {
      await this.publisher.close();
      flushed();
      this.topics.clear();
      this.#healthProbe = null;
      results = await Promise.allSettled([this.publisher.disconnect(), this.admin.disconnect(), this.offsetsAdmin.disconnect()]);
    } finally {
      clearTimeout(giveUp);
    }
    for (const result of results) {
      if (result.status === 'rejected')
        this.#logger.warn(`Error while disconnecting from Kafka: ${describeError(result.reason, this.#redact)}`);
    }
    const stragglers = this.sockets.close();
    if (stragglers > 0) this.#logger.debug(`Closed ${stragglers} Kafka connection(s) kafkajs left open after disconnecting.`);
  }

  /** One metadata round trip to the cluster; the error text, or null when it answered. */
  probe(): Promise<string | null> {
    if (this.#healthProbe === null) {
      const probe = settleWithin(this.admin.describeCluster(), HEALTH_PROBE_TIMEOUT_MS).then(
        () => null,
        (error: unknown) =>
          error instanceof TimeoutExpiredError
            ? `no answer from the brokers within ${HEALTH_PROBE_TIMEOUT_MS} ms`
            : describeError(error, this.#redact),
      );
      this.#healthProbe = probe;
      void probe.finally(() => {
        if (this.#healthProbe === probe) this.#healthProbe = null;
      });
    }
    return this.#healthProbe;
  }
}

/**
 * Tries to reach and authenticate with the brokers until `deadline`, one bounded attempt at a
 * time (kafkajs' own connect retries are not bounded by time).
 */
async function waitForBrokers(options: ResolvedOptions, redact: Redact, deadline: number): Promise<void> {
  // Closed when this returns or throws: attempts that timed out and are still connecting stop then.
  const sockets = new SocketRegistry();
  try {
    const probe = new Kafka(
      kafkaConfig(options, { retry: { retries: 0 }, logLevel: logLevel.NOTHING, socketFactory: sockets.factory }),
    );
    await tryBrokersUntil(options, redact, probe, deadline);
  } finally {
    sockets.close();
  }
}

async function tryBrokersUntil(options: ResolvedOptions, redact: Redact, probe: KafkaClient, deadline: number): Promise<void> {
  let lastError: unknown = null;
  for (let attempt = 0; ; attempt++) {
    const admin = probe.admin();
    const connecting = admin.connect();
    try {
      await settleWithin(connecting, deadline - Date.now());
      await admin.disconnect();
      return;
    } catch (error) {
      // A timed-out attempt is still connecting: close it once it settles.
      void connecting.catch(() => undefined).finally(() => admin.disconnect().catch(() => undefined));
      const timedOut = error instanceof TimeoutExpiredError;
      if (!timedOut) lastError = error;
      // Wrong credentials or TLS settings: retrying won't help.
      if (!timedOut && (isAuthenticationFailure(error) || isTlsFailure(error))) {
        throw toConnectionError(error, options.brokers, redact);
      }
    }
    // Keep trying until the deadline: the broker may be starting.
    const pause = Math.min(backoffDelay(RETRY_BACKOFF, attempt + 1), deadline - Date.now());
    if (pause <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, pause));
    if (Date.now() >= deadline) break;
  }
  const detail = lastError === null ? 'no answer' : describeError(lastError, redact);
  throw new ConnectionError(
    `Cannot connect to Kafka at ${options.brokers.join(',')} within ${options.connectionTimeoutMs} ms (${detail}). ` +
      'Check bootstrapServers and that the broker is running.',
    lastError === null ? {} : { cause: lastError },
  );
}
