import { MessagingError, SubscribeError, isMessagingError } from '@msgport/core';
import { backoffDelay, CONSUMER_CLOSED, KeyedExecutor, type Backoff, type Deliver } from '@msgport/core/adapter';
import kafkajs, { type ConsumerRunConfig } from 'kafkajs';
import { describeError, isUnknownTopic } from './errors.js';
import { joinWithRetries } from './first-join.js';
import { deliverInOrder, deliverKeyed, type PartitionBatch } from './partition-batch.js';
import { SocketRegistry } from './socket-registry.js';
import { fetchCommittedOffsets } from './retry-transient.js';
import { uncommittedEndOffsets, type StartPositions } from './start-positions.js';
import type { GroupConsumerHealth, GroupConsumerOptions, GroupConsumerState, Route, Session } from './group-consumer-types.js';

export type { GroupConsumerHealth, GroupConsumerOptions, GroupConsumerState } from './group-consumer-types.js';

// kafkajs is CommonJS and Node cannot see all of its named exports: take them off the default export.
const { KafkaJSError } = kafkajs;

/** Backoff of restarts the adapter does itself (kafkajs restarts retriable crashes on its own). */
const RESTART_BACKOFF: Backoff = { initialDelayMs: 1_000, multiplier: 2, maxDelayMs: 30_000, jitter: 0 };
/** A consumer that ran this long without crashing restarts quickly again next time. */
const BACKOFF_RESET_MS = 60_000;
/** Java's `auto.commit.interval.ms`: progress inside a long batch is committed at least this often. */
const AUTO_COMMIT_INTERVAL_MS = 5_000;

/** Where a message goes whose topic this member no longer consumes: back to the broker. */
const noRoute: Route = {
  deliver: (message) =>
    Promise.reject(
      new MessagingError(
        `No subscription consumes "${message.topic}" here any more; it will be delivered again.`,
        CONSUMER_CLOSED,
        {
          retriable: true,
        },
      ),
    ),
  concurrency: 1,
  executor: null,
};

/**
 * One Kafka group membership: a single kafkajs consumer for a group id that subscribes to every
 * topic the group has in this process and hands each record to the `deliver` of its topic, then
 * commits its offset only after `deliver` resolved. A broadcast subscription is one of these with
 * a throwaway group id and one topic.
 *
 * - One member per group per process, whatever the number of topics: kafkajs' assigners hand the
 *   partitions of a group to its members regardless of what each subscribed to, so one consumer
 *   per (topic, group) starved some topics. Partitions are assigned by subscription-aware
 *   assigners (partition-assigners.ts), so members of one group in different processes may
 *   subscribe to different topics too.
 * - A change of topics ({@link add}, {@link remove}) replaces the kafkajs consumer with one that
 *   subscribes to the new set: one rejoin. Changes made while one is under way are applied
 *   together by the next, so `start()` with many topics joins once.
 * - A brand-new group (or a broadcast subscription) that starts at the latest offset has its start
 *   position pinned before it joins: the end offsets are read first and the consumer seeks there
 *   right after its first join, which commits them. kafkajs would otherwise resolve "latest"
 *   lazily at its first fetch and skip what was published in between. A pin is kept until the
 *   group has committed an offset on its partition, and the first batch of a pinned partition
 *   after each join is checked against it ({@link #startsPastPin}): on a cluster kafkajs can
 *   start a partition past its seek.
 * - A topic's `concurrency` above 1 gives key-level parallelism within each partition: its
 *   messages go through a {@link KeyedExecutor} (different keys at once, one key in offset order)
 *   and offsets are resolved only up to the lowest message not handled yet (partition-batch.ts).
 *   With concurrency 1 everywhere, each partition is one sequential stream, as kafkajs has it.
 * - When `deliver` rejects (the message could not even be dead-lettered), the record is not
 *   committed: a retriable error goes back to kafkajs, which fetches the partition again from the
 *   uncommitted offset, with backoff, and eventually crashes.
 * - A crashed consumer is started again here, with a backoff growing from 1 s to 30 s (kafkajs' own
 *   restart would retry every ~300 ms forever); a topic that disappeared is created again first.
 */
