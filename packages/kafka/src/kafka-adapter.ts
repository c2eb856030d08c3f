import { randomUUID } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import {
  BrokerStateError,
  ConnectionError,
  InvalidArgumentError,
  MessageBrokerBase,
  PublishError,
  type AdapterHealth,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  type Message,
  type MessageBrokerBaseOptions,
} from '@msgport/core';
import kafkajs, { type Admin, type Kafka as KafkaClient, type KafkaConfig, type Producer, type RetryOptions, type SASLOptions } from 'kafkajs';
import {
  createRedactor,
  describeError,
  isAuthenticationFailure,
  isMessageTooLarge,
  isUnknownTopic,
  toConnectionError,
  toPublishError,
  toSubscribeError,
  type Redact,
} from './internal/errors.js';
import { GroupConsumer } from './internal/group-consumer.js';
import { createLogCreator } from './internal/log-creator.js';
import { parseBootstrapServers, toKafkaRecord } from './internal/mapping.js';
import { PublishBatcher } from './internal/publish-batcher.js';
import { retryTransient } from './internal/retry-transient.js';

/** SASL credentials. The password never appears in an error, a log line or `health()`. */
export interface KafkaSaslOptions {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

/** Options of {@link KafkaAdapter}. */
export interface KafkaAdapterOptions extends MessageBrokerBaseOptions {
  /** Bootstrap brokers: `'h1:9092,h2:9092'` or `['h1:9092', 'h2:9092']`. Required. */
  readonly bootstrapServers: string | readonly string[];
  /** Client id sent to the brokers (shows in broker logs and quotas). @default 'msgport' */
  readonly clientId?: string;
  /** TLS: `true` for the system CAs, or Node `tls.connect` options (ca, cert, key …). @default false */
  readonly ssl?: boolean | ConnectionOptions;
  /** SASL authentication. @default none */
  readonly sasl?: KafkaSaslOptions;
  /** Partitions of the topics the adapter creates (including `<topic>.DLT`). @default 1 */
  readonly numPartitions?: number;
  /** Replication factor of the topics the adapter creates. @default 1 */
  readonly replicationFactor?: number;
  /**
   * Where a group that has no committed offset yet starts: `false` at the end of the topic (only
   * messages published after `subscribe()` resolved), `true` at its beginning. Groups that have
   * committed offsets always resume there. Broadcast subscriptions always start at the end.
   * @default false
   */
  readonly fromBeginning?: boolean;
  /** Bound of `start()`: reaching and authenticating with the brokers. @default 10000 */
  readonly connectionTimeoutMs?: number;
  /** Bound of one request to a broker (a produce request waits this long for `acks: -1`). @default 30000 */
  readonly requestTimeoutMs?: number;
  /** A consumer that sends no heartbeat for this long leaves its group. @default 30000 */
  readonly sessionTimeoutMs?: number;
  /** Heartbeat period of consumers; lower than `sessionTimeoutMs` (a third is usual). @default 3000 */
  readonly heartbeatIntervalMs?: number;
  /** How long the group waits for members to rejoin during a rebalance. @default 60000 */
  readonly rebalanceTimeoutMs?: number;
  /**
   * Longest wait of a fetch with no new message. Also how quickly an idle consumer notices a
   * rebalance and how long stopping an idle consumer takes.
   * @default 500
   */
  readonly fetchMaxWaitMs?: number;
  /** Most messages per produce request; concurrent publishes beyond it go in the next request. @default 1000 */
  readonly maxBatchSize?: number;
  /**
   * Estimated bytes per produce request (keep it under the broker's `message.max.bytes`). A
   * single larger message is still sent, alone.
   * @default 1000000
   */
  readonly maxBatchBytes?: number;
  /**
   * How long an idle producer waits for more messages before sending; 0 sends after one turn
   * of the event loop. Whatever is published while a request is in flight always goes into the next one.
   * @default 0
   */
  readonly lingerMs?: number;
}

interface Client {
  readonly kafka: KafkaClient;
  /**
   * Creates topics, probes health and deletes throwaway groups: operations that never add topics
   * to the client's metadata. kafkajs refreshes metadata for every topic a client has looked at,
   * and `createTopics` fails as soon as one of them no longer exists (deleted elsewhere, or a
   * broker that lost its data), which would make the adapter unable to create it again.
   */
  readonly admin: Admin;
  /** Reads group and topic offsets (copes with vanished topics). */
  readonly offsetsAdmin: Admin;
  readonly producer: Producer;
  readonly batcher: PublishBatcher;
}

interface ResolvedOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean | ConnectionOptions | undefined;
  readonly sasl: KafkaSaslOptions | undefined;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  readonly fromBeginning: boolean;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly fetchMaxWaitMs: number;
  readonly maxBatchSize: number;
  readonly maxBatchBytes: number;
  readonly lingerMs: number;
  readonly concurrency: number;
}

