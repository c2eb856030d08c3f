import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { describeValue, type Message } from './message.js';

/**
 * An exponential backoff: the delays {@link backoffDelay} computes. Adapters use it for their own
 * retries too (reconnecting, restarting a consumer), with `jitter: 0` where a fixed schedule is wanted.
 */
export interface Backoff {
  /** Delay before the second attempt. */
  readonly initialDelayMs: number;
  /** Each further delay is the previous one times this factor. */
  readonly multiplier: number;
  /** Upper bound of any single delay. */
  readonly maxDelayMs: number;
  /** Random spread of each delay, as a fraction: 0.2 means ±20 %. */
  readonly jitter: number;
}

/** How a failing handler is retried, and what happens after the last attempt. */
export interface RetryPolicy extends Backoff {
  /** Total attempts including the first; 1 means no retry. */
  readonly maxAttempts: number;
  /**
   * After the last attempt, send the message to the dead-letter destination (`true`) or drop it
   * (`false`, an explicit choice; the drop is logged).
   */
  readonly deadLetter: boolean;
  /**
   * Decides per failure whether the message is handled again (while attempts are left): return
   * `false` to dead-letter it (or drop it, see {@link deadLetter}) at once. Called with what the
   * handler threw and the message. Unset: every failure is retried, except a `NonRetriableError`
   * or any error whose `retriable` is `false`, which never are. A `shouldRetry` that throws counts
   * as `true` (the failure is logged).
   */
  readonly shouldRetry?: (error: unknown, message: Message) => boolean;
}

/** Partial {@link RetryPolicy}; unset fields take the defaults. */
export type RetryPolicyOptions = Partial<RetryPolicy>;

/** 3 attempts, exponential backoff from 100 ms, factor 2, capped at 10 s, ±20 % jitter, dead-letter on. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 3,
  initialDelayMs: 100,
  multiplier: 2,
  maxDelayMs: 10_000,
  jitter: 0.2,
  deadLetter: true,
});

/**
 * Merges `options` over `base` and validates the result.
 *
 * @throws {InvalidArgumentError} for a negative delay, fewer than 1 attempt, or jitter outside 0–1.
 */
export function resolveRetryPolicy(
  options: RetryPolicyOptions | undefined,
  base: RetryPolicy = DEFAULT_RETRY_POLICY,
): RetryPolicy {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new InvalidArgumentError(`Invalid retry policy: expected an object, got ${describeValue(options)}.`);
  }
  const policy = { ...base, ...stripUndefined(options ?? {}) };
  const problems: string[] = [];
  // `typeof` first: comparing an object without prototype to a number throws.
  const atLeast = (value: unknown, min: number): boolean => typeof value === 'number' && value >= min;
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) problems.push('maxAttempts must be an integer >= 1');
  if (!atLeast(policy.initialDelayMs, 0)) problems.push('initialDelayMs must be >= 0');
  if (!atLeast(policy.multiplier, 1)) problems.push('multiplier must be >= 1');
  if (!atLeast(policy.maxDelayMs, 0)) problems.push('maxDelayMs must be >= 0');
  if (!(atLeast(policy.jitter, 0) && policy.jitter <= 1)) problems.push('jitter must be between 0 and 1');
  if (typeof policy.deadLetter !== 'boolean') problems.push('deadLetter must be a boolean');
  if (policy.shouldRetry !== undefined && typeof policy.shouldRetry !== 'function')
    problems.push('shouldRetry must be a function');
  if (problems.length > 0) {
    throw new InvalidArgumentError(`Invalid retry policy: ${problems.join('; ')}.`);
  }
  return Object.freeze(policy);
}

/**
 * The delay before attempt `attempt + 1`, after `attempt` failed attempts (1-based):
 * `initialDelayMs * multiplier^(attempt-1)`, capped at `maxDelayMs`, spread by ±`jitter`.
 */
export function backoffDelay(policy: Backoff, attempt: number, random: () => number = Math.random): number {
  const exponential = policy.initialDelayMs * policy.multiplier ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  const spread = 1 + policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(policy.maxDelayMs, Math.round(capped * spread)));
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
