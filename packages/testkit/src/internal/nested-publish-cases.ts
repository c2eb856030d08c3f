import { describe, expect } from '@jest/globals';
import type { Message, MessageBrokerPort, MessageHandler, PublishOptions } from '@msgport/core';
import type { ConformanceCapabilities } from '../run-conformance-suite.js';
import { uniqueName } from '../unique-name.js';

/** What the nested-publish cases take from the suite. */
export interface NestedPublishContext {
  readonly caps: ConformanceCapabilities;
  readonly startedBroker: () => Promise<MessageBrokerPort>;
  readonly until: <T>(predicate: () => T, description: string) => Promise<NonNullable<T>>;
  readonly test: (name: string, fn: () => Promise<void>, enabled?: boolean) => void;
}

interface Shape {
  readonly name: string;
  readonly group: boolean;
  readonly rootKey?: string;
  readonly followUpKey?: string;
  readonly otherTopic: boolean;
}

// The table of issue 18: a handler on a topic awaits a publish. Real brokers resolve it on their
// acknowledgement; the in-memory broker must resolve it too, whatever it publishes to.
const SHAPES: readonly Shape[] = [
  { name: 'to its own topic in a group with the same key', group: true, rootKey: 'k', followUpKey: 'k', otherTopic: false },
  { name: 'to its own topic in a group with a different key', group: true, rootKey: 'k1', followUpKey: 'k2', otherTopic: false },
  { name: 'to its own topic in a group without a key', group: true, otherTopic: false },
  { name: 'to its own topic without a group (broadcast) and without a key', group: false, otherTopic: false },
  { name: 'to another topic', group: true, rootKey: 'k', followUpKey: 'k', otherTopic: true },
];

const text = (message: Message): string => message.value.toString('utf8');
const keyed = (key: string | undefined): PublishOptions => (key === undefined ? {} : { key });

/**
 * Publishes made from inside a handler (issue 18): every nesting shape resolves and its message is
 * handled, three levels deep, 1,000 follow-ups, and `stop()` while handlers keep publishing.
 */
export function describeNestedPublish(context: NestedPublishContext): void {
  const { caps, startedBroker, until, test } = context;

  describe('nested publish (issue 18)', () => {
    for (const shape of SHAPES) {
      test(`a handler that awaits a publish ${shape.name} sees it resolve, and the message is handled`, async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-nested');
        const target = shape.otherTopic ? uniqueName('msgport-nested-other') : topic;
        const events: string[] = [];
        const handler: MessageHandler = async (message) => {
          events.push(`start ${text(message)}`);
          if (text(message) === 'root') {
            await broker.publish(target, 'follow-up', keyed(shape.followUpKey));
            events.push('nested publish resolved');
          }
          events.push(`end ${text(message)}`);
        };
        const group = shape.group ? uniqueName('g') : undefined;
        await broker.subscribe(topic, handler, group);
        if (shape.otherTopic) await broker.subscribe(target, handler, shape.group ? uniqueName('g') : undefined);

        // Not awaited yet: on a broker that deadlocks, the wait below fails with a clear message.
        const published = broker.publish(topic, 'root', keyed(shape.rootKey));
        published.catch(() => undefined);
        await until(() => events.includes('nested publish resolved'), 'the publish made inside the handler to resolve');
        await published;
        events.push('top-level publish resolved');
        await until(() => events.includes('end follow-up'), 'the follow-up to be handled');

        expect(events.filter((event) => event.startsWith('start '))).toEqual(['start root', 'start follow-up']);
        if (caps.publishResolvesAfterHandling) {
          expect(events.indexOf('end root')).toBeLessThan(events.indexOf('top-level publish resolved'));
        }
      });
    }

    test(
      'publishes three levels deep from handlers on the same topic, group and key, each publish awaited',
      async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-deep');
        const events: string[] = [];
        await broker.subscribe(
          topic,
          async (message) => {
            const level = Number(text(message));
            events.push(`handle ${level}`);
            if (level < 3) {
              await broker.publish(topic, String(level + 1), { key: 'same' });
              events.push(`published ${level + 1}`);
            }
          },
          uniqueName('g'),
        );

        await broker.publish(topic, '0', { key: 'same' });
        await until(() => events.includes('handle 3'), 'level 3 to be handled');

        await until(() => events.includes('published 3'), 'the publish of level 3 to resolve');
        expect(events.filter((event) => event.startsWith('handle'))).toEqual(['handle 0', 'handle 1', 'handle 2', 'handle 3']);
        expect(events.filter((event) => event.startsWith('published'))).toEqual(['published 1', 'published 2', 'published 3']);
      },
      caps.ordering,
    );

    test('publishes three levels deep over three topics and back to the first topic, whose handler is still running', async () => {
      const broker = await startedBroker();
      const topics = [uniqueName('msgport-ring-a'), uniqueName('msgport-ring-b'), uniqueName('msgport-ring-c')];
      const handled: string[] = [];
      const resolved: string[] = [];
      for (const [index, topic] of topics.entries()) {
        const next = topics[(index + 1) % topics.length]!;
        await broker.subscribe(
          topic,
          async (message) => {
            const value = text(message);
            handled.push(value);
            if (value.length < 4) {
              await broker.publish(next, `${value}+`);
              resolved.push(`${value}+`);
            }
          },
          uniqueName('g'),
        );
      }

      const published = broker.publish(topics[0]!, 'x');
      published.catch(() => undefined);
      await until(() => resolved.length >= 3, 'the three nested publishes to resolve');
      await published;
      await until(() => handled.includes('x+++'), 'the message back on the first topic to be handled');

      expect(handled).toEqual(['x', 'x+', 'x++', 'x+++']);
      expect([...resolved].sort()).toEqual(['x+', 'x++', 'x+++']);
    });

    test('a handler that publishes 1,000 follow-ups to its own topic and group gets them all handled', async () => {
      const broker = await startedBroker();
      const topic = uniqueName('msgport-fanout');
      const followUps: string[] = [];
      let nestedResolved = false;
      await broker.subscribe(
        topic,
        async (message) => {
          if (text(message) !== 'root') {
            followUps.push(text(message));
            return;
          }
          await Promise.all(Array.from({ length: 1_000 }, (_, i) => broker.publish(topic, String(i), { key: 'k' })));
          nestedResolved = true;
        },
        uniqueName('g'),
      );

      const published = broker.publish(topic, 'root', { key: 'k' });
      published.catch(() => undefined);
      await until(() => nestedResolved, 'the 1,000 publishes made inside the handler to resolve');
      await published;
      await until(() => followUps.length >= 1_000, '1,000 follow-ups to be handled');

      const expected = Array.from({ length: 1_000 }, (_, i) => String(i));
      expect(caps.ordering ? followUps : [...followUps].sort()).toEqual(caps.ordering ? expected : [...expected].sort());
    });

    test(
      'stop() while handlers keep publishing follow-ups to their own topic: it resolves, and every handler that started has finished',
      async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-forever');
        let started = 0;
        let finished = 0;
        await broker.subscribe(
          topic,
          async (message) => {
            started++;
            await broker.publish(topic, String(Number(text(message)) + 1), { key: 'k' });
            finished++;
          },
          uniqueName('g'),
        );
        const published = broker.publish(topic, '0', { key: 'k' });
        published.catch(() => undefined);
        await until(() => started >= 5, 'five messages of the chain to be handled');

        await broker.stop();

        expect(finished).toBe(started);
        await published;
      },
      caps.drainOnStop,
    );
  });
}
