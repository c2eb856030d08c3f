import type { ErrorCodeOf } from './error-codes.js';
import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * A subscription could not be set up on the broker (topic creation or queue declaration failed,
 * the consumer could not join its group). Code `SUBSCRIBE_FAILED`, retriable unless the message
 * says what must change first.
 */
export class SubscribeError extends MessagingError {
  declare readonly code: ErrorCodeOf<'SubscribeError'>;

  constructor(message: string, options: MessagingErrorOptions = {}) {
    super(message, 'SUBSCRIBE_FAILED', { retriable: true, ...options });
    this.name = 'SubscribeError';
  }
}
