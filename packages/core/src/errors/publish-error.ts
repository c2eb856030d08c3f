import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * `publish()` could not confirm that the broker durably accepted the message.
 * The message may or may not have been stored; publish it again if it must arrive
 * (consumers are at-least-once anyway).
 *
 * Codes: `PUBLISH_FAILED` (retriable unless stated), `MESSAGE_TOO_LARGE` (not retriable),
 * `PUBLISH_TIMEOUT` (retriable).
 */
export class PublishError extends MessagingError {
  constructor(message: string, options: MessagingErrorOptions & { readonly code?: string } = {}) {
    super(message, options.code ?? 'PUBLISH_FAILED', { retriable: true, ...options });
    this.name = 'PublishError';
  }
}
