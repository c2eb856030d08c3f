import { describe, expect } from '@jest/globals';
import { InvalidArgumentError, isMessagingError, type MessageHandler, type Payload } from '@msgport/core';
import { deferred, delay } from './deferred.js';
import { rejectionOf } from './suite-context.js';
import { uniqueName } from '../unique-name.js';
import type { SuiteContext } from './suite-context.js';

/** Lifecycle (C7), invalid arguments (C9) and health (C10). */
export function describeLifecycleCases(context: SuiteContext): void {
  const { caps, newBroker, startedBroker, recorder, until, test } = context;

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

    test('publish() and subscribe() refuse a topic named like a property of every JavaScript object, at once', async () => {
      // kafkajs keeps per-topic state in plain objects: a publish to "toString" retried until
      // publishTimeoutMs there, then failed. Refused on every adapter, before any broker call.
      const broker = await startedBroker();
      for (const topic of ['toString', 'constructor', '__proto__', 'valueOf', 'hasOwnProperty']) {
        const publish = rejectionOf(broker.publish(topic, 'value'));
        const subscribe = rejectionOf(broker.subscribe(topic, () => undefined));
        for (const error of [await publish, await subscribe]) {
          expect(error).toBeInstanceOf(InvalidArgumentError);
          expect((error as Error).message).toContain(`invalid topic "${topic}"`);
          expect((error as Error).message).toContain('choose another topic name');
        }
      }
      // A name that merely contains one is fine.
      await broker.publish(uniqueName('toString'), 'value');
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
}
