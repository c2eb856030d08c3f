import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { DeadLetterHeaders, waitFor, type Message, type MessageBrokerPort } from '@msgport/core';
import { collect } from '../collect.js';
import { uniqueName } from '../unique-name.js';
import {
  errorWithThrowingMessage,
  HUGE_MESSAGE_LENGTH,
  objectWithThrowingToString,
  rejectingThenable,
  throwingProxy,
} from './hostile-values.js';

/** What the conformance suite hands to {@link describeThrownValueCases}. */
export interface ThrownValueContext {
  readonly createBroker: () => MessageBrokerPort | Promise<MessageBrokerPort>;
  readonly deadLetterTopic: (topic: string, group: string | null) => string;
  /** Registers a test, skipped when `enabled` is false. */
  readonly test: (name: string, fn: () => Promise<void>, enabled?: boolean) => void;
  readonly enabled: boolean;
  readonly publishResolvesAfterHandling: boolean;
  readonly timeoutMs: number;
  readonly testTimeoutMs: number;
}

interface Row {
  /** How the handler fails, as the test name says it. */
  readonly name: string;
  /** Called instead of handling: throws, or returns what the handler returns. */
  readonly fail: () => unknown;
  readonly type: string;
  readonly message: string;
}

/** Issue 20's table: whatever a handler throws, the message is dead-lettered. */
const ROWS: readonly Row[] = [
  {
    name: "throws Symbol('s')",
    fail: () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point of the case: a handler that throws something other than an Error
      throw Symbol('s');
    },
    type: 'symbol',
    message: 'Symbol(s)',
  },
  {
    name: 'throws 10n',
    fail: () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point of the case: a handler that throws something other than an Error
      throw 10n;
    },
    type: 'bigint',
    message: '10',
  },
  {
    name: 'returns a thenable that rejects',
    fail: () => rejectingThenable(new Error('the thenable rejected')),
    type: 'Error',
    message: 'the thenable rejected',
  },
  {
    name: 'throws an Error with a 5 MiB message (cut to 4,096 characters)',
    fail: () => {
      throw new Error('x'.repeat(HUGE_MESSAGE_LENGTH));
    },
    type: 'Error',
    message: 'x'.repeat(4_096),
  },
  {
    name: 'throws Object.create(null)',
    fail: () => {
      throw Object.create(null);
    },
    type: 'object',
    message: '{}',
  },
  {
    name: 'throws an object whose toString throws',
    fail: () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point of the case: a handler that throws something other than an Error
      throw objectWithThrowingToString();
    },
    type: 'object',
    message: '{"code":"E_HOSTILE"}',
  },
  {
    name: 'throws an Error whose message getter throws',
    fail: () => {
      throw errorWithThrowingMessage();
    },
    type: 'RangeError',
    message: 'an error whose message cannot be read (reading it threw)',
  },
  {
    name: 'throws a Proxy that throws on every property read',
    fail: () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point of the case: a handler that throws something other than an Error
      throw throwingProxy();
    },
    type: 'object',
    message: 'a thrown value that cannot be read (every attempt to read it threw)',
  },
];

/**
 * One test per row: the handler fails that way (retry `maxAttempts: 1`), the message is
 * dead-lettered with the error headers describing it, and the message published behind it on the
 * same key is handled. One broker and subscription serve every row.
 */
export function describeThrownValueCases(context: ThrownValueContext): void {
  describe('whatever a handler throws, the message is dead-lettered and the next one on its key is handled (C5)', () => {
    const topic = uniqueName('msgport-thrown');
    const group = uniqueName('g');
    const failures = new Map<string, () => unknown>();
    const handled = collect({ timeoutMs: context.timeoutMs });
    const deadLetters = collect({ timeoutMs: context.timeoutMs });
    let broker: MessageBrokerPort | null = null;

    beforeAll(async () => {
      if (!context.enabled) return;
      broker = await context.createBroker();
      await broker.start();
      await broker.subscribe(
        topic,
        (message, handlerContext) => {
          const fail = failures.get(message.headers['x-case'] ?? '');
          if (fail !== undefined) return fail() as Promise<void>;
          return handled.handler(message, handlerContext);
        },
        { group, retry: { maxAttempts: 1 } },
      );
      await broker.subscribe(context.deadLetterTopic(topic, group), deadLetters.handler, uniqueName('dlt-reader'));
    }, context.testTimeoutMs);

    afterAll(async () => {
      await broker?.stop();
    }, context.testTimeoutMs);

    ROWS.forEach((row, index) => {
      context.test(
        `a handler that ${row.name}`,
        async () => {
          const port = broker!;
          const id = `case-${index}`;
          const key = uniqueName('key');
          failures.set(id, row.fail);
          await port.publish(topic, `poison-${index}`, { key, headers: { 'x-case': id } });
          await port.publish(topic, `next-${index}`, { key, headers: { 'x-case': `${id}-next` } });
          const find = (messages: readonly Message[], caseId: string): Message | undefined =>
            messages.find((message) => message.headers['x-case'] === caseId);
          if (context.publishResolvesAfterHandling) {
            expect(find(deadLetters.messages, id)).toBeDefined();
            expect(find(handled.messages, `${id}-next`)).toBeDefined();
          }
          const dead = await waitFor(() => find(deadLetters.messages, id), {
            timeoutMs: context.timeoutMs,
            description: `the dead letter of the message whose handler ${row.name}`,
          });
          await waitFor(() => find(handled.messages, `${id}-next`), {
            timeoutMs: context.timeoutMs,
            description: 'the message behind it on the same key to be handled',
          });
          expect(dead.value.toString()).toBe(`poison-${index}`);
          expect(dead.key?.toString()).toBe(key);
          expect(dead.headers[DeadLetterHeaders.errorType]).toBe(row.type);
          expect(dead.headers[DeadLetterHeaders.errorMessage]).toBe(row.message);
          expect(dead.headers[DeadLetterHeaders.originalTopic]).toBe(topic);
          expect(dead.headers[DeadLetterHeaders.group]).toBe(group);
          expect(dead.headers[DeadLetterHeaders.attempts]).toBe('1');
          expect(handled.messages.filter((message) => message.headers['x-case'] === id)).toHaveLength(0);
        },
        context.enabled,
      );
    });
  });
}
