import type { Logger } from '../logger.js';
import type { Message } from '../message.js';
import type { HealthStatus } from '../message-broker-port.js';
import type { RetryPolicyOptions } from '../retry-policy.js';

// The types of the agreement between MessageBrokerBase and the adapters built on it.

/** Options every adapter built on {@link MessageBrokerBase} accepts. */
export interface MessageBrokerBaseOptions {
  /** Default retry policy of every subscription. @default DEFAULT_RETRY_POLICY */
  readonly retry?: RetryPolicyOptions;
  /** How long `stop()` waits for in-flight handlers. @default 30000 */
  readonly shutdownTimeoutMs?: number;
  /**
   * Messages of one consumer (one group on one topic, or one broadcast subscription) handled at
   * once. Messages with the same key are never handled concurrently, whatever this is.
   * @default 1
   */
  readonly concurrency?: number;
  /** Where the broker logs. @default a console logger at level 'warn' */
  readonly logger?: Logger;
}

/** What an adapter is asked to consume: one (topic, group), or one broadcast subscription. */
export interface ConsumerSpec {
  readonly topic: string;
  /** `null` for a broadcast subscription: the consumer must receive every message on its own. */
  readonly group: string | null;
  /** Unique per consumer in this process; for broadcast consumers, unique per subscription. */
  readonly id: string;
  /**
   * Messages of this consumer handled at once (the subscription's `concurrency`, else the
   * broker's). Core enforces it itself unless {@link MessageBrokerBase.transportOrdersDeliveries};
   * an adapter that orders deliveries itself should hand over at most this many at once.
   */
  readonly concurrency: number;
}

/**
 * Hands a received message to core: resolves once the message has been handled or dead-lettered,
 * so the adapter may acknowledge or commit it; rejects when it must not be acknowledged (it will
 * be redelivered).
 */
export type Deliver = (message: Message) => Promise<void>;

/** An open consumer, as returned by {@link MessageBrokerBase.openConsumer}. */
export interface ConsumerHandle {
  /**
   * Stops taking new messages and releases the consumer. Deliveries already handed to core may
   * still finish (and must still be acknowledged if the connection allows).
   */
  close(): Promise<void>;
}

/** What {@link MessageBrokerBase.checkHealth} reports while running. */
export interface AdapterHealth {
  readonly status: Extract<HealthStatus, 'up' | 'degraded' | 'down'>;
  readonly details?: Readonly<Record<string, unknown>>;
}
