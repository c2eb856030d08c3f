import { describe, expect } from '@jest/globals';
import {
  DeadLetterHeaders,
  defineTopic,
  InvalidArgumentError,
  isMessagingError,
  MESSAGE_ID_HEADER,
  NonRetriableError,
  type HandlerContext,
  type Message,
  type MessageBrokerPort,
  type StandardSchemaV1,
} from '@msgport/core';
import type { Collector } from '../collect.js';
import type { ConformanceCapabilities } from '../run-conformance-suite.js';
import { uniqueName } from '../unique-name.js';
import { UUID_V7 } from './uuid-v7.js';

/** What the cases of issue 12 take from the suite. */
export interface Issue12Context {
  readonly caps: ConformanceCapabilities;
  readonly startedBroker: () => Promise<MessageBrokerPort>;
  readonly newBroker: () => Promise<MessageBrokerPort>;
  readonly recorder: (onMessage?: (message: Message) => void | Promise<void>) => Collector;
  readonly until: <T>(predicate: () => T, description: string) => Promise<NonNullable<T>>;
  readonly deadLetterTopic: (topic: string, group: string | null) => string;
  readonly test: (name: string, fn: () => Promise<void>, enabled?: boolean) => void;
}

interface Order {
  readonly id: string;
  readonly quantity: number;
}

/**
 * A hand-written Standard Schema (what zod, valibot or arktype produce), so that the suite needs
 * no schema library: an object with a non-empty string `id` and a positive integer `quantity`.
 * With `async`, `validate` returns a promise, which the spec allows.
 */
function orderSchema(async = false): StandardSchemaV1<Order> {
  const check = (value: unknown): StandardSchemaV1.Result<Order> => {
    if (typeof value !== 'object' || value === null) return { issues: [{ message: 'Expected an object' }] };
    const record = value as Record<string, unknown>;
    const issues: StandardSchemaV1.Issue[] = [];
    if (typeof record['id'] !== 'string' || record['id'] === '')
      issues.push({ message: 'Expected a non-empty string', path: ['id'] });
    if (!Number.isInteger(record['quantity']) || (record['quantity'] as number) < 1) {
      issues.push({ message: 'Expected a positive integer', path: [{ key: 'quantity' }] });
    }
    return issues.length > 0 ? { issues } : { value: { id: record['id'] as string, quantity: record['quantity'] as number } };
  };
  return {
    '~standard': {
      version: 1,
      vendor: 'msgport-testkit',
      validate: async ? (value) => Promise.resolve().then(() => check(value)) : check,
    },
  };
}

const text = (message: Message): string => message.value.toString('utf8');

/**
 * Issue 12: typed topics (C12), failure control, message ids (C11), abort signals and
 * `Symbol.asyncDispose`, on every adapter.
 */
