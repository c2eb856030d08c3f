import type { ErrorCodeOf } from './error-codes.js';
import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * An argument passed across the port is invalid: an empty or illegal topic name, a value that is
 * neither a string nor bytes, a header value that is not a string, a handler that is not a
 * function. Code `INVALID_ARGUMENT`, never retriable: fix the call.
 */
export class InvalidArgumentError extends MessagingError {
  declare readonly code: ErrorCodeOf<'InvalidArgumentError'>;

  constructor(message: string, options: MessagingErrorOptions = {}) {
    super(message, 'INVALID_ARGUMENT', { retriable: false, ...options });
    this.name = 'InvalidArgumentError';
  }
}
