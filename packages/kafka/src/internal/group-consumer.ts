import { SubscribeError, isMessagingError, type Deliver, type Logger } from '@msgport/core';
import kafkajs, { type Admin, type Consumer, type ConsumerRunConfig, type ISocketFactory, type Kafka, type RetryOptions } from 'kafkajs';
import { describeError, isUnknownTopic, type Redact } from './errors.js';
import { fromKafkaMessage } from './mapping.js';
import { retryTransient } from './retry-transient.js';
import { SocketRegistry } from './socket-registry.js';

/** Settings of one {@link GroupConsumer}. */
export interface GroupConsumerOptions {
  /**
   * Creates the kafkajs client of this consumer, with `socketFactory`: its own, so that closing the
   * consumer can close every connection it opened (see {@link SocketRegistry}).
   */
  readonly newClient: (socketFactory: ISocketFactory) => Kafka;
  /** Deletes the throwaway group of a broadcast subscription. */
  readonly admin: Admin;
  /** Reads committed and end offsets. */
  readonly offsetsAdmin: Admin;
  readonly topic: string;
  /** The msgport group, or `null` for a broadcast subscription. */
  readonly group: string | null;
  /** The Kafka group id: the msgport group, or a throwaway id for a broadcast subscription. */
  readonly groupId: string;
  readonly fromBeginning: boolean;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly fetchMaxWaitMs: number;
  /** Bound of the admin requests made before joining. */
  readonly requestTimeoutMs: number;
  /** Partitions handled at once (kafkajs `partitionsConsumedConcurrently`). */
  readonly concurrency: number;
  readonly retry: RetryOptions;
  readonly logger: Logger;
  readonly redact: Redact;
  /** Creates the topic again after it disappeared (deleted, or a broker that lost its data). */
  readonly recreateTopic: () => Promise<void>;
}

/** Where a consumer is in its life. */
export type GroupConsumerState = 'joining' | 'up' | 'rebalancing' | 'restarting' | 'closed';

/** What a consumer reports to `health()`. */
export interface GroupConsumerHealth {
  readonly topic: string;
  readonly group: string | null;
  readonly state: GroupConsumerState;
  readonly partitions: readonly number[];
  readonly crashes: number;
  readonly lastError?: string;
}

// kafkajs is CommonJS and Node cannot see all of its named exports: take them off the default export.
const { KafkaJSError } = kafkajs;

/** Backoff of restarts the adapter does itself (kafkajs restarts retriable crashes on its own). */
const RESTART_INITIAL_DELAY_MS = 1_000;
const RESTART_MAX_DELAY_MS = 30_000;
/** A consumer that ran this long without crashing restarts quickly again next time. */
const BACKOFF_RESET_MS = 60_000;
/** Java's `auto.commit.interval.ms`: progress inside a long batch is committed at least this often. */
const AUTO_COMMIT_INTERVAL_MS = 5_000;

/**
 * One kafkajs consumer for one (topic, group) — or one broadcast subscription — that hands every
 * record to core's `deliver` and commits its offset only after `deliver` resolved.
 *
 * - A brand-new group (or a broadcast subscription) that starts at the latest offset has its start
 *   position pinned before it joins: the end offsets are read first and the consumer seeks there
 *   right after its first join, which commits them. kafkajs would otherwise resolve "latest"
 *   lazily at its first fetch and skip what was published in between.
 * - When `deliver` rejects (the message could not even be dead-lettered), the record is not
 *   committed: a retriable error goes back to kafkajs, which fetches the partition again from the
 *   uncommitted offset, with backoff, and eventually crashes and restarts the consumer.
 * - A crashed consumer is restarted here, with a backoff growing from 1 s to 30 s (kafkajs' own
 *   restart would retry every ~300 ms forever); a topic that disappeared is created again first.
 */
export class GroupConsumer {
  readonly topic: string;
  readonly group: string | null;
  readonly groupId: string;
  readonly #options: GroupConsumerOptions;
  readonly #deliver: Deliver;
  readonly #consumer: Consumer;
  readonly #sockets = new SocketRegistry();
  readonly #runConfig: ConsumerRunConfig;
  #state: GroupConsumerState = 'joining';
  #partitions: readonly number[] = [];
  #joined = false;
  #opened = false;
  #crashes = 0;
  #consecutiveCrashes = 0;
  #lastError: string | undefined;
  #startOffsets: Map<number, string> | null = null;
  #restartTimer: NodeJS.Timeout | null = null;
  #topicMissing = false;
  #lastCrashAt = 0;
  #closing: Promise<void> | null = null;
  /** Messages being handed to `deliver` right now (several with `concurrency` > 1). */
  #running = 0;
  /** Deliveries completed so far, and the count the keep-alive saw at its last tick. */
  #completed = 0;
  #completedAtLastTick = 0;
  /** kafkajs' heartbeat of the latest batch (one heartbeat is for the whole member). */
  #heartbeat: (() => Promise<void>) | null = null;
  /** One timer per consumer that keeps its membership alive during long deliveries. */
  #keepAlive: NodeJS.Timeout | null = null;

