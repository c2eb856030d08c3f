import { setTimeout as delay } from 'node:timers/promises';
import { settleWithin, TimeoutExpiredError } from '@msgport/core/adapter';
import type { Admin } from 'kafkajs';
import { isRetriableSendError } from './errors.js';
import { publishRetryDelayMs, type ResolvedOptions } from './options.js';
import { UnansweredError } from './publish-batcher.js';
import { waitUntilServing } from './retry-transient.js';

/** A non-retriable failure to create a topic before publishing to it. */
export class TopicCreationError extends Error {
  constructor(cause: unknown) {
    super('the topic could not be created', { cause });
  }
}

/**
 * The topics one connection created (or found), with `numPartitions`, `replicationFactor` and
 * `minInsyncReplicas` (dead-letter topics included: they are created like any other).
 */
export class TopicAdmin {
  readonly #options: ResolvedOptions;
  /**
   * Creates topics: operations that never add topics to the client's metadata (see the
   * connection's `admin`).
   */
  readonly #admin: Admin;
  /** Reads end offsets (copes with vanished topics). */
  readonly #offsetsAdmin: Admin;
  /** Aborted when the connection closes: waits for an outage to end give up. */
  readonly #signal: AbortSignal;
  readonly #topics = new Map<string, Promise<void>>();
  /** Topics of {@link #topics} whose creation succeeded: publishing to them skips the wait. */
  readonly #readyTopics = new Set<string>();

  constructor(options: ResolvedOptions, admin: Admin, offsetsAdmin: Admin, signal: AbortSignal) {
    this.#options = options;
    this.#admin = admin;
    this.#offsetsAdmin = offsetsAdmin;
    this.#signal = signal;
  }

  /** True once `topic` was created (or found) by this connection. */
  isReady(topic: string): boolean {
    return this.#readyTopics.has(topic);
  }

  /**
   * Creates `topic` if this client has not yet, trying again on retriable failures (brokers
   * unreachable) until `deadline` or until the adapter stops: then an {@link UnansweredError}.
   */
  async ready(topic: string, deadline: number): Promise<void> {
    if (this.#readyTopics.has(topic)) return;
    const signal = this.#signal;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw new UnansweredError('closed', false, lastError);
      try {
        await settleWithin(this.ensure(topic), deadline - Date.now(), { signal });
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

  /** The next publish or subscribe creates `topic` again (it vanished from the broker). */
  forget(topic: string): void {
    this.#topics.delete(topic);
    this.#readyTopics.delete(topic);
  }

  /** Forgets every topic: the connection closed. */
  clear(): void {
    this.#topics.clear();
    this.#readyTopics.clear();
  }

  /** Creates `topic` once (concurrent callers share the attempt); a failure is forgotten. */
  ensure(topic: string): Promise<void> {
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
        const isNew = await this.#admin.createTopics({
          topics: [{ topic, numPartitions, replicationFactor, configEntries }],
          waitForLeaders: false,
          timeout: requestTimeoutMs,
        });
        if (isNew) await waitUntilServing(this.#offsetsAdmin, topic, numPartitions, requestTimeoutMs);
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
}
