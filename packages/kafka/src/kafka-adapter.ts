import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { ConnectionOptions } from 'node:tls';
import {
  BrokerStateError,
  ConnectionError,
  InvalidArgumentError,
  PublishError,
  type MessagingError,
  type Message,
} from '@msgport/core';
import {
  backoffDelay,
  createRedactor,
  describeValue,
  keyPartition,
  MessageBrokerBase,
  SASL_MECHANISMS,
  settleWithin,
  TimeoutExpiredError,
  type AdapterHealth,
  type Backoff,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  type MessageBrokerBaseOptions,
  type Redact,
  type SaslMechanism,
} from '@msgport/core/adapter';
import kafkajs, {
  type Admin,
  type ICustomPartitioner,
  type Kafka as KafkaClient,
  type KafkaConfig,
  type logCreator,
  type PartitionAssigner,
  type Producer,
  type RetryOptions,
  type SASLOptions,
} from 'kafkajs';
import {
  describeError,
  isAuthenticationFailure,
  isMessageTooLarge,
  isRetriableSendError,
  isTlsFailure,
  isUnknownTopic,
  toConnectionError,
  toPublishError,
  toSubscribeError,
} from './internal/errors.js';
import { GroupConsumer } from './internal/group-consumer.js';
import { ASSIGNMENT_STRATEGIES, createPartitionAssigners, type AssignmentStrategy } from './internal/partition-assigners.js';
import { createLogCreator } from './internal/log-creator.js';
import { parseBootstrapServers, toKafkaRecord, type OutgoingRecord } from './internal/mapping.js';
import { PublishBatcher, UnansweredError } from './internal/publish-batcher.js';
import { waitUntilServing } from './internal/retry-transient.js';
import { sendEveryRecord } from './internal/send-every-record.js';
import { SocketRegistry } from './internal/socket-registry.js';

