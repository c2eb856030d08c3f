/**
 * The promise returned for work that completed synchronously: one shared, already resolved object,
 * so that the hot dispatch path allocates none. Settled promises keep no reactions, so sharing it
 * between callers is safe.
 */
export const RESOLVED: Promise<void> = Promise.resolve();

/** Whether `value` is a thenable, i.e. what `await` would wait for. */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== undefined &&
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
