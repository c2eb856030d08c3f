import { describeFailure } from './describe-failure.js';
import type { Message, MessageMetadata } from './message.js';
import { MESSAGE_ID_HEADER } from './message-id.js';

/** Headers msgport adds to a dead-lettered message. */
export const DeadLetterHeaders = Object.freeze({
  errorMessage: 'msgport-error-message',
  errorType: 'msgport-error-type',
  originalTopic: 'msgport-original-topic',
  group: 'msgport-group',
  attempts: 'msgport-attempts',
  /**
   * Only on a fallback dead letter (published when the full one could not be): why the dead letter
   * with the message's own headers could not be published.
   */
  deadLetterError: 'msgport-dead-letter-error',
} as const);

/** Longest error message copied into a header; brokers limit header sizes. */
const MAX_ERROR_MESSAGE_LENGTH = 4_096;

/** Longest error message in a fallback dead letter, whose headers are kept small on purpose. */
const MAX_FALLBACK_MESSAGE_LENGTH = 512;

const FIRST_ATTEMPT: Readonly<MessageMetadata> = Object.freeze({ attempt: 1 });

/** What went wrong, for {@link createDeadLetterMessage}. */
export interface DeadLetterCause {
  /** What the handler threw (or rejected with) at the last attempt: any value at all. */
  readonly error: unknown;
  readonly group: string | null;
  readonly attempts: number;
}

/**
 * Builds the dead-letter copy of `message` for `destination`: same key, value and headers, plus the
 * `msgport-error-*` headers describing the last failure. Never throws, whatever `cause.error` is
 * (see {@link describeFailure}).
 */
export function createDeadLetterMessage(message: Message, destination: string, cause: DeadLetterCause): Message {
  const failure = describeFailure(cause.error, MAX_ERROR_MESSAGE_LENGTH);
  return deadLetter(message, destination, {
    ...message.headers,
    [DeadLetterHeaders.errorMessage]: failure.message,
    [DeadLetterHeaders.errorType]: failure.type,
    [DeadLetterHeaders.originalTopic]: message.topic,
    [DeadLetterHeaders.group]: cause.group ?? '',
    [DeadLetterHeaders.attempts]: attemptsText(cause.attempts),
  });
}

/**
 * The fallback dead letter, for when the one {@link createDeadLetterMessage} builds could not be
 * published: same key and value, but of the message's headers only `msgport-message-id`, a shorter
 * error message, and `msgport-dead-letter-error` saying why the full dead letter failed. Never throws.
 */
export function createFallbackDeadLetterMessage(
  message: Message,
  destination: string,
  cause: DeadLetterCause,
  deadLetterError: unknown,
): Message {
  const failure = describeFailure(cause.error, MAX_FALLBACK_MESSAGE_LENGTH);
  const messageId = message.headers[MESSAGE_ID_HEADER];
  return deadLetter(message, destination, {
    ...(typeof messageId === 'string' ? { [MESSAGE_ID_HEADER]: messageId } : {}),
    [DeadLetterHeaders.errorMessage]: failure.message,
    [DeadLetterHeaders.errorType]: failure.type,
    [DeadLetterHeaders.originalTopic]: message.topic,
    [DeadLetterHeaders.group]: cause.group ?? '',
    [DeadLetterHeaders.attempts]: attemptsText(cause.attempts),
    [DeadLetterHeaders.deadLetterError]: describeFailure(deadLetterError, MAX_FALLBACK_MESSAGE_LENGTH).message,
  });
}

/** Built directly: every part comes from a valid Message, and building must not be able to fail. */
function deadLetter(message: Message, destination: string, headers: Record<string, string>): Message {
  const id = headers[MESSAGE_ID_HEADER];
  const base = {
    topic: destination,
    value: message.value,
    key: message.key,
    headers: Object.freeze(headers),
    metadata: FIRST_ATTEMPT,
  };
  return Object.freeze(typeof id === 'string' ? { ...base, id } : base);
}

function attemptsText(attempts: number): string {
  return Number.isSafeInteger(attempts) ? String(attempts) : '0';
}
