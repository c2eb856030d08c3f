import type { ErrorCodeOf } from './error-codes.js';
import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * A received message of a typed topic could not be decoded or does not match the topic's schema.
 * Its handler is not called; the message is not retried and goes to the dead-letter destination
 * with `msgport-error-type: InvalidMessageError` and the issues in `msgport-error-message`. Code
 * `INVALID_MESSAGE`, never retriable.
 */
export class InvalidMessageError extends MessagingError {
  declare readonly code: ErrorCodeOf<'InvalidMessageError'>;

  /** Every problem found, one line each, prefixed by its path (e.g. `items.0.quantity`). */
  readonly issues: readonly string[];

  constructor(message: string, options: Omit<MessagingErrorOptions, 'retriable'> & { readonly issues?: readonly string[] } = {}) {
    super(message, 'INVALID_MESSAGE', { ...options, retriable: false });
    this.name = 'InvalidMessageError';
    this.issues = Object.freeze([...(options.issues ?? [])]);
  }
}
