import { afterEach, describe, expect, it } from '@jest/globals';
import {
  DeadLetterHeaders,
  InvalidArgumentError,
  isMessagingError,
  MESSAGE_ID_HEADER,
  waitFor,
  type Message,
  type MessageBrokerPort,
  type MessageHandler,
  type Payload,
} from '@msgport/core';
import { collect, type Collector } from './collect.js';
import { describeConcurrencyCases } from './internal/concurrency-cases.js';
import { deferred, delay } from './internal/deferred.js';
import { describeNestedPublish } from './internal/nested-publish-cases.js';
import { describeStrictCases, FULL_SIZES, SHORT_SIZES } from './internal/strict-cases.js';
import { describeIssue12Cases } from './internal/issue-12-cases.js';
import { describeThrownValueCases } from './internal/thrown-value-cases.js';
import { UUID_V7 } from './internal/uuid-v7.js';
import { uniqueName } from './unique-name.js';

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

/** Options of {@link runConformanceSuite}. */
export interface ConformanceSuiteOptions {
  /** Adapter name, used in `describe()`. */
  readonly name: string;
  /**
   * Returns a fresh broker that is NOT started, once per test. The suite starts it and always
   * stops it (in `afterEach`), whatever the test's outcome.
   */
  createBroker(): MessageBrokerPort | Promise<MessageBrokerPort>;
  /**
   * Returns a fresh broker that is NOT started, as one more instance of the same application (its
   * own connections to the same broker): the order-across-instances case runs several, all in one
   * group. Configure it so that instances of a group can share work, e.g. Kafka topics with
   * several partitions (`numPartitions`). The suite starts and stops them.
   * @default createBroker
   */
  createInstance?(): MessageBrokerPort | Promise<MessageBrokerPort>;
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

  const newBroker = async (): Promise<MessageBrokerPort> => {
    const broker = await options.createBroker();
    opened.push(broker);
    return broker;
  };

  const newInstance = async (): Promise<MessageBrokerPort> => {
    const broker = await (options.createInstance ?? options.createBroker).call(options);
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

    describe('round-trip (C1, C2, C8)', () => {
      test('delivers binary values, binary keys and Unicode headers exactly as published', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-roundtrip');
        const received = recorder();
        await broker.subscribe(topic, received.handler, uniqueName('g'));

        const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const key = Buffer.from([0, 255, 1, 128, 10, 13]);
        const headers = {
          'x-ascii': 'plain',
          'x-non-ascii': 'Grüße, ñandú, 日本語, Ελληνικά',
          'x-emoji': '🚀✨👩‍💻',
          'x-empty': '',
          'Content-Type': 'application/octet-stream',
        };
        await broker.publish(topic, value, { key, headers });
        expectHandledAfterPublish(received, 1);

        const [message] = await received.waitForCount(1);
        expect(message!.topic).toBe(topic);
        expect(Buffer.isBuffer(message!.value)).toBe(true);
        expect(message!.value.equals(value)).toBe(true);
        expect(Buffer.isBuffer(message!.key)).toBe(true);
        expect(message!.key!.equals(key)).toBe(true);
        expect({ ...message!.headers }).toEqual({ ...headers, [MESSAGE_ID_HEADER]: expect.stringMatching(UUID_V7) });
      });

      test('delivers a message published without a key with key null', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-nokey');
        const received = recorder();
        await broker.subscribe(topic, received.handler, uniqueName('g'));

        await broker.publish(topic, 'no key');
        await broker.publish(topic, 'explicit null key', { key: null });

        const messages = await received.waitForCount(2);
        expect(messages.map((message) => message.key)).toEqual([null, null]);
        // Nothing but the message id publish() adds (C11).
        expect(messages.map((message) => ({ ...message.headers }))).toEqual([
          { [MESSAGE_ID_HEADER]: messages[0]!.id },
          { [MESSAGE_ID_HEADER]: messages[1]!.id },
        ]);
      });

      test('encodes string values and keys as UTF-8 and delivers them as Buffers', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-utf8');
        const received = recorder();
        await broker.subscribe(topic, received.handler, uniqueName('g'));

        await broker.publish(topic, 'héllo wörld 🌍', { key: 'clé-🔑' });

        const [message] = await received.waitForCount(1);
        expect(Buffer.isBuffer(message!.value)).toBe(true);
        expect(message!.value.equals(Buffer.from('héllo wörld 🌍', 'utf8'))).toBe(true);
        expect(Buffer.isBuffer(message!.key)).toBe(true);
        expect(message!.key!.equals(Buffer.from('clé-🔑', 'utf8'))).toBe(true);
      });

