import { afterEach, describe, expect, it } from '@jest/globals';
import {
  DeadLetterHeaders,
  MessageListener,
  isMessagingError,
  registerListeners,
  silentLogger,
  type Logger,
  type Message,
} from '@msgport/core';
import { InMemoryMessageBroker, type InMemoryMessageBrokerOptions } from '@msgport/memory';
import { collect, uniqueName } from '@msgport/testkit';

const brokers: InMemoryMessageBroker[] = [];

async function startedBroker(options: InMemoryMessageBrokerOptions = {}): Promise<InMemoryMessageBroker> {
  const broker = new InMemoryMessageBroker({ logger: silentLogger, ...options });
  brokers.push(broker);
  await broker.start();
  return broker;
}

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((broker) => broker.stop()));
});

function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (message: string) => {
    lines.push(`${level}: ${message}`);
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

describe('InMemoryMessageBroker', () => {
  describe('groups', () => {
    it('alternates exactly between two members of a group (first gets 0 and 2, second 1 and 3)', async () => {
      const broker = await startedBroker();
      const topic = uniqueName('rr');
      const first = collect();
      const second = collect();
      await broker.subscribe(topic, first.handler, 'workers');
      await broker.subscribe(topic, second.handler, 'workers');

      for (let i = 0; i < 4; i++) await broker.publish(topic, String(i));

      expect(first.values()).toEqual(['0', '2']);
      expect(second.values()).toEqual(['1', '3']);
    });

    it('alternates over three members in subscription order', async () => {
      const broker = await startedBroker();
      const topic = uniqueName('rr3');
      const members = [collect(), collect(), collect()];
      for (const member of members) await broker.subscribe(topic, member.handler, 'workers');

      for (let i = 0; i < 6; i++) await broker.publish(topic, String(i));

      expect(members.map((member) => member.values())).toEqual([
        ['0', '3'],
        ['1', '4'],
        ['2', '5'],
      ]);
    });

    it('keeps one topic per group: the same group name on two topics does not share messages', async () => {
      const broker = await startedBroker();
      const orders = collect();
      const payments = collect();
      await broker.subscribe('orders', orders.handler, 'audit');
      await broker.subscribe('payments', payments.handler, 'audit');

      await broker.publish('orders', 'o1');
      await broker.publish('payments', 'p1');

      expect(orders.values()).toEqual(['o1']);
      expect(payments.values()).toEqual(['p1']);
    });
  });

  describe('record of published messages', () => {
    it('records every published message in order, and publishedTo() filters by topic', async () => {
      const broker = await startedBroker();
      await broker.publish('a', 'a1', { key: 'k', headers: { h: 'v' } });
      await broker.publish('b', 'b1');
      await broker.publish('a', 'a2');

      expect(broker.published.map((message) => `${message.topic}:${message.value.toString()}`)).toEqual(['a:a1', 'b:b1', 'a:a2']);
      expect(broker.publishedTo('a').map((message) => message.value.toString())).toEqual(['a1', 'a2']);
      expect(broker.publishedTo('missing')).toEqual([]);
      const [first] = broker.publishedTo('a');
      expect(first!.key!.toString()).toBe('k');
      expect(first!.headers).toEqual({ h: 'v', 'msgport-message-id': first!.id });
      expect(first!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Object.isFrozen(first)).toBe(true);
    });

    it('records messages nobody is subscribed to, and dead letters too', async () => {
      const broker = await startedBroker();
      await broker.subscribe(
        'jobs',
        () => {
          throw new Error('nope');
        },
        { group: 'runner', retry: { maxAttempts: 1 } },
      );

      await broker.publish('nobody-listens', 'x');
      await broker.publish('jobs', 'j1');

      expect(broker.published.map((message) => message.topic)).toEqual(['nobody-listens', 'jobs', 'jobs.DLT']);
    });

    it('clear() forgets the record', async () => {
      const broker = await startedBroker();
      await broker.publish('t', 'x');
      broker.clear();
      expect(broker.published).toEqual([]);
      await broker.publish('t', 'y');
      expect(broker.publishedTo('t').map((message) => message.value.toString())).toEqual(['y']);
    });

    it('records nothing with recordPublished: false, but still delivers', async () => {
      const broker = await startedBroker({ recordPublished: false });
      const received = collect();
      await broker.subscribe('t', received.handler);
      await broker.publish('t', 'x');
      expect(received.values()).toEqual(['x']);
      expect(broker.published).toEqual([]);
    });

    it('keeps the last 1,000 published messages by default, says so once, and stays bounded', async () => {
      const logger = recordingLogger();
      const broker = await startedBroker({ logger });
      const received = collect();
      await broker.subscribe('t', received.handler);
      const before = broker.published; // the record stays one live array
      for (let i = 0; i < 2_500; i++) await broker.publish('t', String(i));

      expect(received.values()).toHaveLength(2_500);
      expect(broker.published).toBe(before);
      expect(broker.published).toHaveLength(1_000);
      expect(broker.published[0]!.value.toString()).toBe('1500');
      expect(broker.publishedTo('t').at(-1)!.value.toString()).toBe('2499');
      expect(logger.lines.filter((line) => line.includes('recordLimit'))).toHaveLength(1);
    });

    it('recordLimit sets how many messages the record keeps; Infinity keeps all', async () => {
      const small = await startedBroker({ recordLimit: 3 });
      for (const value of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await small.publish('t', value);
      expect(small.publishedTo('t').map((message) => message.value.toString())).toEqual(['e', 'f', 'g']);
      expect((await small.waitForMessage((message) => message.value.toString() === 'g')).value.toString()).toBe('g');

      const all = await startedBroker({ recordLimit: Number.POSITIVE_INFINITY });
      for (let i = 0; i < 10_005; i++) await all.publish('t', String(i));
      expect(all.published).toHaveLength(10_005);
    });

    it.each([0, -1, 1.5, Number.NaN, '10'])('rejects recordLimit %p', (limit) => {
      expect(() => new InMemoryMessageBroker({ recordLimit: limit as number })).toThrow(
        /recordLimit must be an integer >= 1 or Infinity/,
      );
    });

    it('waitForMessages() resolves with the messages once enough were published', async () => {
      const broker = await startedBroker();
      const waiting = broker.waitForMessages('events', 2, { timeoutMs: 2_000 });
      await broker.publish('events', 'e1');
      setTimeout(() => void broker.publish('events', 'e2'), 20);

      const messages = await waiting;
      expect(messages.map((message) => message.value.toString())).toEqual(['e1', 'e2']);
    });

    it('waitForMessages() rejects with WAIT_TIMEOUT naming the topic when too few arrive in time', async () => {
      const broker = await startedBroker();
      await broker.publish('events', 'only one');

      const error: unknown = await broker.waitForMessages('events', 2, { timeoutMs: 50 }).catch((e: unknown) => e);
      expect(isMessagingError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'WAIT_TIMEOUT', retriable: true });
      expect((error as Error).message).toBe('Timed out after 50 ms waiting for 2 message(s) on "events".');
    });

    it('waitForMessage() returns the first message matching the predicate, on the given topic only', async () => {
      const broker = await startedBroker();
      await broker.publish('other', 'order-1');
      const waiting = broker.waitForMessage((message) => message.value.toString().startsWith('order-'), {
        topic: 'orders',
        timeoutMs: 2_000,
      });
      setTimeout(() => void broker.publish('orders', 'order-2'), 20);

      const message = await waiting;
      expect(message.topic).toBe('orders');
      expect(message.value.toString()).toBe('order-2');
      expect((await broker.waitForMessage((m) => m.topic === 'other')).value.toString()).toBe('order-1');
    });

    it('waitForMessage() rejects with WAIT_TIMEOUT when nothing matches in time', async () => {
      const broker = await startedBroker();
      await broker.publish('orders', 'order-1');

      const error: unknown = await broker
        .waitForMessage(() => false, { topic: 'orders', timeoutMs: 30 })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'WAIT_TIMEOUT' });
      expect((error as Error).message).toBe('Timed out after 30 ms waiting for a matching message on "orders".');
    });
  });

  describe('deterministic publish()', () => {
    it('await publish() resolves only after retries and dead-lettering settled', async () => {
      const broker = await startedBroker();
      let attempts = 0;
      await broker.subscribe(
        'payments',
        () => {
          attempts++;
          throw new RangeError('amount out of range');
        },
        { group: 'ledger', retry: { maxAttempts: 3, initialDelayMs: 5 } },
      );

      await broker.publish('payments', 'p1', { key: 'acct-1', headers: { trace: 't1' } });

      expect(attempts).toBe(3);
      const [dead] = broker.publishedTo('payments.DLT');
      expect(dead!.value.toString()).toBe('p1');
      expect(dead!.key!.toString()).toBe('acct-1');
      expect(dead!.headers).toEqual({
        trace: 't1',
        [DeadLetterHeaders.errorMessage]: 'amount out of range',
        [DeadLetterHeaders.errorType]: 'RangeError',
        [DeadLetterHeaders.originalTopic]: 'payments',
        [DeadLetterHeaders.group]: 'ledger',
        [DeadLetterHeaders.attempts]: '3',
        'msgport-message-id': broker.publishedTo('payments')[0]!.id,
      });
      expect(dead!.id).toBe(broker.publishedTo('payments')[0]!.id);
    });

    it('dead-letters a broadcast subscription with an empty msgport-group header', async () => {
      const broker = await startedBroker();
      await broker.subscribe(
        'alerts',
        () => {
          throw new Error('down');
        },
        { retry: { maxAttempts: 1 } },
      );
      await broker.publish('alerts', 'a1');
      expect(broker.publishedTo('alerts.DLT')[0]!.headers[DeadLetterHeaders.group]).toBe('');
    });

    it('drops a failed message explicitly, and logs it, when the retry policy says deadLetter: false', async () => {
      const logger = recordingLogger();
      const broker = await startedBroker({ logger });
      let attempts = 0;
      await broker.subscribe(
        'metrics',
        () => {
          attempts++;
          throw new Error('bad sample');
        },
        { group: 'agg', retry: { maxAttempts: 2, initialDelayMs: 1, deadLetter: false } },
      );

      await expect(broker.publish('metrics', 'm1')).resolves.toBeUndefined();

      expect(attempts).toBe(2);
      expect(broker.publishedTo('metrics.DLT')).toEqual([]);
      expect(logger.lines.filter((line) => line.startsWith('warn:'))).toEqual([
        'warn: Dropped a message from "metrics" after 2 failed attempt(s) (retry policy deadLetter: false).',
      ]);
    });

    it('uses the broker-wide retry policy when the subscription sets none', async () => {
      const broker = await startedBroker({ retry: { maxAttempts: 2, initialDelayMs: 1 } });
      const seen: Array<number | undefined> = [];
      await broker.subscribe(
        'jobs',
        (message) => {
          seen.push(message.metadata.attempt);
          throw new Error('fails');
        },
        'runner',
      );
      await broker.publish('jobs', 'j');
      // The first delivery may carry attempt 1 or none; retries carry their number.
      expect(seen).toHaveLength(2);
      expect(seen[0] ?? 1).toBe(1);
      expect(seen[1]).toBe(2);
      expect(broker.publishedTo('jobs.DLT')[0]!.headers[DeadLetterHeaders.attempts]).toBe('2');
    });

    it('delivers dead letters to subscribers of <topic>.DLT', async () => {
      const broker = await startedBroker();
      const deadLetters = collect();
      await broker.subscribe('orders.DLT', deadLetters.handler, 'ops');
      await broker.subscribe(
        'orders',
        () => {
          throw new Error('boom');
        },
        { group: 'billing', retry: { maxAttempts: 1 } },
      );

      await broker.publish('orders', 'o1');

      expect(deadLetters.values()).toEqual(['o1']);
      expect(deadLetters.messages[0]!.topic).toBe('orders.DLT');
    });

    it('a handler may publish to another topic and await it', async () => {
      const broker = await startedBroker();
      const shipped = collect();
      await broker.subscribe('shipments', shipped.handler, 'tracking');
      await broker.subscribe(
        'orders',
        async (message: Message) => {
          await broker.publish('shipments', `ship ${message.value.toString()}`);
        },
        'shipping',
      );

      await broker.publish('orders', 'o1');

      expect(shipped.values()).toEqual(['ship o1']);
    });
  });

  describe('concurrency', () => {
    it('with concurrency 2 handles different keys at once but never the same key twice at once', async () => {
      const broker = await startedBroker({ concurrency: 2 });
      const running = new Set<string>();
      let maxRunning = 0;
      const sameKeyOverlap: string[] = [];
      const releases: Array<() => void> = [];
      await broker.subscribe(
        'work',
        async (message) => {
          const key = message.key!.toString();
          if (running.has(key)) sameKeyOverlap.push(key);
          running.add(key);
          maxRunning = Math.max(maxRunning, running.size);
          await new Promise<void>((resolve) => releases.push(resolve));
          running.delete(key);
        },
        'workers',
      );

      const published = [
        broker.publish('work', '1', { key: 'a' }),
        broker.publish('work', '2', { key: 'a' }),
        broker.publish('work', '3', { key: 'b' }),
      ];
      // a:1 and b:3 run together; a:2 waits for a:1.
      expect(releases).toHaveLength(2);
      expect([...running].sort()).toEqual(['a', 'b']);
      while (releases.length > 0) {
        releases.shift()!();
        await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(published);
      expect(maxRunning).toBe(2);
      expect(sameKeyOverlap).toEqual([]);
    });

    it('rejects a concurrency that is not a positive integer', () => {
      expect(() => new InMemoryMessageBroker({ concurrency: 0 })).toThrow('concurrency must be an integer >= 1, got 0.');
      expect(() => new InMemoryMessageBroker({ shutdownTimeoutMs: -1 })).toThrow(
        'shutdownTimeoutMs must be a number >= 0, got -1.',
      );
    });
  });

  describe('listeners', () => {
    it('registerListeners() subscribes decorated methods bound to their instance', async () => {
      const broker = await startedBroker();

      class Notifier {
        readonly sent: string[] = [];

        @MessageListener({ topic: 'orders', group: 'notifications' })
        async onOrder(message: Message): Promise<void> {
          this.sent.push(`mail for ${message.value.toString()}`);
        }
      }

      const notifier = new Notifier();
      const subscriptions = await registerListeners(broker, notifier);
      await broker.publish('orders', 'o1');

      expect(notifier.sent).toEqual(['mail for o1']);
      expect(subscriptions.map((s) => [s.topic, s.group])).toEqual([['orders', 'notifications']]);
    });
  });

  describe('health', () => {
    it('reports the adapter name, consumers and in-flight handlers in details', async () => {
      const broker = await startedBroker();
      await broker.subscribe('t', () => undefined, 'g');
      const report = await broker.health();
      expect(report).toEqual({
        status: 'up',
        details: { adapter: 'memory', state: 'running', consumers: 1, inFlight: 0 },
      });
    });
  });
});

