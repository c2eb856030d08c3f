import { ConnectionError, isMessagingError, PublishError, SubscribeError, type MessagingError } from '@msgport/core';

/** Replaces every secret (SASL password, TLS passphrase) in a text by `***`. */
export type Redact = (text: string) => string;

/** Builds a {@link Redact} for these secrets; empty and missing ones are ignored. */
export function createRedactor(secrets: ReadonlyArray<string | undefined>): Redact {
  const list = secrets.filter((secret): secret is string => typeof secret === 'string' && secret.length > 0);
  // Longest first, so a secret that contains another one is replaced whole.
  list.sort((a, b) => b.length - a.length);
  if (list.length === 0) return (text) => text;
  return (text) => {
    let result = text;
    for (const secret of list) result = result.split(secret).join('***');
    return result;
  };
}

interface ErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly type?: unknown;
  readonly cause?: unknown;
  readonly originalError?: unknown;
  readonly errors?: unknown;
  readonly retriable?: unknown;
}

/** The error, its `cause` / `originalError` chain and aggregated `errors`, breadth first, bounded. */
export function errorChain(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && chain.length < 20) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || chain.includes(current as ErrorLike)) continue;
    const like = current as ErrorLike;
    chain.push(like);
    queue.push(like.cause, like.originalError);
    if (Array.isArray(like.errors)) queue.push(...(like.errors as unknown[]));
  }
  return chain;
}

/** True when kafkajs (or the broker) rejected a record or batch for its size. */
export function isMessageTooLarge(error: unknown): boolean {
  return errorChain(error).some((e) => e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE');
}

/** True when the broker does not know the topic (deleted, or a broker that lost its data). */
export function isUnknownTopic(error: unknown): boolean {
  return errorChain(error).some((e) => e.type === 'UNKNOWN_TOPIC_OR_PARTITION');
}

/** True for a failed SASL authentication or a listener that does not speak SASL: retrying won't help. */
export function isAuthenticationFailure(error: unknown): boolean {
  return errorChain(error).some(
    (e) =>
      e.name === 'KafkaJSSASLAuthenticationError' ||
      e.type === 'SASL_AUTHENTICATION_FAILED' ||
      e.type === 'ILLEGAL_SASL_STATE' ||
      e.type === 'UNSUPPORTED_SASL_MECHANISM',
  );
}

function isTimeout(error: unknown): boolean {
  return errorChain(error).some(
    (e) => e.name === 'KafkaJSRequestTimeoutError' || e.name === 'KafkaJSTimeout' || e.type === 'REQUEST_TIMED_OUT',
  );
}

/**
 * The most specific message of a kafkajs error (the innermost cause says what the broker said),
 * with secrets removed.
 */
export function describeError(error: unknown, redact: Redact): string {
  const chain = errorChain(error);
  const messages = chain
    .map((e) => (typeof e.message === 'string' ? e.message : ''))
    .filter((message) => message.length > 0);
  const innermost = messages[messages.length - 1] ?? (error instanceof Error ? error.message : String(error));
  return redact(innermost);
}

/** Wraps a publish failure: `MESSAGE_TOO_LARGE` (not retriable), `PUBLISH_TIMEOUT` or `PUBLISH_FAILED`. */
export function toPublishError(error: unknown, topic: string, redact: Redact): MessagingError {
  if (isMessagingError(error)) return error;
  const detail = describeError(error, redact);
  if (isMessageTooLarge(error)) {
    return new PublishError(
      `Cannot publish to "${topic}": the broker rejected the message as too large (${detail}). ` +
        'Send smaller messages or raise the topic\'s max.message.bytes.',
      { code: 'MESSAGE_TOO_LARGE', retriable: false, cause: error },
    );
  }
  if (isTimeout(error)) {
    return new PublishError(
      `Cannot publish to "${topic}": the broker did not acknowledge in time (${detail}). The message may or may not have been stored.`,
      { code: 'PUBLISH_TIMEOUT', retriable: true, cause: error },
    );
  }
  return new PublishError(
    `Cannot publish to "${topic}": the Kafka broker did not accept the message (${detail}).`,
    { cause: error },
  );
}

/** Wraps a failure to create a topic or join a group. */
export function toSubscribeError(error: unknown, what: string, redact: Redact): MessagingError {
  if (isMessagingError(error)) return error;
  return new SubscribeError(`Cannot subscribe to ${what}: ${describeError(error, redact)}`, { cause: error });
}

/** Wraps a failure to reach or authenticate with the brokers. */
export function toConnectionError(error: unknown, brokers: readonly string[], redact: Redact): MessagingError {
  if (isMessagingError(error)) return error;
  const detail = describeError(error, redact);
  if (isAuthenticationFailure(error)) {
    return new ConnectionError(
      `Cannot connect to Kafka at ${brokers.join(',')}: authentication failed (${detail}). ` +
        'Check the sasl and ssl options against the listener.',
      { code: 'AUTHENTICATION_FAILED', retriable: false, cause: error },
    );
  }
  return new ConnectionError(
    `Cannot connect to Kafka at ${brokers.join(',')}: ${detail}. Check bootstrapServers and that the broker is running.`,
    { cause: error },
  );
}
