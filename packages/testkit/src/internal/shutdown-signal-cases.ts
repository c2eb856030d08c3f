import { describe, expect } from '@jest/globals';
import { isMessagingError, type HandlerContext, type Message, type MessageBrokerPort } from '@msgport/core';
import { uniqueName } from '../unique-name.js';
import { delay } from './deferred.js';
import type { SuiteContext } from './suite-context.js';

/** The `shutdownTimeoutMs` the case asks for: long enough for a clean disconnect after the abort. */
const SHUTDOWN_TIMEOUT_MS = 4_000;

/**
 * Slack over `shutdownTimeoutMs` for the `stop()` bound: timers and a loaded event loop, never a
 * handler (the handler of the case would run forever).
 */
const STOP_SLACK_MS = 2_000;

interface Call {
  readonly message: Message;
  readonly context: HandlerContext;
  abortedAt: number | undefined;
}

/**
 * Issue 12: the handler's shutdown signal (`context.signal`). A handler still running when `stop()`
 * reaches `shutdownTimeoutMs` sees its signal abort with `SHUTDOWN_TIMEOUT`; what it throws then
 * leaves the message unacknowledged (neither retried nor dead-lettered), and with durable groups
 * the next instance of the group gets it again.
 */
export function describeShutdownSignalCases(context: SuiteContext): void {
  const { caps, newBroker, newInstance, recorder, until, deadLetterTopic, settleMs, test } = context;
  const durable = caps.sharedInstances && caps.durableGroups;

  describe('shutdown signal (C7, issue 12)', () => {
    test(`a handler still running at shutdownTimeoutMs sees context.signal abort with SHUTDOWN_TIMEOUT, stop() resolves within the timeout, nothing is retried or dead-lettered${
      durable ? ', and the next instance of the group gets the message again' : ''
    }`, async () => {
      const topic = uniqueName('msgport-shutdown-signal');
      const group = uniqueName('g');
      const first = await (durable ? newInstance : newBroker)({ shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS });
      const calls: Call[] = [];
      // Runs until its signal aborts, then gives up with the signal's reason, as a handler passing
      // the signal on (fetch(url, { signal })) would.
      await first.subscribe(
        topic,
        (message, handlerContext) => {
          const call: Call = { message, context: handlerContext, abortedAt: undefined };
          calls.push(call);
          return new Promise<void>((_, reject) => {
            handlerContext.signal.addEventListener(
              'abort',
              () => {
                call.abortedAt = Date.now();
                reject(handlerContext.signal.reason as Error);
              },
              { once: true },
            );
          });
        },
        { group, retry: { maxAttempts: 3, initialDelayMs: 10 } },
      );
      await first.start();
      // Dead letters are read by another instance where instances share the broker, else by the
      // broker itself (nothing is dead-lettered during its stop() then, and its publish() is sync).
      const reader: MessageBrokerPort = durable ? await newInstance() : first;
      const deadLetters = recorder();
      await reader.subscribe(deadLetterTopic(topic, group), deadLetters.handler, uniqueName('dlt-reader'));
      if (reader !== first) await reader.start();

      // The in-memory broker's publish() settles only once the handler did: don't await it here.
      const publishing = first.publish(topic, 'long job', { key: 'k' }).then(
        () => undefined,
        (error: unknown) => error,
      );
      const [call] = await until(() => (calls.length >= 1 ? calls : undefined), 'the handler to start');
      expect(call!.context.signal.aborted).toBe(false);

      const stopStarted = Date.now();
      await first.stop();
      const stopTook = Date.now() - stopStarted;
      await publishing;

      expect(call!.context.signal.aborted).toBe(true);
      const reason: unknown = call!.context.signal.reason;
      expect(isMessagingError(reason) && reason.code).toBe('SHUTDOWN_TIMEOUT');
      // At the deadline, not before: stop() first waits for in-flight handlers (C7); the abort
      // comes when only a short reserve for closing connections is left.
      expect(call!.abortedAt! - stopStarted).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS / 2);
      // The contract's bound (shutdownTimeoutMs), plus slack for timers on a loaded machine.
      expect(stopTook).toBeLessThan(SHUTDOWN_TIMEOUT_MS + STOP_SLACK_MS);
      expect(calls).toHaveLength(1);

      if (durable) {
        const next = await newInstance();
        const redelivered = recorder();
        await next.subscribe(topic, redelivered.handler, group);
        await next.start();
        const [again] = await redelivered.waitForCount(1, { timeoutMs: Math.max(context.timeoutMs, 60_000) });
        expect(again!.value.toString()).toBe('long job');
        expect(again!.id).toBe(call!.message.id);
      }
      await delay(settleMs);
      expect(calls).toHaveLength(1);
      expect(deadLetters.count).toBe(0);
    });
  });
}
