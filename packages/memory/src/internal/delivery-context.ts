import { AsyncLocalStorage } from 'node:async_hooks';
// From node:timers, not the global: a test that fakes timers must not stop the broker's follow-ups.
import { setImmediate } from 'node:timers';
import type { HandlerContext, Message, MessageHandler } from '@msgport/core';
import { isPromiseLike, type Deliver } from '@msgport/core/adapter';

// Whether code runs inside a delivery of an in-memory broker (issue 18): a publish made there must
// not wait for a message queued behind a busy consumer, because the delivery keeping that consumer
// busy may be the very one waiting for the publish.
//
// Three signals, so that the common shapes never pay for AsyncLocalStorage, which on Node 20 and 22
// installs promise hooks for the whole process while it is enabled (measured on the in-memory
// benchmark: it more than halves the throughput with asynchronous handlers):
// - `depth`, raised around the call of a handler known to complete synchronously (everything it
//   publishes, it publishes before it returns), and around the synchronous part of an unscoped call.
// - `storage`: a handler's first PROBED_CALLS calls that return a promise run inside
//   `storage.run()`, so that their asynchronous continuations, and whatever they start (timers,
//   promises), see the store. A handler's very first call always does (a probe of its shape). The
//   storage is disabled again whenever no such call is pending.
// - Every later call of a handler that returns a promise runs without the storage ("unscoped"),
//   counted while it is pending. Its continuations cannot be told from code outside any delivery,
//   but they run only after the job (the synchronous run of code) that called the handler has
//   ended: a microtask queued just before the call marks that end. So a publish is placed exactly
//   while every pending unscoped call started in the current job (`young`): then no continuation of
//   one can be running. While an unscoped call started in an earlier job is pending (`old`), a
//   publish the other signals do not place is treated as made inside a delivery: no deadlock, at
//   the price of not waiting for messages queued behind a busy consumer during that window.
// A handler known to be synchronous that returns a promise after all is counted as `old` at once
// (its call began before any marker could be queued).
//
// A message published from inside a delivery that has to wait behind a busy consumer starts its
// handler one turn of the event loop later (setImmediate), like a real broker's round trip does:
// a handler that keeps publishing to its own topic ("try again later") would otherwise run as an
// endless chain of microtasks, and no timer, I/O or stop() would ever get its turn.

/** How many calls of a handler that returns a promise run inside the storage (exact placement). */
export const PROBED_CALLS = 1_000;

const storage = new AsyncLocalStorage<true>();
const JOB_END: Promise<void> = Promise.resolve();
let depth = 0;
// False while the storage is disabled (storage.run() enables it again).
let storageOn = false;
/** Calls running inside the storage that have not settled. */
let scopedPending = 0;
/** Unscoped calls pending, started in the current job, and started in an earlier one. */
let young = 0;
let old = 0;
/** Whether the microtask that ends the current job for `young` is queued. */
let jobEndQueued = false;

// Set by dispatchNested() around each target: the handler of `expected` marks it started.
let expected: Message | null = null;
let expectedStarted = false;
// Messages published from inside a delivery and queued behind a busy consumer: how many of their
// deliveries have not settled yet.
const queuedFromDelivery = new Map<Message, number>();
let queuedCount = 0;

/** Whether the caller runs inside a delivery of an in-memory broker (see above). */
export function insideDelivery(): boolean {
  return depth > 0 || old > 0 || (storageOn && storage.getStore() === true);
}

/**
 * Wraps a subscriber's handler so that what it publishes is known to come from inside a delivery,
 * and so that {@link dispatchNested} can tell whether it started.
 */