export function describeIssue12Cases(context: Issue12Context): void {
  const { caps, startedBroker, newBroker, recorder, until, deadLetterTopic, test } = context;

  describe('typed topics (C12)', () => {
    for (const async of [false, true]) {
      test(`a typed topic delivers the decoded, valid payload and its message to the handler (${async ? 'async' : 'sync'} schema)`, async () => {
        const broker = await startedBroker();
        const orders = defineTopic(uniqueName('msgport-typed'), orderSchema(async));
        const received: Array<{ order: Order; message: Message; signal: AbortSignal }> = [];
        await orders.subscribe(
          broker,
          (order, message, handlerContext: HandlerContext) => {
            received.push({ order, message, signal: handlerContext.signal });
          },
          uniqueName('g'),
        );

        await orders.publish(broker, { id: 'o-1', quantity: 3 }, { key: 'o-1', headers: { 'x-origin': 'test' } });

        const [first] = await until(() => (received.length >= 1 ? received : undefined), 'the typed message');
        expect(first!.order).toEqual({ id: 'o-1', quantity: 3 });
        expect(first!.message.topic).toBe(orders.name);
        expect(JSON.parse(text(first!.message))).toEqual({ id: 'o-1', quantity: 3 });
        expect(first!.message.key!.toString()).toBe('o-1');
        expect(first!.message.headers['x-origin']).toBe('test');
        expect(first!.signal).toBeInstanceOf(AbortSignal);
        expect(first!.signal.aborted).toBe(false);
      });
    }

    test('publishing an invalid value rejects with InvalidArgumentError listing every issue by path, and nothing is sent', async () => {
      const broker = await startedBroker();
      const orders = defineTopic(uniqueName('msgport-typed-invalid'), orderSchema(true));
      const raw = recorder();
      await broker.subscribe(orders.name, raw.handler, uniqueName('g'));

      const error = await orders.publish(broker, { id: '', quantity: 0.5 }).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).issues).toEqual([
        'id: Expected a non-empty string',
        'quantity: Expected a positive integer',
      ]);
      expect((error as Error).message).toContain('id: Expected a non-empty string');
      expect((error as Error).message).toContain('quantity: Expected a positive integer');

      await orders.publish(broker, { id: 'after', quantity: 1 });
      await raw.waitForCount(1);
      expect(raw.values().map((value) => JSON.parse(value) as unknown)).toEqual([{ id: 'after', quantity: 1 }]);
    });

    test(
      'a message that cannot be decoded or is invalid never reaches the handler and is dead-lettered after one attempt',
      async () => {
        const broker = await startedBroker();
        const orders = defineTopic(uniqueName('msgport-typed-dlt'), orderSchema());
        const group = uniqueName('g');
        const handled: Order[] = [];
        await orders.subscribe(broker, (order) => void handled.push(order), {
          group,
          retry: { maxAttempts: 5, initialDelayMs: 10 },
        });
        const deadLetters = recorder();
        await broker.subscribe(deadLetterTopic(orders.name, group), deadLetters.handler, uniqueName('dlt-reader'));

        // Published by name, as a producer that knows nothing of the schema would.
        await broker.publish(orders.name, 'not json {', { key: 'k' });
        await broker.publish(orders.name, JSON.stringify({ id: 7, quantity: 0 }), { key: 'k' });
        await orders.publish(broker, { id: 'valid', quantity: 2 }, { key: 'k' });

        const dead = await deadLetters.waitForCount(2);
        await until(() => (handled.length >= 1 ? handled : undefined), 'the valid message');
        expect(handled).toEqual([{ id: 'valid', quantity: 2 }]);
        const byValue = new Map(dead.map((message) => [text(message), message]));
        const undecodable = byValue.get('not json {')!;
        const invalid = byValue.get(JSON.stringify({ id: 7, quantity: 0 }))!;
        for (const message of [undecodable, invalid]) {
          expect(message.headers[DeadLetterHeaders.errorType]).toBe('InvalidMessageError');
          expect(message.headers[DeadLetterHeaders.attempts]).toBe('1');
          expect(message.headers[DeadLetterHeaders.originalTopic]).toBe(orders.name);
        }
        expect(undecodable.headers[DeadLetterHeaders.errorMessage]).toContain('cannot be decoded');
        expect(invalid.headers[DeadLetterHeaders.errorMessage]).toContain('id: Expected a non-empty string');
        expect(invalid.headers[DeadLetterHeaders.errorMessage]).toContain('quantity: Expected a positive integer');
        expect(deadLetters.count).toBe(2);
      },
      caps.deadLetter,
    );
  });

  describe('failure control (C12)', () => {
    test(
      'a NonRetriableError, an error with retriable false, or one retry.shouldRetry refuses is dead-lettered after one attempt',
      async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-nonretriable');
        const group = uniqueName('g');
        const attempts = new Map<string, number>();
        const errors: Record<string, () => unknown> = {
          'non-retriable': () => new NonRetriableError('order does not exist'),
          'retriable-false': () => Object.assign(new Error('card declined'), { retriable: false }),
          'should-not-retry': () => new RangeError('quantity out of range'),
          flaky: () => new Error('try again'),
        };
        await broker.subscribe(
          topic,
          (message) => {
            const name = text(message);
            const count = (attempts.get(name) ?? 0) + 1;
            attempts.set(name, count);
            if (name === 'flaky' && count >= 2) return;
            const make = errors[name];
            if (make !== undefined) throw make();
          },
          {
            group,
            retry: { maxAttempts: 4, initialDelayMs: 10, shouldRetry: (error) => !(error instanceof RangeError) },
          },
        );
        const deadLetters = recorder();
        await broker.subscribe(deadLetterTopic(topic, group), deadLetters.handler, uniqueName('dlt-reader'));

        for (const name of Object.keys(errors)) await broker.publish(topic, name, { key: name });

        const dead = await deadLetters.waitForCount(3);
        await until(
          () => ((attempts.get('flaky') ?? 0) >= 2 ? true : undefined),
          'the flaky message to succeed on its second attempt',
        );
        expect(Object.fromEntries(attempts)).toEqual({
          'non-retriable': 1,
          'retriable-false': 1,
          'should-not-retry': 1,
          flaky: 2,
        });
        const headers = new Map(dead.map((message) => [text(message), message.headers]));
        expect([...headers.keys()].sort()).toEqual(['non-retriable', 'retriable-false', 'should-not-retry']);
        expect(headers.get('non-retriable')![DeadLetterHeaders.errorType]).toBe('NonRetriableError');
        expect(headers.get('non-retriable')![DeadLetterHeaders.errorMessage]).toBe('order does not exist');
        for (const name of headers.keys()) expect(headers.get(name)![DeadLetterHeaders.attempts]).toBe('1');
        expect(deadLetters.count).toBe(3);
      },
      caps.deadLetter,
    );
  });

  describe('message identity (C11)', () => {
    test('every message carries a unique, time-ordered UUID v7 msgport-message-id unless the publisher set one', async () => {
      const broker = await startedBroker();
      const topic = uniqueName('msgport-message-id');
      const received = recorder();
      await broker.subscribe(topic, received.handler, uniqueName('g'));

      for (let i = 0; i < 20; i++) await broker.publish(topic, `m-${i}`, { key: 'k' });
      await broker.publish(topic, 'own', { key: 'k', headers: { [MESSAGE_ID_HEADER]: 'order-7/attempt-1' } });

      const messages = await received.waitForCount(21);
      const generated = messages.slice(0, 20);
      for (const message of generated) {
        expect(message.id).toMatch(UUID_V7);
        expect(message.headers[MESSAGE_ID_HEADER]).toBe(message.id);
      }
      const ids = generated.map((message) => message.id!);
      expect(new Set(ids).size).toBe(20);
      // Published one after the other by one process: the ids sort in publish order.
      if (caps.ordering) expect([...ids].sort()).toEqual(ids);
      expect(messages[20]!.id).toBe('order-7/attempt-1');
      expect(messages[20]!.headers[MESSAGE_ID_HEADER]).toBe('order-7/attempt-1');
    });

    test(
      'a dead letter keeps the message id of the failed message',
      async () => {
        const broker = await startedBroker();
        const topic = uniqueName('msgport-message-id-dlt');
        const group = uniqueName('g');
        const seen: Message[] = [];
        await broker.subscribe(
          topic,
          (message) => {
            seen.push(message);
            throw new NonRetriableError('rejected');
          },
          { group },
        );
        const deadLetters = recorder();
        await broker.subscribe(deadLetterTopic(topic, group), deadLetters.handler, uniqueName('dlt-reader'));

        await broker.publish(topic, 'poison');

        const [dead] = await deadLetters.waitForCount(1);
        expect(seen).toHaveLength(1);
        expect(dead!.id).toMatch(UUID_V7);
        expect(dead!.id).toBe(seen[0]!.id);
        expect(dead!.headers[MESSAGE_ID_HEADER]).toBe(seen[0]!.id);
      },
      caps.deadLetter,
    );
  });

  describe('abort and dispose', () => {
    test('publish() with an aborted signal rejects with ABORTED, whose cause is the reason, and sends nothing', async () => {
      const broker = await startedBroker();
      const topic = uniqueName('msgport-abort');
      const received = recorder();
      await broker.subscribe(topic, received.handler, uniqueName('g'));

      const controller = new AbortController();
      const reason = new Error('request cancelled');
      controller.abort(reason);
      const error = await broker.publish(topic, 'aborted', { signal: controller.signal }).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(isMessagingError(error) && error.code).toBe('ABORTED');
      expect((error as Error).cause).toBe(reason);

      // A signal that is not aborted changes nothing; aborting it after publish() resolved neither.
      const later = new AbortController();
      await broker.publish(topic, 'sent', { signal: later.signal });
      later.abort();
      await received.waitForCount(1);
      expect(received.values()).toEqual(['sent']);
    });

    test('await using: a Subscription unsubscribes and a broker stops at the end of their scope', async () => {
      const topic = uniqueName('msgport-dispose');
      let outer: MessageBrokerPort;
      {
        await using broker = await newBroker();
        outer = broker;
        await broker.start();
        const stays = recorder();
        await broker.subscribe(topic, stays.handler);
        const leaves = recorder();
        {
          await using subscription = await broker.subscribe(topic, leaves.handler);
          expect(subscription.topic).toBe(topic);
          await broker.publish(topic, 'before');
          await leaves.waitForCount(1);
        }
        await broker.publish(topic, 'after');
        await stays.waitForCount(2);
        expect(stays.values()).toEqual(['before', 'after']);
        expect(leaves.values()).toEqual(['before']);
        expect((await broker.health()).status).not.toBe('stopped');
      }
      expect((await outer.health()).status).toBe('stopped');
    });
  });
}
