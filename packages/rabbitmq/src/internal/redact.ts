import { createRedactor, redactUrl, urlSecrets } from '@msgport/core/adapter';

// Core's adapter toolkit (@msgport/core/adapter) holds the redactors; these are the names the
// RabbitMQ modules use.
export { redactUrl, urlSecrets as secretsOf };

/** `text` with every occurrence of each secret replaced by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  return createRedactor(secrets)(text);
}