export function trackHandler(handler: MessageHandler): MessageHandler {
  let kind: 'unknown' | 'sync' | 'async' = 'unknown';
  let scopedCalls = 0;
  const invokeInStorage = (message: Message, context: HandlerContext): void | Promise<void> => {
    let outcome: void | Promise<void>;
    scopedPending++;
    try {
      storageOn = true;
      outcome = storage.run(true, handler, message, context);
    } catch (error) {
      // A synchronous throw is a synchronous completion.
      if (kind === 'unknown') kind = 'sync';
      scopedSettled();
      throw error;
    }
    if (isPromiseLike(outcome)) {
      kind = 'async';
      scopedCalls++;
      return Promise.resolve(outcome).then(scopedSettled, scopedFailed);
    }
    if (kind === 'unknown') kind = 'sync';
    scopedSettled();
    return outcome;
  };
  const invokeUnscoped = (message: Message, context: HandlerContext): void | Promise<void> => {
    // Queued before the handler runs, so it runs before any continuation of the handler.
    if (!jobEndQueued) {
      jobEndQueued = true;
      // A promise reaction, not queueMicrotask(), which makes an AsyncResource per call in Node.
      void JOB_END.then(endOfJob);
    }
    // What the handler publishes before it returns (before its first `await`) comes from inside
    // the delivery: `young` counts the call only once it returned.
    const outcome = callCounted(handler, message, context);
    if (!isPromiseLike(outcome)) return outcome;
    // Counted `young` until the job ends. It settles after that (its reaction is queued after the
    // job-end marker), so as an `old` call.
    young++;
    return Promise.resolve(outcome).then(oldSettled, oldFailed);
  };
  const invoke = (message: Message, context: HandlerContext): void | Promise<void> => {
    if (kind === 'async')
      return scopedCalls < PROBED_CALLS ? invokeInStorage(message, context) : invokeUnscoped(message, context);
    if (kind === 'unknown') return invokeInStorage(message, context);
    const outcome = callCounted(handler, message, context);
    if (!isPromiseLike(outcome)) return outcome;
    kind = 'async';
    // Began before a job-end marker could be queued: a continuation may run in this very job.
    old++;
    return Promise.resolve(outcome).then(oldSettled, oldFailed);
  };
  return (message, context) => {
    if (message === expected) {
      expectedStarted = true;
    } else if (queuedCount !== 0 && queuedFromDelivery.has(message)) {
      // Its turn has come (it counts as in flight, and stop() waits for it): it only starts late.
      return nextTurn().then(() => invoke(message, context));
    }
    return invoke(message, context);
  };
}

/** Calls `handler` with `depth` raised: what it publishes before it returns comes from inside the delivery. */
function callCounted(handler: MessageHandler, message: Message, context: HandlerContext): void | Promise<void> {
  depth++;
  try {
    return handler(message, context);
  } finally {
    depth--;
  }
}

function endOfJob(): void {
  jobEndQueued = false;
  old += young;
  young = 0;
}

function oldSettled(): void {
  old--;
}

function oldFailed(error: unknown): never {
  old--;
  throw error;
}

function scopedSettled(): void {
  if (--scopedPending === 0 && storage.getStore() === undefined) {
    storage.disable();
    storageOn = false;
  }
}

function scopedFailed(error: unknown): never {
  scopedSettled();
  throw error;
}

/**
 * Hands `message` to every target for a publish made inside a delivery, and returns a promise
 * that settles once every delivery whose handler started at once has settled. A delivery that did
 * not start waits behind a busy consumer, possibly behind the delivery that publishes: it is not
 * waited for, its handler starts one event-loop turn after its turn comes, and `unhandled` hears
 * of it if it ends unhandled (the broker stopped first).
 */
export function dispatchNested(
  targets: readonly Deliver[],
  message: Message,
  unhandled: (error: unknown) => void,
): Promise<void> {
  const outerExpected = expected;
  const outerStarted = expectedStarted;
  let started: Promise<void>[] | null = null;
  let queued = 0;
  try {
    for (const target of targets) {
      expected = message;
      expectedStarted = false;
      const delivered = target(message);
      if (expectedStarted) {
        (started ??= []).push(delivered);
        continue;
      }
      queued++;
      delivered.then(
        () => settleQueued(message),
        (error: unknown) => {
          settleQueued(message);
          unhandled(error);
        },
      );
    }
  } finally {
    expected = outerExpected;
    expectedStarted = outerStarted;
  }
  // Marked once every target was called: a target called after a queued one may start at once.
  if (queued > 0) {
    queuedFromDelivery.set(message, queued);
    queuedCount++;
  }
  if (started === null) return Promise.resolve();
  if (started.length === 1) return started[0]!;
  return settleAll(started);
}

/**
 * Resolves once every delivery has settled; rejects then with the first failure (in the order
 * given) when any failed. One promise for the lot: `Promise.all` costs several times more per
 * publish, and would settle before the other handlers did on a failure.
 */
export async function settleAll(deliveries: readonly Promise<void>[]): Promise<void> {
  let failure: { readonly error: unknown } | undefined;
  for (const delivery of deliveries) {
    try {
      await delivery;
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
}

function settleQueued(message: Message): void {
  const left = (queuedFromDelivery.get(message) ?? 1) - 1;
  if (left > 0) {
    queuedFromDelivery.set(message, left);
  } else if (queuedFromDelivery.delete(message)) {
    queuedCount--;
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
