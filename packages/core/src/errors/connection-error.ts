import type { ErrorCodeOf } from './error-codes.js';
import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * The broker could not be reached or refused the connection (unreachable host, wrong
 * credentials, TLS failure). Code `CONNECTION_FAILED` (retriable), `AUTHENTICATION_FAILED`
 * (not retriable: fix the credentials) or `TLS_FAILED` (not retriable: the TLS handshake failed, so
 * the listener does not speak TLS or its certificate is not trusted; fix the TLS settings).
 */
export class ConnectionError extends MessagingError {
  declare readonly code: ErrorCodeOf<'ConnectionError'>;

  constructor(message: string, options: MessagingErrorOptions & { readonly code?: ErrorCodeOf<'ConnectionError'> } = {}) {
    super(message, options.code ?? 'CONNECTION_FAILED', { retriable: true, ...options });
    this.name = 'ConnectionError';
  }
}
