import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RETRY_POLICY, InvalidArgumentError } from '@msgport/core';
import { backoffDelay, resolveRetryPolicy } from '@msgport/core/adapter';

describe('DEFAULT_RETRY_POLICY', () => {
  it('is 3 attempts, 100 ms doubling up to 10 s, ±20 % jitter, dead-letter on, and frozen', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({
      maxAttempts: 3,
      initialDelayMs: 100,
      multiplier: 2,
      maxDelayMs: 10_000,
      jitter: 0.2,
      deadLetter: true,
    });
    expect(Object.isFrozen(DEFAULT_RETRY_POLICY)).toBe(true);
  });
});

describe('resolveRetryPolicy()', () => {
  it('returns the defaults for no options', () => {
    expect(resolveRetryPolicy(undefined)).toEqual(DEFAULT_RETRY_POLICY);
    expect(resolveRetryPolicy({})).toEqual(DEFAULT_RETRY_POLICY);
  });

  it('merges options over the base, ignoring undefined fields, and freezes the result', () => {
    const base = resolveRetryPolicy({ maxAttempts: 5, initialDelayMs: 50 });
    const policy = resolveRetryPolicy({ initialDelayMs: 10, jitter: undefined } as { initialDelayMs: number }, base);
    expect(policy).toEqual({ ...DEFAULT_RETRY_POLICY, maxAttempts: 5, initialDelayMs: 10 });
    expect(Object.isFrozen(policy)).toBe(true);
  });

  it.each([
    [{ maxAttempts: 0 }, 'Invalid retry policy: maxAttempts must be an integer >= 1.'],
    [{ maxAttempts: 1.5 }, 'Invalid retry policy: maxAttempts must be an integer >= 1.'],
    [{ initialDelayMs: -1 }, 'Invalid retry policy: initialDelayMs must be >= 0.'],
    [{ initialDelayMs: Number.NaN }, 'Invalid retry policy: initialDelayMs must be >= 0.'],
    [{ multiplier: 0.5 }, 'Invalid retry policy: multiplier must be >= 1.'],
    [{ maxDelayMs: -5 }, 'Invalid retry policy: maxDelayMs must be >= 0.'],
    [{ jitter: 1.5 }, 'Invalid retry policy: jitter must be between 0 and 1.'],
    [{ jitter: -0.1 }, 'Invalid retry policy: jitter must be between 0 and 1.'],
    [{ deadLetter: 'yes' }, 'Invalid retry policy: deadLetter must be a boolean.'],
  ])('rejects %p with a message naming the problem', (options, message) => {
    expect(() => resolveRetryPolicy(options as never)).toThrow(new InvalidArgumentError(message));
  });

  it('lists every problem at once', () => {
    expect(() => resolveRetryPolicy({ maxAttempts: 0, jitter: 2 })).toThrow(
      'Invalid retry policy: maxAttempts must be an integer >= 1; jitter must be between 0 and 1.',
    );
  });

  it('throws InvalidArgumentError (INVALID_ARGUMENT)', () => {
    expect(() => resolveRetryPolicy({ maxAttempts: -1 })).toThrow(InvalidArgumentError);
  });
});

describe('backoffDelay()', () => {
  const middle = (): number => 0.5; // no jitter: spread factor exactly 1

  it('doubles from 100 ms and caps at 10 s with the default policy', () => {
    const delays = Array.from({ length: 10 }, (_, i) => backoffDelay(DEFAULT_RETRY_POLICY, i + 1, middle));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  });

  it('follows initialDelayMs, multiplier and maxDelayMs', () => {
    const policy = resolveRetryPolicy({ initialDelayMs: 10, multiplier: 3, maxDelayMs: 500, jitter: 0 });
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelay(policy, attempt))).toEqual([10, 30, 90, 270, 500]);
  });

  it('treats attempt 0 or below like attempt 1', () => {
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 0, middle)).toBe(100);
  });

  it('spreads each delay by at most ±jitter', () => {
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 1, () => 0)).toBe(80);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 1, () => 0.999_999)).toBe(120);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 3, () => 0)).toBe(320);
    for (let i = 0; i <= 100; i++) {
      const delay = backoffDelay(DEFAULT_RETRY_POLICY, 2, () => i / 100);
      expect(delay).toBeGreaterThanOrEqual(160);
      expect(delay).toBeLessThanOrEqual(240);
    }
  });

  it('never exceeds maxDelayMs, even with jitter', () => {
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 20, () => 0.999_999)).toBe(10_000);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 20, () => 0)).toBe(8_000);
  });

  it('is 0 for a zero initial delay', () => {
    const policy = resolveRetryPolicy({ initialDelayMs: 0 });
    expect(backoffDelay(policy, 1)).toBe(0);
    expect(backoffDelay(policy, 5)).toBe(0);
  });
});
