import type { Logger } from '@msgport/core';
import type { Deliver, KeyedExecutor, Redact } from '@msgport/core/adapter';
import type { Admin, Consumer, ISocketFactory, Kafka, PartitionAssigner, RetryOptions } from 'kafkajs';
import type { SocketRegistry } from './socket-registry.js';
import type { StartPositions } from './start-positions.js';

// The settings, health and internal records of a GroupConsumer (group-consumer.ts).

/** Settings of one {@link GroupConsumer}. */
export interface GroupConsumerOptions {
  /**
   * Creates the kafkajs client of one consumer session, with `socketFactory`: its own, so that
   * closing the session can close every connection it opened (see {@link SocketRegistry}).
   */
  readonly newClient: (socketFactory: ISocketFactory) => Kafka;
  /** Deletes the throwaway group of a broadcast subscription. */
  readonly admin: Admin;
  /** Reads committed and end offsets. */
  readonly offsetsAdmin: Admin;
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
  /** How long a subscribe tries again after retriable failures, and its option (first-join.ts). */
  readonly joinTimeout: { readonly ms: number; readonly option: string };
  readonly retry: RetryOptions;
  /** Subscription-aware assigners, in order of preference (see partition-assigners.ts). */
  readonly partitionAssigners: PartitionAssigner[];
  readonly logger: Logger;
  readonly redact: Redact;
  /**
   * Creates `topic` if it does not exist; with `recreate`, forgets that it was created before
   * (it disappeared: deleted, or a broker that lost its data).
   */
  readonly ensureTopic: (topic: string, recreate: boolean) => Promise<void>;
}

/** Where a consumer is in its life. */
export type GroupConsumerState = 'joining' | 'up' | 'rebalancing' | 'restarting' | 'closed';

/** What a consumer reports to `health()`. */
export interface GroupConsumerHealth {
  /** The msgport group, `null` for a broadcast subscription. */
  readonly group: string | null;
  /** The topics this member subscribes to. */
  readonly topics: readonly string[];
  readonly state: GroupConsumerState;
  /** The partitions assigned to this member, per topic. */
  readonly assignment: Readonly<Record<string, readonly number[]>>;
  readonly crashes: number;
  readonly lastError?: string;
}

/** Where the messages of one topic go. */
export interface Route {
  readonly deliver: Deliver;
  /** The subscription's `concurrency`: messages of the topic handled at once. */
  readonly concurrency: number;
  /**
   * Orders the topic's deliveries by key, bounded by `concurrency`; `null` for no route. Unused
   * when every partition is handled one message at a time anyway (concurrency 1 everywhere).
   */
  readonly executor: KeyedExecutor | null;
}

/** One kafkajs consumer: replaced by a new session whenever the set of topics changes. */
export interface Session {
  readonly consumer: Consumer;
  readonly sockets: SocketRegistry;
  readonly topics: readonly string[];
  /** Start positions to seek to at the first join: per topic, per partition. */
  pins: StartPositions | null;
  joined: boolean;
  /** True until the sync that opened it is done; a crash meanwhile is reported by that sync. */
  opening: boolean;
  crashed: boolean;
  /** What crashed it, if it did. */
  crashError?: Error;
}
