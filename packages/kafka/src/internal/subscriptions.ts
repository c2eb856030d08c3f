import { randomUUID } from 'node:crypto';
import type { Logger } from '@msgport/core';
import { settledBefore, type ConsumerHandle, type ConsumerSpec, type Deliver, type Redact } from '@msgport/core/adapter';
import type { PartitionAssigner } from 'kafkajs';
import type { KafkaConnection } from './connection.js';
import { toSubscribeError } from './errors.js';
import { GroupConsumer, type GroupConsumerHealth } from './group-consumer.js';
import { CLIENT_RETRY, type ResolvedOptions } from './options.js';
import { SocketRegistry } from './socket-registry.js';

/** What {@link Subscriptions} needs. */
export interface SubscriptionsOptions {
  readonly options: ResolvedOptions;
  readonly assigners: PartitionAssigner[];
  readonly logger: Logger;
  readonly redact: Redact;
  /**
   * The running connection.
   * @throws {BrokerStateError} when the adapter is not connected (`operation` names what was refused).
   */
  readonly connection: (operation: string) => KafkaConnection;
}

/** A consumer's sockets (all its kafkajs clients) and the deliveries it is running. */
interface Tracked {
  readonly sockets: SocketRegistry;
  running: number;
}

/**
 * Subscriptions → kafkajs consumers: one {@link GroupConsumer} per group (every topic of the group
 * in this process), one per broadcast subscription (a throwaway group).
 */
export class Subscriptions {
  readonly #settings: SubscriptionsOptions;
  /**
   * Every open consumer (one per group, one per broadcast subscription), with the sockets of all
   * its kafkajs clients.
   */
  readonly #consumers = new Map<GroupConsumer, Tracked>();
  /** Consumers left without topics, until their close() ends (abandonAll gives up on them too). */
  readonly #closing = new Map<GroupConsumer, Tracked>();
  /** The closing of the consumers {@link abandonAll} gave up on, until it ends. */
  readonly #abandoned = new Set<Promise<void>>();
  /** The consumer of each group. */
  readonly #groups = new Map<string, GroupConsumer>();

  constructor(settings: SubscriptionsOptions) {
    this.#settings = settings;
  }

  /** What each consumer reports to `health()`. */
  get health(): GroupConsumerHealth[] {
    return [...this.#consumers.keys()].map((consumer) => consumer.health);
  }

  /** Delivers the messages of `spec.topic` (for `spec.group`) to `deliver`, once joined. */
  async open(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle> {
    const what = `"${spec.topic}"${spec.group === null ? '' : ` in group "${spec.group}"`}`;
    const connection = this.#settings.connection(`subscribe to ${what}`);
    // One membership per group: every topic of a group in this process shares one kafkajs
    // consumer. A broadcast subscription has a throwaway group of its own.
    let member = spec.group === null ? undefined : this.#groups.get(spec.group);
    let tracked = member === undefined ? undefined : this.#consumers.get(member);
    if (member === undefined || tracked === undefined) {
      tracked = { sockets: new SocketRegistry(), running: 0 };
      member = this.#newGroupConsumer(connection, tracked.sockets, spec.group);
      this.#consumers.set(member, tracked);
      if (spec.group !== null) this.#groups.set(spec.group, member);
    }
    const consumer = member;
    const entry = tracked;
    const leave = async (): Promise<void> => {
      const left = consumer.remove(spec.topic);
      // remove() forgets the topic at once: a consumer left without topics is closing, and a
      // new subscription of its group gets a new one.
      if (consumer.topics.length === 0 && this.#consumers.delete(consumer)) {
        if (spec.group !== null && this.#groups.get(spec.group) === consumer) this.#groups.delete(spec.group);
        this.#closing.set(consumer, entry);
        const closed = (): void => void this.#closing.delete(consumer);
        void left.then(closed, closed);
      }
      await left;
    };
    // Deliveries running, counted: abandonAll() leaves a consumer that runs one to finish it.
    const ended = (): void => void entry.running--;
    const counted: Deliver = (message) => {
      entry.running++;
      const delivered = deliver(message);
      void delivered.then(ended, ended);
      return delivered;
    };
    try {
      await consumer.add(spec.topic, counted, spec.concurrency);
    } catch (error) {
      await leave();
      throw toSubscribeError(error, what, this.#settings.redact);
    }
    return { close: leave };
  }

  /**
   * Gives up on the consumers still open or closing (stop() ran out of time: handlers still
   * running, or brokers unreachable so that they cannot leave their groups). A consumer with no
   * handler running has every connection of its kafkajs clients closed, and any it opens later
   * closed at once: kafkajs gives up within its retry budget instead of waiting for the brokers,
   * and cannot reconnect when they come back. A consumer whose handler still runs is left to
   * finish it and commit. Their closing is tracked until it ends: see {@link whenAbandonedClosed}.
   */
  abandonAll(): void {
    for (const [consumer, { sockets, running }] of [...this.#consumers, ...this.#closing]) {
      const closed = consumer.close();
      consumer.abandon();
      if (running === 0) sockets.close();
      this.#abandoned.add(closed);
      const ended = (): void => void this.#abandoned.delete(closed);
      void closed.then(ended, ended);
    }
    this.#consumers.clear();
    this.#closing.clear();
    this.#groups.clear();
  }

  /**
   * Resolves once every consumer {@link abandonAll} gave up on finished closing (kafkajs gave up
   * its retries, nothing of it runs any more), or at `deadline`: true when none is left.
   */
  async whenAbandonedClosed(deadline: number): Promise<boolean> {
    while (this.#abandoned.size > 0) {
      if (!(await settledBefore(Promise.all(this.#abandoned), deadline))) return false;
    }
    return true;
  }

  #newGroupConsumer(connection: KafkaConnection, sockets: SocketRegistry, group: string | null): GroupConsumer {
    const { options, assigners, logger, redact } = this.#settings;
    return new GroupConsumer({
      newClient: (socketFactory) => connection.newConsumerClient(sockets.wrap(socketFactory)),
      admin: connection.admin,
      offsetsAdmin: connection.offsetsAdmin,
      group,
      groupId: group ?? `${options.clientId}-broadcast-${randomUUID()}`,
      // A broadcast subscription receives what is published while it is subscribed, never history.
      fromBeginning: group !== null && options.fromBeginning,
      sessionTimeoutMs: options.sessionTimeoutMs,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      fetchMaxWaitMs: options.fetchMaxWaitMs,
      requestTimeoutMs: options.requestTimeoutMs,
      joinTimeout: { ms: options.connectionTimeoutMs, option: 'connectionTimeoutMs' },
      retry: CLIENT_RETRY,
      partitionAssigners: assigners,
      logger,
      redact,
      ensureTopic: async (topic, recreate) => {
        const current = this.#settings.connection(`subscribe to "${topic}"`);
        if (recreate) current.topics.forget(topic);
        try {
          await current.topics.ensure(topic);
        } catch (error) {
          throw toSubscribeError(error, `"${topic}": the topic could not be created`, redact);
        }
      },
    });
  }
}
