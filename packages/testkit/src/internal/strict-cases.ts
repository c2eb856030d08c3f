import { describe, expect } from '@jest/globals';
import { isMessagingError, type Message, type MessageBrokerPort, type MessageHandler, type Subscription } from '@msgport/core';
import type { ConformanceCapabilities } from '../run-conformance-suite.js';
import { uniqueName } from '../unique-name.js';
import { delay } from './deferred.js';
import { perKeyOrder, publishKeyed } from './per-key-order.js';

/** How many messages, publishers and instances the strict cases use. */
export interface StrictSizes {
  /** Durable group catch-up: messages published while no member runs, and their publishers. */
  readonly catchUp: { readonly messages: number; readonly publishers: number };
  /** Competing instances of one group. */
  readonly competing: { readonly instances: number; readonly messages: number };
  /** Order across instances. */
  readonly order: { readonly instances: number; readonly keys: number; readonly messages: number };
  /** `stop()` while publishes are in flight. */
  readonly stopMidPublish: { readonly messages: number; readonly publishers: number };
  /** Topics used at once, and messages per topic. */
  readonly topics: { readonly topics: number; readonly perTopic: number };
  /** Instances stopped at once. */
  readonly concurrentStop: { readonly instances: number };
  /** Messages across the broker restarts. */
  readonly restart: { readonly messages: number };
}

/** The sizes `npm test` runs: every case, at a volume that keeps the suite to minutes. */
export const SHORT_SIZES: StrictSizes = Object.freeze({
  catchUp: { messages: 500, publishers: 10 },
  competing: { instances: 10, messages: 1_000 },
  order: { instances: 10, keys: 16, messages: 1_000 },
  stopMidPublish: { messages: 2_000, publishers: 20 },
  topics: { topics: 20, perTopic: 20 },
  concurrentStop: { instances: 10 },
  restart: { messages: 1_000 },
});

/** The sizes of Watermill's universal suite (the documented full run). */
export const FULL_SIZES: StrictSizes = Object.freeze({
  catchUp: { messages: 5_000, publishers: 50 },
  competing: { instances: 10, messages: 5_000 },
  order: { instances: 10, keys: 16, messages: 1_000 },
  stopMidPublish: { messages: 10_000, publishers: 20 },
  topics: { topics: 20, perTopic: 100 },
  concurrentStop: { instances: 10 },
  restart: { messages: 10_000 },
});

/** What the strict cases take from the suite. */
export interface StrictContext {
  readonly caps: ConformanceCapabilities;
  readonly sizes: StrictSizes;
  readonly timeoutMs: number;
  /** How long to watch for deliveries that must not come. */
  readonly settleMs: number;
  readonly newInstance: () => Promise<MessageBrokerPort>;
  readonly startedBroker: () => Promise<MessageBrokerPort>;
  readonly deadLetterTopic: (topic: string, group: string | null) => string;
  readonly restartBroker: (() => Promise<void>) | undefined;
  readonly until: <T>(predicate: () => T, description: string, deadlineMs?: number) => Promise<NonNullable<T>>;
  /** Registers a case with the suite's long timeout (these cases run many instances). */
  readonly test: (name: string, fn: () => Promise<void>, enabled?: boolean) => void;
}

const text = (message: Message): string => message.value.toString('utf8');

/**
 * Cases where loss usually hides (issue 15, after Watermill's universal Pub/Sub suite): many
 * instances of a group, catch-up of a group with no running member, stop() and unsubscribe() in
 * the middle of work, many topics at once, broker restarts, and silence where nothing may arrive.
 */