/** SASL credentials. The password never appears in an error, a log line or `health()`. */
export interface KafkaSaslOptions {
  readonly mechanism: SaslMechanism;
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
  /** Replication factor of the topics the adapter creates (including `<topic>.DLT`). @default 1 */
  readonly replicationFactor?: number;
  /**
   * Topic config `min.insync.replicas` of the topics the adapter creates (including
   * `<topic>.DLT`): how many replicas must have a message before `publish()` resolves (it always
   * asks for `acks: -1`). With fewer in sync, publishes are retried until `publishTimeoutMs` and
   * then reject with `PUBLISH_TIMEOUT`: nothing resolves that fewer replicas hold. At most
   * `replicationFactor`; production clusters use replication 3 with 2. Topics that already exist
   * keep their own config.
   * @default the broker's `min.insync.replicas` (1 unless configured)
   */
  readonly minInsyncReplicas?: number;
  /**
   * Where a group that has no committed offset yet starts: `false` at the end of the topic (only
   * messages published after `subscribe()` resolved), `true` at its beginning. Groups that have
   * committed offsets always resume there. Broadcast subscriptions always start at the end.
   * @default false
   */
  readonly fromBeginning?: boolean;
  /**
   * How the partitions of a group are shared among its members, in order of preference, by the
   * protocol names every Kafka client uses: `'roundrobin'` (Java's `RoundRobinAssignor`: all
   * partitions of all topics dealt in turn, evenly spread even with many single-partition topics)
   * and `'range'` (Java's `RangeAssignor`: consecutive partitions of each topic). Both give a
   * partition only to members subscribed to its topic, so members of one group may subscribe to
   * different topics (a rolling deploy that adds a topic). The group uses a strategy every member
   * supports; members running Java, librdkafka or aiokafka clients can share the group.
   * @default ['roundrobin', 'range']
   */
  readonly partitionAssigners?: readonly ('roundrobin' | 'range')[];
  /** Bound of `start()`: reaching and authenticating with the brokers. @default 10000 */
  readonly connectionTimeoutMs?: number;
  /** Bound of one request to a broker (a produce request waits this long for `acks: -1`). @default 30000 */
  readonly requestTimeoutMs?: number;
  /**
   * How long `publish()` may wait during an outage (brokers unreachable, no partition leader, a
   * topic that cannot be created yet) before it rejects with a retriable `PublishError`, code
   * `PUBLISH_TIMEOUT`. Until then a produce request that fails for a retriable reason is sent
   * again, with backoff (100 ms doubling to 1 s), so that a publish rides out a broker restart.
   * Counted from the call, for each publish on its own. `stop()` does not wait for it: publishes
   * still waiting for an outage to end are rejected when it disconnects.
   * @default 30000
   */
  readonly publishTimeoutMs?: number;
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
   * Most bytes of records per produce request, counted with an upper bound of each record's
   * encoded size. The default fills a request up to Kafka's default `message.max.bytes`
   * (1048588, less the 61-byte record batch header); lower it for a broker or topic with a lower
   * limit. A single larger message is still sent, alone.
   * @default 1048000
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
  /** The sockets of the producer and admin clients (consumers have their own): closed after they disconnect. */
  readonly sockets: SocketRegistry;
  /** Shared by every kafkajs client of this connection, so that repeated lines are counted once. */
  readonly logCreator: logCreator;
  /**
   * The client of the producer and of `admin`: short retries (PRODUCER_RETRY), so that a produce
   * attempt or a topic creation fails within about a second in an outage; `publish()` tries again
   * itself, up to `publishTimeoutMs`, and nothing keeps retrying long after `stop()`.
   */
  readonly fastKafka: KafkaClient;
  /**
   * Creates topics, probes health and deletes throwaway groups: operations that never add topics
   * to the client's metadata. kafkajs refreshes metadata for every topic a client has looked at,
   * and `createTopics` fails as soon as one of them no longer exists (deleted elsewhere, or a
   * broker that lost its data), which would make the adapter unable to create it again.
   */
  readonly admin: Admin;
  /** Reads group and topic offsets (copes with vanished topics). */
  readonly offsetsAdmin: Admin;
  /** Replaced by a new one (a new idempotent producer id) after a batch was given up. */
  producer: Producer;
  /** False until `producer` connected (a replacement connects on its first send). */
  producerConnected: boolean;
  /** Set when a batch was given up: the next send first replaces the producer. */
  producerStale: boolean;
  readonly batcher: PublishBatcher;
  /** Aborted when `disconnect()` begins: publishes waiting for an outage to end give up. */
  readonly closing: AbortController;
}

interface ResolvedOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean | ConnectionOptions | undefined;
  readonly sasl: KafkaSaslOptions | undefined;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number | undefined;
  readonly fromBeginning: boolean;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly fetchMaxWaitMs: number;
  readonly maxBatchSize: number;
  readonly maxBatchBytes: number;
  readonly lingerMs: number;
  readonly concurrency: number;
  readonly partitionAssigners: readonly AssignmentStrategy[];
}

/**
 * Retries of kafkajs' own operations (metadata, joins, commits, admin). Explicit, because kafkajs
 * switches to different defaults when NODE_ENV is 'test'.
 */
const CLIENT_RETRY: RetryOptions = { initialRetryTime: 300, retries: 5, maxRetryTime: 30_000, factor: 0.2, multiplier: 2 };
/**
 * Retries of the producer's client (connecting, metadata), of one produce attempt and of the admin
 * that creates topics: short, so that an attempt fails within about a second when no broker
 * answers. The adapter itself tries again until `publishTimeoutMs` (PublishBatcher, #topicReady).
 * Left to kafkajs, the bound would be neither a retry count nor a time: a produce attempt gives up
 * as soon as one metadata refresh exhausts the client's retries (6 to 20 s into an outage with
 * CLIENT_RETRY), and kafkajs' default for idempotent producers (retry forever) would hang
 * `publish()`.
 */
