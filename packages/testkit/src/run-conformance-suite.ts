import { afterEach, describe, expect, it } from '@jest/globals';
import { InvalidArgumentError, waitFor, type MessageBrokerPort, type MessageHandler } from '@msgport/core';
import { collect, type Collector } from './collect.js';
import { describeConcurrencyCases } from './internal/concurrency-cases.js';
import { describeIssue12Cases } from './internal/issue-12-cases.js';
import { describeLifecycleCases } from './internal/lifecycle-cases.js';
import { describeNestedPublish } from './internal/nested-publish-cases.js';
import { describeOrderingCases } from './internal/ordering-cases.js';
import { describeRetryCases } from './internal/retry-cases.js';
import { describeRoundTripCases } from './internal/round-trip-cases.js';
import { describeRoutingCases } from './internal/routing-cases.js';
import { describeStrictCases, FULL_SIZES, SHORT_SIZES } from './internal/strict-cases.js';
import { describeShutdownSignalCases } from './internal/shutdown-signal-cases.js';
import type { SuiteContext } from './internal/suite-context.js';
import { describeThrownValueCases } from './internal/thrown-value-cases.js';

/** What an adapter supports; a `false` flag skips (never deletes) the cases that need it. */
export interface ConformanceCapabilities {
  /** A failing handler is retried under the subscription's retry policy (C5). */
  readonly retry: boolean;
  /** After the last attempt the message reaches the dead-letter destination (C5). */
  readonly deadLetter: boolean;
  /** Same key, same group: one at a time, in publish order (C6). */
  readonly ordering: boolean;
  /** `stop()` waits for in-flight handlers (C7). */
  readonly drainOnStop: boolean;
  /** `start()` after `stop()` works, and subscriptions resume (C7). */
  readonly restart: boolean;
  /**
   * `await publish()` resolves only after every target handler ran (the in-memory broker). When
   * true, the suite also checks that no waiting is needed after `publish()`.
   */
  readonly publishResolvesAfterHandling: boolean;
  /**
   * A group's messages wait in the broker while none of its members runs, and a member started
   * later receives them (durable groups: Kafka, RabbitMQ). False for brokers that keep nothing
   * once the last member stopped.
   */
  readonly durableGroups: boolean;
  /**
   * Instances from `createInstance` share one broker: what one publishes, the others' subscriptions
   * receive, and one group spans them. False for a broker that lives inside one instance (the
   * in-memory broker); the cases that need several instances are then skipped.
   */
  readonly sharedInstances: boolean;
}

/** Every capability on except {@link ConformanceCapabilities.publishResolvesAfterHandling}. */
export const DEFAULT_CAPABILITIES: Readonly<ConformanceCapabilities> = Object.freeze({
  retry: true,
  deadLetter: true,
  ordering: true,
  drainOnStop: true,
  restart: true,
  publishResolvesAfterHandling: false,
  durableGroups: true,
  sharedInstances: true,
});

/**
 * Settings a case needs on the brokers it asks for, passed to `createBroker` and `createInstance`:
 * apply them to the broker's options.
 */
export interface ConformanceBrokerOverrides {
  /**
   * The broker's `shutdownTimeoutMs`: the shutdown-signal case asks for a short one, so that
   * `stop()` reaches it while a handler still runs.
   */
  readonly shutdownTimeoutMs?: number;
}

