import type { MessageBrokerPort, MessageHandler } from '@msgport/core';
import type { Collector } from '../collect.js';
import type { ConformanceBrokerOverrides, ConformanceCapabilities } from '../run-conformance-suite.js';

/** What `runConformanceSuite()` hands to the case modules under `internal/`. */
export interface SuiteContext {
  readonly caps: ConformanceCapabilities;
  /** Deadline of each wait for a message. */
  readonly timeoutMs: number;
  /** How long the silence checks watch for deliveries that must not come. */
  readonly settleMs: number;
  /** A fresh broker from `createBroker`, not started; stopped after the test. */
  readonly newBroker: (overrides?: ConformanceBrokerOverrides) => Promise<MessageBrokerPort>;
  /** A fresh broker from `createInstance` (one more instance of the application), not started. */
  readonly newInstance: (overrides?: ConformanceBrokerOverrides) => Promise<MessageBrokerPort>;
  /** A fresh broker from `createBroker`, started. */
  readonly startedBroker: () => Promise<MessageBrokerPort>;
  /** A collector waiting up to `timeoutMs`; `onMessage` runs first on each message. */
  readonly recorder: (onMessage?: MessageHandler) => Collector;
  /** After `await publish()`: with `publishResolvesAfterHandling` the handler must already have run. */
  readonly expectHandledAfterPublish: (collector: Collector, count: number) => void;
  readonly until: <T>(predicate: () => T, description: string, deadlineMs?: number) => Promise<NonNullable<T>>;
  readonly deadLetterTopic: (topic: string, group: string | null) => string;
  /** Registers a case with the suite's test timeout, skipped when `enabled` is false. */
  readonly test: (name: string, fn: () => Promise<void>, enabled?: boolean) => void;
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** What `operation` rejects with; throws when it resolves. */
export async function rejectionOf(operation: Promise<unknown>): Promise<unknown> {
  try {
    await operation;
  } catch (error) {
    return error;
  }
  throw new Error('Expected the operation to reject, but it resolved.');
}