const PRODUCER_RETRY: RetryOptions = { initialRetryTime: 100, retries: 3, maxRetryTime: 1_000, factor: 0.2, multiplier: 2 };
/** Pauses before sending a batch (or creating a topic) again, and between attempts to reach the brokers. */
const RETRY_BACKOFF: Backoff = { initialDelayMs: 100, multiplier: 2, maxDelayMs: 1_000, jitter: 0 };
/** Pause before sending a batch (or creating a topic) again after its `attempt`-th failure. */
const publishRetryDelayMs = (attempt: number): number => backoffDelay(RETRY_BACKOFF, attempt);
/** Longest single socket connect attempt (kafkajs `connectionTimeout`); `start()` retries until its bound. */
const MAX_SOCKET_CONNECT_MS = 5_000;
/** Bound of the broker round trip `health()` makes. */
const HEALTH_PROBE_TIMEOUT_MS = 5_000;

// kafkajs is CommonJS and Node cannot see all of its named exports: take them off the default export.
const { Kafka, logLevel, Partitioners } = kafkajs;

/**
 * The msgport port on Apache Kafka, through kafkajs.
 *
 * - `publish()` resolves once every in-sync replica has the message (`acks: -1`, idempotent
 *   producer). Concurrent publishes are sent in few produce requests; each caller still gets its
 *   own acknowledgement or error. The key picks the partition (Java-compatible murmur2). During
 *   an outage a publish waits up to `publishTimeoutMs`, sending again with backoff, then rejects.
 * - One kafkajs consumer per group, subscribed to every topic the group has in this process (one
 *   group membership, one rebalance however many topics); several handlers of one (topic, group)
 *   in this process share its messages round-robin. Partitions go only to members subscribed to
 *   their topic (`partitionAssigners`). No group: a throwaway group per subscription (broadcast),
 *   deleted on unsubscribe. `subscribe()` resolves once the consumer joined its group and has partitions: what
 *   is published afterwards is delivered.
 * - At-least-once: an offset is committed only after the handler resolved or the message was
 *   dead-lettered to `<topic>.DLT`. A message that cannot even be dead-lettered is not committed
 *   and is delivered again. Messages of one partition are handled one at a time, in order, unless
 *   the subscription's `concurrency` is above 1: then messages with different keys of one partition
 *   run at once, one key at a time in offset order, and commits stop at the lowest unfinished one.
 * - Topics are created through the admin client before first use, with `numPartitions`,
 *   `replicationFactor` and `minInsyncReplicas`.
 */
export class KafkaAdapter extends MessageBrokerBase {
  readonly #options: ResolvedOptions;
  readonly #redact: Redact;
  /** Every open consumer: one per group, one per broadcast subscription. */
  readonly #consumers = new Set<GroupConsumer>();
  /** The consumer of each group. */
  readonly #groups = new Map<string, GroupConsumer>();
  readonly #assigners: PartitionAssigner[];
  readonly #topics = new Map<string, Promise<void>>();
  /** Topics of {@link #topics} whose creation succeeded: publishing to them skips the wait. */
  readonly #readyTopics = new Set<string>();
  #client: Client | null = null;
  #produceRequests = 0;
  #messagesSent = 0;
  #lastPublishError: string | undefined;
  #healthProbe: Promise<string | null> | null = null;

