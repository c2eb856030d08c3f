/**
 * The rejection of {@link settleWithin} when time runs out first (unless the caller asked for its
 * own error). Adapters catch it and turn it into a `MessagingError`; it never crosses the port.
 */
export class TimeoutExpiredError extends Error {
  constructor(ms: number) {
    super(`No answer within ${Math.max(0, Math.round(ms))} ms`);
    this.name = 'TimeoutExpiredError';
  }
}

/** Options of {@link settleWithin}. */
export interface SettleWithinOptions<T> {
  /** Rejects as soon as this signal aborts: with its `reason` when that is an `Error`, else an `AbortError`. */
  readonly signal?: AbortSignal;
  /** The error to reject with when time runs out. @default a {@link TimeoutExpiredError} */
  readonly timeoutError?: () => Error;
  /**
   * Receives a value that arrives after the timeout or the abort (for example a connection that
   * opened too late, to be closed). What it returns or throws is ignored.
   */
  readonly onLate?: (late: T) => unknown;
}

/**
 * Settles like `promise`, or rejects once `ms` have passed (see {@link SettleWithinOptions}) or
 * `signal` aborts. The promise itself goes on; its later outcome is ignored (a late value goes to
 * `onLate`). The timer is cleared as soon as the outcome is known.
 */
export function settleWithin<T>(promise: PromiseLike<T>, ms: number, options: SettleWithinOptions<T> = {}): Promise<T> {
  const { signal, timeoutError, onLate } = options;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (finish()) reject(abortReason(signal));
    };
    const timer = setTimeout(
      () => {
        if (finish()) reject(timeoutError === undefined ? new TimeoutExpiredError(ms) : timeoutError());
      },
      Math.max(0, ms),
    );
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        if (finish()) resolve(value);
        else if (onLate !== undefined) {
          try {
            void Promise.resolve(onLate(value)).catch(() => undefined);
          } catch {
            // Ignored: the caller has moved on.
          }
        }
      },
      (error: unknown) => {
        // A late rejection is ignored: the caller has moved on.
        if (finish()) reject(error);
      },
    );
  });
}

/**
 * Resolves `true` when `promise` settles (fulfilled or rejected) before the time `deadline`
 * (`Date.now()` scale), `false` once the deadline passes first. Never rejects.
 */
export async function settledBefore(promise: PromiseLike<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([
      Promise.resolve(promise).then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return Object.assign(new Error('The operation was aborted', { cause: reason }), { name: 'AbortError' });
}
