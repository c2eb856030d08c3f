import { AsyncLocalStorage } from 'node:async_hooks';
// From node:timers, not the global: a test that fakes timers must not stop the broker's follow-ups.
import { setImmediate } from 'node:timers';
import type { HandlerContext, Message, MessageHandler } from '@msgport/core';
import { isPromiseLike, type Deliver } from '@msgport/core/adapter';

// Whether code runs inside a delivery of an in-memory broker (issue 18): a publish made there must
// not wait for a message queued behind a busy consumer, because the delivery keeping that consumer
// busy may be the very one waiting for the publish.
//
// Two signals, so that synchronous handlers, the fast path, never pay for AsyncLocalStorage:
// - `depth`, raised around the call of a handler known to complete synchronously: everything it
//   publishes, it publishes before it returns.
// - `storage`: every other handler call runs inside `storage.run()`, so that its asynchronous
//   continuations, and whatever it starts (timers, promises), see the store.
// A handler's first call runs inside the storage (a probe). A handler that returned without a
// promise is called with the counter from then on; one that returned a promise once is always
// called inside the storage.
//
// On Node 20 and 22 an enabled AsyncLocalStorage installs promise hooks for the whole process,
// which slow down every promise (measured on the in-memory benchmark: a third of the throughput
// with synchronous handlers, half with asynchronous ones). So the storage is disabled
// again after a synchronous probe, as long as no handler has returned a promise yet: a process
// whose handlers are all synchronous runs without the hooks.
//
// A handler known to be synchronous that returns a promise after all (one that is synchronous for
// some messages only) ran outside the storage, and its continuations cannot be told from code
// outside any delivery. While such a call is pending, `unscoped` counts it, and every publish
// without another signal is treated as made inside a delivery: no deadlock, at the price of not
// waiting for queued messages during that window.
//
// A message published from inside a delivery that has to wait behind a busy consumer starts its
// handler one turn of the event loop later (setImmediate), like a real broker's round trip does:
// a handler that keeps publishing to its own topic ("try again later") would otherwise run as an
// endless chain of microtasks, and no timer, I/O or stop() would ever get its turn.

const storage = new AsyncLocalStorage<true>();
let depth = 0;
let unscoped = 0;
let asyncHandlerSeen = false;
// False while the storage is disabled (storage.run() enables it again).
let storageOn = false;

// Set by dispatchNested() around each target: the handler of `expected` marks it started.
let expected: Message | null = null;
let expectedStarted = false;
// Messages published from inside a delivery and queued behind a busy consumer: how many of their
// deliveries have not settled yet.
const queuedFromDelivery = new Map<Message, number>();
let queuedCount = 0;

/** Whether the caller runs inside a delivery of an in-memory broker (see above). */
export function insideDelivery(): boolean {
  return depth > 0 || unscoped > 0 || (storageOn && storage.getStore() === true);
}

/**
 * Wraps a subscriber's handler so that what it publishes is known to come from inside a delivery,
 * and so that {@link dispatchNested} can tell whether it started.
 */
export function trackHandler(handler: MessageHandler): MessageHandler {
  let kind: 'unknown' | 'sync' | 'async' = 'unknown';
  const invokeInStorage = (message: Message, context: HandlerContext): void | Promise<void> => {
    let outcome: void | Promise<void>;
    try {
      storageOn = true;
      outcome = storage.run(true, handler, message, context);
    } catch (error) {
      // A synchronous throw is a synchronous completion.
      if (kind === 'unknown') kind = 'sync';
      releaseStorage();
      throw error;
    }
    if (isPromiseLike(outcome)) {
      kind = 'async';
      asyncHandlerSeen = true;
      return outcome;
    }
    if (kind === 'unknown') kind = 'sync';
    releaseStorage();
    return outcome;
  };
  const invoke = (message: Message, context: HandlerContext): void | Promise<void> => {
    if (kind !== 'sync') return invokeInStorage(message, context);
    let outcome: void | Promise<void>;
    depth++;
    try {
      outcome = handler(message, context);
    } finally {
      depth--;
    }
    if (!isPromiseLike(outcome)) return outcome;
    kind = 'async';
    asyncHandlerSeen = true;
    return countUnscoped(outcome);
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
  return Promise.all(started).then(() => undefined);
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

function countUnscoped(outcome: PromiseLike<void>): Promise<void> {
  unscoped++;
  return Promise.resolve(outcome).then(
    () => {
      unscoped--;
    },
    (error: unknown) => {
      unscoped--;
      throw error;
    },
  );
}

function releaseStorage(): void {
  if (!asyncHandlerSeen && storage.getStore() === undefined) {
    storage.disable();
    storageOn = false;
  }
}