/**
 * Retries of kafkajs' own operations (metadata, joins, commits, admin). Explicit, because kafkajs
 * switches to different defaults when NODE_ENV is 'test'.
 */
const CLIENT_RETRY: RetryOptions = { initialRetryTime: 300, retries: 5, maxRetryTime: 30_000, factor: 0.2, multiplier: 2 };
/**
 * Retries of a produce request: about 30 s in all, then `publish()` rejects. kafkajs' default for
 * idempotent producers is to retry forever, which would hang `publish()` during an outage.
 */
const PRODUCER_RETRY: RetryOptions = { initialRetryTime: 100, retries: 10, maxRetryTime: 5_000, factor: 0.2, multiplier: 2 };
/** Longest single socket connect attempt (kafkajs `connectionTimeout`); `start()` retries until its bound. */
const MAX_SOCKET_CONNECT_MS = 5_000;
/** Bound of the broker round trip `health()` makes. */
const HEALTH_PROBE_TIMEOUT_MS = 5_000;

// kafkajs is CommonJS and Node cannot see all of its named exports: take them off the default export.
const { Kafka, logLevel, Partitioners } = kafkajs;

const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/**
 * The msgport port on Apache Kafka, through kafkajs.
 *
 * - `publish()` resolves once every in-sync replica has the message (`acks: -1`, idempotent
 *   producer). Concurrent publishes are sent in few produce requests; each caller still gets its
 *   own acknowledgement or error. The key picks the partition (Java-compatible murmur2).
 * - One kafkajs consumer per (topic, group); several handlers of one (topic, group) in this process
 *   share it round-robin. No group: a throwaway group per subscription (broadcast), deleted on
 *   unsubscribe. `subscribe()` resolves once the consumer joined its group and has partitions: what
 *   is published afterwards is delivered.
 * - At-least-once: an offset is committed only after the handler resolved or the message was
 *   dead-lettered to `<topic>.DLT`. A message that cannot even be dead-lettered is not committed
 *   and is delivered again. Messages of one partition are handled one at a time, in order.
 * - Topics are created through the admin client before first use, with `numPartitions` and
 *   `replicationFactor`.
 */
export class KafkaAdapter extends MessageBrokerBase {
  readonly #options: ResolvedOptions;
  readonly #redact: Redact;
  readonly #consumers = new Set<GroupConsumer>();
  readonly #topics = new Map<string, Promise<void>>();
  #client: Client | null = null;
  #produceRequests = 0;
  #messagesSent = 0;
  #lastPublishError: string | undefined;
  #healthProbe: Promise<string | null> | null = null;

