import { describe, expect, it, jest } from '@jest/globals';
import { LOG_LEVELS, NAME_PATTERN, createConsoleLogger, isMessagingError, silentLogger, waitFor } from '@msgport/core';

describe('NAME_PATTERN', () => {
  it('accepts 1-249 characters from A-Z a-z 0-9 . _ - and nothing else', () => {
    for (const name of ['orders', 'orders.DLT', 'a_b-c.1', 'x', 'x'.repeat(249)]) expect(NAME_PATTERN.test(name)).toBe(true);
    for (const name of ['', 'has space', 'ümlaut', 'a/b', 'x'.repeat(250), 'a:b']) expect(NAME_PATTERN.test(name)).toBe(false);
  });
});

describe('waitFor()', () => {
  it('returns the first truthy value of the predicate', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('awaits async predicates', async () => {
    await expect(waitFor(async () => 'ready')).resolves.toBe('ready');
  });

  it('rejects with WAIT_TIMEOUT, describing what it waited for, after the deadline', async () => {
    const started = Date.now();
    const error: unknown = await waitFor(() => false, { timeoutMs: 40, intervalMs: 5, description: 'the moon' }).catch(
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(isMessagingError(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'WAIT_TIMEOUT',
      retriable: true,
      message: 'Timed out after 40 ms waiting for the moon.',
    });
  });

  it('propagates an error thrown by the predicate', async () => {
    await expect(
      waitFor(() => {
        throw new Error('predicate broke');
      }),
    ).rejects.toThrow('predicate broke');
  });
});

describe('createConsoleLogger()', () => {
  it('writes entries at or above its level to console.error with the prefix and fields', () => {
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const logger = createConsoleLogger('info', 'msgport:test');
      logger.debug('hidden');
      logger.info('shown', { count: 2 });
      logger.warn('failed', { error: new Error('boom') });
      expect(spy.mock.calls).toEqual([
        ['[msgport:test] info: shown {"count":2}'],
        ['[msgport:test] warn: failed {"error":"boom"}'],
      ]);
    } finally {
      spy.mockRestore();
    }
  });

  it("defaults to level 'warn' and writes nothing at level 'silent'", () => {
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      createConsoleLogger().info('hidden');
      createConsoleLogger('silent').error('hidden');
      createConsoleLogger().warn('shown');
      expect(spy.mock.calls).toEqual([['[msgport] warn: shown']]);
    } finally {
      spy.mockRestore();
    }
  });

  it('survives fields that cannot be serialized', () => {
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const circular: Record<string, unknown> = {};
      circular['self'] = circular;
      createConsoleLogger('debug').debug('x', circular);
      expect(spy.mock.calls).toEqual([['[msgport] debug: x {}']]);
    } finally {
      spy.mockRestore();
    }
  });

  it('lists the levels lowest first, and silentLogger drops everything', () => {
    expect(LOG_LEVELS).toEqual(['debug', 'info', 'warn', 'error', 'silent']);
    expect(() => silentLogger.error('x')).not.toThrow();
  });
});
