import { MessagingError } from './errors/messaging-error.js';

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Deadline. @default 5000 */
  readonly timeoutMs?: number;
  /** Poll interval. @default 10 */
  readonly intervalMs?: number;
  /** Describes what was awaited, for the timeout message. */
  readonly description?: string;
}

/**
 * Polls `predicate` until it returns a truthy value (returned) or the deadline passes.
 * Use it in tests instead of sleeping.
 *
 * @throws {MessagingError} code `WAIT_TIMEOUT` when the deadline passes.
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitForOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await predicate();
    if (result) return result;
    if (Date.now() >= deadline) {
      throw new MessagingError(
        `Timed out after ${timeoutMs} ms waiting for ${options.description ?? 'a condition'}.`,
        'WAIT_TIMEOUT',
        { retriable: true },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
