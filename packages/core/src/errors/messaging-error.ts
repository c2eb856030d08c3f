import type { MessagingErrorCode } from './error-codes.js';

const BRAND = Symbol.for('msgport.MessagingError');

/**
 * Code of the error a {@link Deliver} rejects with when core did not run the handler because the
 * broker is stopping or the subscription ended while the delivery waited its turn (retriable: the
 * adapter must not acknowledge the message, so the broker redelivers it). Expected during `stop()`:
 * adapters log it at debug level.
 */
export const CONSUMER_CLOSED = 'CONSUMER_CLOSED';

/** Options accepted by every {@link MessagingError} constructor. */
export interface MessagingErrorOptions {
  /** The underlying error (a client-library error, a handler error …). */
  readonly cause?: unknown;
  /** Whether retrying the same operation later may succeed. */
  readonly retriable?: boolean;
}

/**
 * Root of every error msgport throws across the port. Adapters wrap client-library errors
 * (kafkajs, amqplib) in one of its subclasses; a raw client error never crosses the port.
 *
 * Messages say what happened, to what, and what to do. They never contain credentials.
 *
 * Its own codes: `MESSAGING_ERROR` (no more specific code given), `WAIT_TIMEOUT`, and
 * `CONSUMER_CLOSED` / `NO_SUBSCRIBER` (a delivery core did not hand to a handler; adapters only).
 * Every code, with its class and meaning: `MESSAGING_ERROR_CODES`.
 */
export class MessagingError extends Error {
  /**
   * A stable, documented identifier of the failure, e.g. `PUBLISH_FAILED` (every code, with its
   * meaning: `MESSAGING_ERROR_CODES`). Each subclass narrows it to its own codes.
   */
  readonly code: MessagingErrorCode;
  /** Whether retrying the same operation later may succeed. */
  readonly retriable: boolean;

  constructor(message: string, code: MessagingErrorCode = 'MESSAGING_ERROR', options: MessagingErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MessagingError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * True for any {@link MessagingError}, including one created by another copy of `@msgport/core`
 * (two versions installed side by side), where `instanceof` would fail.
 */
export function isMessagingError(value: unknown): value is MessagingError {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return (value as Record<symbol, unknown>)[BRAND] === true || value instanceof MessagingError;
  } catch {
    // A Proxy that throws on reads is no MessagingError.
    return false;
  }
}
