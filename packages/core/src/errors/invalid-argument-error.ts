import type { ErrorCodeOf } from './error-codes.js';
import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * An argument passed across the port is invalid: an empty or illegal topic name, a value that is
 * neither a string nor bytes, a header value that is not a string, a handler that is not a
 * function. Code `INVALID_ARGUMENT`, never retriable: fix the call.
 */
export class InvalidArgumentError extends MessagingError {
  declare readonly code: ErrorCodeOf<'InvalidArgumentError'>;

  /**
   * Every problem found, one line each, prefixed by its path: set when a typed topic rejects a
   * value (`defineTopic`), empty otherwise.
   */
  readonly issues: readonly string[];

  constructor(message: string, options: MessagingErrorOptions & { readonly issues?: readonly string[] } = {}) {
    super(message, 'INVALID_ARGUMENT', { retriable: false, ...options });
    this.name = 'InvalidArgumentError';
    this.issues = Object.freeze([...(options.issues ?? [])]);
  }
}