export class GroupConsumer {
  readonly group: string | null;
  readonly groupId: string;
  readonly #options: GroupConsumerOptions;
  /** The topics this member consumes, and where their messages go. */
  readonly #routes = new Map<string, Route>();
  /** Topics of a session that joined: their start position is settled (pinned or committed). */
  readonly #settledTopics = new Set<string>();
  /**
   * Start positions pinned for partitions the group had no committed offset on, kept until the
   * group has one: a session may end before kafkajs applied its seek, and kafkajs may start a
   * pinned partition elsewhere anyway (see {@link #startsPastPin}).
   */
  readonly #pins: StartPositions = new Map();
  /** Pinned partitions (`partition:topic`) whose first batch since the latest join was checked. */
  readonly #checkedSinceJoin = new Set<string>();
  readonly #runConfig: Omit<ConsumerRunConfig, 'partitionsConsumedConcurrently'>;
  #session: Session | null = null;
  #state: GroupConsumerState = 'joining';
  #assignment: Readonly<Record<string, readonly number[]>> = {};
  #crashes = 0;
  #consecutiveCrashes = 0;
  #lastCrashAt = 0;
  #lastError: string | undefined;
  #topicMissing = false;
  #restartTimer: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;
  /** Aborted when close() begins: ends the pause of a sync that tries a join again. */
  readonly #closed = new AbortController();
  /** The latest sync, never rejecting, and the one requested to run after it (not begun yet). */
  #lastSync: Promise<void> = Promise.resolve();
  #nextSync: Promise<void> | null = null;
  /** kafkajs `partitionsConsumedConcurrently` of the current session. */
  #partitionsAtOnce = 1;
  /** Messages being handed to `deliver` right now (several with `concurrency` > 1). */
  #running = 0;
  /** Deliveries completed so far, and the count the keep-alive saw at its last tick. */
  #completed = 0;
  #completedAtLastTick = 0;
  /** kafkajs' heartbeat of the latest batch (one heartbeat is for the whole member). */
  #heartbeat: (() => Promise<void>) | null = null;
  /** One timer per consumer that keeps its membership alive during long deliveries. */
  #keepAlive: NodeJS.Timeout | null = null;
  /** Set by the keep-alive every heartbeat interval: the batch loop heartbeats and commits. */
  #tickDue = false;
  /** Batches delivered with key-level parallelism, woken by the keep-alive to heartbeat and commit. */
  readonly #tickListeners = new Set<() => void>();

