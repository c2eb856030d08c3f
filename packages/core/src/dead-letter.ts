import { createMessage, type Message } from './message.js';

/** Headers msgport adds to a dead-lettered message. */
export const DeadLetterHeaders = Object.freeze({
  errorMessage: 'msgport-error-message',
  errorType: 'msgport-error-type',
  originalTopic: 'msgport-original-topic',
  group: 'msgport-group',
  attempts: 'msgport-attempts',
} as const);

/** Longest error message copied into a header; brokers limit header sizes. */
const MAX_ERROR_MESSAGE_LENGTH = 4_096;

/** What went wrong, for {@link createDeadLetterMessage}. */
export interface DeadLetterCause {
  readonly error: unknown;
  readonly group: string | null;
  readonly attempts: number;
}

/**
 * Builds the dead-letter copy of `message` for `destination`: same key, value and headers, plus the
 * `msgport-error-*` headers describing the last failure.
 */
export function createDeadLetterMessage(message: Message, destination: string, cause: DeadLetterCause): Message {
  const error = cause.error;
  const errorMessage = error instanceof Error ? error.message : String(error);
  // `class CardDeclined extends Error {}` keeps name "Error"; its constructor name says more.
  const errorType =
    error instanceof Error ? (error.name && error.name !== 'Error' ? error.name : error.constructor.name || 'Error') : typeof error;
  return createMessage({
    topic: destination,
    value: message.value,
    key: message.key,
    headers: {
      ...message.headers,
      [DeadLetterHeaders.errorMessage]: errorMessage.slice(0, MAX_ERROR_MESSAGE_LENGTH),
      [DeadLetterHeaders.errorType]: errorType,
      [DeadLetterHeaders.originalTopic]: message.topic,
      [DeadLetterHeaders.group]: cause.group ?? '',
      [DeadLetterHeaders.attempts]: String(cause.attempts),
    },
  });
}
