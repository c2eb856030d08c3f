import { describe, expect, it } from '@jest/globals';
import { InvalidArgumentError, NAME_PATTERN, createMessage, isMessagingError, type MessageBrokerPort } from '@msgport/core';
import { DEFAULT_CAPABILITIES, collect, runConformanceSuite, uniqueName } from '@msgport/testkit';

describe('uniqueName()', () => {
  it('returns the prefix, a dash and random hex, legal per NAME_PATTERN', () => {
    const name = uniqueName('orders');
    expect(name).toMatch(/^orders-[0-9a-f]{12}$/);
    expect(NAME_PATTERN.test(name)).toBe(true);
  });

  it('never repeats', () => {
    const names = new Set(Array.from({ length: 1_000 }, () => uniqueName('t')));
    expect(names.size).toBe(1_000);
  });

  it('rejects a prefix that would make an illegal name', () => {
    expect(() => uniqueName('has space')).toThrow(InvalidArgumentError);
    expect(() => uniqueName('')).toThrow(InvalidArgumentError);
    expect(() => uniqueName('x'.repeat(237))).toThrow(/does not make a legal topic or group name/);
    expect(uniqueName('x'.repeat(236))).toHaveLength(249);
  });
});

describe('collect()', () => {
  const message = (value: string) => createMessage({ topic: 't', value });
  const context = { signal: new AbortController().signal };

  it('records handled messages in order and decodes their values', async () => {
    const collector = collect();
    await collector.handler(message('a'), context);
    await collector.handler(message('b'), context);
    expect(collector.count).toBe(2);
    expect(collector.values()).toEqual(['a', 'b']);
    expect(collector.messages.map((m) => m.topic)).toEqual(['t', 't']);
  });

  it('runs onMessage first and records nothing when it throws', async () => {
    const seen: string[] = [];
    const collector = collect({
      onMessage: (m) => {
        seen.push(m.value.toString());
        if (m.value.toString() === 'bad') throw new Error('rejected');
      },
    });
    await expect(collector.handler(message('bad'), context)).rejects.toThrow('rejected');
    await collector.handler(message('good'), context);
    expect(seen).toEqual(['bad', 'good']);
    expect(collector.values()).toEqual(['good']);
  });

  it('waitForCount() resolves with a snapshot once enough messages arrived', async () => {
    const collector = collect();
    const waiting = collector.waitForCount(2);
    await collector.handler(message('a'), context);
    setTimeout(() => void collector.handler(message('b'), context), 10);
    const messages = await waiting;
    expect(messages.map((m) => m.value.toString())).toEqual(['a', 'b']);
    await collector.handler(message('c'), context);
    expect(messages).toHaveLength(2);
  });

  it('waitForCount() rejects with WAIT_TIMEOUT saying how many arrived', async () => {
    const collector = collect({ timeoutMs: 5_000 });
    await collector.handler(message('a'), context);
    const error: unknown = await collector.waitForCount(3, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(isMessagingError(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'WAIT_TIMEOUT',
      message: 'Timed out after 30 ms waiting for 3 handled message(s). Got 1.',
    });
  });
});

describe('runConformanceSuite()', () => {
  it('defaults to every capability except publishResolvesAfterHandling', () => {
    expect(DEFAULT_CAPABILITIES).toEqual({
      retry: true,
      deadLetter: true,
      ordering: true,
      drainOnStop: true,
      restart: true,
      publishResolvesAfterHandling: false,
      durableGroups: true,
      sharedInstances: true,
    });
    expect(Object.isFrozen(DEFAULT_CAPABILITIES)).toBe(true);
  });

  it('rejects missing or mistyped options, listing every problem', () => {
    expect(() => runConformanceSuite({ name: '', timeoutMs: 0 } as unknown as Parameters<typeof runConformanceSuite>[0])).toThrow(
      new InvalidArgumentError(
        'runConformanceSuite(): name must be a non-empty string; createBroker must be a function; ' +
          'deadLetterTopic must be a function; timeoutMs must be a number > 0.',
      ),
    );
    expect(() =>
      runConformanceSuite({
        name: 'x',
        createBroker: () => ({}) as MessageBrokerPort,
        deadLetterTopic: (t) => t,
        testTimeoutMs: -1,
      }),
    ).toThrow('runConformanceSuite(): testTimeoutMs must be a number > 0.');
    expect(() =>
      runConformanceSuite({
        name: 'x',
        createBroker: () => ({}) as MessageBrokerPort,
        deadLetterTopic: (t) => t,
        sizes: 'huge' as 'full',
        restartBroker: 'bash restart.sh' as unknown as () => Promise<void>,
        settleMs: 0,
      }),
    ).toThrow(
      "runConformanceSuite(): restartBroker must be a function when given; sizes must be 'short' or 'full', got \"huge\"; settleMs must be a number > 0.",
    );
  });
});
