import { randomUUID } from 'node:crypto';
import type { Logger } from '@msgport/core';
import type { ConsumerHandle, ConsumerSpec, Deliver, Redact } from '@msgport/core/adapter';
import type { PartitionAssigner } from 'kafkajs';
import type { KafkaConnection } from './connection.js';
import { toSubscribeError } from './errors.js';
import { GroupConsumer, type GroupConsumerHealth } from './group-consumer.js';
import { CLIENT_RETRY, type ResolvedOptions } from './options.js';

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

/**
 * Subscriptions → kafkajs consumers: one {@link GroupConsumer} per group (every topic of the group
 * in this process), one per broadcast subscription (a throwaway group).
 */
export class Subscriptions {
  readonly #settings: SubscriptionsOptions;
  /** Every open consumer: one per group, one per broadcast subscription. */
  readonly #consumers = new Set<GroupConsumer>();
  /** The consumer of each group. */
  readonly #groups = new Map<string, GroupConsumer>();

  constructor(settings: SubscriptionsOptions) {
    this.#settings = settings;
  }

  /** What each consumer reports to `health()`. */
  get health(): GroupConsumerHealth[] {
    return [...this.#consumers].map((consumer) => consumer.health);
  }

  /** Delivers the messages of `spec.topic` (for `spec.group`) to `deliver`, once joined. */
  async open(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle> {
    const what = `"${spec.topic}"${spec.group === null ? '' : ` in group "${spec.group}"`}`;
    const connection = this.#settings.connection(`subscribe to ${what}`);
    // One membership per group: every topic of a group in this process shares one kafkajs
    // consumer. A broadcast subscription has a throwaway group of its own.
    let consumer = spec.group === null ? undefined : this.#groups.get(spec.group);
    if (consumer === undefined) {
      consumer = this.#newGroupConsumer(connection, spec.group);
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
      throw toSubscribeError(error, what, this.#settings.redact);
    }
    return { close: leave };
  }

  /**
   * Gives up on the consumers still open (stop() ran out of time, or the brokers are unreachable).
   * Their close is not awaited: kafkajs commits and leaves once a running handler finishes, never
   * interrupting it; a consumer with no handler running gives up on the broker at once.
   */
  abandonAll(): void {
    for (const consumer of this.#consumers) {
      void consumer.close();
      consumer.abandon();
    }
    this.#consumers.clear();
    this.#groups.clear();
  }

  #newGroupConsumer(connection: KafkaConnection, group: string | null): GroupConsumer {
    const { options, assigners, logger, redact } = this.#settings;
    return new GroupConsumer({
      newClient: (socketFactory) => connection.newConsumerClient(socketFactory),
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
