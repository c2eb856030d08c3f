import { isMessagingError, MessagingError, waitFor, type Message, type MessageHandler } from '@msgport/core';

/** Options of {@link collect}. */
export interface CollectOptions {
  /**
   * Runs for every message before it is recorded. Throw (or reject) to make the delivery fail; the
   * message is then not recorded, and the broker retries or dead-letters it.
   */
  readonly onMessage?: MessageHandler;
  /** Deadline of {@link Collector.waitForCount}. @default 10000 */
  readonly timeoutMs?: number;
}

/** A handler that records what it handled, from {@link collect}. */
export interface Collector {
  /** Pass this to `subscribe()`. */
  readonly handler: MessageHandler;
  /** Messages handled successfully, in the order their handling finished. */
  readonly messages: readonly Message[];
  /** `messages.length`. */
  readonly count: number;
  /** The values of {@link messages}, decoded as UTF-8. */
  values(): string[];
  /**
   * Waits until at least `count` messages were recorded and returns a snapshot of them.
   * @throws {MessagingError} code `WAIT_TIMEOUT` when the deadline passes.
   */
  waitForCount(count: number, options?: { readonly timeoutMs?: number }): Promise<readonly Message[]>;
}

/**
 * Creates a recording handler: subscribe `collector.handler`, publish, then
 * `await collector.waitForCount(n)` (polls with a deadline, never sleeps blindly).
 */
export function collect(options: CollectOptions = {}): Collector {
  const messages: Message[] = [];
  const defaultTimeoutMs = options.timeoutMs ?? 10_000;
  const onMessage = options.onMessage;
  return {
    handler: async (message, context) => {
      if (onMessage !== undefined) await onMessage(message, context);
      messages.push(message);
    },
    get messages() {
      return messages;
    },
    get count() {
      return messages.length;
    },
    values: () => messages.map((message) => message.value.toString('utf8')),
    waitForCount: async (count, waitOptions = {}) => {
      try {
        return await waitFor(() => (messages.length >= count ? [...messages] : undefined), {
          timeoutMs: waitOptions.timeoutMs ?? defaultTimeoutMs,
          description: `${count} handled message(s)`,
        });
      } catch (error) {
        if (!isMessagingError(error) || error.code !== 'WAIT_TIMEOUT') throw error;
        throw new MessagingError(`${error.message} Got ${messages.length}.`, 'WAIT_TIMEOUT', { retriable: true, cause: error });
      }
    },
  };
}
