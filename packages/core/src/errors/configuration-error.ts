import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * The configuration is invalid or names something that cannot be used (an unknown key, a wrong
 * type, a provider that is not installed). Code `INVALID_CONFIG` or `PROVIDER_NOT_INSTALLED`;
 * never retriable: fix the configuration or install the package named in the message.
 */
export class ConfigurationError extends MessagingError {
  /** Every problem found, one line each, prefixed by its path (e.g. `msgport.messaging.provider`). */
  readonly issues: readonly string[];

  constructor(
    message: string,
    options: MessagingErrorOptions & { readonly code?: string; readonly issues?: readonly string[] } = {},
  ) {
    super(message, options.code ?? 'INVALID_CONFIG', { ...options, retriable: false });
    this.name = 'ConfigurationError';
    this.issues = Object.freeze([...(options.issues ?? [])]);
  }
}
