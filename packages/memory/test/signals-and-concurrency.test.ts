import { afterEach, describe, expect, it } from '@jest/globals';
import { InvalidArgumentError, isMessagingError, type HandlerContext, type Logger, type Message } from '@msgport/core';
import { InMemoryMessageBroker, type InMemoryMessageBrokerOptions } from '@msgport/memory';

const brokers: InMemoryMessageBroker[] = [];
async function started(options: InMemoryMessageBrokerOptions = {}): Promise<InMemoryMessageBroker> {
  const broker = new InMemoryMessageBroker({ logger: silent(), ...options });
  brokers.push(broker);
  await broker.start();
  return broker;
}
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((broker) => broker.stop()));
});

function silent(lines: string[] = []): Logger {
  const write = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return { debug: () => undefined, info: write('info'), warn: write('warn'), error: write('error') };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

const text = (message: Message): string => message.value.toString('utf8');

describe('handler context signal', () => {
  it('is aborted when stop() reaches shutdownTimeoutMs; the handler that gives up leaves its message unacknowledged, not retried nor dead-lettered', async () => {
    const broker = await started({ shutdownTimeoutMs: 300 });
    const seen: HandlerContext[] = [];
    let attempts = 0;
    await broker.subscribe(
      'slow',
      (_message, context) => {
        attempts++;
        seen.push(context);
        return new Promise<void>((_, reject) => {
          context.signal.addEventListener('abort', () => reject(context.signal.reason as Error), { once: true });
        });
      },
      { group: 'g', retry: { maxAttempts: 3, initialDelayMs: 1 } },
    );
    const publishing = broker.publish('slow', 'long job').then(
      () => undefined,
      (error: unknown) => error,
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.signal.aborted).toBe(false);

    const startedAt = Date.now();
    await broker.stop();
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(seen[0]!.signal.aborted).toBe(true);
    const reason: unknown = seen[0]!.signal.reason;
    expect(isMessagingError(reason) && reason.code).toBe('SHUTDOWN_TIMEOUT');
    expect(attempts).toBe(1);
    expect(broker.publishedTo('slow.DLT')).toEqual([]);
    const error = await publishing;
    expect(isMessagingError(error) && error.code).toBe('CONSUMER_CLOSED');
  });

  it('is a fresh, unaborted signal after start() following a stop that aborted the last one', async () => {
    const broker = await started({ shutdownTimeoutMs: 100 });
    const signals: AbortSignal[] = [];
    const gate = deferred();
    await broker.subscribe('t', async (_message, context) => {
      signals.push(context.signal);
      if (signals.length === 1) await gate.promise;
    });
    const first = broker.publish('t', 'a').catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    await broker.stop();
    gate.resolve();
    await first;
    await broker.start();
    await broker.publish('t', 'b');
    expect(signals).toHaveLength(2);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[1]!.aborted).toBe(false);
  });
});