  /** @throws {InvalidArgumentError} for missing bootstrap servers or an out-of-range option. */
  constructor(options: KafkaAdapterOptions) {
    super('kafka', requireObject(options));
    this.#options = resolveOptions(options);
    this.#redact = createRedactor([
      options.sasl?.password,
      typeof options.ssl === 'object' && typeof options.ssl.passphrase === 'string' ? options.ssl.passphrase : undefined,
    ]);
  }

  protected override get transportOrdersDeliveries(): boolean {
    return true;
  }

  protected override async connect(): Promise<void> {
    const deadline = Date.now() + this.#options.connectionTimeoutMs;
    await this.#waitForBrokers(deadline);

    const kafka = new Kafka(this.#kafkaConfig({ retry: CLIENT_RETRY, logCreator: createLogCreator(this.logger, this.#redact) }));
    const admin = kafka.admin();
    const offsetsAdmin = kafka.admin();
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: PRODUCER_RETRY,
    });
    producer.on(producer.events.REQUEST, ({ payload }) => {
      if (payload.apiName === 'Produce') this.#produceRequests++;
    });
    try {
      await withTimeout(Promise.all([admin.connect(), offsetsAdmin.connect(), producer.connect()]), deadline - Date.now());
    } catch (error) {
      await Promise.allSettled([admin.disconnect(), offsetsAdmin.disconnect(), producer.disconnect()]);
      throw error === TIMEOUT
        ? new ConnectionError(
            `Cannot connect to Kafka at ${this.#options.brokers.join(',')} within ${this.#options.connectionTimeoutMs} ms. ` +
              'Check bootstrapServers and that the broker is running.',
          )
        : toConnectionError(error, this.#options.brokers, this.#redact);
    }
    const batcher = new PublishBatcher(
      async (topicMessages) => {
        await producer.sendBatch({ topicMessages, acks: -1, timeout: this.#options.requestTimeoutMs });
        for (const { messages } of topicMessages) this.#messagesSent += messages.length;
      },
      {
        maxBatchSize: this.#options.maxBatchSize,
        maxBatchBytes: this.#options.maxBatchBytes,
        lingerMs: this.#options.lingerMs,
        isTooLarge: isMessageTooLarge,
      },
    );
    this.#client = { kafka, admin, offsetsAdmin, producer, batcher };
    this.#lastPublishError = undefined;
  }

  protected override async disconnect(): Promise<void> {
    const client = this.#client;
    if (client === null) return;
    // Consumers still open here belong to handlers that outlived shutdownTimeoutMs. Their close is
    // not awaited: kafkajs commits and leaves once the handler finishes, never interrupting it.
    for (const consumer of this.#consumers) void consumer.close();
    this.#consumers.clear();
    // Publishes already queued get their answer before the producer goes.
    await client.batcher.flush();
    this.#client = null;
    this.#topics.clear();
    this.#healthProbe = null;
    const results = await Promise.allSettled([client.producer.disconnect(), client.admin.disconnect(), client.offsetsAdmin.disconnect()]);
    for (const result of results) {
      if (result.status === 'rejected') this.logger.warn(`Error while disconnecting from Kafka: ${describeError(result.reason, this.#redact)}`);
    }
  }

  protected override async send(message: Message): Promise<void> {
    const client = this.#requireClient(`publish to "${message.topic}"`);
    try {
      await this.#ensureTopic(client, message.topic);
    } catch (error) {
      throw new PublishError(`Cannot publish to "${message.topic}": the topic could not be created (${describeError(error, this.#redact)}).`, {
        cause: error,
      });
    }
    try {
      await client.batcher.enqueue(message.topic, toKafkaRecord(message));
    } catch (error) {
      // The topic vanished (deleted, or a broker that lost its data): the next publish creates it again.
      if (isUnknownTopic(error)) this.#topics.delete(message.topic);
      const wrapped = toPublishError(error, message.topic, this.#redact);
      this.#lastPublishError = wrapped.message;
      throw wrapped;
    }
    this.#lastPublishError = undefined;
  }

  protected override async openConsumer(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle> {
    const what = `"${spec.topic}"${spec.group === null ? '' : ` in group "${spec.group}"`}`;
    const client = this.#requireClient(`subscribe to ${what}`);
    try {
      await this.#ensureTopic(client, spec.topic);
    } catch (error) {
      throw toSubscribeError(error, `${what}: the topic could not be created`, this.#redact);
    }
    const options = this.#options;
    let consumer: GroupConsumer;
    try {
      consumer = await GroupConsumer.open(
        {
          kafka: client.kafka,
          admin: client.admin,
          offsetsAdmin: client.offsetsAdmin,
          topic: spec.topic,
          group: spec.group,
          groupId: spec.group ?? `${options.clientId}-broadcast-${randomUUID()}`,
          // A broadcast subscription receives what is published while it is subscribed, never history.
          fromBeginning: spec.group !== null && options.fromBeginning,
          sessionTimeoutMs: options.sessionTimeoutMs,
          rebalanceTimeoutMs: options.rebalanceTimeoutMs,
          heartbeatIntervalMs: options.heartbeatIntervalMs,
          fetchMaxWaitMs: options.fetchMaxWaitMs,
          requestTimeoutMs: options.requestTimeoutMs,
          concurrency: options.concurrency,
          retry: CLIENT_RETRY,
          logger: this.logger,
          redact: this.#redact,
          recreateTopic: async () => {
            const current = this.#requireClient(`subscribe to ${what}`);
            this.#topics.delete(spec.topic);
            await this.#ensureTopic(current, spec.topic);
          },
        },
        deliver,
      );
    } catch (error) {
      throw toSubscribeError(error, what, this.#redact);
    }
    this.#consumers.add(consumer);
    return {
      close: async () => {
        try {
          await consumer.close();
        } finally {
          this.#consumers.delete(consumer);
        }
      },
    };
  }

  protected override async checkHealth(): Promise<AdapterHealth> {
    const consumers = [...this.#consumers].map((consumer) => consumer.health);
    const brokerError = await this.#probeBrokers();
    const details: Record<string, unknown> = {
      brokers: this.#options.brokers,
      clientId: this.#options.clientId,
      producer: {
        produceRequests: this.#produceRequests,
        messagesSent: this.#messagesSent,
        queued: this.#client?.batcher.size ?? 0,
        ...(this.#lastPublishError === undefined ? {} : { lastError: this.#lastPublishError }),
      },
      kafkaConsumers: consumers,
    };
    if (brokerError !== null) return { status: 'down', details: { ...details, error: brokerError } };
    const degraded = consumers.some((consumer) => consumer.state === 'restarting');
    return { status: degraded ? 'degraded' : 'up', details };
  }

  // ---- internals ------------------------------------------------------------------------------

  #requireClient(operation: string): Client {
    if (this.#client === null) {
      throw new BrokerStateError(`Cannot ${operation}: the Kafka connection is closed. Call start() first.`);
    }
    return this.#client;
  }

  #kafkaConfig(extra: Pick<KafkaConfig, 'retry' | 'logCreator' | 'logLevel'>): KafkaConfig {
    const { brokers, clientId, ssl, sasl, connectionTimeoutMs, requestTimeoutMs } = this.#options;
    const config: KafkaConfig = {
      brokers: [...brokers],
      clientId,
      connectionTimeout: Math.min(connectionTimeoutMs, MAX_SOCKET_CONNECT_MS),
      authenticationTimeout: connectionTimeoutMs,
      requestTimeout: requestTimeoutMs,
      enforceRequestTimeout: true,
      logLevel: logLevel.WARN,
      ...extra,
    };
    if (ssl !== undefined) config.ssl = ssl;
    if (sasl !== undefined) config.sasl = toKafkajsSasl(sasl);
    return config;
  }

  /**
   * Tries to reach and authenticate with the brokers until `deadline`, one bounded attempt at a
   * time (kafkajs' own connect retries are not bounded by time).
   */
  async #waitForBrokers(deadline: number): Promise<void> {
    const probe = new Kafka(this.#kafkaConfig({ retry: { retries: 0 }, logLevel: logLevel.NOTHING }));
    let lastError: unknown = null;
    for (let attempt = 0; ; attempt++) {
      const admin = probe.admin();
      const connecting = admin.connect();
      try {
        await withTimeout(connecting, deadline - Date.now());
        await admin.disconnect();
        return;
      } catch (error) {
        // A timed-out attempt is still connecting: close it once it settles.
        void connecting.catch(() => undefined).finally(() => admin.disconnect().catch(() => undefined));
        if (error !== TIMEOUT) lastError = error;
        if (error !== TIMEOUT && isAuthenticationFailure(error)) throw toConnectionError(error, this.#options.brokers, this.#redact);
      }
      // Keep trying until the deadline: the broker may be starting.
      const pause = Math.min(1_000, 100 * 2 ** attempt, deadline - Date.now());
      if (pause <= 0) break;
      await new Promise((resolve) => setTimeout(resolve, pause));
      if (Date.now() >= deadline) break;
    }
    const detail = lastError === null ? 'no answer' : describeError(lastError, this.#redact);
    throw new ConnectionError(
      `Cannot connect to Kafka at ${this.#options.brokers.join(',')} within ${this.#options.connectionTimeoutMs} ms (${detail}). ` +
        'Check bootstrapServers and that the broker is running.',
      lastError === null ? {} : { cause: lastError },
    );
  }

  #ensureTopic(client: Client, topic: string): Promise<void> {
    let created = this.#topics.get(topic);
    if (created === undefined) {
      const { numPartitions, replicationFactor, requestTimeoutMs } = this.#options;
      created = (async () => {
        const isNew = await client.admin.createTopics({
          topics: [{ topic, numPartitions, replicationFactor }],
          waitForLeaders: true,
          timeout: requestTimeoutMs,
        });
        // On KRaft, partition leaders can still refuse requests for a moment after waitForLeaders
        // ("This server does not host this topic-partition"). Reading the end offsets of every
        // partition proves they serve requests before the first produce or subscribe.
        if (isNew) await retryTransient(() => client.offsetsAdmin.fetchTopicOffsets(topic), requestTimeoutMs);
      })();
      this.#topics.set(topic, created);
      // Forget a failure, so that the next publish or subscribe tries again.
      created.catch(() => {
        if (this.#topics.get(topic) === created) this.#topics.delete(topic);
      });
    }
    return created;
  }

  /** One metadata round trip to the cluster; the error text, or null when it answered. */
  #probeBrokers(): Promise<string | null> {
    const client = this.#client;
    if (client === null) return Promise.resolve('not connected');
    if (this.#healthProbe === null) {
      const probe = withTimeout(client.admin.describeCluster(), HEALTH_PROBE_TIMEOUT_MS).then(
        () => null,
        (error: unknown) =>
          error === TIMEOUT ? `no answer from the brokers within ${HEALTH_PROBE_TIMEOUT_MS} ms` : describeError(error, this.#redact),
      );
      this.#healthProbe = probe;
      void probe.finally(() => {
        if (this.#healthProbe === probe) this.#healthProbe = null;
      });
    }
    return this.#healthProbe;
  }
}

const TIMEOUT = Symbol('timeout');

/** Settles like `promise`, or rejects with {@link TIMEOUT} after `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(TIMEOUT), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function toKafkajsSasl(sasl: KafkaSaslOptions): SASLOptions {
  const { username, password } = sasl;
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username, password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password };
  }
}

function requireObject(options: KafkaAdapterOptions): KafkaAdapterOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('KafkaAdapter needs options with at least bootstrapServers, e.g. { bootstrapServers: "localhost:9092" }.');
  }
  return options;
}

function resolveOptions(options: KafkaAdapterOptions): ResolvedOptions {
  const problems: string[] = [];
  const brokers = options.bootstrapServers === undefined ? [] : parseBootstrapServers(options.bootstrapServers);
  if (brokers.length === 0) problems.push('bootstrapServers must name at least one broker, e.g. "localhost:9092"');
  const integer = (name: keyof KafkaAdapterOptions, fallback: number, min: number): number => {
    const value = options[name] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      problems.push(`${name} must be an integer >= ${min}, got ${String(value)}`);
      return fallback;
    }
    return value;
  };
  const resolved: ResolvedOptions = {
    brokers,
    clientId: options.clientId ?? 'msgport',
    ssl: options.ssl,
    sasl: options.sasl,
    numPartitions: integer('numPartitions', 1, 1),
    replicationFactor: integer('replicationFactor', 1, 1),
    fromBeginning: options.fromBeginning ?? false,
    connectionTimeoutMs: integer('connectionTimeoutMs', 10_000, 1),
    requestTimeoutMs: integer('requestTimeoutMs', 30_000, 1),
    sessionTimeoutMs: integer('sessionTimeoutMs', 30_000, 1),
    heartbeatIntervalMs: integer('heartbeatIntervalMs', 3_000, 1),
    rebalanceTimeoutMs: integer('rebalanceTimeoutMs', 60_000, 1),
    fetchMaxWaitMs: integer('fetchMaxWaitMs', 500, 0),
    maxBatchSize: integer('maxBatchSize', 1_000, 1),
    maxBatchBytes: integer('maxBatchBytes', 1_000_000, 1),
    lingerMs: integer('lingerMs', 0, 0),
    concurrency: options.concurrency ?? 1,
  };
  if (typeof resolved.clientId !== 'string' || resolved.clientId.length === 0) problems.push('clientId must be a non-empty string');
  if (typeof resolved.fromBeginning !== 'boolean') problems.push('fromBeginning must be a boolean');
  if (resolved.heartbeatIntervalMs >= resolved.sessionTimeoutMs) {
    problems.push(`heartbeatIntervalMs (${resolved.heartbeatIntervalMs}) must be lower than sessionTimeoutMs (${resolved.sessionTimeoutMs})`);
  }
  const sasl = options.sasl;
  if (sasl !== undefined) {
    if (typeof sasl !== 'object' || sasl === null || !SASL_MECHANISMS.includes(sasl.mechanism)) {
      problems.push(`sasl.mechanism must be one of ${SASL_MECHANISMS.join(', ')}`);
    } else if (typeof sasl.username !== 'string' || typeof sasl.password !== 'string') {
      problems.push('sasl.username and sasl.password must be strings');
    }
  }
  if (problems.length > 0) throw new InvalidArgumentError(`Invalid KafkaAdapter options: ${problems.join('; ')}.`);
  return resolved;
}
