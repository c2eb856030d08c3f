import type { ErrorCodeOf } from './error-codes.js';
import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * `publish()` could not confirm that the broker durably accepted the message.
 * The message may or may not have been stored; publish it again if it must arrive
 * (consumers are at-least-once anyway).
 *
 * Codes (see `MESSAGING_ERROR_CODES`): `PUBLISH_FAILED` (retriable unless stated),
 * `PUBLISH_TIMEOUT` (retriable), `MESSAGE_TOO_LARGE` (not retriable), `DEAD_LETTER_FAILED` (not
 * retriable; rejects a delivery, never `publish()`), `ABORTED` (not retriable: the publish's
 * `AbortSignal` aborted).
 */
export class PublishError extends MessagingError {
  declare readonly code: ErrorCodeOf<'PublishError'>;

  constructor(message: string, options: MessagingErrorOptions & { readonly code?: ErrorCodeOf<'PublishError'> } = {}) {
    super(message, options.code ?? 'PUBLISH_FAILED', { retriable: true, ...options });
    this.name = 'PublishError';
  }
}