  private constructor(options: GroupConsumerOptions, deliver: Deliver) {
    this.#options = options;
    this.#deliver = deliver;
    this.topic = options.topic;
    this.group = options.group;
    this.groupId = options.groupId;
    this.#consumer = options.newClient(this.#sockets.factory).consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: options.rebalanceTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTimeInMs: options.fetchMaxWaitMs,
      allowAutoTopicCreation: false,
      // kafkajs would restart a crashed consumer after a fixed ~300 ms, forever; restarts are
      // done here instead, with a growing backoff (see #scheduleRestart).
      retry: { ...options.retry, restartOnFailure: async () => false },
    });
    this.#runConfig = {
      autoCommit: true,
      autoCommitInterval: AUTO_COMMIT_INTERVAL_MS,
      partitionsConsumedConcurrently: options.concurrency,
      eachMessage: async ({ topic, partition, message, heartbeat }) => {
        const received = fromKafkaMessage(topic, partition, message);
        // kafkajs heartbeats only between messages; a handler that retries with backoff can run
        // longer than the session timeout, so the keep-alive heartbeats while it runs. Two
        // counters and a field per message: this runs for every record consumed.
        this.#heartbeat = heartbeat;
        this.#running++;
        if (this.#keepAlive === null) this.#startKeepAlive();
        try {
          await this.#deliver(received);
        } catch (error) {
          const reason = describeError(error, options.redact);
          const where = `"${topic}" (partition ${partition}, offset ${message.offset})`;
          if (isMessagingError(error) && error.code === 'CONSUMER_CLOSED') {
            // Expected while stop() or unsubscribe closes the consumer: nothing went wrong.
            options.logger.debug(`A message from ${where} was not handled: the consumer is closing. It will be delivered again.`);
          } else {
            this.#lastError = reason;
            options.logger.warn(`A message from ${where} was not acknowledged: ${reason}. It will be delivered again.`);
          }
          // A KafkaJSError is retried by kafkajs without logging it again: the partition is
          // fetched anew from the uncommitted offset after a backoff.
          throw new KafkaJSError(`Redelivering offset ${message.offset} of ${topic}-${partition}: ${reason}`, { retriable: true });
        } finally {
          this.#running--;
          this.#completed++;
        }
      },
    };
    const { GROUP_JOIN, CRASH, REBALANCING } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, ({ payload }) => this.#onJoin(payload.memberAssignment[this.topic] ?? []));
    this.#consumer.on(REBALANCING, () => {
      if (this.#state === 'up') this.#state = 'rebalancing';
    });
    this.#consumer.on(CRASH, ({ payload }) => this.#onCrash(payload.error));
  }

  /**
   * Creates the consumer, joins the group and resolves once partitions are assigned: what is
   * published after it resolves is delivered.
   *
   * @throws {SubscribeError} when the consumer cannot join.
   */
  static async open(options: GroupConsumerOptions, deliver: Deliver): Promise<GroupConsumer> {
    const consumer = new GroupConsumer(options, deliver);
    try {
      await consumer.#open();
    } catch (error) {
      await consumer.close().catch(() => undefined);
      throw error;
    }
    return consumer;
  }

  /** A snapshot for `health()`. */
  get health(): GroupConsumerHealth {
    return {
      topic: this.topic,
      group: this.group,
      state: this.#state,
      partitions: this.#partitions,
      crashes: this.#crashes,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  /**
   * Stops fetching, lets the message being handled finish and commits it, leaves the group and
   * disconnects. A broadcast subscription's throwaway group is deleted. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === null) this.#closing = this.#close();
    return this.#closing;
  }

  async #open(): Promise<void> {
    const { topic, fromBeginning } = this.#options;
    this.#startOffsets = fromBeginning ? null : await this.#uncommittedEndOffsets();
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic, fromBeginning });
    // run() resolves after the first join and sync, or after a crash while joining.
    await this.#consumer.run(this.#runConfig);
    if (!this.#joined) {
      throw new SubscribeError(
        `Cannot subscribe to "${topic}"${this.group === null ? '' : ` in group "${this.group}"`}: ` +
          `the consumer could not join the group (${this.#lastError ?? 'unknown error'}).`,
      );
    }
    this.#opened = true;
  }

  /**
   * For the partitions this group has no committed offset on, the current end offsets; `null`
   * when every partition has one (the group resumes where it left off).
   */
  async #uncommittedEndOffsets(): Promise<Map<number, string> | null> {
    const { offsetsAdmin: admin, topic, groupId, requestTimeoutMs } = this.#options;
    let uncommitted: (partition: number) => boolean = () => true;
    if (this.group !== null) {
      const committed = (await retryTransient(() => admin.fetchOffsets({ groupId, topics: [topic] }), requestTimeoutMs)).find(
        (entry) => entry.topic === topic,
      );
      if (committed !== undefined) {
        const missing = new Set(committed.partitions.filter(({ offset }) => Number(offset) < 0).map(({ partition }) => partition));
        if (missing.size === 0) return null;
        uncommitted = (partition) => missing.has(partition);
      }
    }
    const ends = await retryTransient(() => admin.fetchTopicOffsets(topic), requestTimeoutMs);
    const offsets = new Map(ends.filter(({ partition }) => uncommitted(partition)).map(({ partition, high }) => [partition, high]));
    return offsets.size === 0 ? null : offsets;
  }

  #onJoin(partitions: readonly number[]): void {
    if (this.#closing !== null) {
      this.#stopStraggler();
      return;
    }
    this.#joined = true;
    this.#partitions = [...partitions].sort((a, b) => a - b);
    if (this.#state !== 'closed') this.#state = 'up';
    // Runs synchronously inside kafkajs' join, before the first fetch: the seek is applied (and
    // committed) by that fetch. Only the first join: later ones find the committed offsets.
    const start = this.#startOffsets;
    this.#startOffsets = null;
    if (start === null) return;
    for (const partition of partitions) {
      const offset = start.get(partition);
      if (offset !== undefined) this.#consumer.seek({ topic: this.topic, partition, offset });
    }
  }

  #onCrash(error: Error): void {
    this.#crashes++;
    // A join can succeed and the next fetch crash again, so only a quiet spell resets the backoff.
    const now = Date.now();
    if (now - this.#lastCrashAt > BACKOFF_RESET_MS) this.#consecutiveCrashes = 0;
    this.#lastCrashAt = now;
    this.#consecutiveCrashes++;
    this.#lastError = describeError(error, this.#options.redact);
    this.#topicMissing = isUnknownTopic(error);
    if (this.#closing !== null) {
      this.#stopStraggler();
      return;
    }
    this.#state = 'restarting';
    if (!this.#opened) return; // open() reports it
    this.#scheduleRestart();
  }

  /**
   * kafkajs restarts a crashed consumer on a timer it sets right after emitting CRASH, and a
   * restart that was already joining completes after `stop()`. Either would bring a closed
   * consumer back; stop it again once kafkajs is done with the current step.
   */
  #stopStraggler(): void {
    setImmediate(() => {
      this.#consumer.disconnect().catch(() => undefined);
    });
  }

  #scheduleRestart(): void {
    const exponent = Math.min(Math.max(this.#consecutiveCrashes - 1, 0), 10);
    const delay = Math.min(RESTART_MAX_DELAY_MS, RESTART_INITIAL_DELAY_MS * 2 ** exponent);
    this.#options.logger.warn(
      `The Kafka consumer of "${this.topic}" (group "${this.groupId}") crashed: ${this.#lastError}. Restarting it in ${delay} ms.`,
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      void this.#restart();
    }, delay);
  }

  async #restart(): Promise<void> {
    if (this.#closing !== null) return;
    try {
      if (this.#topicMissing) await this.#options.recreateTopic();
      // A crash inside run() is reported through the CRASH event, which schedules the next try.
      await this.#consumer.run(this.#runConfig);
    } catch (error) {
      this.#consecutiveCrashes++;
      this.#lastError = describeError(error, this.#options.redact);
      if (this.#closing === null) this.#scheduleRestart();
    }
  }

  /**
   * Starts the keep-alive: every `heartbeatIntervalMs`, if a delivery is running and none completed
   * since the previous tick, heartbeat (kafkajs heartbeats after each message, so while deliveries
   * complete the member is kept alive anyway). One timer for the consumer's life rather than one
   * per message; it does not keep the process alive. Stopped by close().
   */
  #startKeepAlive(): void {
    if (this.#closing !== null) return;
    this.#keepAlive = setInterval(() => {
      const completed = this.#completed;
      const stalled = this.#running > 0 && completed === this.#completedAtLastTick;
      this.#completedAtLastTick = completed;
      if (stalled) void this.#heartbeat?.().catch(() => undefined);
    }, this.#options.heartbeatIntervalMs);
    this.#keepAlive.unref();
  }

  async #close(): Promise<void> {
    this.#state = 'closed';
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    try {
      // Stops fetching, waits for the batch being handled (the message in the handler finishes,
      // the rest of the batch is left for the next owner), commits, leaves the group.
      await this.#consumer.disconnect();
    } catch (error) {
      this.#options.logger.warn(
        `Error while closing the Kafka consumer of "${this.topic}" (group "${this.groupId}"): ${describeError(error, this.#options.redact)}`,
      );
    }
    // Only now: disconnect() waited for the message being handled, which still needed heartbeats.
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
    this.#heartbeat = null;
    // kafkajs may have reopened a connection while leaving the group (see SocketRegistry).
    const stragglers = this.#sockets.close();
    if (stragglers > 0) {
      this.#options.logger.debug(`Closed ${stragglers} connection(s) the Kafka consumer of "${this.topic}" (group "${this.groupId}") left open.`);
    }
    if (this.group === null && this.#joined) {
      await this.#options.admin.deleteGroups([this.groupId]).catch((error: unknown) => {
        this.#options.logger.debug(`Could not delete the throwaway group "${this.groupId}": ${describeError(error, this.#options.redact)}`);
      });
    }
  }
}
