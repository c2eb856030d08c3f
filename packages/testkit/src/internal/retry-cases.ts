import { describe, expect } from '@jest/globals';
import { DeadLetterHeaders, type Message } from '@msgport/core';
import { uniqueName } from '../unique-name.js';
import type { SuiteContext } from './suite-context.js';

/** Retry and dead-letter (C5). */
export function describeRetryCases(context: SuiteContext): void {
  const { caps, startedBroker, recorder, until, deadLetterTopic, test } = context;

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
          await broker.subscribe(deadLetterTopic(topic, group), deadLetters.handler, uniqueName('dlt-reader'));
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
        await broker.subscribe(deadLetterTopic(topic, group), deadLetters.handler, uniqueName('dlt-reader'));

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
        expect(dead!.topic).toBe(deadLetterTopic(topic, group));
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
}