      test('publishes exactly the bytes of a Uint8Array view, and later changes to it do not alter the message', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-view');
        const received = recorder();
        await broker.subscribe(topic, received.handler, uniqueName('g'));

        const backing = new Uint8Array([9, 9, 9, 1, 2, 3, 4, 9, 9]);
        const value = backing.subarray(3, 7);
        const key = new Uint8Array(backing.buffer, 1, 2);
        await broker.publish(topic, value, { key });
        backing.fill(0);

        const [message] = await received.waitForCount(1);
        expect([...message!.value]).toEqual([1, 2, 3, 4]);
        expect([...message!.key!]).toEqual([9, 9]);
      });

      test('delivers an empty value as an empty Buffer', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-empty');
        const received = recorder();
        await broker.subscribe(topic, received.handler, uniqueName('g'));

        await broker.publish(topic, new Uint8Array(0));
        await broker.publish(topic, '');

        const messages = await received.waitForCount(2);
        for (const message of messages) {
          expect(Buffer.isBuffer(message.value)).toBe(true);
          expect(message.value.length).toBe(0);
        }
      });

      test('delivers frozen messages whose headers and metadata are frozen too', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-frozen');
        const received = recorder();
        await broker.subscribe(topic, received.handler);

        await broker.publish(topic, 'v', { headers: { a: 'b' } });

        const [message] = await received.waitForCount(1);
        expect(Object.isFrozen(message)).toBe(true);
        expect(Object.isFrozen(message!.headers)).toBe(true);
        expect(Object.isFrozen(message!.metadata)).toBe(true);
        // Transport facts (attempt, partition, offset …) belong in metadata, never in headers.
        expect({ ...message!.headers }).toEqual({ a: 'b', [MESSAGE_ID_HEADER]: message!.id });
      });

      test('publish() to a topic nobody subscribes to resolves', async () => {
        const broker = await startedBroker();
        await expect(broker.publish(uniqueName('msgport-nobody'), 'unheard')).resolves.toBeUndefined();
      });

      test(
        'publish() resolves only after the handler ran',
        async () => {
          const broker = await startedBroker();
          const topic = uniqueName('msgport-sync');
          const group = uniqueName('g');
          const order: string[] = [];
          await broker.subscribe(
            topic,
            async (message) => {
              await Promise.resolve();
              order.push(`handled ${message.value.toString()}`);
            },
            group,
          );
          const broadcast = recorder();
          await broker.subscribe(topic, broadcast.handler);

          await broker.publish(topic, 'a');
          order.push('published a');
          await broker.publish(topic, 'b');
          order.push('published b');

          expect(order).toEqual(['handled a', 'published a', 'handled b', 'published b']);
          expect(broadcast.values()).toEqual(['a', 'b']);
        },
        caps.publishResolvesAfterHandling,
      );
    });

    describe('routing (C3, C4)', () => {
      test('delivers only messages of the subscribed topic', async () => {
        const broker = await startedBroker();
        const topicA = uniqueName('msgport-iso-a');
        const topicB = uniqueName('msgport-iso-b');
        const receivedA = recorder();
        const receivedB = recorder();
        await broker.subscribe(topicA, receivedA.handler, uniqueName('g'));
        await broker.subscribe(topicB, receivedB.handler, uniqueName('g'));

        await broker.publish(topicA, 'for a');
        await receivedA.waitForCount(1);
        await broker.publish(topicB, 'for b');
        await receivedB.waitForCount(1);
        await broker.publish(topicA, 'for a again');
        await receivedA.waitForCount(2);

        expect(receivedA.values()).toEqual(['for a', 'for a again']);
        expect(receivedB.values()).toEqual(['for b']);
        expect(receivedA.messages.every((message) => message.topic === topicA)).toBe(true);
        expect(receivedB.messages[0]!.topic).toBe(topicB);
      });

      test('delivers every message to every subscription without a group (broadcast)', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-broadcast');
        const first = recorder();
        const second = recorder();
        const firstSubscription = await broker.subscribe(topic, first.handler);
        await broker.subscribe(topic, second.handler);
        expect(firstSubscription.topic).toBe(topic);
        expect(firstSubscription.group).toBeNull();

        const sent = range(10).map((i) => `m${i}`);
        for (const value of sent) await broker.publish(topic, value);
        expectHandledAfterPublish(first, sent.length);
        expectHandledAfterPublish(second, sent.length);

        await first.waitForCount(sent.length);
        await second.waitForCount(sent.length);
        expect(first.values().sort()).toEqual([...sent].sort());
        expect(second.values().sort()).toEqual([...sent].sort());
      });

      test('delivers each message to exactly one member of a group and spreads messages over the members', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-compete');
        const group = uniqueName('g');
        const first = recorder();
        const second = recorder();
        const subscription = await broker.subscribe(topic, first.handler, group);
        await broker.subscribe(topic, second.handler, group);
        expect(subscription.group).toBe(group);

        const sent = range(20).map((i) => `m${i}`);
        for (const value of sent) await broker.publish(topic, value);

        await until(() => first.count + second.count >= sent.length, `${sent.length} messages over two members`);
        const all = [...first.values(), ...second.values()];
        expect(all.sort()).toEqual([...sent].sort());
        expect(new Set(all).size).toBe(sent.length);
        expect(first.count).toBeGreaterThan(0);
        expect(second.count).toBeGreaterThan(0);
      });

      test('delivers every message to each group', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-groups');
        const billing = recorder();
        const shipping = recorder();
        await broker.subscribe(topic, billing.handler, uniqueName('billing'));
        await broker.subscribe(topic, shipping.handler, uniqueName('shipping'));

        const sent = range(10).map((i) => `m${i}`);
        for (const value of sent) await broker.publish(topic, value);

        await billing.waitForCount(sent.length);
        await shipping.waitForCount(sent.length);
        expect(billing.values().sort()).toEqual([...sent].sort());
        expect(shipping.values().sort()).toEqual([...sent].sort());
      });

      test('one group, several topics: two instances of a group on two topics handle every message of both, each once', async () => {
        // The shape of most applications: one service (group) listening to several topics, run
        // as several instances. Subscriptions are made before start(), as listeners are.
        const topics = [uniqueName('msgport-orders'), uniqueName('msgport-payments')];
        const group = uniqueName('g');
        const instances = [await newBroker(), await newBroker()];
        const handled: Message[] = [];
        for (const broker of instances) {
          for (const topic of topics) await broker.subscribe(topic, (message) => void handled.push(message), group);
        }
        await Promise.all(instances.map((broker) => broker.start()));

        const sent = topics.flatMap((topic) => range(10).map((i) => `${topic}:${i}`));
        for (const value of sent)
          await instances[0]!.publish(value.slice(0, value.lastIndexOf(':')), value, { key: `k${value.length % 3}` });

        await until(() => handled.length >= sent.length, `${sent.length} messages over two topics`);
        expect(handled.map((m) => m.value.toString()).sort()).toEqual([...sent].sort());
        for (const message of handled) expect(message.value.toString().startsWith(`${message.topic}:`)).toBe(true);
      });

      test('delivers 1,000 messages from 20 concurrent publishers exactly once within a group', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-bulk');
        const received = recorder();
        await broker.subscribe(topic, received.handler, uniqueName('g'));

        const publishers = 20;
        const perPublisher = 50;
        await Promise.all(
          range(publishers).map(async (p) => {
            for (let i = 0; i < perPublisher; i++) {
              await broker.publish(topic, `${p}-${i}`, { key: `k${(p + i) % 7}` });
            }
          }),
        );

        const total = publishers * perPublisher;
        await received.waitForCount(total, { timeoutMs: timeoutMs * 3 });
        const ids = received.values();
        expect(new Set(ids).size).toBe(total);
        expect(ids.length).toBe(total);
        for (let p = 0; p < publishers; p++) expect(ids).toContain(`${p}-${perPublisher - 1}`);
      });

      test('subscribe() after start() receives messages published afterwards', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-late');
        const inGroup = recorder();
        const broadcast = recorder();
        await broker.subscribe(topic, inGroup.handler, uniqueName('g'));
        await broker.subscribe(topic, broadcast.handler);

        await broker.publish(topic, 'after subscribe');

        await inGroup.waitForCount(1);
        await broadcast.waitForCount(1);
        expect(inGroup.values()).toEqual(['after subscribe']);
        expect(broadcast.values()).toEqual(['after subscribe']);
      });

      test('subscribe() before start() receives messages once the broker started', async () => {
        const broker = await newBroker();
        const topic = uniqueName('msgport-early');
        const inGroup = recorder();
        const broadcast = recorder();
        await broker.subscribe(topic, inGroup.handler, uniqueName('g'));
        await broker.subscribe(topic, broadcast.handler);
        await broker.start();

        await broker.publish(topic, 'after start');

        await inGroup.waitForCount(1);
        await broadcast.waitForCount(1);
        expect(inGroup.values()).toEqual(['after start']);
        expect(broadcast.values()).toEqual(['after start']);
      });

      test('unsubscribe() stops delivery to that member; the rest of the group then gets everything', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-unsub-group');
        const group = uniqueName('g');
        const leaving = recorder();
        const staying = recorder();
        const subscription = await broker.subscribe(topic, leaving.handler, group);
        await broker.subscribe(topic, staying.handler, group);

        await subscription.unsubscribe();
        await subscription.unsubscribe();
        const sent = range(10).map((i) => `m${i}`);
        for (const value of sent) await broker.publish(topic, value);

        await staying.waitForCount(sent.length);
        expect(staying.values().sort()).toEqual([...sent].sort());
        expect(leaving.count).toBe(0);
      });

      test('unsubscribe() stops delivery to a broadcast subscription while the others keep receiving', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-unsub-bc');
        const leaving = recorder();
        const staying = recorder();
        const subscription = await broker.subscribe(topic, leaving.handler);
        await broker.subscribe(topic, staying.handler);

        await broker.publish(topic, 'before');
        await leaving.waitForCount(1);
        await staying.waitForCount(1);

        await subscription.unsubscribe();
        await broker.publish(topic, 'after');

        await staying.waitForCount(2);
        expect(staying.values()).toEqual(['before', 'after']);
        expect(leaving.values()).toEqual(['before']);
      });
    });

    describe('ordering (C6)', () => {
      test(
        'handles messages with the same key one at a time and in publish order within a group',
        async () => {
          const broker = await startedBroker();
          const topic = uniqueName('msgport-order');
          const group = uniqueName('g');
          const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
          const perKey = 20;
          const handled = new Map<string, number[]>(keys.map((key) => [key, []]));
          const active = new Map<string, number>();
          let overlaps = 0;
          let total = 0;
          const handler: MessageHandler = async (message) => {
            const key = message.key!.toString();
            const running = (active.get(key) ?? 0) + 1;
            active.set(key, running);
            if (running > 1) overlaps++;
            // Yield to the event loop so that a broker running two same-key messages at once
            // would be caught overlapping.
            await new Promise((resolve) => setImmediate(resolve));
            handled.get(key)!.push(Number(message.value.toString().split(':')[1]));
            active.set(key, (active.get(key) ?? 1) - 1);
            total++;
          };
          // Two members of the group: order must hold across them.
          await broker.subscribe(topic, handler, group);
          await broker.subscribe(topic, handler, group);

          for (let i = 0; i < perKey; i++) {
            for (const key of keys) await broker.publish(topic, `${key}:${i}`, { key });
          }

          await until(() => total >= keys.length * perKey, `${keys.length * perKey} ordered messages`);
          for (const key of keys) expect(handled.get(key)).toEqual(range(perKey));
          expect(overlaps).toBe(0);
        },
        caps.ordering,
      );
    });

    describe('order across instances (issue 16)', () => {
      test(
        'keeps each key in publish order and one at a time across 4 instances of a group: 1,000 messages over 53 keys, none lost',
        async () => {
          const topic = uniqueName('msgport-order-instances');
          const group = uniqueName('g');
          // 53 keys over 4 instances: no instance count divides the key count, so a broker that
          // hands deliveries to competing consumers in rotation cannot hide a key split between them.
          const keys = 53;
          const total = 1_000;
          const lastSeq = new Map<string, number>();
          const active = new Map<string, number>();
          const handled = new Set<string>();
          const violations: string[] = [];
          let overlaps = 0;
          const handlerOf =
            (instance: number): MessageHandler =>
            async (message) => {
              const [key, seqText] = message.value.toString().split('|') as [string, string];
              const running = (active.get(key) ?? 0) + 1;
              active.set(key, running);
              if (running > 1) overlaps++;
              await delay(Math.floor(Math.random() * 6));
              active.set(key, active.get(key)! - 1);
              const seq = Number(seqText);
              const id = `${key}|${seq}`;
              // A redelivered message may repeat (at-least-once); a new one must come after every earlier one of its key.
              if (handled.has(id)) return;
              handled.add(id);
              if (seq < (lastSeq.get(key) ?? -1))
                violations.push(`${key}: ${seq} after ${lastSeq.get(key)} (instance ${instance})`);
              else lastSeq.set(key, seq);
            };
          const instances: MessageBrokerPort[] = [];
          for (let i = 0; i < 4; i++) {
            const instance = await newInstance();
            await instance.subscribe(topic, handlerOf(i), group);
            await instance.start();
            instances.push(instance);
          }

          // In order, up to 100 in flight, from the first instance.
          const seqs = new Map<string, number>();
          let window: Promise<void>[] = [];
          for (let i = 0; i < total; i++) {
            const key = `key-${i % keys}`;
            const seq = seqs.get(key) ?? 0;
            seqs.set(key, seq + 1);
            window.push(instances[0]!.publish(topic, `${key}|${seq}`, { key }));
            if (window.length >= 100) {
              await Promise.all(window);
              window = [];
            }
          }
          await Promise.all(window);

          await until(() => handled.size >= total, `${total} messages handled across the instances`, Math.max(timeoutMs, 30_000));
          expect(violations).toEqual([]);
          expect(overlaps).toBe(0);
          expect(handled.size).toBe(total);
        },
        caps.ordering,
      );
    });

    describe('retry and dead-letter (C5)', () => {
      test(
        'retries a failing handler and acknowledges the message on the attempt that succeeds',
        async () => {
          const broker = await startedBroker();
          const topic = uniqueName('msgport-retry');
          const group = uniqueName('g');
          const attempts = new Map<string, number>();
          const succeeded: Message[] = [];
          await broker.subscribe(
            topic,
            (message) => {
              const id = message.value.toString();
              const attempt = (attempts.get(id) ?? 0) + 1;
              attempts.set(id, attempt);
              if (id === 'poison') throw new Error('poison always fails');
              if (attempt < 3) throw new Error(`transient failure ${attempt}`);
              succeeded.push(message);
            },
            { group, retry: { maxAttempts: 3, initialDelayMs: 10 } },
          );
          const deadLetters = recorder();
          if (caps.deadLetter) {
            await broker.subscribe(options.deadLetterTopic(topic, group), deadLetters.handler, uniqueName('dlt-reader'));
          }

          await broker.publish(topic, 'flaky', { key: 'k' });
          if (caps.publishResolvesAfterHandling) expect(succeeded).toHaveLength(1);

          await until(() => succeeded.length >= 1, 'the flaky message to succeed');
          expect(attempts.get('flaky')).toBe(3);
          expect(succeeded[0]!.value.toString()).toBe('flaky');
          expect(succeeded[0]!.metadata.attempt).toBe(3);

          if (caps.deadLetter) {
            // A message that always fails, behind the flaky one on the same key: once it is
            // dead-lettered, a dead letter of the flaky message would have arrived too.
            await broker.publish(topic, 'poison', { key: 'k' });
            await deadLetters.waitForCount(1);
            expect(deadLetters.values()).toEqual(['poison']);
          }
          expect(succeeded).toHaveLength(1);
        },
        caps.retry,
      );

      test(
        'dead-letters a message after the last attempt with its key, value, headers and the error headers, and keeps consuming',
        async () => {
          const broker = await startedBroker();
          const topic = uniqueName('msgport-dlt');
          const group = uniqueName('g');
          const attempts = new Map<string, number>();
          const good = recorder((message) => {
            const id = message.value.toString();
            attempts.set(id, (attempts.get(id) ?? 0) + 1);
            if (id === 'poison') throw new TypeError('cannot handle poison');
          });
          await broker.subscribe(topic, good.handler, { group, retry: { maxAttempts: 3, initialDelayMs: 10 } });
          const deadLetters = recorder();
          await broker.subscribe(options.deadLetterTopic(topic, group), deadLetters.handler, uniqueName('dlt-reader'));

          const headers = { 'x-trace-id': 'abc-123', 'x-unicode': 'Zürich 🚀' };
          const poisonValue = Buffer.from([0x70, 0x6f, 0x69, 0x73, 0x6f, 0x6e]); // "poison"
          await broker.publish(topic, poisonValue, { key: 'order-7', headers });
          for (let i = 0; i < 3; i++) await broker.publish(topic, `next-${i}`, { key: 'order-7' });
          if (caps.publishResolvesAfterHandling) {
            expect(deadLetters.count).toBe(1);
            expect(good.count).toBe(3);
          }

          const [dead] = await deadLetters.waitForCount(1);
          await good.waitForCount(3);
          const next = caps.ordering ? good.values() : good.values().sort();
          expect(next).toEqual(['next-0', 'next-1', 'next-2']);
          expect(dead!.topic).toBe(options.deadLetterTopic(topic, group));
          expect(dead!.value.equals(poisonValue)).toBe(true);
          expect(dead!.key!.equals(Buffer.from('order-7'))).toBe(true);
          expect(dead!.headers).toEqual(
            expect.objectContaining({
              ...headers,
              [DeadLetterHeaders.errorMessage]: 'cannot handle poison',
              [DeadLetterHeaders.errorType]: 'TypeError',
              [DeadLetterHeaders.originalTopic]: topic,
              [DeadLetterHeaders.group]: group,
              [DeadLetterHeaders.attempts]: caps.retry ? '3' : expect.any(String),
            }),
          );
          if (caps.retry) expect(attempts.get('poison')).toBe(3);
          expect(deadLetters.count).toBe(1);
        },
        caps.deadLetter,
      );
    });

    describe('lifecycle (C7)', () => {
      test('start() and stop() are idempotent', async () => {
        const broker = await newBroker();
        const topic = uniqueName('msgport-idem');
        const received = recorder();
        await broker.subscribe(topic, received.handler, uniqueName('g'));

        await Promise.all([broker.start(), broker.start()]);
        await broker.start();
        await broker.publish(topic, 'once');
        const [message] = await received.waitForCount(1);
        expect(message!.value.toString()).toBe('once');

        await Promise.all([broker.stop(), broker.stop()]);
        await broker.stop();
        expect((await broker.health()).status).toBe('stopped');
        expect(received.count).toBe(1);
      });

      test(
        'start() after stop() works: subscriptions resume and new ones receive',
        async () => {
          const broker = await newBroker();
          const topic = uniqueName('msgport-restart');
          const kept = recorder();
          await broker.subscribe(topic, kept.handler, uniqueName('g'));
          await broker.start();
          await broker.publish(topic, 'first run');
          await kept.waitForCount(1);

          await broker.stop();
          await broker.start();
          const added = recorder();
          await broker.subscribe(topic, added.handler, uniqueName('g'));
          await broker.publish(topic, 'second run');

          await kept.waitForCount(2);
          await added.waitForCount(1);
          expect(kept.values()).toEqual(['first run', 'second run']);
          expect(added.values()).toEqual(['second run']);
          expect((await broker.health()).status).toBe('up');
        },
        caps.restart,
      );

      test(
        'stop() waits for an in-flight handler to finish and never interrupts it',
        async () => {
          const broker = await startedBroker();
          const topic = uniqueName('msgport-drain');
          const gate = deferred();
          const events: string[] = [];
          let started = false;
          await broker.subscribe(
            topic,
            async () => {
              started = true;
              await gate.promise;
              events.push('handler finished');
            },
            uniqueName('g'),
          );

          // The in-memory broker's publish() resolves only after the handler, so don't await it yet.
          const published = broker.publish(topic, 'slow');
          published.catch(() => undefined);
          try {
            await until(() => started, 'the handler to start');
            const stopped = broker.stop().then(() => {
              events.push('stop resolved');
            });
            // Proving that stop() did NOT resolve needs a window; 300 ms is far longer than a
            // stop() that ignores in-flight handlers takes.
            const first = await Promise.race([stopped.then(() => 'stopped'), delay(300).then(() => 'pending')]);
            expect(first).toBe('pending');
            events.push('released');
            gate.resolve();
            await stopped;
          } finally {
            gate.resolve();
          }
          await published;
          expect(events).toEqual(['released', 'handler finished', 'stop resolved']);
          expect((await broker.health()).status).toBe('stopped');
        },
        caps.drainOnStop,
      );

      test('publish() before start() rejects with BROKER_NOT_RUNNING', async () => {
        const broker = await newBroker();
        const error = await rejectionOf(broker.publish(uniqueName('msgport-early-pub'), 'too early'));
        expect(isMessagingError(error)).toBe(true);
        expect(error).toMatchObject({ code: 'BROKER_NOT_RUNNING', retriable: false });
        expect((error as Error).message).toMatch(/start/);
      });

      test('publish() after stop() rejects with BROKER_NOT_RUNNING', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-late-pub');
        await broker.publish(topic, 'while running');
        await broker.stop();
        const error = await rejectionOf(broker.publish(topic, 'too late'));
        expect(isMessagingError(error)).toBe(true);
        expect(error).toMatchObject({ code: 'BROKER_NOT_RUNNING', retriable: false });
      });
    });

    describe('invalid arguments (C9)', () => {
      const expectInvalidArgument = async (operation: Promise<unknown>): Promise<void> => {
        const error = await rejectionOf(operation);
        expect(isMessagingError(error)).toBe(true);
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', retriable: false });
      };

      test('publish() rejects an empty or illegal topic with INVALID_ARGUMENT', async () => {
        const broker = await startedBroker();
        await expectInvalidArgument(broker.publish('', 'value'));
        await expectInvalidArgument(broker.publish('has space', 'value'));
        await expectInvalidArgument(broker.publish(undefined as unknown as string, 'value'));
      });

      test('publish() rejects a value or key that is neither a string nor bytes with INVALID_ARGUMENT', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-badvalue');
        await expectInvalidArgument(broker.publish(topic, 42 as unknown as Payload));
        await expectInvalidArgument(broker.publish(topic, { id: 1 } as unknown as Payload));
        await expectInvalidArgument(broker.publish(topic, 'v', { key: 7 as unknown as Payload }));
      });

      test('publish() rejects a header value that is not a string with INVALID_ARGUMENT', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-badheader');
        await expectInvalidArgument(broker.publish(topic, 'v', { headers: { count: 1 } as unknown as Record<string, string> }));
      });

      test('subscribe() rejects a handler that is not a function and an illegal group with INVALID_ARGUMENT', async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-badsub');
        await expectInvalidArgument(broker.subscribe(topic, 'not a function' as unknown as MessageHandler));
        await expectInvalidArgument(broker.subscribe(topic, () => undefined, 'bad group name'));
        await expectInvalidArgument(broker.subscribe('', () => undefined));
      });
    });

    describe('health (C10)', () => {
      test('health() reports stopped before start(), up while running and stopped after stop()', async () => {
        const broker = await newBroker();
        const before = await broker.health();
        expect(before.status).toBe('stopped');
        expect(typeof before.details).toBe('object');

        await broker.start();
        expect((await broker.health()).status).toBe('up');

        await broker.stop();
        expect((await broker.health()).status).toBe('stopped');
      });
    });

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

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

async function rejectionOf(operation: Promise<unknown>): Promise<unknown> {
  try {
    await operation;
  } catch (error) {
    return error;
  }
  throw new Error('Expected the operation to reject, but it resolved.');
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
