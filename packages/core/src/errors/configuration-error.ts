import type { ErrorCodeOf } from './error-codes.js';
import { MessagingError, type MessagingErrorOptions } from './messaging-error.js';

/**
 * The configuration is invalid or names something that cannot be used (an unknown key, a wrong
 * type, a provider that is not installed). Codes (see `MESSAGING_ERROR_CODES`): `INVALID_CONFIG`,
 * `CONFIG_FILE_NOT_FOUND`, `PROVIDER_NOT_INSTALLED` or `PROVIDER_LOAD_FAILED`; never retriable: fix
 * the configuration or install the package named in the message.
 */
export class ConfigurationError extends MessagingError {
  declare readonly code: ErrorCodeOf<'ConfigurationError'>;

  /** Every problem found, one line each, prefixed by its path (e.g. `msgport.messaging.provider`). */
  readonly issues: readonly string[];

  constructor(
    message: string,
    options: MessagingErrorOptions & {
      readonly code?: ErrorCodeOf<'ConfigurationError'>;
      readonly issues?: readonly string[];
    } = {},
  ) {
    super(message, options.code ?? 'INVALID_CONFIG', { ...options, retriable: false });
    this.name = 'ConfigurationError';
    this.issues = Object.freeze([...(options.issues ?? [])]);
  }
}
