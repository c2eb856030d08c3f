import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * The broker could not be reached or refused the connection (unreachable host, wrong
 * credentials, TLS failure). Code `CONNECTION_FAILED` (retriable) or `AUTHENTICATION_FAILED`
 * (not retriable: fix the credentials).
 */
export class ConnectionError extends MessagingError {
  constructor(message: string, options: MessagingErrorOptions & { readonly code?: string } = {}) {
    super(message, options.code ?? 'CONNECTION_FAILED', { retriable: true, ...options });
    this.name = 'ConnectionError';
  }
}