/** Options of {@link runConformanceSuite}. */
export interface ConformanceSuiteOptions {
  /** Adapter name, used in `describe()`. */
  readonly name: string;
  /**
   * Returns a fresh broker that is NOT started, once per test. The suite starts it and always
   * stops it (in `afterEach`), whatever the test's outcome. Apply `overrides` when given (spread
   * them over the broker's options): a case that sets one relies on it.
   */
  createBroker(overrides?: ConformanceBrokerOverrides): MessageBrokerPort | Promise<MessageBrokerPort>;
  /**
   * Returns a fresh broker that is NOT started, as one more instance of the same application (its
   * own connections to the same broker): the order-across-instances case runs several, all in one
   * group. Configure it so that instances of a group can share work, e.g. Kafka topics with
   * several partitions (`numPartitions`). The suite starts and stops them. Apply `overrides` as
   * `createBroker` does.
   * @default createBroker
   */
  createInstance?(overrides?: ConformanceBrokerOverrides): MessageBrokerPort | Promise<MessageBrokerPort>;
  /**
   * Where the adapter dead-letters messages of `topic` failed in `group` (e.g. `<topic>.DLT`).
   * The suite reads dead letters by subscribing to that topic through the port with a group.
   */
  deadLetterTopic(topic: string, group: string | null): string;
  /** What the adapter supports. @default DEFAULT_CAPABILITIES */
  readonly capabilities?: Partial<ConformanceCapabilities>;
  /** Deadline of each wait for a message. @default 10000 */
  readonly timeoutMs?: number;
  /** Jest timeout of each test. @default 60000 */
  readonly testTimeoutMs?: number;
  /**
   * Volumes of the strict cases: `short` (what `npm test` runs) or `full` (Watermill's sizes:
   * 5,000 messages from 50 publishers, 10,000 across broker restarts …).
   * @default process.env.MSGPORT_CONFORMANCE_SIZES, else 'short'
   */
  readonly sizes?: 'short' | 'full';
  /**
   * Restarts the broker under test (stop, then start on the same data) and resolves once it
   * serves again. When given, the broker-restart case runs: messages keep flowing across two
   * restarts and every resolved publish must arrive.
   */
  restartBroker?(): Promise<void>;
  /** How long the silence checks watch for deliveries that must not come. @default 1000 */
  readonly settleMs?: number;
}

type Test = () => Promise<void>;

/**
 * Registers the msgport conformance suite (contract C1–C12) with Jest: call it at the top level of
 * a test file. Every test uses fresh topic and group names from {@link uniqueName}, waits with a
 * deadline instead of sleeping, and stops every broker it created.
 *
 * ```ts
 * runConformanceSuite({
 *   name: 'InMemoryMessageBroker',
 *   createBroker: () => new InMemoryMessageBroker(),
 *   deadLetterTopic: (topic) => `${topic}.DLT`,
 *   capabilities: { publishResolvesAfterHandling: true },
 * });
 * ```
 *
 * @throws {InvalidArgumentError} when an option is missing or has the wrong type.
 */
