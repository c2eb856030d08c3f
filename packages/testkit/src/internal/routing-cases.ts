import { describe, expect } from '@jest/globals';
import { type Message } from '@msgport/core';
import { range } from './suite-context.js';
import { uniqueName } from '../unique-name.js';
import type { SuiteContext } from './suite-context.js';

/** Routing (C3, C4): topics, broadcast subscriptions, groups and unsubscribe(). */
export function describeRoutingCases(context: SuiteContext): void {
  const { startedBroker, newBroker, recorder, expectHandledAfterPublish, until, timeoutMs, test } = context;

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
}