  constructor(options: GroupConsumerOptions) {
    this.#options = options;
    this.group = options.group;
    this.groupId = options.groupId;
    this.#runConfig = {
      autoCommit: true,
      autoCommitInterval: AUTO_COMMIT_INTERVAL_MS,
      // A batch loop of our own rather than eachMessage: kafkajs' eachMessage awaits a heartbeat
      // check and a commit check after every message, which cost a third of the consume rate.
      // Here each message is delivered, and the offset of the last one handled is resolved when
      // the batch ends (kafkajs commits resolved offsets after the batch) and whenever the
      // keep-alive timer says a heartbeat and a commit are due inside a long batch.
      eachBatchAutoResolve: false,
      // eslint-disable-next-line @typescript-eslint/unbound-method -- kafkajs hands plain closures in the batch payload, which do not use `this`
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        const { topic, partition } = batch;
        const { deliver, executor, concurrency } = this.#routes.get(topic) ?? noRoute;
        this.#heartbeat = heartbeat;
        if (this.#keepAlive === null) this.#startKeepAlive();
        // kafkajs' Batch keeps the offset it fetched from, which its type leaves out.
        const fetchedOffset = (batch as { readonly fetchedOffset?: string }).fetchedOffset ?? batch.firstOffset();
        if (fetchedOffset !== null && (await this.#startsPastPin(topic, partition, fetchedOffset))) return;
        const work: PartitionBatch = {
          topic,
          partition,
          messages: batch.messages,
          deliver,
          resolveOffset,
          isRunning,
          isStale,
          takeTick: () => {
            if (!this.#tickDue) return false;
            this.#tickDue = false;
            return true;
          },
          tick: async () => {
            await heartbeat();
            await commitOffsetsIfNecessary();
          },
          onTickDue: (listener) => {
            this.#tickListeners.add(listener);
            return () => this.#tickListeners.delete(listener);
          },
          began: () => void this.#running++,
          ended: () => {
            this.#running--;
            this.#completed++;
          },
        };
        // concurrency 1 with one partition at a time: in offset order; else key-level parallelism.
        const failure =
          executor !== null && (concurrency > 1 || this.#partitionsAtOnce > 1)
            ? await deliverKeyed(work, executor)
            : await deliverInOrder(work);
        if (failure !== null) throw this.#notAcknowledged(failure.error, topic, partition, failure.offset);
      },
    };
  }

  /**
   * Logs why a message was not acknowledged and returns the error that hands it back to kafkajs:
   * a retriable KafkaJSError, which kafkajs retries without logging it again (the partition is
   * fetched anew from the uncommitted offset after a backoff).
   */
  #notAcknowledged(error: unknown, topic: string, partition: number, offset: string): Error {
    const { logger, redact } = this.#options;
    const reason = describeError(error, redact);
    const where = `"${topic}" (partition ${partition}, offset ${offset})`;
    if (isMessagingError(error) && error.code === CONSUMER_CLOSED) {
      // Expected while stop() or unsubscribe closes the consumer: nothing went wrong.
      logger.debug(`A message from ${where} was not handled: the consumer is closing. It will be delivered again.`);
    } else {
      this.#lastError = reason;
      logger.warn(`A message from ${where} was not acknowledged: ${reason}. It will be delivered again.`);
    }
    return new KafkaJSError(`Redelivering offset ${offset} of ${topic}-${partition}: ${reason}`, { retriable: true });
  }

  /** The topics this member consumes. */
  get topics(): readonly string[] {
    return [...this.#routes.keys()];
  }

  /** A snapshot for `health()`. */
  get health(): GroupConsumerHealth {
    return {
      group: this.group,
      topics: this.topics,
      state: this.#state,
      assignment: this.#assignment,
      crashes: this.#crashes,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  /**
   * Consumes `topic` too, handing its messages to `deliver`, `concurrency` of them at once: with
   * more than 1, messages with different keys run at once even within one partition, messages
   * with one key one at a time in offset order (partition-batch.ts). Resolves once the member joined
   * the group with `topic` in its subscription: what is published afterwards is delivered.
   *
   * @throws {SubscribeError} when the consumer cannot join (the topic stays registered: call
   *   {@link remove}).
   */
  add(topic: string, deliver: Deliver, concurrency: number): Promise<void> {
    if (this.#closing !== null)
      return Promise.reject(new SubscribeError(`Cannot subscribe to "${topic}": the consumer is closed.`));
    this.#routes.set(topic, { deliver, concurrency, executor: new KeyedExecutor(concurrency) });
    return this.#requestSync();
  }

  /**
   * Stops consuming `topic`: forgotten at once (its messages are no longer delivered here), and
   * resolves once the member rejoined without it, or closed when it was the last topic. Never
   * rejects: a failed rejoin is retried with backoff.
   */
  async remove(topic: string): Promise<void> {
    if (!this.#routes.delete(topic)) return;
    if (this.#routes.size === 0) return this.close();
    await this.#requestSync().catch(() => undefined);
  }

  /**
   * Stops fetching, lets the messages being handled finish and commits them, leaves the group and
   * disconnects. A broadcast subscription's throwaway group is deleted. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === null) this.#closing = this.#close();
    return this.#closing;
  }

  /**
   * Gives up on a {@link close} that still waits for the broker (leaving the group or committing
   * while it is unreachable): when no delivery is running, the session's connections are closed at
   * once, so that kafkajs fails fast and nothing keeps the process alive. A delivery still running
   * is left alone: it finishes, and its commit is attempted.
   */
  abandon(): void {
    if (this.#running === 0) this.#session?.sockets.close();
  }

  /**
   * Runs a sync after the one under way, if any. Requests made before it begins share it: the
   * sync reads the topics when it begins.
   */
  #requestSync(): Promise<void> {
    if (this.#nextSync === null) {
      const next = this.#lastSync.then(() => {
        this.#nextSync = null;
        return this.#sync();
      });
      this.#nextSync = next;
      this.#lastSync = next.then(
        () => {
          this.#consecutiveCrashes = 0;
        },
        (error: unknown) => this.#syncFailed(error),
      );
    }
    return this.#nextSync;
  }

  /** A sync that adds topics (a subscribe waits for it) rides out retriable failures: see first-join.ts. */
  #sync(): Promise<void> {
    if ([...this.#routes.keys()].every((topic) => this.#settledTopics.has(topic))) return this.#syncOnce();
    const describe = (): string => this.#describe();
    return joinWithRetries(() => this.#syncOnce(), { ...this.#options, signal: this.#closed.signal, describe });
  }

  /** Replaces the session with one that subscribes to the current topics. */
  async #syncOnce(): Promise<void> {
    const closed = (): SubscribeError => new SubscribeError(`Cannot subscribe to ${this.#describe()}: the consumer was closed.`);
    if (this.#closing !== null) throw closed();
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    const topics = [...this.#routes.keys()];
    if (topics.length === 0) return;
    const recreate = this.#topicMissing;
    this.#topicMissing = false;
    await Promise.all(topics.map((topic) => this.#options.ensureTopic(topic, recreate)));
    // A topic created again starts afresh: its earlier pins point into the deleted one.
    if (recreate) this.#pins.clear();
    // New topics, and topics with pins the group may not have committed yet (kept, not read again).
    const pinTopics = topics.filter((t) => !this.#settledTopics.has(t) || this.#pins.has(t));
    const pins = this.#options.fromBeginning
      ? null
      : await uncommittedEndOffsets(
          this.#options.offsetsAdmin,
          // A throwaway group has no commits, unless an earlier session of this one made them.
          this.group === null && !pinTopics.some((t) => this.#pins.has(t)) ? null : this.groupId,
          pinTopics,
          this.#options.requestTimeoutMs,
          this.#pins,
        );
    for (const topic of pinTopics) {
      const pinned = pins?.get(topic);
      if (pinned === undefined) this.#pins.delete(topic);
      else this.#pins.set(topic, new Map(pinned));
    }
    if (this.#closing !== null) throw closed();

    await this.#closeSession();
    if (this.#closing !== null) throw closed();
    const session = this.#newSession(topics, pins);
    this.#session = session;
    this.#state = 'joining';
    this.#assignment = {};
    try {
      await session.consumer.connect();
      await session.consumer.subscribe({ topics, fromBeginning: this.#options.fromBeginning });
      // run() resolves after the first join and sync, or after a crash while joining.
      // Partitions handled at once: the largest concurrency of the group's topics, so that a
      // partition waiting for its slowest key does not hold up the others. Each topic's executor
      // bounds its own deliveries (a topic of concurrency 1 among them goes through its executor).
      this.#partitionsAtOnce = Math.max(1, ...[...this.#routes.values()].map((route) => route.concurrency));
      await session.consumer.run({ ...this.#runConfig, partitionsConsumedConcurrently: this.#partitionsAtOnce });
    } finally {
      session.opening = false;
      // close() began meanwhile: it may have closed this session already, else it is closed here.
      if (this.#closing !== null) await this.#closeSession();
    }
    if (this.#closing !== null) throw closed();
    if (!session.joined) {
      throw new SubscribeError(
        `Cannot subscribe to ${this.#describe()}: the consumer could not join the group (${this.#lastError ?? 'unknown error'}).`,
        { cause: session.crashError },
      );
    }
    for (const topic of topics) this.#settledTopics.add(topic);
    if (session.crashed) this.#scheduleRestart();
  }

  /** A sync failed: its callers get the error; a member that was consuming starts again later. */
  #syncFailed(error: unknown): void {
    this.#lastError = describeError(error, this.#options.redact);
    if (this.#closing !== null || this.#settledTopics.size === 0) return;
    this.#consecutiveCrashes++;
    this.#state = 'restarting';
    this.#scheduleRestart();
  }

  #newSession(topics: readonly string[], pins: Session['pins']): Session {
    const options = this.#options;
    const sockets = new SocketRegistry();
    const consumer = options.newClient(sockets.factory).consumer({
      groupId: options.groupId,
      partitionAssigners: options.partitionAssigners,
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: options.rebalanceTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTimeInMs: options.fetchMaxWaitMs,
      allowAutoTopicCreation: false,
      // kafkajs would restart a crashed consumer after a fixed ~300 ms, forever; restarts are
      // done here instead, with a growing backoff (see #scheduleRestart).
      retry: { ...options.retry, restartOnFailure: async () => false },
    });
    const session: Session = { consumer, sockets, topics, pins, joined: false, opening: true, crashed: false };
    const { GROUP_JOIN, CRASH, REBALANCING } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => this.#onJoin(session, payload.memberAssignment));
    consumer.on(REBALANCING, () => {
      if (this.#state === 'up' && session === this.#session) this.#state = 'rebalancing';
    });
    consumer.on(CRASH, ({ payload }) => this.#onCrash(session, payload.error));
    return session;
  }

  /**
   * True when the batch fetched from `fetchedOffset` of a pinned partition (see {@link #pins})
   * starts past where the group is, and the partition was sought back there (the batch is not
   * delivered: kafkajs fetches it again from there). Checked on the first batch of the partition
   * after each join.
   *
   * The seek made at the first join does not always hold on a cluster: kafkajs runs one fetcher
   * per broker, and the one that fetches first resolves the start offsets of every assigned
   * partition, the pinned ones led by other brokers included ("latest", as the group has no
   * committed offset yet). When that lookup is still under way as another fetcher applies the seek
   * (commits the pin and forgets the offset it knew), its answer lands afterwards and the partition
   * starts at the end offset of that moment: the messages published since `subscribe()` resolved
   * would be skipped. The group's committed offset tells the two apart: the partition must start
   * there, or at the pin when there is none.
   */
  async #startsPastPin(topic: string, partition: number, fetchedOffset: string): Promise<boolean> {
    const pinned = this.#pins.get(topic);
    const pin = pinned?.get(partition);
    const session = this.#session;
    const key = `${partition}:${topic}`;
    if (pin === undefined || session === null || this.#checkedSinceJoin.has(key)) return false;
    this.#checkedSinceJoin.add(key);
    if (BigInt(fetchedOffset) <= BigInt(pin)) return false;
    let target = pin;
    const { offsetsAdmin, requestTimeoutMs, sessionTimeoutMs, logger, redact } = this.#options;
    try {
      // Bounded well below the session timeout: no heartbeat is sent meanwhile.
      const timeoutMs = Math.min(requestTimeoutMs, Math.floor(sessionTimeoutMs / 2));
      const [entry] = await fetchCommittedOffsets(offsetsAdmin, this.groupId, [topic], timeoutMs);
      const committed = entry?.partitions.find((p) => p.partition === partition)?.offset;
      if (committed !== undefined && BigInt(committed) >= 0n) {
        // The group has a position of its own on this partition: the pin is done with.
        pinned!.delete(partition);
        if (pinned!.size === 0) this.#pins.delete(topic);
        target = committed;
      }
    } catch (error) {
      logger.debug(
        `Could not read the committed offset of "${topic}" partition ${partition} for group id "${this.groupId}" ` +
          `(${describeError(error, redact)}); starting it at its pinned offset ${pin}.`,
      );
    }
    if (BigInt(fetchedOffset) <= BigInt(target) || session !== this.#session) return false;
    logger.debug(
      `The Kafka consumer of group id "${this.groupId}" fetched "${topic}" partition ${partition} from offset ` +
        `${fetchedOffset}, past the group's position ${target}: seeking back to ${target}.`,
    );
    session.consumer.seek({ topic, partition, offset: target });
    return true;
  }

  /** A description for messages: the topics and the group. */
  #describe(): string {
    const topics = [...this.#routes.keys()].map((topic) => `"${topic}"`).join(', ') || 'no topic';
    return `${topics}${this.group === null ? '' : ` in group "${this.group}"`}`;
  }

  #onJoin(session: Session, assignment: Readonly<Record<string, readonly number[]>>): void {
    if (this.#closing !== null || session !== this.#session) {
      stopStraggler(session);
      return;
    }
    session.joined = true;
    this.#checkedSinceJoin.clear();
    const sorted: Record<string, number[]> = {};
    for (const [topic, partitions] of Object.entries(assignment)) sorted[topic] = [...partitions].sort((a, b) => a - b);
    this.#assignment = sorted;
    this.#state = 'up';
    // Runs synchronously inside kafkajs' join, before the first fetch: the seek is applied (and
    // committed) by that fetch. Only the first join: later ones find the committed offsets.
    const pins = session.pins;
    session.pins = null;
    if (pins === null) return;
    for (const [topic, partitions] of Object.entries(sorted)) {
      for (const partition of partitions) {
        const offset = pins.get(topic)?.get(partition);
        if (offset !== undefined) session.consumer.seek({ topic, partition, offset });
      }
    }
  }

  #onCrash(session: Session, error: Error): void {
    if (this.#closing !== null || session !== this.#session) {
      stopStraggler(session);
      return;
    }
    this.#crashes++;
    // A join can succeed and the next fetch crash again, so only a quiet spell resets the backoff.
    const now = Date.now();
    if (now - this.#lastCrashAt > BACKOFF_RESET_MS) this.#consecutiveCrashes = 0;
    this.#lastCrashAt = now;
    this.#consecutiveCrashes++;
    this.#lastError = describeError(error, this.#options.redact);
    this.#topicMissing = isUnknownTopic(error);
    this.#state = 'restarting';
    session.crashed = true;
    session.crashError = error;
    if (!session.opening) this.#scheduleRestart(); // else the sync that opens it reports it
  }

  #scheduleRestart(): void {
    if (this.#closing !== null || this.#restartTimer !== null) return;
    const delay = backoffDelay(RESTART_BACKOFF, this.#consecutiveCrashes);
    this.#options.logger.warn(
      `The Kafka consumer of ${this.#describe()} (group id "${this.groupId}") crashed: ${this.#lastError}. Restarting it in ${delay} ms.`,
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      // A failure is logged and scheduled again by #syncFailed.
      this.#requestSync().catch(() => undefined);
    }, delay);
  }

  /**
   * Starts the keep-alive: every `heartbeatIntervalMs`, it asks the batch loop to heartbeat and
   * commit after its current message, and if a delivery is running and none completed since the
   * previous tick, it heartbeats itself (a handler longer than the session timeout). One timer for the consumer's life rather than one
   * per message; it does not keep the process alive. Stopped by close().
   */
  #startKeepAlive(): void {
    if (this.#closing !== null) return;
    this.#keepAlive = setInterval(() => {
      this.#tickDue = true;
      for (const listener of this.#tickListeners) listener();
      const completed = this.#completed;
      const stalled = this.#running > 0 && completed === this.#completedAtLastTick;
      this.#completedAtLastTick = completed;
      if (stalled) void this.#heartbeat?.().catch(() => undefined);
    }, this.#options.heartbeatIntervalMs);
    this.#keepAlive.unref();
  }

  /**
   * Stops the session's fetching, waits for the messages being handled (the rest of their batch is
   * left for the next owner), commits, leaves the group and disconnects.
   */
  async #closeSession(): Promise<void> {
    const session = this.#session;
    if (session === null) return;
    this.#session = null;
    try {
      await session.consumer.disconnect();
    } catch (error) {
      this.#options.logger.warn(
        `Error while closing the Kafka consumer of ${this.#describe()} (group id "${this.groupId}"): ${describeError(error, this.#options.redact)}`,
      );
    }
    // Only now: disconnect() waited for the message being handled, which still needed heartbeats.
    this.#heartbeat = null;
    // kafkajs may have reopened a connection while leaving the group (see SocketRegistry).
    const stragglers = session.sockets.close();
    if (stragglers > 0) {
      this.#options.logger.debug(
        `Closed ${stragglers} connection(s) the Kafka consumer of group id "${this.groupId}" left open.`,
      );
    }
  }

  async #close(): Promise<void> {
    this.#state = 'closed';
    this.#closed.abort();
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    // A sync under way sees #closing at its next step and stops (closing the session it opened);
    // the session running now is closed at once, even while it is joining, so that close() is
    // not held up by a join that waits for an unreachable broker.
    await this.#closeSession();
    await this.#lastSync;
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
    if (this.group === null && this.#settledTopics.size > 0) {
      await this.#options.admin.deleteGroups([this.groupId]).catch((error: unknown) => {
        this.#options.logger.debug(
          `Could not delete the throwaway group "${this.groupId}": ${describeError(error, this.#options.redact)}`,
        );
      });
    }
  }
}

/**
 * kafkajs restarts a crashed consumer on a timer it sets right after emitting CRASH, and a
 * restart that was already joining completes after `stop()`. Either would bring a closed
 * session back; stop it again once kafkajs is done with the current step.
 */
function stopStraggler(session: Session): void {
  setImmediate(() => {
    session.consumer.disconnect().catch(() => undefined);
  });
}
