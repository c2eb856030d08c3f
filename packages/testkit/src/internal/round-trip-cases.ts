import { describe, expect } from '@jest/globals';
import { MESSAGE_ID_HEADER } from '@msgport/core';
import { UUID_V7 } from './uuid-v7.js';
import { uniqueName } from '../unique-name.js';
import type { SuiteContext } from './suite-context.js';

/** Round trip (C1, C2, C8): bytes, keys, headers and the message id arrive exactly as published. */
export function describeRoundTripCases(context: SuiteContext): void {
  const { caps, startedBroker, recorder, expectHandledAfterPublish, test } = context;

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
}
