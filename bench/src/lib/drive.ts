import { setTimeout as sleep } from 'node:timers/promises';

/** Monotonic milliseconds. */
export const now = (): number => performance.now();

/** How a workload issues its calls. */
export type Mode =
  /** `await` each call before the next. */
  | { readonly kind: 'sequential' }
  /** `await Promise.all` of `size` calls, batch after batch. */
  | { readonly kind: 'batches'; readonly size: number }
  /** A sliding window: `size` calls in flight at any time (a new one starts when one settles). */
  | { readonly kind: 'window'; readonly size: number };

/**
 * Calls `call(i)` for i in 0..total-1 in `mode`, and returns how many calls were made. With a
 * `deadline` (a {@link now} value), no call starts after it: the run ends early, still waiting for
 * the calls in flight. Rejects on the first failure.
 */
export async function drive(
  total: number,
  mode: Mode,
  call: (i: number) => Promise<unknown>,
  deadline = Infinity,
): Promise<number> {
  let next = 0;
  switch (mode.kind) {
    case 'sequential':
      for (; next < total && (next & 15 || now() < deadline); next++) await call(next);
      return next;
    case 'batches': {
      const pending = new Array<Promise<unknown>>(mode.size);
      while (next < total && now() < deadline) {
        const count = Math.min(mode.size, total - next);
        pending.length = count;
        for (let j = 0; j < count; j++) pending[j] = call(next + j);
        next += count;
        await Promise.all(pending);
      }
      return next;
    }
    case 'window': {
      const worker = async (): Promise<void> => {
        while (next < total && (next & 15 || now() < deadline)) await call(next++);
      };
      const workers: Promise<void>[] = [];
      for (let w = 0; w < Math.min(mode.size, total); w++) workers.push(worker());
      await Promise.all(workers);
      return next;
    }
  }
}

/**
 * Messages a publish variant sends before its timed part, so that connections, topic metadata and
 * the JIT are warm (a fresh process runs each variant; a cold JIT penalizes whichever side runs
 * more JavaScript per message).
 */
export function warmupMessages(mode: Mode): number {
  return mode.kind === 'sequential' ? 500 : 10_000;
}

/** How {@link warmupMessages} reads in a workload description. */
export const WARMUP_TEXT = 'after a warm-up of 500 messages (sequential) or 10,000 (concurrent)';

/** Polls `predicate` every `intervalMs` until it is true; throws after `timeoutMs`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 60_000, intervalMs = 2): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A 1 KiB (or `size`) payload. */
export function payload(size = 1024): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = 97 + (i % 26);
  return buffer;
}

export function describeMode(mode: Mode): string {
  switch (mode.kind) {
    case 'sequential':
      return 'sequential awaited';
    case 'batches':
      return `batches of ${mode.size} concurrent`;
    case 'window':
      return `${mode.size} in flight`;
  }
}
