import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { isMessagingError, silentLogger, waitFor, type Logger, type Message, type MessageHandler } from '@msgport/core';
import { InMemoryMessageBroker, type InMemoryMessageBrokerOptions } from '@msgport/memory';
import { collect, uniqueName } from '@msgport/testkit';

// Issue 18: a publish made from inside a handler must resolve, whatever it publishes to.

const brokers: InMemoryMessageBroker[] = [];

async function startedBroker(options: InMemoryMessageBrokerOptions = {}): Promise<InMemoryMessageBroker> {
  // A short shutdown timeout, so that a test that would deadlock fails fast instead of making
  // afterEach wait 30 s.
  const broker = new InMemoryMessageBroker({ logger: silentLogger, shutdownTimeoutMs: 2_000, ...options });
  brokers.push(broker);
  await broker.start();
  return broker;
}

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((broker) => broker.stop()));
});

const text = (message: Message): string => message.value.toString();

function until<T>(predicate: () => T, description: string): Promise<NonNullable<T>> {
  return waitFor(predicate, { timeoutMs: 5_000, description });
}

function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (message: string) => {
    lines.push(`${level}: ${message}`);
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

interface Shape {
  readonly name: string;
  readonly group: boolean;
  readonly rootKey?: string;
  readonly followUpKey?: string;
  readonly otherTopic: boolean;
}

// The table of issue 18: a handler on `orders` does `await broker.publish(…)`.
const SHAPES: readonly Shape[] = [
  { name: 'in a group, with the same key', group: true, rootKey: 'k', followUpKey: 'k', otherTopic: false },
  { name: 'in a group, with a different key', group: true, rootKey: 'k1', followUpKey: 'k2', otherTopic: false },
  { name: 'in a group, without a key', group: true, otherTopic: false },
  { name: 'without a group (broadcast), without a key', group: false, otherTopic: false },
  { name: 'to another topic', group: true, rootKey: 'k', followUpKey: 'k', otherTopic: true },
];

describe('InMemoryMessageBroker nested publish (issue 18)', () => {
  // First in the file: only synchronous handlers have run, so the broker has switched
  // AsyncLocalStorage off again; the asynchronous handler's first call must switch it back on.
  it('after only synchronous handlers ran, an asynchronous handler may still publish to its own topic', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('sync-then-async');
    const counted = collect();
    const syncTopic = uniqueName('sync-only');
    let syncCalls = 0;
    await broker.subscribe(syncTopic, () => void syncCalls++);
    await broker.subscribe(topic, async (message, context) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (text(message) === 'root') await broker.publish(topic, 'follow-up');
      await counted.handler(message, context);
    });

    await broker.publish(syncTopic, 'a');
    await broker.publish(syncTopic, 'b');
    expect(syncCalls).toBe(2);
    await broker.publish(topic, 'root');
    await counted.waitForCount(2);

    expect(counted.values()).toEqual(['root', 'follow-up']);
  });

  describe.each([1, 2])('with concurrency %i', (concurrency) => {
    it.each(SHAPES)('a handler that awaits a publish $name: the publish resolves', async (shape) => {
      const broker = await startedBroker({ concurrency });
      const topic = uniqueName('orders');
      const target = shape.otherTopic ? uniqueName('shipments') : topic;
      const events: string[] = [];
      const handler: MessageHandler = async (message) => {
        events.push(`start ${text(message)}`);
        await Promise.resolve();
        if (text(message) === 'root') {
          await broker.publish(target, 'follow-up', shape.followUpKey === undefined ? {} : { key: shape.followUpKey });
          events.push('nested publish resolved');
        }
        await Promise.resolve();
        events.push(`end ${text(message)}`);
      };
      const group = shape.group ? 'g' : undefined;
      await broker.subscribe(topic, handler, group);
      if (shape.otherTopic) await broker.subscribe(target, handler, group);

      const published = broker.publish(topic, 'root', shape.rootKey === undefined ? {} : { key: shape.rootKey });
      await until(() => events.includes('nested publish resolved'), 'the nested publish to resolve');
      await published;
      events.push('top-level publish resolved');
      await until(() => events.includes('end follow-up'), 'the follow-up to be handled');

      // The top-level publish waits for the handler, which waited for its nested publish.
      expect(events.indexOf('end root')).toBeLessThan(events.indexOf('top-level publish resolved'));
      // A consumer that can take the follow-up at once (another topic, or a free slot for another
      // key) handles it before the nested publish resolves; a busy one (its own subscription, the
      // same key) queues it, and the nested publish resolves without waiting for it.
      const startsAtOnce =
        shape.otherTopic || (concurrency > 1 && (shape.followUpKey === undefined || shape.followUpKey !== shape.rootKey));
      if (startsAtOnce) {
        expect(events.indexOf('end follow-up')).toBeLessThan(events.indexOf('nested publish resolved'));
      } else {
        expect(events.slice(0, 3)).toEqual(['start root', 'nested publish resolved', 'end root']);
        expect(events.indexOf('start follow-up')).toBeGreaterThan(events.indexOf('end root'));
      }
    });
  });

  it('to another topic, the nested publish resolves after that handler settled, so a chain stays deterministic', async () => {
    const broker = await startedBroker();
    const events: string[] = [];
    await broker.subscribe(
      'nest-orders',
      async (message) => {
        await broker.publish('nest-shipments', `ship ${text(message)}`);
        events.push('order handled');
      },
      'shipping',
    );
    await broker.subscribe(
      'nest-shipments',
      async (message) => {
        await new Promise((resolve) => setImmediate(resolve));
        events.push(`shipped: ${text(message)}`);
      },
      'tracking',
    );

    await broker.publish('nest-orders', 'o1');

    expect(events).toEqual(['shipped: ship o1', 'order handled']);
  });

  it('a publish from outside any handler still waits for a message queued behind a busy consumer', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('queued');
    const handled: string[] = [];
    await broker.subscribe(
      topic,
      async (message) => {
        await new Promise((resolve) => setImmediate(resolve));
        handled.push(text(message));
      },
      'g',
    );

    await Promise.all([broker.publish(topic, 'a'), broker.publish(topic, 'b'), broker.publish(topic, 'c')]);

    expect(handled).toEqual(['a', 'b', 'c']);
  });

  it("publishes three levels deep on the handler's own topic, group and key", async () => {
    const broker = await startedBroker();
    const topic = uniqueName('deep');
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
      'g',
    );

    await broker.publish(topic, '0', { key: 'same' });
    await until(() => events.includes('handle 3'), 'level 3 to be handled');

    expect(events).toEqual(['handle 0', 'published 1', 'handle 1', 'published 2', 'handle 2', 'published 3', 'handle 3']);
  });

  it('publishes three levels deep over three topics and back to the first, whose consumer is still busy', async () => {
    const broker = await startedBroker();
    const [a, b, c] = [uniqueName('ring-a'), uniqueName('ring-b'), uniqueName('ring-c')];
    const events: string[] = [];
    const hop = (next: string) => async (message: Message) => {
      const value = text(message);
      events.push(`${message.topic === a ? 'a' : message.topic === b ? 'b' : 'c'} got ${value}`);
      if (value.length < 4) {
        await broker.publish(next, `${value}+`);
        events.push(`${value}+ published`);
      }
    };
    await broker.subscribe(a, hop(b), 'g');
    await broker.subscribe(b, hop(c), 'g');
    await broker.subscribe(c, hop(a), 'g');

    await broker.publish(a, 'x');
    // b and c were free: their handlers ran inside the nested publishes. a was busy with the
    // first message: the publish back to it resolved once queued.
    expect(events).toEqual(['a got x', 'b got x+', 'c got x++', 'x+++ published', 'x++ published', 'x+ published']);
    await until(() => events.includes('a got x+++'), 'the message back on the first topic to be handled');
  });

  // A handler's first 1,000 calls that return a promise run inside AsyncLocalStorage; later ones
  // do not (see the package README). These run a handler past that point first.
  const PAST_PROBED_CALLS = 1_001;

  // Published after an await (a continuation), or in the handler's synchronous part, while its call
  // is still on the stack.
  it.each([
    { when: 'after an await', yieldFirst: true },
    { when: 'before its first await', yieldFirst: false },
  ])(
    'after its first 1,000 calls, an asynchronous handler may still publish to its own busy topic $when',
    async ({ yieldFirst }) => {
      const broker = await startedBroker();
      const topic = uniqueName('unscoped-self');
      const handled: string[] = [];
      await broker.subscribe(
        topic,
        async (message) => {
          handled.push(text(message));
          if (yieldFirst) await new Promise((resolve) => setImmediate(resolve));
          if (text(message) === 'root') await broker.publish(topic, 'follow-up', { key: 'k' });
        },
        'g',
      );
      for (let i = 0; i < PAST_PROBED_CALLS; i++) await broker.publish(topic, 'warm', { key: 'k' });

      await broker.publish(topic, 'root', { key: 'k' });
      await until(() => handled.includes('follow-up'), 'the follow-up to be handled');

      expect(handled.slice(-2)).toEqual(['root', 'follow-up']);
    },
  );

  it("after their first 1,000 calls, two handlers that publish to each other's busy topic do not wait for each other", async () => {
    const broker = await startedBroker();
    const [ping, pong] = [uniqueName('ping'), uniqueName('pong')];
    const running = { ping: false, pong: false };
    const events: string[] = [];
    const handler = (self: 'ping' | 'pong', other: string) => async (message: Message) => {
      if (text(message) === 'warm') return;
      if (text(message) !== 'start') {
        events.push(`${self} got ${text(message)}`);
        return;
      }
      running[self] = true;
      await waitFor(() => running.ping && running.pong, { timeoutMs: 5_000 });
      await broker.publish(other, `from ${self}`);
      events.push(`${self} published`);
    };
    await broker.subscribe(ping, handler('ping', pong), 'g');
    await broker.subscribe(pong, handler('pong', ping), 'g');
    for (let i = 0; i < PAST_PROBED_CALLS; i++) await Promise.all([broker.publish(ping, 'warm'), broker.publish(pong, 'warm')]);

    await Promise.all([broker.publish(ping, 'start'), broker.publish(pong, 'start')]);
    await until(() => events.length >= 4, 'both cross messages to be handled');

    expect(events.sort()).toEqual(['ping got from pong', 'ping published', 'pong got from ping', 'pong published']);
  });

  it('after its first 1,000 calls, publishes from outside made together still wait for the messages queued behind a busy consumer', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('unscoped-queued');
    const handled: string[] = [];
    await broker.subscribe(
      topic,
      async (message) => {
        await new Promise((resolve) => setImmediate(resolve));
        handled.push(text(message));
      },
      'g',
    );
    for (let i = 0; i < PAST_PROBED_CALLS; i++) await broker.publish(topic, 'warm');
    handled.length = 0;

    await Promise.all(['a', 'b', 'c'].map((value) => broker.publish(topic, value)));

    expect(handled).toEqual(['a', 'b', 'c']);
  });

  it('a handler that publishes 1,000 follow-ups to its own topic, one after the other, gets all of them handled in order', async () => {
    // 1,001 messages: more than the record keeps by default.
    const broker = await startedBroker({ recordLimit: 2_000 });
    const topic = uniqueName('fanout-seq');
    const followUps: number[] = [];
    await broker.subscribe(
      topic,
      async (message) => {
        if (text(message) !== 'root') {
          followUps.push(Number(text(message)));
          return;
        }
        for (let i = 0; i < 1_000; i++) await broker.publish(topic, String(i), { key: 'k' });
      },
      'g',
    );

    await broker.publish(topic, 'root', { key: 'k' });
    await until(() => followUps.length >= 1_000, '1,000 follow-ups to be handled');

    expect(followUps).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(broker.publishedTo(topic)).toHaveLength(1_001);
  });

  it('a handler that publishes 1,000 follow-ups at once (Promise.all) to its own topic and a broadcast subscriber get them all', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('fanout-all');
    const group = collect();
    const broadcast = collect();
    await broker.subscribe(
      topic,
      async (message, context) => {
        if (text(message) === 'root') {
          await Promise.all(Array.from({ length: 1_000 }, (_, i) => broker.publish(topic, String(i))));
        }
        await group.handler(message, context);
      },
      'g',
    );
    await broker.subscribe(topic, broadcast.handler);

    await broker.publish(topic, 'root');
    await group.waitForCount(1_001);
    await broadcast.waitForCount(1_001);

    expect(group.values().slice(1)).toEqual(Array.from({ length: 1_000 }, (_, i) => String(i)));
  });

  it("two handlers that publish to each other's busy topic do not wait for each other", async () => {
    const broker = await startedBroker();
    const [ping, pong] = [uniqueName('ping'), uniqueName('pong')];
    const bothRunning = { ping: false, pong: false };
    const events: string[] = [];
    const handler = (self: 'ping' | 'pong', other: string) => async (message: Message) => {
      if (text(message) !== 'start') {
        events.push(`${self} got ${text(message)}`);
        return;
      }
      bothRunning[self] = true;
      // Both consumers are busy before either publishes.
      await waitFor(() => bothRunning.ping && bothRunning.pong, { timeoutMs: 5_000 });
      await broker.publish(other, `from ${self}`);
      events.push(`${self} published`);
    };
    await broker.subscribe(ping, handler('ping', pong), 'g');
    await broker.subscribe(pong, handler('pong', ping), 'g');

    await Promise.all([broker.publish(ping, 'start'), broker.publish(pong, 'start')]);
    await until(() => events.length >= 4, 'both cross messages to be handled');

    expect(events.sort()).toEqual(['ping got from pong', 'ping published', 'pong got from ping', 'pong published']);
  });

  it('recognises a handler that is not declared async but returns a promise, from its first call', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('plain');
    const handled: string[] = [];
    const service = {
      async handle(message: Message): Promise<void> {
        handled.push(text(message));
        await new Promise((resolve) => setImmediate(resolve));
        if (text(message) === 'first') await broker.publish(topic, 'again', { key: 'k' });
      },
    };
    await broker.subscribe(topic, (message) => service.handle(message), 'g');

    await broker.publish(topic, 'first', { key: 'k' });
    await until(() => handled.includes('again'), 'the follow-up to be handled');

    expect(handled).toEqual(['first', 'again']);
  });

  it('does not deadlock with a handler that completed synchronously before and returns a promise now', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('mixed');
    const handled: string[] = [];
    await broker.subscribe(
      topic,
      (message) => {
        handled.push(text(message));
        if (text(message) !== 'slow') return undefined;
        return (async () => {
          await new Promise((resolve) => setImmediate(resolve));
          await broker.publish(topic, 'follow-up', { key: 'k' });
        })();
      },
      'g',
    );

    await broker.publish(topic, 'fast', { key: 'k' });
    await broker.publish(topic, 'slow', { key: 'k' });
    await until(() => handled.includes('follow-up'), 'the follow-up to be handled');

    expect(handled).toEqual(['fast', 'slow', 'follow-up']);
  });

  it('a synchronous handler may publish to its own topic without waiting for itself', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('sync-self');
    const handled: string[] = [];
    let nested: Promise<void> | undefined;
    await broker.subscribe(
      topic,
      (message) => {
        handled.push(text(message));
        if (text(message) === 'root') nested = broker.publish(topic, 'follow-up');
      },
      'g',
    );

    await broker.publish(topic, 'root');
    await nested;
    await until(() => handled.length >= 2, 'the follow-up to be handled');

    expect(handled).toEqual(['root', 'follow-up']);
  });

  it('a dead-letter handler that sends the message back to a topic whose handler fails again does not wait for itself', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('requeue');
    let attempts = 0;
    const requeued: string[] = [];
    await broker.subscribe(
      topic,
      () => {
        attempts++;
        throw new Error('still failing');
      },
      { group: 'work', retry: { maxAttempts: 2, initialDelayMs: 1 } },
    );
    await broker.subscribe(
      `${topic}.DLT`,
      async (message) => {
        requeued.push(text(message));
        // Requeue once: the original consumer is free, so this publish waits for its handling,
        // which ends by dead-lettering to this very (busy) subscription.
        if (requeued.length === 1) await broker.publish(topic, text(message));
      },
      'requeue',
    );

    await broker.publish(topic, 'm');
    await until(() => requeued.length >= 2, 'the second dead letter to be handled');

    expect(attempts).toBe(4);
    expect(requeued).toEqual(['m', 'm']);
  });

  it('lets timers run between follow-ups, so a handler may retry later until a timer changes the outcome', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('later');
    let ready = false;
    let tries = 0;
    let done = false;
    // A chain of follow-ups that never let the event loop turn would end only at this cap, with
    // the timer never having fired.
    const cap = 1_000_000;
    await broker.subscribe(
      topic,
      async (message) => {
        tries++;
        if (ready || tries >= cap) {
          done = ready;
          return;
        }
        await broker.publish(topic, text(message), { key: 'k' });
      },
      'g',
    );
    setTimeout(() => {
      ready = true;
    }, 5);

    await broker.publish(topic, 'job', { key: 'k' });
    await until(() => done || tries >= cap, 'the handler to see the timer fire');

    expect(done).toBe(true);
    expect(tries).toBeGreaterThanOrEqual(2);
  });

  it('handles a follow-up queued from a handler also while the test fakes setImmediate', async () => {
    const broker = await startedBroker();
    const topic = uniqueName('fake-timers');
    const handled: string[] = [];
    await broker.subscribe(
      topic,
      async (message) => {
        handled.push(text(message));
        if (text(message) === 'root') await broker.publish(topic, 'follow-up');
      },
      'g',
    );
    jest.useFakeTimers({ doNotFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    try {
      await broker.publish(topic, 'root');
      await until(() => handled.includes('follow-up'), 'the follow-up to be handled');
    } finally {
      jest.useRealTimers();
    }
    expect(handled).toEqual(['root', 'follow-up']);
  });

  it('stop() returns at once while a handler keeps publishing to its own topic, and logs the message it dropped', async () => {
    const logger = recordingLogger();
    const broker = await startedBroker({ logger, shutdownTimeoutMs: 30_000 });
    const topic = uniqueName('forever');
    let started = 0;
    let finished = 0;
    await broker.subscribe(
      topic,
      async (message) => {
        started++;
        await broker.publish(topic, String(Number(text(message)) + 1), { key: 'k' });
        finished++;
      },
      'g',
    );
    await broker.publish(topic, '0', { key: 'k' });
    await until(() => started >= 20, 'twenty messages to be handled');

    const begin = Date.now();
    await broker.stop();

    // Well under shutdownTimeoutMs: nothing waited for itself. The message whose turn had come
    // was handled; what its handler published then found the subscription closed.
    expect(Date.now() - begin).toBeLessThan(5_000);
    expect(finished).toBe(started);
    expect(logger.lines.filter((line) => line.startsWith('warn: Dropped'))).toEqual([
      `warn: Dropped a message published to "${topic}" while the broker was stopping: its subscriptions take no ` +
        'more messages, and the in-memory broker keeps none.',
    ]);
  });

  it('a message queued from a handler when stop() runs is dropped with a warning, and a top-level publish queued then rejects', async () => {
    const logger = recordingLogger();
    const broker = await startedBroker({ logger });
    const topic = uniqueName('stop-queued');
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    await broker.subscribe(
      topic,
      async (message) => {
        handled.push(text(message));
        if (text(message) === 'root') {
          await broker.publish(topic, 'from handler', { key: 'k' });
          await blocked;
        }
      },
      'g',
    );
    const root = broker.publish(topic, 'root', { key: 'k' });
    await until(() => handled.includes('root'), 'the root message to be handled');
    const topLevel = broker.publish(topic, 'from outside', { key: 'k' });
    topLevel.catch(() => undefined);

    const stopping = broker.stop();
    release();
    await stopping;
    await root;

    expect(handled).toEqual(['root']);
    const error: unknown = await topLevel.catch((e: unknown) => e);
    expect(isMessagingError(error) && error.code).toBe('CONSUMER_CLOSED');
    expect(logger.lines.filter((line) => line.startsWith('warn: Dropped'))).toEqual([
      `warn: Dropped a message published to "${topic}" from inside a handler: it was still queued when the broker ` +
        'stopped or its subscription ended. The in-memory broker keeps no messages, so it will not be redelivered.',
    ]);
  });
});