  /** @throws {InvalidArgumentError} for missing bootstrap servers or an out-of-range option. */
  constructor(options: KafkaAdapterOptions) {
    super('kafka', requireObject(options));
    this.#options = resolveOptions(options);
    this.#assigners = createPartitionAssigners(this.#options.partitionAssigners, this.logger);
    this.#redact = createRedactor([
      options.sasl?.password,
      typeof options.ssl === 'object' && options.ssl !== null && typeof options.ssl.passphrase === 'string'
        ? options.ssl.passphrase
        : undefined,
    ]);
  }

  protected override get transportOrdersDeliveries(): boolean {
    return true;
  }

  protected override async connect(): Promise<void> {
    const deadline = Date.now() + this.#options.connectionTimeoutMs;
    await this.#waitForBrokers(deadline);

    const logCreator = createLogCreator(this.logger, this.#redact);
    const sockets = new SocketRegistry();
    const kafka = new Kafka(this.#kafkaConfig({ retry: CLIENT_RETRY, logCreator, socketFactory: sockets.factory }));
    const fastKafka = new Kafka(this.#kafkaConfig({ retry: PRODUCER_RETRY, logCreator, socketFactory: sockets.factory }));
    const admin = fastKafka.admin();
    const offsetsAdmin = kafka.admin();
    const producer = this.#createProducer(fastKafka);
    try {
      await settleWithin(Promise.all([admin.connect(), offsetsAdmin.connect(), producer.connect()]), deadline - Date.now());
    } catch (error) {
      await Promise.allSettled([admin.disconnect(), offsetsAdmin.disconnect(), producer.disconnect()]);
      sockets.close();
      throw error instanceof TimeoutExpiredError
        ? new ConnectionError(
            `Cannot connect to Kafka at ${this.#options.brokers.join(',')} within ${this.#options.connectionTimeoutMs} ms. ` +
              'Check bootstrapServers and that the broker is running.',
          )
        : toConnectionError(error, this.#options.brokers, this.#redact);
    }
    const batcher = new PublishBatcher(
      async (topicMessages) => {
        const ready = await this.#readyProducer(client);
        // Not sendBatch alone: after a leader change it can resolve for records it never sent.
        await sendEveryRecord(
          (pending) => ready.sendBatch({ topicMessages: pending, acks: -1, timeout: this.#options.requestTimeoutMs }),
          topicMessages,
          (count) =>
            this.logger.info(
              `kafkajs left ${count} record(s) of a produce request unsent after a partition leader changed; sending them again.`,
            ),
        );
        for (const { messages } of topicMessages) this.#messagesSent += messages.length;
        this.#lastPublishError = undefined;
      },
      {
        maxBatchSize: this.#options.maxBatchSize,
        maxBatchBytes: this.#options.maxBatchBytes,
        lingerMs: this.#options.lingerMs,
        isTooLarge: isMessageTooLarge,
        isRetriable: isRetriableSendError,
        retryDelayMs: publishRetryDelayMs,
        onAbandoned: () => {
          client.producerStale = true;
        },
        toError: (error, topic) => this.#publishFailed(error, topic),
      },
    );
    const closing = new AbortController();
    // Every publish that waits for its topic during an outage listens to it (and stops listening
    // when done): many at once are expected, not a leak.
    setMaxListeners(0, closing.signal);
    const client: Client = {
      sockets,
      logCreator,
      fastKafka,
      admin,
      offsetsAdmin,
      producer,
      producerConnected: true,
      producerStale: false,
      batcher,
      closing,
    };
    this.#client = client;
    this.#lastPublishError = undefined;
  }

  protected override async disconnect(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    const client = this.#client;
    if (client === null) return;
    // Publishes still creating their topic or waiting for an outage to end give up.
    client.closing.abort();
    // Consumers still open here belong to handlers that outlived shutdownTimeoutMs, or could not
    // leave their group in time (brokers unreachable). Their close is not awaited: kafkajs commits
    // and leaves once a running handler finishes, never interrupting it; a consumer with no
    // handler running gives up on the broker at once.
    for (const consumer of this.#consumers) {
      void consumer.close();
      consumer.abandon();
    }
    this.#consumers.clear();
    this.#groups.clear();
    // Publishes already queued get their answer before the producer goes, unless the brokers are
    // unreachable: then they are rejected now, not retried (the batch in flight, if a produce
    // request is running, is awaited: kafkajs cannot abort it, and closing the producer under it
    // would make kafkajs reconnect).
    // At `deadline` (the end of stop()'s shutdownTimeoutMs) whatever still waits for the brokers is
    // given up: closing the sockets makes kafkajs fail at once.
    const giveUp = Number.isFinite(deadline)
      ? setTimeout(() => client.sockets.close(), Math.max(0, deadline - Date.now()))
      : undefined;
    let results: PromiseSettledResult<void>[];
    try {
      client.batcher.close();
      await client.batcher.flush();
      this.#client = null;
      this.#topics.clear();
      this.#readyTopics.clear();
      this.#healthProbe = null;
      results = await Promise.allSettled([
        client.producer.disconnect(),
        client.admin.disconnect(),
        client.offsetsAdmin.disconnect(),
      ]);
    } finally {
      clearTimeout(giveUp);
    }
    for (const result of results) {
      if (result.status === 'rejected')
        this.logger.warn(`Error while disconnecting from Kafka: ${describeError(result.reason, this.#redact)}`);
    }
    const stragglers = client.sockets.close();
    if (stragglers > 0) this.logger.debug(`Closed ${stragglers} Kafka connection(s) kafkajs left open after disconnecting.`);
  }

  protected override send(message: Message): Promise<void> {
    const topic = message.topic;
    const client = this.#client;
    // The common case, without an async function or a wrapper per publish: a running client and a
    // topic already created. The batcher settles the caller's promise itself (errors through
    // #publishFailed).
    if (client !== null && this.#readyTopics.has(topic) && !client.closing.signal.aborted) {
      return client.batcher.enqueue(topic, toKafkaRecord(message), Date.now() + this.#options.publishTimeoutMs);
    }
    return this.#sendFirst(message);
  }

  /** A publish to a topic this client has not created yet, or while the adapter stops. */
  async #sendFirst(message: Message): Promise<void> {
    const topic = message.topic;
    const client = this.#requireClient(`publish to "${topic}"`);
    const deadline = Date.now() + this.#options.publishTimeoutMs;
    try {
      if (!this.#readyTopics.has(topic)) await this.#topicReady(client, topic, deadline);
      if (client.closing.signal.aborted) throw new UnansweredError('closed', false, undefined);
    } catch (error) {
      throw this.#publishFailed(error, topic);
    }
    return client.batcher.enqueue(topic, toKafkaRecord(message), deadline);
  }

  /** The error a publish to `topic` rejects with; health() reports it until a batch is acknowledged. */
  #publishFailed(error: unknown, topic: string): MessagingError {
    const wrapped = this.#toPublishError(error, topic);
    this.#lastPublishError = wrapped.message;
    return wrapped;
  }

  protected override async openConsumer(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle> {
    const what = `"${spec.topic}"${spec.group === null ? '' : ` in group "${spec.group}"`}`;
    const client = this.#requireClient(`subscribe to ${what}`);
    // One membership per group: every topic of a group in this process shares one kafkajs
    // consumer. A broadcast subscription has a throwaway group of its own.
    let consumer = spec.group === null ? undefined : this.#groups.get(spec.group);
    if (consumer === undefined) {
      consumer = this.#newGroupConsumer(client, spec.group);
      this.#consumers.add(consumer);
      if (spec.group !== null) this.#groups.set(spec.group, consumer);
    }
    const member = consumer;
    const leave = async (): Promise<void> => {
      const left = member.remove(spec.topic);
      // remove() forgets the topic at once: a consumer left without topics is closing, and a
      // new subscription of its group gets a new one.
      if (member.topics.length === 0) {
        this.#consumers.delete(member);
        if (spec.group !== null && this.#groups.get(spec.group) === member) this.#groups.delete(spec.group);
      }
      await left;
    };
    try {
      await member.add(spec.topic, deliver, spec.concurrency);
    } catch (error) {
      await leave();
      throw toSubscribeError(error, what, this.#redact);
    }
    return { close: leave };
  }

  #newGroupConsumer(client: Client, group: string | null): GroupConsumer {
    const options = this.#options;
    return new GroupConsumer({
      newClient: (socketFactory) =>
        new Kafka(this.#kafkaConfig({ retry: CLIENT_RETRY, logCreator: client.logCreator, socketFactory })),
      admin: client.admin,
      offsetsAdmin: client.offsetsAdmin,
      group,
      groupId: group ?? `${options.clientId}-broadcast-${randomUUID()}`,
      // A broadcast subscription receives what is published while it is subscribed, never history.
      fromBeginning: group !== null && options.fromBeginning,
      sessionTimeoutMs: options.sessionTimeoutMs,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      fetchMaxWaitMs: options.fetchMaxWaitMs,
      requestTimeoutMs: options.requestTimeoutMs,
      retry: CLIENT_RETRY,
      partitionAssigners: this.#assigners,
      logger: this.logger,
      redact: this.#redact,
      ensureTopic: async (topic, recreate) => {
        const current = this.#requireClient(`subscribe to "${topic}"`);
        if (recreate) this.#forgetTopic(topic);
        try {
          await this.#ensureTopic(current, topic);
        } catch (error) {
          throw toSubscribeError(error, `"${topic}": the topic could not be created`, this.#redact);
        }
      },
    });
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
        // A produce request failed for a retriable reason and is being sent again (an outage).
        retrying: this.#client?.batcher.failing ?? false,
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

  #createProducer(kafka: KafkaClient): Producer {
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: stickyPartitioner,
      allowAutoTopicCreation: false,
      retry: PRODUCER_RETRY,
    });
    producer.on(producer.events.REQUEST, ({ payload }) => {
      if (payload.apiName === 'Produce') this.#produceRequests++;
    });
    return producer;
  }

  /**
   * The producer to send with. After a batch was given up (its records may or may not be stored),
   * a new producer replaces the old one: a new producer id starts its sequence numbers afresh, so
   * the next batch cannot be taken by the broker for a duplicate of the lost one (and acknowledged
   * without being stored) nor be refused as out of sequence. Only the batcher calls this, one
   * batch at a time.
   */
  async #readyProducer(client: Client): Promise<Producer> {
    if (client.producerStale) {
      client.producerStale = false;
      const old = client.producer;
      client.producer = this.#createProducer(client.fastKafka);
      client.producerConnected = false;
      await old.disconnect().catch((error: unknown) => {
        this.logger.debug(`Error while disconnecting a replaced Kafka producer: ${describeError(error, this.#redact)}`);
      });
    }
    if (!client.producerConnected) {
      try {
        await client.producer.connect();
      } catch (error) {
        await client.producer.disconnect().catch(() => undefined);
        throw error;
      }
      client.producerConnected = true;
    }
    return client.producer;
  }

  /**
   * Creates `topic` if this client has not yet, trying again on retriable failures (brokers
   * unreachable) until `deadline` or until the adapter stops: then an {@link UnansweredError}.
   */
  async #topicReady(client: Client, topic: string, deadline: number): Promise<void> {
    if (this.#readyTopics.has(topic)) return;
    const signal = client.closing.signal;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw new UnansweredError('closed', false, lastError);
      try {
        await settleWithin(this.#ensureTopic(client, topic), deadline - Date.now(), { signal });
        return;
      } catch (error) {
        if (error instanceof TimeoutExpiredError) throw new UnansweredError('deadline', false, lastError);
        if (signal.aborted) throw new UnansweredError('closed', false, lastError);
        if (!isRetriableSendError(error)) throw new TopicCreationError(error);
        lastError = error;
      }
      const pause = Math.min(publishRetryDelayMs(attempt), deadline - Date.now());
      if (pause <= 0) throw new UnansweredError('deadline', false, lastError);
      await delay(pause, undefined, { signal }).catch(() => undefined);
    }
  }

  /** The `PublishError` for a failed `send()`. */
  #toPublishError(error: unknown, topic: string): MessagingError {
    if (error instanceof TopicCreationError) {
      return new PublishError(
        `Cannot publish to "${topic}": the topic could not be created (${describeError(error.cause, this.#redact)}).`,
        {
          cause: error.cause,
        },
      );
    }
    if (error instanceof UnansweredError) {
      const last = error.lastError === undefined ? '' : `; last error: ${describeError(error.lastError, this.#redact)}`;
      const cause = error.lastError === undefined ? {} : { cause: error.lastError };
      if (error.reason === 'deadline') {
        return new PublishError(
          `Cannot publish to "${topic}": Kafka at ${this.#options.brokers.join(',')} did not acknowledge the message within ` +
            `publishTimeoutMs (${this.#options.publishTimeoutMs} ms)${last}. ` +
            (error.sent
              ? 'It may or may not have been stored; publish it again if it must arrive.'
              : 'It was not sent; publish it again later.'),
          { code: 'PUBLISH_TIMEOUT', retriable: true, ...cause },
        );
      }
      return new PublishError(
        `Cannot publish to "${topic}": the Kafka adapter was stopped before the broker acknowledged the message${last}. ` +
          (error.sent ? 'It may or may not have been stored.' : 'It was not sent.'),
        { retriable: true, ...cause },
      );
    }
    // The topic vanished (deleted, or a broker that lost its data): the next publish creates it again.
    if (isUnknownTopic(error)) this.#forgetTopic(topic);
    return toPublishError(error, topic, this.#redact);
  }

  #kafkaConfig(extra: Pick<KafkaConfig, 'retry' | 'logCreator' | 'logLevel' | 'socketFactory'>): KafkaConfig {
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
    // Closed when this returns or throws: attempts that timed out and are still connecting stop then.
    const sockets = new SocketRegistry();
    try {
      const probe = new Kafka(
        this.#kafkaConfig({ retry: { retries: 0 }, logLevel: logLevel.NOTHING, socketFactory: sockets.factory }),
      );
      await this.#tryBrokersUntil(probe, deadline);
    } finally {
      sockets.close();
    }
  }

  async #tryBrokersUntil(probe: KafkaClient, deadline: number): Promise<void> {
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
          throw toConnectionError(error, this.#options.brokers, this.#redact);
        }
      }
      // Keep trying until the deadline: the broker may be starting.
      const pause = Math.min(backoffDelay(RETRY_BACKOFF, attempt + 1), deadline - Date.now());
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

  /** The next publish or subscribe creates `topic` again (it vanished from the broker). */
  #forgetTopic(topic: string): void {
    this.#topics.delete(topic);
    this.#readyTopics.delete(topic);
  }

  #ensureTopic(client: Client, topic: string): Promise<void> {
    let created = this.#topics.get(topic);
    if (created === undefined) {
      const { numPartitions, replicationFactor, minInsyncReplicas, requestTimeoutMs } = this.#options;
      const configEntries =
        minInsyncReplicas === undefined ? [] : [{ name: 'min.insync.replicas', value: String(minInsyncReplicas) }];
      created = (async () => {
        // Not kafkajs' waitForLeaders: on a cluster it asks a broker whose metadata may not have the
        // new topic yet, and gives up at once on its "This server does not host this
        // topic-partition". Even on one KRaft broker, partition leaders can refuse requests for a
        // moment after they exist. Reading the end offsets of every partition, trying again while
        // the answer is one of those, proves they serve requests before the first produce or subscribe.
        const isNew = await client.admin.createTopics({
          topics: [{ topic, numPartitions, replicationFactor, configEntries }],
          waitForLeaders: false,
          timeout: requestTimeoutMs,
        });
        if (isNew) await waitUntilServing(client.offsetsAdmin, topic, numPartitions, requestTimeoutMs);
      })();
      this.#topics.set(topic, created);
      // Forget a failure, so that the next publish or subscribe tries again.
      created.then(
        () => {
          if (this.#topics.get(topic) === created) this.#readyTopics.add(topic);
        },
        () => {
          if (this.#topics.get(topic) === created) this.#topics.delete(topic);
        },
      );
    }
    return created;
  }

  /** One metadata round trip to the cluster; the error text, or null when it answered. */
  #probeBrokers(): Promise<string | null> {
    const client = this.#client;
    if (client === null) return Promise.resolve('not connected');
    if (this.#healthProbe === null) {
      const probe = settleWithin(client.admin.describeCluster(), HEALTH_PROBE_TIMEOUT_MS).then(
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

/** A non-retriable failure to create a topic before publishing to it. */
class TopicCreationError extends Error {
  constructor(cause: unknown) {
    super('the topic could not be created', { cause });
  }
}

/**
 * kafkajs' default partitioner (Java-compatible murmur2 for keys, round-robin without), except
 * that a record keeps the partition it got first when its batch is sent again. Otherwise a batch
 * of keyless records sent again would be spread differently, and the idempotent producer's
 * per-partition sequence numbers would no longer match what the broker may have stored.
 */
const stickyPartitioner: ICustomPartitioner = () => {
  const partition = Partitioners.DefaultPartitioner();
  return (args) => {
    // The choice is kept on the record itself (an OutgoingRecord, ours until it is acknowledged).
    const record = args.message as OutgoingRecord;
    const previous = record.chosenPartition;
    if (previous >= 0 && previous < args.partitionMetadata.length) return previous;
    // Keyed records are hashed here: kafkajs' murmur2 blocks the event loop on large keys (see keyPartition).
    const next = record.key === null ? partition(args) : keyPartition(record.key, args.partitionMetadata.length);
    record.chosenPartition = next;
    return next;
  };
};

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
    throw new InvalidArgumentError(
      'KafkaAdapter needs options with at least bootstrapServers, e.g. { bootstrapServers: "localhost:9092" }.',
    );
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
      problems.push(`${name} must be an integer >= ${min}, got ${describeValue(value)}`);
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
    minInsyncReplicas: options.minInsyncReplicas === undefined ? undefined : integer('minInsyncReplicas', 1, 1),
    fromBeginning: options.fromBeginning ?? false,
    connectionTimeoutMs: integer('connectionTimeoutMs', 10_000, 1),
    requestTimeoutMs: integer('requestTimeoutMs', 30_000, 1),
    publishTimeoutMs: integer('publishTimeoutMs', 30_000, 1),
    sessionTimeoutMs: integer('sessionTimeoutMs', 30_000, 1),
    heartbeatIntervalMs: integer('heartbeatIntervalMs', 3_000, 1),
    rebalanceTimeoutMs: integer('rebalanceTimeoutMs', 60_000, 1),
    fetchMaxWaitMs: integer('fetchMaxWaitMs', 500, 0),
    maxBatchSize: integer('maxBatchSize', 1_000, 1),
    maxBatchBytes: integer('maxBatchBytes', 1_048_000, 1),
    lingerMs: integer('lingerMs', 0, 0),
    concurrency: options.concurrency ?? 1,
    partitionAssigners: options.partitionAssigners ?? ['roundrobin', 'range'],
  };
  const assigners: unknown = resolved.partitionAssigners;
  if (
    !Array.isArray(assigners) ||
    assigners.length === 0 ||
    !assigners.every((name) => (ASSIGNMENT_STRATEGIES as readonly unknown[]).includes(name)) ||
    new Set(assigners).size !== assigners.length
  ) {
    problems.push(
      `partitionAssigners must be a non-empty list of distinct names among ${ASSIGNMENT_STRATEGIES.join(', ')}, got ${JSON.stringify(assigners)}`,
    );
  }
  if (resolved.minInsyncReplicas !== undefined && resolved.minInsyncReplicas > resolved.replicationFactor) {
    problems.push(
      `minInsyncReplicas (${resolved.minInsyncReplicas}) must not exceed replicationFactor (${resolved.replicationFactor}): ` +
        'a topic with fewer replicas than must be in sync refuses every publish. Raise replicationFactor (3 with minInsyncReplicas 2 is usual) or lower minInsyncReplicas',
    );
  }
  if (typeof resolved.clientId !== 'string' || resolved.clientId.length === 0)
    problems.push('clientId must be a non-empty string');
  if (typeof resolved.fromBeginning !== 'boolean') problems.push('fromBeginning must be a boolean');
  if (resolved.heartbeatIntervalMs >= resolved.sessionTimeoutMs) {
    problems.push(
      `heartbeatIntervalMs (${resolved.heartbeatIntervalMs}) must be lower than sessionTimeoutMs (${resolved.sessionTimeoutMs})`,
    );
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
