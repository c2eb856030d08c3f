import { describeFailure } from '../describe-failure.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { CONSUMER_CLOSED, isMessagingError, MessagingError } from '../errors/messaging-error.js';
import type { Logger } from '../logger.js';
import { describe, describeValue } from '../message.js';

// Small pieces of MessageBrokerBase that hold no state: the errors it builds, what its log lines
// say of a thrown value, and its guarded logger.

/** What a log line or an error message says of any thrown value: never throws, bounded (see describeFailure). */
export function errorText(error: unknown): string {
  return describeFailure(error).message;
}

/** Reason of the handlers' signal when stop() runs out of time (see HandlerContext.signal). */
export function shutdownTimeout(adapterName: string, timeoutMs: number): MessagingError {
  return new MessagingError(
    `The ${adapterName} broker is stopping and its shutdownTimeoutMs (${timeoutMs} ms) is running out: ` +
      'give up handling this message; it is not acknowledged and will be redelivered.',
    'SHUTDOWN_TIMEOUT',
    { retriable: true },
  );
}

/** A delivery whose turn came while the broker stops: not started, not acknowledged. */
export function notHandlingWhileStopping(topic: string): MessagingError {
  return new MessagingError(
    `Not handling a message from "${topic}": the broker is stopping. It was not acknowledged and will be redelivered.`,
    CONSUMER_CLOSED,
    { retriable: true },
  );
}

/** A retry given up because stop() began during its backoff. */
export function brokerStopping(topic: string): MessagingError {
  return new MessagingError(
    `Not retrying a message from "${topic}": the broker is stopping. It was not acknowledged and will be redelivered.`,
    CONSUMER_CLOSED,
    { retriable: true },
  );
}

/** A delivery (or its retry) whose subscription ended before it could run. */
export function subscriptionEnded(topic: string): MessagingError {
  return new MessagingError(
    `Not handling a message from "${topic}": its subscription ended. It was not acknowledged and will be redelivered.`,
    CONSUMER_CLOSED,
    { retriable: true },
  );
}

/** A delivery to a consumer that has no member left. */
export function noSubscriber(topic: string): MessagingError {
  return new MessagingError(
    `No handler is subscribed to "${topic}" any more; the message will be redelivered.`,
    'NO_SUBSCRIBER',
    { retriable: true },
  );
}

/** A handler that failed after stop() aborted its signal: neither retried nor dead-lettered. */
export function gaveUpStopping(topic: string, cause: unknown): MessagingError {
  return new MessagingError(
    `Gave up handling a message from "${topic}": the broker stopped (shutdownTimeoutMs). ` +
      'It was not acknowledged and will be redelivered.',
    CONSUMER_CLOSED,
    { retriable: true, cause },
  );
}

/** @throws {InvalidArgumentError} when `signal` is not an AbortSignal. */
export function assertSignal(topic: string, signal: unknown): void {
  if (!(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(
      `Cannot publish to "${topic}": options.signal must be an AbortSignal, got ${describe(signal)}.`,
    );
  }
}

/**
 * The rejection of a publish whose arguments failed validation or could not be read (an options
 * getter that throws): msgport's own error as it is, anything else as an InvalidArgumentError.
 */
export function publishArgumentError(topic: string, error: unknown): MessagingError {
  return isMessagingError(error)
    ? error
    : new InvalidArgumentError(`Cannot publish to "${topic}": the options could not be read (${errorText(error)}).`, {
        cause: error,
      });
}

/** The error of a publish given up because its signal was aborted. */
export function aborted(topic: string, signal: AbortSignal, mayHaveBeenSent: boolean): MessagingError {
  return new MessagingError(
    mayHaveBeenSent
      ? `Stopped waiting for the publish to "${topic}": its signal was aborted. The message may still have been accepted by the broker.`
      : `Did not publish to "${topic}": its signal was aborted before the message was sent.`,
    'ABORTED',
    { retriable: false, cause: signal.reason },
  );
}

/** `published`, or a rejection with code ABORTED as soon as `signal` aborts, whichever comes first. */
export function abortable(topic: string, published: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(aborted(topic, signal, true));
    signal.addEventListener('abort', onAbort, { once: true });
    published.finally(() => signal.removeEventListener('abort', onAbort)).then(resolve, reject);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * `logger` with every method guarded: a logger that throws (or is missing a method) must not turn
 * a log line into a failure of the delivery being logged.
 *
 * @throws {InvalidArgumentError} when `logger` is not an object.
 */
export function guardedLogger(logger: Logger, adapterName: string): Logger {
  if (typeof logger !== 'object' || logger === null) {
    throw new InvalidArgumentError(
      `The ${adapterName} broker's logger must be an object with debug, info, warn and error methods, got ${describeValue(logger)}.`,
    );
  }
  const guard =
    (level: keyof Logger) =>
    (message: string, fields?: Record<string, unknown>): void => {
      try {
        // eslint-disable-next-line @typescript-eslint/unbound-method -- called with `logger` as `this` right below
        const write = logger[level];
        if (typeof write === 'function') write.call(logger, message, fields);
      } catch {
        // Nowhere left to report it: the logger itself failed.
      }
    };
  return Object.freeze({ debug: guard('debug'), info: guard('info'), warn: guard('warn'), error: guard('error') });
}