export function describeStrictCases(context: StrictContext): void {
  const { caps, sizes, timeoutMs, settleMs, newInstance, startedBroker, until, test } = context;
  const longWait = Math.max(timeoutMs, 60_000);
  const shared = caps.sharedInstances;

  /** Starts `count` instances, each subscribed to `topic` in `group` with the handler `handlerOf(i)`. */
  const startInstances = async (count: number, topic: string, group: string, handlerOf: (i: number) => MessageHandler) => {
    const instances = await Promise.all(Array.from({ length: count }, () => newInstance()));
    await Promise.all(
      instances.map(async (instance, i) => {
        await instance.subscribe(topic, handlerOf(i), group);
        await instance.start();
      }),
    );
    return instances;
  };

  /** Publishes `values` to `topic` from `publishers` concurrent loops over `brokers`; returns the values whose publish resolved. */
  const publishAll = async (
    brokers: readonly MessageBrokerPort[],
    topic: string,
    values: readonly string[],
    publishers: number,
    key?: (value: string) => string,
  ) => {
    const resolved: string[] = [];
    const rejected: unknown[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: publishers }, async (_, p) => {
        const broker = brokers[p % brokers.length]!;
        for (let i = next++; i < values.length; i = next++) {
          const value = values[i]!;
          try {
            await broker.publish(topic, value, key === undefined ? {} : { key: key(value) });
            resolved.push(value);
          } catch (error) {
            rejected.push(error);
          }
        }
      }),
    );
    return { resolved, rejected };
  };

  describe('strict cases (issue 15)', () => {
    test(
      `durable group catch-up: ${sizes.catchUp.messages} messages from ${sizes.catchUp.publishers} publishers while no member runs reach instances started in turns`,
      async () => {
        const topic = uniqueName('msgport-catchup');
        const group = uniqueName('g');
        const seen = new Map<string, number>();
        const record: MessageHandler = (message) => void seen.set(text(message), (seen.get(text(message)) ?? 0) + 1);
        // The group exists (subscribed, started), then no member runs.
        const [first] = await startInstances(1, topic, group, () => record);
        await first!.stop();

        const publishers = [await newInstance(), await newInstance()];
        await Promise.all(publishers.map((broker) => broker.start()));
        const values = Array.from({ length: sizes.catchUp.messages }, (_, i) => `m${i}`);
        const { resolved, rejected } = await publishAll(publishers, topic, values, sizes.catchUp.publishers);
        expect(rejected).toEqual([]);

        // New instances of the group, one at a time, each stopped before the next starts.
        for (let turn = 1; turn <= 3; turn++) {
          const [instance] = await startInstances(1, topic, group, () => record);
          const wanted = turn === 3 ? resolved.length : Math.floor((resolved.length * turn) / 3);
          await until(() => seen.size >= wanted, `${wanted} of ${resolved.length} messages handled by turn ${turn}`, longWait);
          await instance!.stop();
        }
        const missing = resolved.filter((value) => !seen.has(value));
        expect(missing).toEqual([]);
        const duplicates = [...seen.values()].reduce((sum, n) => sum + n - 1, 0);
        // At-least-once allows redeliveries across the stops; they are counted, never hiding loss.
        expect(duplicates).toBeLessThan(resolved.length);
      },
      shared && caps.durableGroups,
    );

    test(
      `competing instances: ${sizes.competing.instances} instances of one group share ${sizes.competing.messages} messages, started while publishing, none lost`,
      async () => {
        const { instances: count, messages } = sizes.competing;
        const topic = uniqueName('msgport-competing');
        const group = uniqueName('g');
        const byInstance = Array.from({ length: count }, () => 0);
        const seen = new Map<string, number>();
        const handlerOf =
          (i: number): MessageHandler =>
          (message) => {
            byInstance[i]!++;
            seen.set(text(message), (seen.get(text(message)) ?? 0) + 1);
          };
        const half = Math.ceil(count / 2);
        const early = await startInstances(half, topic, group, handlerOf);
        const values = Array.from({ length: messages }, (_, i) => `m${i}`);
        // The other half joins while messages flow: the group rebalances under load.
        const [published, late] = await Promise.all([
          publishAll(early, topic, values, 10),
          (async () => {
            await delay(50);
            return startInstances(count - half, topic, group, (i) => handlerOf(half + i));
          })(),
        ]);
        expect(published.rejected).toEqual([]);
        expect(late).toHaveLength(count - half);
        await until(() => seen.size >= messages, `${messages} messages handled across ${count} instances`, longWait);
        expect(values.filter((value) => !seen.has(value))).toEqual([]);
        // Spread: the group scales out. How evenly depends on the broker's partitions; at least two
        // instances carry a real share.
        const carrying = byInstance.filter((n) => n >= messages * 0.1).length;
        expect(carrying).toBeGreaterThanOrEqual(2);
      },
      shared,
    );

    test(
      `order across instances: ${sizes.order.messages} messages over ${sizes.order.keys} keys, ${sizes.order.instances} instances: per-key order, no same-key overlap`,
      async () => {
        const { instances: count, keys, messages } = sizes.order;
        const topic = uniqueName('msgport-order10');
        const group = uniqueName('g');
        const order = perKeyOrder(2);
        const instances = await startInstances(count, topic, group, order.handlerOf);
        // From two instances; each round over the keys is awaited, so same-key publishes never race.
        await publishKeyed(instances.slice(0, 2), topic, { total: messages, keys, window: 50 });
        await until(() => order.handled.size >= messages, `${messages} messages handled across ${count} instances`, longWait);
        expect(order.violations).toEqual([]);
        expect(order.overlaps).toBe(0);
      },
      shared && caps.ordering,
    );

    test(`stop() while ${sizes.stopMidPublish.messages} publishes from ${sizes.stopMidPublish.publishers} publishers are in flight: each publish resolves and is delivered, or rejects`, async () => {
      const { messages, publishers } = sizes.stopMidPublish;
      const topic = uniqueName('msgport-stop-publish');
      const group = uniqueName('g');
      const seen = new Set<string>();
      const publisher = shared ? await newInstance() : await startedBroker();
      const consumer = shared ? await newInstance() : publisher;
      await consumer.subscribe(topic, (message) => void seen.add(text(message)), group);
      await consumer.start();
      await publisher.start();

      const values = Array.from({ length: messages }, (_, i) => `m${i}`);
      let settled = 0;
      let stopping: Promise<void> | undefined;
      const resolved: string[] = [];
      const rejected: unknown[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: publishers }, async () => {
          for (let i = next++; i < values.length; i = next++) {
            try {
              await publisher.publish(topic, values[i]!);
              resolved.push(values[i]!);
            } catch (error) {
              rejected.push(error);
            }
            if (++settled === Math.floor(messages / 3)) stopping = publisher.stop();
          }
        }),
      );
      await stopping;
      expect(rejected.length).toBeGreaterThan(0);
      for (const error of rejected) expect(isMessagingError(error)).toBe(true);
      if (shared) {
        await until(
          () => resolved.every((value) => seen.has(value)),
          `the ${resolved.length} resolved publishes to be handled`,
          longWait,
        );
      }
      expect(resolved.filter((value) => !seen.has(value))).toEqual([]);
    });

    test(`concurrent topics: ${sizes.topics.topics} topics × ${sizes.topics.perTopic} messages, subscribed and published at once, each handled exactly once`, async () => {
      const { topics: count, perTopic } = sizes.topics;
      const broker = await startedBroker();
      const group = uniqueName('g');
      const topics = Array.from({ length: count }, () => uniqueName('msgport-many'));
      const seen = new Map<string, number>();
      // One group on every topic (shared consumers where the adapter shares them), subscribed at once.
      await Promise.all(
        topics.map((topic) =>
          broker.subscribe(topic, (message) => void seen.set(text(message), (seen.get(text(message)) ?? 0) + 1), group),
        ),
      );
      await Promise.all(
        topics.map(async (topic) => {
          for (let i = 0; i < perTopic; i++) await broker.publish(topic, `${topic}:${i}`);
        }),
      );
      const total = count * perTopic;
      await until(() => seen.size >= total, `${total} messages over ${count} topics`, longWait);
      await delay(settleMs);
      expect([...seen.values()].filter((n) => n !== 1)).toEqual([]);
      expect(seen.size).toBe(total);
    });

    test(
      `concurrent stop of ${sizes.concurrentStop.instances} instances, then a fresh instance receives everything published after the stop`,
      async () => {
        const topic = uniqueName('msgport-stop-all');
        const group = uniqueName('g');
        const instances = await startInstances(sizes.concurrentStop.instances, topic, group, () => () => undefined);
        await Promise.all(Array.from({ length: 20 }, (_, i) => instances[i % instances.length]!.publish(topic, `before-${i}`)));
        await Promise.all(instances.map((instance) => instance.stop()));

        // Published while no member runs, then read by an instance started afterwards.
        const publisher = await newInstance();
        await publisher.start();
        const after = Array.from({ length: 50 }, (_, i) => `after-${i}`);
        for (const value of after) await publisher.publish(topic, value);
        const seen = new Set<string>();
        await startInstances(1, topic, group, () => (message) => void seen.add(text(message)));
        await until(() => after.every((value) => seen.has(value)), 'every message published after the stop', longWait);
      },
      shared && caps.durableGroups,
    );

    test(
      'unsubscribe() during a retry backoff: the remaining member handles the message, nothing is dead-lettered, the left member is not called again',
      async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-unsub-backoff');
        const group = uniqueName('g');
        const calls: string[] = [];
        let failedBy: string | undefined;
        const subscriptions = new Map<string, Subscription>();
        const handlerOf =
          (name: string): MessageHandler =>
          () => {
            calls.push(name);
            if (failedBy === undefined) {
              failedBy = name;
              throw new Error(`${name} fails the first attempt`);
            }
            if (name === failedBy) throw new Error(`${name} left the group and must not be called`);
          };
        const retry = { maxAttempts: 2, initialDelayMs: 1_500, jitter: 0 };
        for (const name of ['a', 'b']) subscriptions.set(name, await broker.subscribe(topic, handlerOf(name), { group, retry }));
        const dead: Message[] = [];
        if (caps.deadLetter)
          await broker.subscribe(
            context.deadLetterTopic(topic, group),
            (message) => void dead.push(message),
            uniqueName('dlt-reader'),
          );

        const publishing = broker.publish(topic, 'work', { key: 'k' });
        await until(() => failedBy, 'the first attempt to fail');
        await subscriptions.get(failedBy!)!.unsubscribe();
        const callsAtUnsubscribe = calls.filter((name) => name === failedBy).length;
        await publishing;
        const other = failedBy === 'a' ? 'b' : 'a';
        await until(() => calls.includes(other), `the remaining member "${other}" to handle the message`, longWait);
        await delay(settleMs);
        expect(calls.filter((name) => name === failedBy)).toHaveLength(callsAtUnsubscribe);
        expect(dead).toEqual([]);
      },
      caps.retry,
    );

    test(
      'stop() during a retry backoff: the next instance handles the message, nothing is dead-lettered, stop() does not wait out the backoff',
      async () => {
        const topic = uniqueName('msgport-stop-backoff');
        const group = uniqueName('g');
        let failingCalls = 0;
        const retry = { maxAttempts: 2, initialDelayMs: 20_000, jitter: 0 };
        const first = await newInstance();
        await first.subscribe(
          topic,
          () => {
            failingCalls++;
            throw new Error('the first instance always fails');
          },
          { group, retry },
        );
        await first.start();
        const dead: Message[] = [];
        const reader = await newInstance();
        await reader.subscribe(
          context.deadLetterTopic(topic, group),
          (message) => void dead.push(message),
          uniqueName('dlt-reader'),
        );
        await reader.start();

        await first.publish(topic, 'work', { key: 'k' });
        await until(() => failingCalls >= 1, 'the first attempt to fail');
        const stopStarted = Date.now();
        await first.stop();
        // The backoff is 20 s: stop() must interrupt it, not wait it out or run the last attempt.
        expect(Date.now() - stopStarted).toBeLessThan(retry.initialDelayMs);
        expect(failingCalls).toBe(1);

        const handled: Message[] = [];
        const [next] = await startInstances(1, topic, group, () => (message) => void handled.push(message));
        await until(() => handled.length >= 1, 'the next instance to handle the message', longWait);
        await next!.stop();
        await delay(settleMs);
        expect(dead).toEqual([]);
      },
      shared && caps.retry && caps.deadLetter && caps.durableGroups,
    );

    test('silence: no handler call after unsubscribe() or stop() resolved', async () => {
      const broker = await startedBroker();
      const topic = uniqueName('msgport-silence');
      const calls = { group: 0, broadcast: 0, afterStop: 0 };
      let stopped = false;
      const group = await broker.subscribe(topic, () => void calls.group++, uniqueName('g'));
      const broadcast = await broker.subscribe(topic, () => void calls.broadcast++);
      await broker.subscribe(topic, () => void (stopped ? calls.afterStop++ : undefined), uniqueName('w'));
      for (let i = 0; i < 5; i++) await broker.publish(topic, `before-${i}`);
      await until(() => calls.group >= 5 && calls.broadcast >= 5, 'the first five messages');
      await Promise.all([group.unsubscribe(), broadcast.unsubscribe()]);
      const atUnsubscribe = { ...calls };
      for (let i = 0; i < 5; i++) await broker.publish(topic, `after-${i}`);
      await delay(settleMs);
      expect(calls.group).toBe(atUnsubscribe.group);
      expect(calls.broadcast).toBe(atUnsubscribe.broadcast);

      await broker.stop();
      stopped = true;
      if (shared) {
        const other = await newInstance();
        await other.start();
        for (let i = 0; i < 5; i++) await other.publish(topic, `stopped-${i}`);
      }
      await delay(settleMs);
      expect(calls.afterStop).toBe(0);
    });

    test('silence: a new broadcast subscriber receives nothing published before it subscribed', async () => {
      const broker = await startedBroker();
      const topic = uniqueName('msgport-late');
      const early: string[] = [];
      await broker.subscribe(topic, (message) => void early.push(text(message)));
      for (let i = 0; i < 5; i++) await broker.publish(topic, `early-${i}`);
      await until(() => early.length >= 5, 'the early subscriber to see the first five');
      const late: string[] = [];
      await broker.subscribe(topic, (message) => void late.push(text(message)));
      await broker.publish(topic, 'late-0');
      await until(() => late.length >= 1, 'the late subscriber to see its first message');
      await delay(settleMs);
      expect(late).toEqual(['late-0']);
    });

    test(
      `broker restart: ${sizes.restart.messages} messages with restarts at one third and one half; every resolved publish arrives`,
      async () => {
        const restart = context.restartBroker!;
        const topic = uniqueName('msgport-restart');
        const group = uniqueName('g');
        const seen = new Set<string>();
        const consumer = await newInstance();
        await consumer.subscribe(topic, (message) => void seen.add(text(message)), group);
        await consumer.start();
        const publisher = shared ? await newInstance() : consumer;
        await publisher.start();
        const total = sizes.restart.messages;
        const resolved: string[] = [];
        const marks = new Set([Math.floor(total / 3), Math.floor(total / 2)]);
        let window: Promise<void>[] = [];
        for (let i = 0; i < total; i++) {
          const value = `m${i}`;
          window.push(
            publisher.publish(topic, value).then(
              () => void resolved.push(value),
              () => undefined,
            ),
          );
          if (window.length >= 20) {
            await Promise.all(window);
            window = [];
          }
          if (marks.has(i)) {
            await Promise.all(window);
            window = [];
            await restart();
          }
        }
        await Promise.all(window);
        expect(resolved.length).toBeGreaterThan(total / 2);
        await until(
          () => resolved.every((value) => seen.has(value)),
          `the ${resolved.length} resolved publishes to arrive`,
          Math.max(longWait, 120_000),
        );
      },
      context.restartBroker !== undefined,
    );
  });
}
