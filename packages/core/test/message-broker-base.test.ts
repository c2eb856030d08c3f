import { afterEach, describe, expect, it } from '@jest/globals';
import {
  BrokerStateError,
  ConnectionError,
  DeadLetterHeaders,
  InvalidArgumentError,
  PublishError,
  SubscribeError,
  isMessageBrokerPort,
  isMessagingError,
  waitFor,
  type Logger,
  type Message,
  type MessageMetadata,
  type RetryPolicyOptions,
} from '@msgport/core';
import {
  MessageBrokerBase,
  type AdapterHealth,
  type ConsumerHandle,
  type ConsumerSpec,
  type Deliver,
  type MessageBrokerBaseOptions,
} from '@msgport/core/adapter';

/** A minimal adapter on MessageBrokerBase whose transport can be made to fail. */
class LoopbackBroker extends MessageBrokerBase {
  readonly consumers = new Map<string, { spec: ConsumerSpec; deliver: Deliver }>();
  readonly sent: Message[] = [];
  connectError: unknown = null;
  sendError: unknown = null;
  openError: unknown = null;
  deadLetterError: unknown = null;
  /** Decides, per dead letter, whether publishing it fails (returns the error) or not (null). */
  deadLetterFailure: ((deadLetter: Message) => unknown) | null = null;
  deadLetterTries = 0;
  transportDeadLetters$ = false;
  health$: AdapterHealth | Error = { status: 'up' };
  connects = 0;
  disconnects = 0;

  constructor(options: MessageBrokerBaseOptions = {}) {
    super('loopback', options);
  }

  protected override async connect(): Promise<void> {
    this.connects++;
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- this test broker throws whatever a test sets, Errors or not
    if (this.connectError !== null) throw this.connectError;
  }

  protected override async disconnect(): Promise<void> {
    this.disconnects++;
  }

  protected override async send(message: Message): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- this test broker throws whatever a test sets, Errors or not
    if (this.sendError !== null) throw this.sendError;
    this.sent.push(message);
  }

  protected override async sendDeadLetter(deadLetter: Message): Promise<void> {
    this.deadLetterTries++;
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- this test broker throws whatever a test sets, Errors or not
    if (this.deadLetterError !== null) throw this.deadLetterError;
    const failure = this.deadLetterFailure?.(deadLetter) ?? null;
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- this test broker throws whatever a test sets, Errors or not
    if (failure !== null) throw failure;
    this.sent.push(deadLetter);
  }

  protected override get transportDeadLetters(): boolean {
    return this.transportDeadLetters$;
  }

  protected override deadLetterTopic(topic: string, group: string | null): string {
    return `${topic}.${group ?? 'all'}.dead`;
  }

  protected override async openConsumer(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle> {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- this test broker throws whatever a test sets, Errors or not
    if (this.openError !== null) throw this.openError;
    this.consumers.set(spec.id, { spec, deliver });
    return { close: async () => void this.consumers.delete(spec.id) };
  }

  protected override async checkHealth(): Promise<AdapterHealth> {
    if (this.health$ instanceof Error) throw this.health$;
    return this.health$;
  }

  /** Hands `value` to every open consumer of `topic`, as a transport would. */
  deliverAll(topic: string, value: string, key: string | null = null, metadata: MessageMetadata = {}): Promise<void[]> {
    const message = {
      topic,
      value: Buffer.from(value),
      key: key === null ? null : Buffer.from(key),
      headers: { 'x-app': 'a' },
      metadata,
    };
    return Promise.all(
      [...this.consumers.values()].filter((c) => c.spec.topic === topic).map((c) => c.deliver(Object.freeze(message))),
    );
  }
}

const brokers: LoopbackBroker[] = [];
function loopback(options: MessageBrokerBaseOptions = {}): LoopbackBroker {
  const broker = new LoopbackBroker({ logger: silent(), ...options });
  brokers.push(broker);
  return broker;
}
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((broker) => broker.stop()));
});

