import {
  ConnectionError,
  describeFailure,
  isMessagingError,
  PublishError,
  SubscribeError,
  type MessagingError,
} from '@msgport/core';
import { errorChain as causeChain, oneLine, readField, tlsFailureReason, type Redact } from '@msgport/core/adapter';

/** The fields of one error of a chain that the checks below read, copied off the error. */
interface ErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly type?: unknown;
  readonly retriable?: unknown;
}

const ERROR_FIELDS = ['name', 'message', 'code', 'type', 'retriable'] as const;

/**
 * The error, its `cause` / `originalError` chain and aggregated `errors` (core's `errorChain`),
 * each entry a copy of the fields the checks below read, taken defensively: an error may be
 * anything a handler threw (a Proxy, a getter that throws), and describing it must not throw.
 */
export function errorChain(error: unknown): ErrorLike[] {
  return causeChain(error).map((current) => {
    const like: Record<string, unknown> = {};
    for (const field of ERROR_FIELDS) like[field] = readField(current, field);
    return like;
  });
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

/**
 * True for a failed TLS handshake: `ssl` against a listener that does not speak TLS (the broker
 * drops the connection, or answers with something that is not TLS), or a certificate the client
 * does not trust (or one for another host). Retrying won't help: the configuration is wrong.
 */
export function isTlsFailure(error: unknown): boolean {
  return tlsFailureReason(error) !== null;
}

/** kafkajs errors that mean "the broker could not be reached or did not answer in time". */
export const CONNECTION_ERROR_NAMES: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSNoBrokerAvailableError',
]);

/**
 * True when sending the same records again later may succeed: the brokers could not be reached
 * (an outage, a restart, a network problem) or answered with an error kafkajs marks retriable
 * (no leader yet, not enough in-sync replicas, request timed out …). False for answers that will
 * not change by waiting: a record too large, an unknown topic (the adapter creates it again on the
 * next publish), authentication, authorization or TLS failures, a producer that is disconnecting.
 *
 * kafkajs wraps the cause of its last retry in `KafkaJSNumberOfRetriesExceeded`, a non-retriable
 * error, so the whole cause chain is inspected, not the outer error's `retriable` flag.
 */
export function isRetriableSendError(error: unknown): boolean {
  if (isMessageTooLarge(error) || isUnknownTopic(error) || isAuthenticationFailure(error) || isTlsFailure(error)) return false;
  const chain = errorChain(error);
  if (chain.some((e) => typeof e.name === 'string' && CONNECTION_ERROR_NAMES.has(e.name))) return true;
  return chain.some((e) => e.name === 'KafkaJSProtocolError' && e.retriable === true);
}

function isTimeout(error: unknown): boolean {
  return errorChain(error).some(
    (e) => e.name === 'KafkaJSRequestTimeoutError' || e.name === 'KafkaJSTimeout' || e.type === 'REQUEST_TIMED_OUT',
  );
}

/**
 * The most specific message of a kafkajs error (the innermost cause says what the broker said),
 * with secrets removed, on one line.
 */
export function describeError(error: unknown, redact: Redact): string {
  const chain = errorChain(error);
  const messages = chain.map((e) => (typeof e.message === 'string' ? e.message : '')).filter((message) => message.length > 0);
  const innermost = messages[messages.length - 1] ?? describeFailure(error).message;
  // One line: error messages end up in logs and health details.
  return oneLine(redact(innermost));
}

/** Wraps a publish failure: `MESSAGE_TOO_LARGE` (not retriable), `PUBLISH_TIMEOUT` or `PUBLISH_FAILED`. */
export function toPublishError(error: unknown, topic: string, redact: Redact): MessagingError {
  if (isMessagingError(error)) return error;
  const detail = describeError(error, redact);
  if (isMessageTooLarge(error)) {
    return new PublishError(
      `Cannot publish to "${topic}": the broker rejected the message as too large (${detail}). ` +
        "Send smaller messages or raise the topic's max.message.bytes.",
      { code: 'MESSAGE_TOO_LARGE', retriable: false, cause: error },
    );
  }
  if (isTimeout(error)) {
    return new PublishError(
      `Cannot publish to "${topic}": the broker did not acknowledge in time (${detail}). The message may or may not have been stored.`,
      { code: 'PUBLISH_TIMEOUT', retriable: true, cause: error },
    );
  }
  return new PublishError(`Cannot publish to "${topic}": the Kafka broker did not accept the message (${detail}).`, {
    cause: error,
  });
}

/** Wraps a failure to create a topic or join a group. */
export function toSubscribeError(error: unknown, what: string, redact: Redact): MessagingError {
  if (isMessagingError(error)) return error;
  return new SubscribeError(`Cannot subscribe to ${what}: ${describeError(error, redact)}`, { cause: error });
}

/**
 * Wraps a failure to reach or authenticate with the brokers: `TLS_FAILED` and
 * `AUTHENTICATION_FAILED` (not retriable: fix the options), else `CONNECTION_FAILED`.
 */
export function toConnectionError(error: unknown, brokers: readonly string[], redact: Redact): MessagingError {
  if (isMessagingError(error)) return error;
  const detail = describeError(error, redact);
  if (isTlsFailure(error)) {
    return new ConnectionError(
      `Cannot connect to Kafka at ${brokers.join(',')}: the TLS handshake failed (${detail}). ` +
        "Check `ssl` — the broker's listener may not use TLS, or its certificate is not trusted.",
      { code: 'TLS_FAILED', retriable: false, cause: error },
    );
  }
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
