import type { ErrorCodeOf } from './error-codes.js';
import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * Thrown by a handler to say that handling this message again cannot succeed (the order does not
 * exist, the payload breaks a business rule): the message goes to the dead-letter destination
 * after this one attempt, without the retries of the policy. Code `NON_RETRIABLE`, never
 * retriable. Any other thrown error whose `retriable` is `false` is treated alike, and so is an
 * error for which the policy's `shouldRetry` returns `false`.
 *
 * ```ts
 * if (order === undefined) throw new NonRetriableError(`Order ${id} does not exist`);
 * ```
 */
export class NonRetriableError extends MessagingError {
  declare readonly code: ErrorCodeOf<'NonRetriableError'>;

  constructor(message: string, options: Omit<MessagingErrorOptions, 'retriable'> = {}) {
    super(message, 'NON_RETRIABLE', { ...options, retriable: false });
    this.name = 'NonRetriableError';
  }
}