describe('InMemoryMessageBroker stop() with queued deliveries', () => {
  it('finishes the running handler but starts none of the messages queued behind it', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('queued');
    const handled: string[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    await broker.subscribe(
      topic,
      async (message) => {
        handled.push(message.value.toString());
        if (handled.length === 1) await blocked;
      },
      'workers',
    );
    const first = broker.publish(topic, 'm0');
    const queued = [broker.publish(topic, 'm1'), broker.publish(topic, 'm2')];
    const stopping = broker.stop();
    release();
    await stopping;
    await first;
    const outcomes = await Promise.allSettled(queued);
    expect(handled).toEqual(['m0']);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as unknown;
      expect(isMessagingError(reason) && reason.code).toBe('CONSUMER_CLOSED');
    }
  });

  it('gives a message queued for a member that unsubscribed to another member of the group', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('handover');
    const byA: string[] = [];
    const byB: string[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const a = await broker.subscribe(
      topic,
      async (message) => {
        byA.push(message.value.toString());
        if (byA.length === 1) await blocked;
      },
      'workers',
    );
    await broker.subscribe(
      topic,
      (message) => {
        byB.push(message.value.toString());
      },
      'workers',
    );
    // Concurrency 1 and one key: m1 (for b) and m2 (for a) wait behind m0 (on a).
    const published = ['m0', 'm1', 'm2'].map((value) => broker.publish(topic, value, { key: 'k' }));
    await a.unsubscribe();
    release();
    await Promise.all(published);
    expect(byA).toEqual(['m0']);
    expect(byB).toEqual(['m1', 'm2']);
  });
});
