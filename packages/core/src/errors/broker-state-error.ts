import type { ErrorCodeOf } from './error-codes.js';
import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * The broker is not in a state that allows the operation: `publish()` before `start()` or after
 * `stop()`. Code `BROKER_NOT_RUNNING`, not retriable (call `start()` first).
 */
export class BrokerStateError extends MessagingError {
  declare readonly code: ErrorCodeOf<'BrokerStateError'>;

  constructor(message: string, options: MessagingErrorOptions = {}) {
    super(message, 'BROKER_NOT_RUNNING', { retriable: false, ...options });
    this.name = 'BrokerStateError';
  }
}
