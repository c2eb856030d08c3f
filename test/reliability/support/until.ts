/** Options of {@link until}. */
export interface UntilOptions {
  readonly timeoutMs: number;
  /** @default 50 */
  readonly intervalMs?: number;
  /** Describes what is awaited and where things stand, for the timeout message. */
  readonly what: () => string;
}

/**
 * Polls `predicate` until it is truthy; throws with {@link UntilOptions.what} when the deadline
 * passes. The suite's only way to wait: never a fixed sleep.
 */
export async function until(predicate: () => unknown, options: UntilOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) throw new Error(`Timed out after ${options.timeoutMs} ms waiting for ${options.what()}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}