describe('publish() signal', () => {
  it('rejects with ABORTED when aborted while waiting; the message was handed over already and is not undone', async () => {
    const broker = await started();
    const gate = deferred();
    const handled: string[] = [];
    await broker.subscribe('t', async (message) => {
      await gate.promise;
      handled.push(text(message));
    });
    const controller = new AbortController();
    const publishing = broker.publish('t', 'v', { signal: controller.signal }).then(
      () => undefined,
      (error: unknown) => error,
    );
    controller.abort('user left');
    const error = await publishing;
    expect(isMessagingError(error) && error.code).toBe('ABORTED');
    expect((error as Error).cause).toBe('user left');
    expect((error as Error).message).toContain('may still have been accepted');
    gate.resolve();
    await broker.waitForMessages('t', 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(handled).toEqual(['v']);
  });

  it('rejects a signal that is not an AbortSignal with InvalidArgumentError', async () => {
    const broker = await started();
    await expect(broker.publish('t', 'v', { signal: {} as AbortSignal })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('rejects with ABORTED, sending nothing, when aborted before start() finished', async () => {
    const broker = new InMemoryMessageBroker({ logger: silent() });
    brokers.push(broker);
    const controller = new AbortController();
    const starting = broker.start();
    const publishing = broker.publish('t', 'v', { signal: controller.signal }).catch((error: unknown) => error);
    controller.abort();
    await starting;
    const error = await publishing;
    expect(isMessagingError(error) && error.code).toBe('ABORTED');
    expect(broker.publishedTo('t')).toEqual([]);
  });
});

describe('per-subscription concurrency', () => {
  it('runs up to `concurrency` messages of a subscription at once, never two of one key, each key in publish order', async () => {
    const broker = await started(); // the broker's concurrency stays 1
    let running = 0;
    let peak = 0;
    const runningKeys = new Set<string>();
    const order = new Map<string, string[]>();
    await broker.subscribe(
      'work',
      async (message) => {
        const key = message.key!.toString();
        expect(runningKeys.has(key)).toBe(false);
        runningKeys.add(key);
        peak = Math.max(peak, ++running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        order.set(key, [...(order.get(key) ?? []), text(message)]);
        runningKeys.delete(key);
        running--;
      },
      { group: 'g', concurrency: 3 },
    );
    const sequential: string[] = [];
    await broker.subscribe('other', async (message) => {
      sequential.push(`start ${text(message)}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
      sequential.push(`end ${text(message)}`);
    });

    await Promise.all(Array.from({ length: 24 }, (_, i) => broker.publish('work', `m${i}`, { key: `k${i % 4}` })));
    await Promise.all([broker.publish('other', 'a'), broker.publish('other', 'b')]);

    expect(peak).toBe(3);
    for (let k = 0; k < 4; k++) {
      expect(order.get(`k${k}`)).toEqual(Array.from({ length: 6 }, (_, j) => `m${k + 4 * j}`));
    }
    expect(sequential).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('rejects a subscription whose concurrency differs from that of another subscription of its group and topic', async () => {
    const broker = await started();
    await broker.subscribe('t', () => undefined, { group: 'g', concurrency: 2 });
    await expect(broker.subscribe('t', () => undefined, { group: 'g', concurrency: 3 })).rejects.toThrow(
      /Give both the same concurrency/,
    );
    await expect(broker.subscribe('t', () => undefined, { group: 'g', concurrency: 2 })).resolves.toBeDefined();
    await expect(broker.subscribe('t', () => undefined, { concurrency: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('retry.shouldRetry', () => {
  it('is asked per failure with the error and the message; one that throws counts as yes and is logged', async () => {
    const lines: string[] = [];
    const broker = await started({ logger: silent(lines) });
    const asked: Array<[string, string]> = [];
    let attempts = 0;
    await broker.subscribe(
      't',
      () => {
        attempts++;
        throw new Error(`failure ${attempts}`);
      },
      {
        group: 'g',
        retry: {
          maxAttempts: 5,
          initialDelayMs: 1,
          shouldRetry: (error, message) => {
            asked.push([(error as Error).message, text(message)]);
            if (asked.length === 1) throw new Error('policy bug');
            return asked.length < 3;
          },
        },
      },
    );
    await broker.publish('t', 'v');
    expect(attempts).toBe(3);
    expect(asked).toEqual([
      ['failure 1', 'v'],
      ['failure 2', 'v'],
      ['failure 3', 'v'],
    ]);
    expect(lines.some((line) => line.startsWith('warn: retry.shouldRetry threw'))).toBe(true);
    expect(broker.publishedTo('t.DLT')[0]!.headers['msgport-attempts']).toBe('3');
  });

  it('retries a thrown value whose retriable property cannot be read, like any other failure', async () => {
    const broker = await started();
    let attempts = 0;
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error('no reading');
        },
      },
    );
    await broker.subscribe(
      't',
      () => {
        attempts++;
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point: a thrown value that is no Error
        throw hostile;
      },
      { retry: { maxAttempts: 2, initialDelayMs: 1 } },
    );
    await broker.publish('t', 'v');
    expect(attempts).toBe(2);
  });
});