export function runConformanceSuite(options: ConformanceSuiteOptions): void {
  validateOptions(options);
  const caps: ConformanceCapabilities = { ...DEFAULT_CAPABILITIES, ...stripUndefined(options.capabilities ?? {}) };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const testTimeoutMs = options.testTimeoutMs ?? 60_000;
  const sizesName = options.sizes ?? sizesFromEnv();
  const settleMs = options.settleMs ?? 1_000;
  const opened: MessageBrokerPort[] = [];

  const test = (name: string, fn: Test, enabled = true): void => {
    (enabled ? it : it.skip)(name, fn, testTimeoutMs);
  };

  const newBroker = async (overrides?: ConformanceBrokerOverrides): Promise<MessageBrokerPort> => {
    const broker = await createWith(options.createBroker.bind(options), overrides);
    opened.push(broker);
    return broker;
  };

  const newInstance = async (overrides?: ConformanceBrokerOverrides): Promise<MessageBrokerPort> => {
    const broker = await (options.createInstance === undefined
      ? createWith(options.createBroker.bind(options), overrides)
      : createWith(options.createInstance.bind(options), overrides));
    opened.push(broker);
    return broker;
  };

  const startedBroker = async (): Promise<MessageBrokerPort> => {
    const broker = await newBroker();
    await broker.start();
    return broker;
  };

  const recorder = (onMessage?: MessageHandler): Collector =>
    collect(onMessage === undefined ? { timeoutMs } : { timeoutMs, onMessage });

  /** After `await publish()`: with publishResolvesAfterHandling the handler must already have run. */
  const expectHandledAfterPublish = (collector: Collector, count: number): void => {
    if (caps.publishResolvesAfterHandling) expect(collector.count).toBeGreaterThanOrEqual(count);
  };

  const until = <T>(predicate: () => T, description: string, deadlineMs = timeoutMs): Promise<NonNullable<T>> =>
    waitFor(predicate, { timeoutMs: deadlineMs, description });

  describe(`${options.name} conformance`, () => {
    afterEach(async () => {
      const brokers = opened.splice(0);
      const results = await Promise.allSettled(brokers.map((broker) => broker.stop()));
      const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
    }, testTimeoutMs);

    const context: SuiteContext = {
      caps,
      timeoutMs,
      settleMs,
      newBroker,
      newInstance,
      startedBroker,
      recorder,
      expectHandledAfterPublish,
      until,
      deadLetterTopic: (topic, group) => options.deadLetterTopic(topic, group),
      test,
    };
    describeRoundTripCases(context);
    describeRoutingCases(context);
    describeOrderingCases(context);
    describeRetryCases(context);
    describeLifecycleCases(context);
    describeShutdownSignalCases(context);
    describeNestedPublish({ caps, startedBroker, until, test });
    describeStrictCases({
      caps,
      sizes: sizesName === 'full' ? FULL_SIZES : SHORT_SIZES,
      timeoutMs,
      settleMs,
      newInstance,
      startedBroker,
      deadLetterTopic: (topic, group) => options.deadLetterTopic(topic, group),
      restartBroker: options.restartBroker === undefined ? undefined : () => options.restartBroker!.call(options),
      until,
      // Many instances, rebalances and restarts: up to 5 minutes each (full sizes take longer).
      test: (name, fn, enabled = true) =>
        (enabled ? it : it.skip)(name, fn, Math.max(testTimeoutMs, sizesName === 'full' ? 600_000 : 300_000)),
    });
    describeIssue12Cases({
      caps,
      startedBroker,
      newBroker,
      recorder,
      until,
      deadLetterTopic: (topic, group) => options.deadLetterTopic(topic, group),
      test,
    });
    describeConcurrencyCases({ caps, startedBroker, until, test });
    describeThrownValueCases({
      createBroker: () => options.createBroker(),
      deadLetterTopic: (topic, group) => options.deadLetterTopic(topic, group),
      test,
      enabled: caps.deadLetter,
      publishResolvesAfterHandling: caps.publishResolvesAfterHandling,
      timeoutMs,
      testTimeoutMs,
    });
  });
}

function validateOptions(options: ConformanceSuiteOptions): void {
  const problems: string[] = [];
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('runConformanceSuite() needs an options object { name, createBroker, deadLetterTopic }.');
  }
  if (typeof options.name !== 'string' || options.name.length === 0) problems.push('name must be a non-empty string');
  if (typeof options.createBroker !== 'function') problems.push('createBroker must be a function');
  if (typeof options.deadLetterTopic !== 'function') problems.push('deadLetterTopic must be a function');
  if (options.createInstance !== undefined && typeof options.createInstance !== 'function') {
    problems.push('createInstance must be a function when given');
  }
  if (options.restartBroker !== undefined && typeof options.restartBroker !== 'function') {
    problems.push('restartBroker must be a function when given');
  }
  if (options.sizes !== undefined && options.sizes !== 'short' && options.sizes !== 'full') {
    problems.push(`sizes must be 'short' or 'full', got ${JSON.stringify(options.sizes)}`);
  }
  for (const field of ['timeoutMs', 'testTimeoutMs', 'settleMs'] as const) {
    const value = options[field];
    if (value !== undefined && !(typeof value === 'number' && value > 0)) problems.push(`${field} must be a number > 0`);
  }
  if (problems.length > 0) throw new InvalidArgumentError(`runConformanceSuite(): ${problems.join('; ')}.`);
}

function sizesFromEnv(): 'short' | 'full' {
  const value = process.env['MSGPORT_CONFORMANCE_SIZES'];
  if (value === undefined || value === '' || value === 'short') return 'short';
  if (value === 'full') return 'full';
  throw new InvalidArgumentError(`MSGPORT_CONFORMANCE_SIZES must be 'short' or 'full', got "${value}".`);
}

/** Calls `create` with `overrides`, or with no argument when there are none (as before overrides existed). */
function createWith(
  create: (overrides?: ConformanceBrokerOverrides) => MessageBrokerPort | Promise<MessageBrokerPort>,
  overrides: ConformanceBrokerOverrides | undefined,
): MessageBrokerPort | Promise<MessageBrokerPort> {
  return overrides === undefined ? create() : create(overrides);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
