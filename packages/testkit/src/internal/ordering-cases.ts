import { describe, expect } from '@jest/globals';
import { type MessageBrokerPort, type MessageHandler } from '@msgport/core';
import { perKeyOrder, publishKeyed } from './per-key-order.js';
import { range } from './suite-context.js';
import { uniqueName } from '../unique-name.js';
import type { SuiteContext } from './suite-context.js';

/** Ordering (C6): one key, one group: one at a time and in publish order, also across instances (issue 16). */
export function describeOrderingCases(context: SuiteContext): void {
  const { caps, startedBroker, newInstance, until, timeoutMs, test } = context;

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
        const order = perKeyOrder(5);
        const instances: MessageBrokerPort[] = [];
        for (let i = 0; i < 4; i++) {
          const instance = await newInstance();
          await instance.subscribe(topic, order.handlerOf(i), group);
          await instance.start();
          instances.push(instance);
        }

        // In order, up to 100 in flight, from the first instance.
        await publishKeyed([instances[0]!], topic, { total, keys, window: 100 });

        await until(
          () => order.handled.size >= total,
          `${total} messages handled across the instances`,
          Math.max(timeoutMs, 30_000),
        );
        expect(order.violations).toEqual([]);
        expect(order.overlaps).toBe(0);
        expect(order.handled.size).toBe(total);
      },
      caps.ordering,
    );
  });
}
