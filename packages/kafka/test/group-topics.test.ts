import { afterEach, describe, expect, it } from '@jest/globals';
import { waitFor, type Message } from '@msgport/core';
import type { KafkaAdapter, KafkaAdapterOptions } from '@msgport/kafka';
import { collect, uniqueName, type Collector } from '@msgport/testkit';
import { createTestAdapter, recordingLogger, type RecordingLogger } from './kafka-test-config.js';

// A group that listens to several topics: one group membership per adapter, partitions assigned
// only to members subscribed to their topic (issue 17).

const TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 120_000;

const opened: KafkaAdapter[] = [];

async function started(options: Partial<KafkaAdapterOptions> = {}): Promise<KafkaAdapter> {
  const adapter = createTestAdapter(options);
  opened.push(adapter);
  await adapter.start();
  return adapter;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((adapter) => adapter.stop()));
}, TEST_TIMEOUT_MS);

interface ConsumerHealth {
  readonly group: string | null;
  readonly topics: readonly string[];
  readonly state: string;
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

async function kafkaConsumers(adapter: KafkaAdapter): Promise<ConsumerHealth[]> {
  return (await adapter.health()).details['kafkaConsumers'] as ConsumerHealth[];
}

/** The partitions of `topic` assigned to the adapters' members of `group`, all together. */
async function assigned(adapters: readonly KafkaAdapter[], group: string, topic: string): Promise<number[]> {
  const all: number[] = [];
  for (const adapter of adapters) {
    for (const consumer of await kafkaConsumers(adapter)) {
      if (consumer.group === group && consumer.state === 'up') all.push(...(consumer.assignment[topic] ?? []));
    }
  }
  return all.sort((a, b) => a - b);
}

/** Waits until the members of `group` together hold every partition of each topic exactly once. */
async function untilAssigned(adapters: readonly KafkaAdapter[], group: string, topics: Record<string, number>): Promise<void> {
  await waitFor(
    async () => {
      for (const [topic, partitions] of Object.entries(topics)) {
        const held = await assigned(adapters, group, topic);
        if (held.join() !== Array.from({ length: partitions }, (_, i) => i).join()) return false;
      }
      return true;
    },
    { timeoutMs: TIMEOUT_MS, description: `group "${group}" to hold every partition of ${Object.keys(topics).join(', ')}` },
  );
}

const values = (collectors: readonly Collector[]): string[] =>
  collectors.flatMap((c) => c.messages.map((m) => m.value.toString())).sort();

async function publishAll(adapter: KafkaAdapter, topic: string, count: number, key?: (i: number) => string): Promise<string[]> {
  const published = Array.from({ length: count }, (_, i) => `${topic}:${i}`);
  await Promise.all(published.map((value, i) => adapter.publish(topic, value, key === undefined ? {} : { key: key(i) })));
  return published;
}

describe('KafkaAdapter: a group that listens to several topics', () => {
  it(
    'one instance, one group, two topics: every message of both topics is delivered, through one group membership',
    async () => {
      const group = uniqueName('g');
      const [orders, payments] = [uniqueName('orders'), uniqueName('payments')];
      const adapter = createTestAdapter();
      opened.push(adapter);
      const a = collect({ timeoutMs: TIMEOUT_MS });
      const b = collect({ timeoutMs: TIMEOUT_MS });
      await adapter.subscribe(orders, a.handler, group);
      await adapter.subscribe(payments, b.handler, group);
      await adapter.start();

      const consumers = await kafkaConsumers(adapter);
      expect(consumers).toHaveLength(1);
      expect([...consumers[0]!.topics].sort()).toEqual([orders, payments].sort());

      const expected = [...(await publishAll(adapter, orders, 10)), ...(await publishAll(adapter, payments, 10))].sort();
      await a.waitForCount(10);
      await b.waitForCount(10);
      expect(values([a, b])).toEqual(expected);
      expect(a.messages.every((m) => m.topic === orders)).toBe(true);
      expect(b.messages.every((m) => m.topic === payments)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'one instance, one group, 30 topics: every message is delivered',
    async () => {
      const group = uniqueName('g');
      const topics = Array.from({ length: 30 }, (_, i) => uniqueName(`many-${i}`));
      const adapter = createTestAdapter();
      opened.push(adapter);
      const received = collect({ timeoutMs: TIMEOUT_MS });
      for (const topic of topics) await adapter.subscribe(topic, received.handler, group);
      await adapter.start();
      expect(await kafkaConsumers(adapter)).toHaveLength(1);

      const expected = (await Promise.all(topics.map((topic) => publishAll(adapter, topic, 3)))).flat().sort();
      await received.waitForCount(expected.length);
      expect(values([received])).toEqual(expected);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'two instances of one group on the same two topics: each message once, in key order',
    async () => {
      const group = uniqueName('g');
      const [t1, t2] = [uniqueName('same-a'), uniqueName('same-b')];
      const handled = new Map<string, number[]>();
      const record = (message: Message): void => {
        const [topic, i] = [message.topic, Number(message.value.toString().split(':').at(-1))];
        const key = `${topic}/${message.key?.toString() ?? ''}`;
        const list = handled.get(key) ?? [];
        list.push(i);
        handled.set(key, list);
      };
      const instances = await Promise.all([started({ numPartitions: 3 }), started({ numPartitions: 3 })]);
      const collectors = instances.map(() => collect({ timeoutMs: TIMEOUT_MS, onMessage: record }));
      for (const [index, adapter] of instances.entries()) {
        await adapter.subscribe(t1, collectors[index]!.handler, group);
        await adapter.subscribe(t2, collectors[index]!.handler, group);
      }
      await untilAssigned(instances, group, { [t1]: 3, [t2]: 3 });

      // 7 keys over 3 partitions and 2 members: no count divides another.
      const expected = [
        ...(await publishAll(instances[0], t1, 100, (i) => `k${i % 7}`)),
        ...(await publishAll(instances[1], t2, 100, (i) => `k${i % 7}`)),
      ];
      await waitFor(() => collectors[0]!.count + collectors[1]!.count >= expected.length, {
        timeoutMs: TIMEOUT_MS,
        description: 'every message',
      });
      expect(values(collectors)).toEqual(expected.sort());
      for (const [key, order] of handled) expect({ key, order }).toEqual({ key, order: [...order].sort((a, b) => a - b) });
      // Both members got some of the partitions (round-robin over 6 partitions).
      expect(collectors[0]!.count).toBeGreaterThan(0);
      expect(collectors[1]!.count).toBeGreaterThan(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'two instances of one group with different topic sets (A+B and B+C): every message of A, B and C, B once',
    async () => {
      const group = uniqueName('g');
      const [ta, tb, tc] = [uniqueName('set-a'), uniqueName('set-b'), uniqueName('set-c')];
      const logger: RecordingLogger = recordingLogger('none');
      const first = await started({ numPartitions: 2, logger });
      const second = await started({ numPartitions: 2, logger });
      const one = collect({ timeoutMs: TIMEOUT_MS });
      const two = collect({ timeoutMs: TIMEOUT_MS });
      await first.subscribe(ta, one.handler, group);
      await first.subscribe(tb, one.handler, group);
      await second.subscribe(tb, two.handler, group);
      await second.subscribe(tc, two.handler, group);
      await untilAssigned([first, second], group, { [ta]: 2, [tb]: 2, [tc]: 2 });

      const expected = [
        ...(await publishAll(first, ta, 20)),
        ...(await publishAll(first, tb, 20, (i) => `k${i % 3}`)),
        ...(await publishAll(second, tc, 20)),
      ];
      await waitFor(() => one.count + two.count >= expected.length, { timeoutMs: TIMEOUT_MS, description: 'every message' });
      expect(values([one, two])).toEqual(expected.sort());
      expect(one.messages.every((m) => m.topic !== tc)).toBe(true);
      expect(two.messages.every((m) => m.topic !== ta)).toBe(true);
      // The leader of the group saw that its members disagree, and said so.
      expect(logger.lines.some((line) => line.startsWith('warn:') && line.includes('subscribe to different topics'))).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a topic added to a group after start() is delivered, and the other topics keep flowing',
    async () => {
      const group = uniqueName('g');
      const [first, later] = [uniqueName('first'), uniqueName('later')];
      const adapter = await started();
      const a = collect({ timeoutMs: TIMEOUT_MS });
      const b = collect({ timeoutMs: TIMEOUT_MS });
      await adapter.subscribe(first, a.handler, group);
      await publishAll(adapter, first, 5);
      await a.waitForCount(5);

      await adapter.subscribe(later, b.handler, group);
      const consumers = await kafkaConsumers(adapter);
      expect(consumers).toHaveLength(1);
      expect(consumers[0]!.assignment).toEqual({ [first]: [0], [later]: [0] });
      await publishAll(adapter, later, 5);
      await publishAll(adapter, first, 5);
      await b.waitForCount(5);
      await a.waitForCount(10);
      expect(a.count).toBe(10);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'unsubscribing one topic of a group stops its delivery and keeps the others flowing; its messages wait for the group',
    async () => {
      const group = uniqueName('g');
      const [kept, dropped] = [uniqueName('kept'), uniqueName('dropped')];
      const adapter = await started();
      const a = collect({ timeoutMs: TIMEOUT_MS });
      const b = collect({ timeoutMs: TIMEOUT_MS });
      await adapter.subscribe(kept, a.handler, group);
      const subscription = await adapter.subscribe(dropped, b.handler, group);
      await subscription.unsubscribe();
      expect((await kafkaConsumers(adapter))[0]!.topics).toEqual([kept]);

      await publishAll(adapter, dropped, 3);
      await publishAll(adapter, kept, 3);
      await a.waitForCount(3);
      expect(b.count).toBe(0);

      // The group's committed position of the dropped topic stays: subscribing again gets them.
      const c = collect({ timeoutMs: TIMEOUT_MS });
      await adapter.subscribe(dropped, c.handler, group);
      await c.waitForCount(3);
    },
    TEST_TIMEOUT_MS,
  );
});