function silent(lines: string[] = []): Logger {
  const write = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return { debug: () => undefined, info: write('info'), warn: write('warn'), error: write('error') };
}

describe('MessageBrokerBase', () => {
  it('is a MessageBrokerPort', () => {
    expect(isMessageBrokerPort(loopback())).toBe(true);
    expect(isMessageBrokerPort({ publish() {}, subscribe() {} })).toBe(false);
    expect(isMessageBrokerPort(null)).toBe(false);
  });

  it('wraps a connection failure in ConnectionError with the cause, and can start again later', async () => {
    const broker = loopback();
    const cause = new Error('ECONNREFUSED 127.0.0.1:9999');
    broker.connectError = cause;

    const error: unknown = await broker.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({
      code: 'CONNECTION_FAILED',
      retriable: true,
      cause,
      message: 'Cannot start the loopback broker: ECONNREFUSED 127.0.0.1:9999',
    });
    expect((await broker.health()).status).toBe('stopped');
    expect(broker.disconnects).toBe(1);

    broker.connectError = null;
    await broker.start();
    expect((await broker.health()).status).toBe('up');
  });

  it('rethrows a MessagingError from connect() unchanged', async () => {
    const broker = loopback();
    const denied = new ConnectionError('bad credentials', { code: 'AUTHENTICATION_FAILED', retriable: false });
    broker.connectError = denied;
    await expect(broker.start()).rejects.toBe(denied);
  });

  it('reports starting while start() runs, and publish() waits for start() to finish', async () => {
    const broker = loopback();
    const starting = broker.start();
    expect((await broker.health()).status).toBe('starting');
    await broker.publish('t', 'during start');
    await starting;
    expect(broker.sent.map((m) => m.value.toString())).toEqual(['during start']);
  });

  it('wraps a transport send failure in PublishError and passes a MessagingError through', async () => {
    const broker = loopback();
    await broker.start();
    const cause = new Error('socket hang up');
    broker.sendError = cause;
    await expect(broker.publish('t', 'v')).rejects.toMatchObject({
      name: 'PublishError',
      code: 'PUBLISH_FAILED',
      retriable: true,
      cause,
      message: 'Cannot publish to "t": the loopback broker did not accept the message.',
    });
    const tooLarge = new PublishError('too large', { code: 'MESSAGE_TOO_LARGE', retriable: false });
    broker.sendError = tooLarge;
    await expect(broker.publish('t', 'v')).rejects.toBe(tooLarge);
  });

  it('publish() rejects BROKER_NOT_RUNNING with a message saying what to do', async () => {
    const broker = loopback();
    await expect(broker.publish('orders', 'v')).rejects.toThrow(
      new BrokerStateError('Cannot publish to "orders": broker not started. Call start() first.'),
    );
    await broker.start();
    await broker.stop();
    await expect(broker.publish('orders', 'v')).rejects.toThrow(
      'Cannot publish to "orders": broker stopped. Call start() again before publishing.',
    );
  });

  it('rejects invalid publish options and subscribe arguments with INVALID_ARGUMENT', async () => {
    const broker = loopback();
    await broker.start();
    await expect(broker.publish('t', 'v', 'key' as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(broker.subscribe('t', () => undefined, 42 as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(broker.subscribe('t', () => undefined, { group: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(broker.subscribe('t', () => undefined, { retry: { maxAttempts: 0 } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'Invalid retry policy: maxAttempts must be an integer >= 1.',
    });
    expect((await broker.health()).details['consumers']).toBe(0);
  });

  it('wraps a consumer that cannot be opened in SubscribeError and forgets the subscription', async () => {
    const broker = loopback();
    await broker.start();
    broker.openError = new Error('queue declare failed');

    const error: unknown = await broker.subscribe('orders', () => undefined, 'billing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SubscribeError);
    expect(error).toMatchObject({
      message: 'Cannot subscribe to "orders" in group "billing": queue declare failed',
      retriable: true,
    });
    expect((await broker.health()).details['consumers']).toBe(0);
  });

  it('opens one consumer per (topic, group) and one per broadcast subscription', async () => {
    const broker = loopback();
    await broker.subscribe('orders', () => undefined, 'billing');
    await broker.subscribe('orders', () => undefined, 'billing');
    await broker.subscribe('orders', () => undefined);
    await broker.subscribe('orders', () => undefined);
    await broker.start();
    const specs = [...broker.consumers.values()].map((c) => c.spec);
    expect(specs).toHaveLength(3);
    expect(specs.filter((s) => s.group === 'billing')).toEqual([
      { topic: 'orders', group: 'billing', id: 'orders.billing', concurrency: 1 },
    ]);
    expect(new Set(specs.map((s) => s.id)).size).toBe(3);
  });

  it('dead-letters to the adapter destination', async () => {
    const broker = loopback();
    await broker.start();
    await broker.subscribe(
      'orders',
      () => {
        throw new Error('boom');
      },
      { group: 'billing', retry: { maxAttempts: 1 } },
    );
    await broker.deliverAll('orders', 'o1');
    expect(broker.sent.map((m) => m.topic)).toEqual(['orders.billing.dead']);
  });

  it('rejects a delivery that arrives after the last member unsubscribed, so the transport redelivers it', async () => {
    const broker = loopback();
    await broker.start();
    const subscription = await broker.subscribe('orders', () => undefined, 'billing');
    const { deliver } = [...broker.consumers.values()][0]!;
    await subscription.unsubscribe();
    const message = Object.freeze({ topic: 'orders', value: Buffer.from('late'), key: null, headers: {}, metadata: {} });
    const error: unknown = await deliver(message).catch((e: unknown) => e);
    expect(isMessagingError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'NO_SUBSCRIBER', retriable: true });
    expect(broker.consumers.size).toBe(0);
  });

  it('stop() gives up waiting after shutdownTimeoutMs, logs it, and disconnects anyway', async () => {
    const lines: string[] = [];
    const broker = loopback({ shutdownTimeoutMs: 50, logger: silent(lines) });
    await broker.start();
    let release!: () => void;
    let started = false;
    await broker.subscribe(
      'slow',
      () =>
        new Promise<void>((resolve) => {
          started = true;
          release = resolve;
        }),
      'g',
    );
    const delivered = broker.deliverAll('slow', 'x');
    await waitFor(() => started);

    await broker.stop();

    expect(broker.disconnects).toBe(1);
    expect(lines).toEqual([
      'warn: stop(): 1 handler(s) still running near the end of shutdownTimeoutMs (50 ms); closing anyway. Their messages were not acknowledged and will be redelivered.',
    ]);
    release();
    await delivered;
  });

  it('reports the adapter health while running: degraded, or down with the error when the check throws', async () => {
    const broker = loopback();
    await broker.start();
    broker.health$ = { status: 'degraded', details: { reconnecting: true } };
    expect(await broker.health()).toEqual({
      status: 'degraded',
      details: { adapter: 'loopback', state: 'running', consumers: 0, inFlight: 0, reconnecting: true },
    });
    broker.health$ = new Error('no route to host');
    expect(await broker.health()).toMatchObject({ status: 'down', details: { error: 'no route to host' } });
  });

  it('stop() during start() waits for the start, then stops', async () => {
    const broker = loopback();
    const starting = broker.start();
    const stopping = broker.stop();
    await Promise.all([starting, stopping]);
    expect((await broker.health()).status).toBe('stopped');
    expect(broker.connects).toBe(1);
    expect(broker.disconnects).toBe(1);
  });

  it('start() during stop() waits for the stop, then starts again', async () => {
    const broker = loopback();
    await broker.start();
    const stopping = broker.stop();
    const starting = broker.start();
    await Promise.all([stopping, starting]);
    expect((await broker.health()).status).toBe('up');
    expect(broker.connects).toBe(2);
  });
});

describe('MessageBrokerBase retry backoff (issue 15)', () => {
  const retry: RetryPolicyOptions = { maxAttempts: 3, initialDelayMs: 30_000, jitter: 0 };

  it('stop() during a backoff ends it at once: the delivery rejects CONSUMER_CLOSED (not acknowledged), no further attempt, no dead letter', async () => {
    const broker = loopback();
    let attempts = 0;
    await broker.subscribe(
      't',
      () => {
        attempts++;
        throw new Error('fails');
      },
      { group: 'g', retry },
    );
    await broker.start();
    const delivery = broker.deliverAll('t', 'v', 'k');
    delivery.catch(() => undefined);
    await waitFor(() => attempts >= 1);

    const begin = Date.now();
    await broker.stop();
    expect(Date.now() - begin).toBeLessThan(5_000);
    await expect(delivery).rejects.toMatchObject({ code: 'CONSUMER_CLOSED', retriable: true });
    expect(attempts).toBe(1);
    expect(broker.sent.filter((message) => message.topic === 't.g.dead')).toEqual([]);
  });

  it('a member that unsubscribes during its backoff is not called again: the next attempt goes to a remaining member', async () => {
    const broker = loopback();
    const calls: string[] = [];
    const first = await broker.subscribe(
      't',
      () => {
        calls.push('a');
        throw new Error('a fails');
      },
      { group: 'g', retry },
    );
    await broker.subscribe('t', (message) => void calls.push(`b:${message.metadata.attempt ?? 1}`), { group: 'g', retry });
    await broker.start();
    const delivery = broker.deliverAll('t', 'v', 'k');
    await waitFor(() => calls.length >= 1);
    expect(calls).toEqual(['a']);

    await first.unsubscribe();
    await delivery;
    expect(calls).toEqual(['a', 'b:2']);
  });

  it('the last member unsubscribing during a backoff rejects the delivery CONSUMER_CLOSED instead of retrying or dead-lettering', async () => {
    const broker = loopback();
    let attempts = 0;
    const subscription = await broker.subscribe(
      't',
      () => {
        attempts++;
        throw new Error('fails');
      },
      { group: 'g', retry },
    );
    await broker.start();
    const delivery = broker.deliverAll('t', 'v', 'k');
    delivery.catch(() => undefined);
    await waitFor(() => attempts >= 1);

    await subscription.unsubscribe();
    await expect(delivery).rejects.toMatchObject({ code: 'CONSUMER_CLOSED' });
    expect(attempts).toBe(1);
    expect(broker.sent).toEqual([]);
  });

  it('a backoff that nothing interrupts runs its full delay and retries the same member', async () => {
    const broker = loopback();
    const attempts: number[] = [];
    await broker.subscribe(
      't',
      (message) => {
        attempts.push(message.metadata.attempt ?? 1);
        if (attempts.length === 1) throw new Error('first fails');
      },
      { group: 'g', retry: { maxAttempts: 2, initialDelayMs: 200, jitter: 0 } },
    );
    await broker.subscribe('other', () => undefined, 'g2');
    const other = await broker.subscribe('other', () => undefined, 'g3');
    await broker.start();
    const begin = Date.now();
    const delivery = broker.deliverAll('t', 'v', 'k');
    // A member of another subscription leaving runs the wakers: this backoff is not interrupted and keeps waiting.
    await waitFor(() => attempts.length >= 1);
    await other.unsubscribe();
    await delivery;
    expect(attempts).toEqual([1, 2]);
    expect(Date.now() - begin).toBeGreaterThanOrEqual(190);
  });
});

describe('MessageBrokerBase when dead-lettering fails', () => {
  const failing = async (broker: LoopbackBroker): Promise<void> => {
    await broker.start();
    await broker.subscribe(
      'orders',
      () => {
        throw new TypeError('bad order');
      },
      { group: 'billing', retry: { maxAttempts: 1 } },
    );
  };
  const isFallback = (deadLetter: Message): boolean => DeadLetterHeaders.deadLetterError in deadLetter.headers;

  it('tries a dead letter again while the failure may pass, then publishes it', async () => {
    const lines: string[] = [];
    const broker = loopback({ logger: silent(lines) });
    await failing(broker);
    let failures = 2;
    broker.deadLetterFailure = () => (failures-- > 0 ? new PublishError('broker busy', { code: 'PUBLISH_TIMEOUT' }) : null);

    await broker.deliverAll('orders', 'o1');

    expect(broker.deadLetterTries).toBe(3);
    expect(broker.sent.map((m) => m.headers)).toEqual([
      expect.objectContaining({ 'x-app': 'a', [DeadLetterHeaders.errorType]: 'TypeError' }),
    ]);
    expect(lines.filter((line) => line.startsWith('error:'))).toEqual([]);
    expect(lines.filter((line) => line.includes('Dead-lettering failed'))).toHaveLength(2);
  });

  it('publishes a fallback dead letter with minimal headers when the full one keeps failing, and logs that at error', async () => {
    const lines: string[] = [];
    const broker = loopback({ logger: silent(lines) });
    await failing(broker);
    broker.deadLetterFailure = (deadLetter) =>
      isFallback(deadLetter) ? null : new PublishError('record too large', { code: 'MESSAGE_TOO_LARGE', retriable: false });

    await broker.deliverAll('orders', 'o1', 'k1');

    // A failure that cannot pass is not tried again: one try of the full one, one of the fallback.
    expect(broker.deadLetterTries).toBe(2);
    expect(broker.sent).toHaveLength(1);
    const [fallback] = broker.sent;
    expect(fallback!.topic).toBe('orders.billing.dead');
    expect(fallback!.value.toString()).toBe('o1');
    expect(fallback!.key!.toString()).toBe('k1');
    expect(fallback!.headers).toEqual({
      [DeadLetterHeaders.errorMessage]: 'bad order',
      [DeadLetterHeaders.errorType]: 'TypeError',
      [DeadLetterHeaders.originalTopic]: 'orders',
      [DeadLetterHeaders.group]: 'billing',
      [DeadLetterHeaders.attempts]: '1',
      [DeadLetterHeaders.deadLetterError]: 'record too large',
    });
    expect(lines.filter((line) => line.startsWith('error:'))).toEqual([
      'error: Cannot dead-letter a message from "orders" (group "billing") to "orders.billing.dead" after 1 failed attempt(s): ' +
        'record too large. Publishing it there with minimal headers instead.',
    ]);
  });

  it('when even the fallback fails, logs at error where the message still is and acknowledges it, so the next one is handled', async () => {
    const lines: string[] = [];
    const broker = loopback({ logger: silent(lines) });
    await failing(broker);
    broker.deadLetterFailure = () => new PublishError('not authorized', { retriable: false });

    await expect(broker.deliverAll('orders', 'o1', 'k1', { partition: 2, offset: '41' })).resolves.toEqual([undefined]);

    expect(broker.sent).toEqual([]);
    expect(lines.filter((line) => line.startsWith('error:'))).toEqual([
      expect.stringContaining('Publishing it there with minimal headers instead.'),
      'error: Cannot dead-letter a message from "orders" (group "billing") to "orders.billing.dead", not even with minimal headers ' +
        '(not authorized). Acknowledging it so that the messages behind it are handled: it can still be read in "orders" at partition 2, offset 41.',
    ]);
  });

  it('rejects with DEAD_LETTER_FAILED instead when the transport dead-letters rejected deliveries itself (RabbitMQ)', async () => {
    const broker = loopback();
    broker.transportDeadLetters$ = true;
    await failing(broker);
    broker.deadLetterFailure = () => new PublishError('not authorized', { retriable: false });

    const error: unknown = await broker.deliverAll('orders', 'o1').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PublishError);
    expect(error).toMatchObject({ code: 'DEAD_LETTER_FAILED', retriable: false });
    expect((error as Error).message).toBe(
      'Cannot dead-letter a message from "orders" (group "billing") to "orders.billing.dead", not even with minimal headers ' +
        '(not authorized). Reject it without requeue: the broker dead-letters it.',
    );
  });

  it('gives nothing up while the broker stops: the delivery rejects, retriable, and is redelivered later', async () => {
    const broker = loopback();
    await broker.start();
    let fail!: () => void;
    let started = false;
    await broker.subscribe(
      'orders',
      () =>
        new Promise<void>((_, reject) => {
          started = true;
          fail = () => reject(new Error('late failure'));
        }),
      { group: 'billing', retry: { maxAttempts: 1 } },
    );
    broker.deadLetterFailure = () => new PublishError('connection closing');
    const delivered = broker.deliverAll('orders', 'o1').catch((e: unknown) => e);
    await waitFor(() => started);
    const stopping = broker.stop();
    fail();

    const error = await delivered;
    await stopping;
    expect(error).toBeInstanceOf(PublishError);
    expect(error).toMatchObject({ code: 'PUBLISH_FAILED', retriable: true });
    expect((error as Error).message).toContain('while the broker stops');
    expect(broker.deadLetterTries).toBe(2);
  });

  it('dead-letters a message whose handler returned a Proxy that throws when its `then` is read', async () => {
    const broker = loopback();
    await broker.start();
    const proxy = new Proxy(
      {},
      {
        get() {
          throw new Error('no then for you');
        },
      },
    );
    await broker.subscribe('orders', () => proxy as unknown as void, { group: 'billing', retry: { maxAttempts: 1 } });

    await broker.deliverAll('orders', 'o1');

    expect(broker.sent.map((m) => m.headers[DeadLetterHeaders.errorMessage])).toEqual(['no then for you']);
    expect((await broker.health()).details['inFlight']).toBe(0);
  });

  it('keeps delivering when the logger itself throws', async () => {
    const throwing: Logger = {
      debug: () => {
        throw new Error('logger down');
      },
      info: () => {
        throw new Error('logger down');
      },
      warn: () => {
        throw new Error('logger down');
      },
      error: () => {
        throw new Error('logger down');
      },
    };
    const broker = loopback({ logger: throwing });
    await failing(broker);
    await broker.deliverAll('orders', 'o1');
    expect(broker.sent).toHaveLength(1);
  });
});

describe('MessageBrokerBase argument checks', () => {
  it('rejects a subscription whose dead-letter topic would not be a legal topic name', async () => {
    const broker = loopback();
    const long = 'a'.repeat(240);
    const error: unknown = await broker.subscribe(long, () => undefined, 'billing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain('its dead-letter topic');
    expect((error as Error).message).toContain('has 253 characters, and a topic may have at most 249');
    // Without dead-lettering there is no dead-letter topic to worry about.
    await expect(
      broker.subscribe(long, () => undefined, { group: 'billing', retry: { deadLetter: false } }),
    ).resolves.toBeDefined();
  });

  it('rejects options that are not an object and option values of the wrong type without echoing them', () => {
    expect(() => new LoopbackBroker(null as unknown as MessageBrokerBaseOptions)).toThrow(InvalidArgumentError);
    expect(() => loopback({ shutdownTimeoutMs: Object.create(null) as number })).toThrow(
      'shutdownTimeoutMs must be a number >= 0, got an object.',
    );
    expect(() => loopback({ concurrency: Symbol('c') as unknown as number })).toThrow(
      'concurrency must be an integer >= 1, got a symbol.',
    );
    expect(() => loopback({ retry: { initialDelayMs: Object.create(null) as number } })).toThrow('initialDelayMs must be >= 0');
    expect(() => loopback({ retry: 'fast' as unknown as RetryPolicyOptions })).toThrow(
      'Invalid retry policy: expected an object, got a string.',
    );
    expect(() => loopback({ logger: 5 as unknown as Logger })).toThrow(InvalidArgumentError);
  });

  it('rejects publish options whose reading throws with INVALID_ARGUMENT', async () => {
    const broker = loopback();
    await broker.start();
    const options = Object.defineProperty({}, 'key', {
      get() {
        throw new Error('getter');
      },
    });
    await expect(broker.publish('orders', 'v', options)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
