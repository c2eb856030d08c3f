import { createDeadLetterMessage, createFallbackDeadLetterMessage, type DeadLetterCause } from '../dead-letter.js';
import { isMessagingError } from '../errors/messaging-error.js';
import { PublishError } from '../errors/publish-error.js';
import type { Logger } from '../logger.js';
import type { Message } from '../message.js';
import type { RetryPolicy } from '../retry-policy.js';
import { errorText, sleep } from './broker-support.js';
import type { ConsumerEntry } from './consumer-registry.js';

/** Tries at publishing a dead letter (and then its fallback) while the failure may pass. */
const DEAD_LETTER_TRIES = 3;
/** Pause before the second try at a dead letter; each further pause is 4 times longer. */
const DEAD_LETTER_RETRY_DELAY_MS = 100;
/** Longest key (as base64) in the log line of a message that could not be dead-lettered. */
const MAX_LOGGED_KEY_LENGTH = 128;

/** Marks a dead letter published by #tryDeadLetter. */
const DEAD_LETTERED: unique symbol = Symbol('dead-lettered');

/** What the dead-letter pipeline needs of its broker (MessageBrokerBase's protected hooks). */
export interface DeadLetterHost {
  readonly logger: Logger;
  /** Whether the broker is running (not starting, stopping or stopped). */
  isRunning(): boolean;
  /** See MessageBrokerBase.transportDeadLetters. */
  transportDeadLetters(): boolean;
  deadLetterTopic(topic: string, group: string | null): string;
  sendDeadLetter(deadLetter: Message, original: Message, group: string | null): Promise<void>;
}

/**
 * Dead-letters a message whose last attempt failed, or drops it when the policy says so. Never
 * fails for what the handler threw (see describeFailure). When the dead letter cannot be
 * published, it is tried again while the failure may pass (DEAD_LETTER_TRIES), then published
 * with minimal headers (the same tries); when even that fails, see
 * MessageBrokerBase.transportDeadLetters. While the broker stops, a failure rejects instead: the
 * transport redelivers the message later.
 */
export async function deadLetter(
  host: DeadLetterHost,
  entry: ConsumerEntry,
  message: Message,
  error: unknown,
  attempts: number,
  policy: RetryPolicy,
): Promise<void> {
  const { logger } = host;
  const { topic, group } = entry.spec;
  const where = group === null ? `"${topic}"` : `"${topic}" (group "${group}")`;
  if (!policy.deadLetter) {
    logger.warn(`Dropped a message from "${topic}" after ${attempts} failed attempt(s) (retry policy deadLetter: false).`, {
      error: errorText(error),
    });
    return;
  }
  const cause: DeadLetterCause = { error, group, attempts };
  let destination = '(unknown)';
  const full = await tryDeadLetter(host, () => {
    destination = host.deadLetterTopic(topic, group);
    return host.sendDeadLetter(createDeadLetterMessage(message, destination, cause), message, group);
  });
  if (full === DEAD_LETTERED) {
    logger.warn(`Dead-lettered a message from "${topic}" to "${destination}" after ${attempts} failed attempt(s).`, {
      error: errorText(error),
    });
    return;
  }
  logger.error(
    `Cannot dead-letter a message from ${where} to "${destination}" after ${attempts} failed attempt(s): ${errorText(full)}. ` +
      'Publishing it there with minimal headers instead.',
    { error: errorText(error) },
  );
  const fallback = await tryDeadLetter(host, () =>
    host.sendDeadLetter(createFallbackDeadLetterMessage(message, destination, cause, full), message, group),
  );
  if (fallback === DEAD_LETTERED) {
    logger.warn(
      `Dead-lettered a message from ${where} to "${destination}" with minimal headers: its own headers were left out ` +
        '(msgport-dead-letter-error says why).',
      { error: errorText(error) },
    );
    return;
  }
  const fields = { error: errorText(error), deadLetterError: errorText(fallback), ...locate(message) };
  if (!host.isRunning()) {
    throw new PublishError(
      `Cannot dead-letter a message from ${where} to "${destination}" while the broker stops (${errorText(fallback)}); ` +
        'it was not acknowledged and will be redelivered.',
      { cause: fallback, retriable: true },
    );
  }
  if (host.transportDeadLetters()) {
    logger.error(
      `Cannot dead-letter a message from ${where} to "${destination}", not even with minimal headers ` +
        `(${errorText(fallback)}). Rejecting it so that the broker dead-letters it itself.`,
      fields,
    );
    throw new PublishError(
      `Cannot dead-letter a message from ${where} to "${destination}", not even with minimal headers (${errorText(fallback)}). ` +
        'Reject it without requeue: the broker dead-letters it.',
      { code: 'DEAD_LETTER_FAILED', retriable: false, cause: fallback },
    );
  }
  logger.error(
    `Cannot dead-letter a message from ${where} to "${destination}", not even with minimal headers (${errorText(fallback)}). ` +
      `Acknowledging it so that the messages behind it are handled: it can still be read in "${topic}"${position(message)}.`,
    fields,
  );
}

/** Runs `send` up to DEAD_LETTER_TRIES times while it fails for a reason that may pass. */
async function tryDeadLetter(
  host: DeadLetterHost,
  send: () => Promise<void>,
): Promise<unknown /* DEAD_LETTERED, or the last error */> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= DEAD_LETTER_TRIES; attempt++) {
    if (attempt > 1) await sleep(DEAD_LETTER_RETRY_DELAY_MS * 4 ** (attempt - 2));
    try {
      await send();
      return DEAD_LETTERED;
    } catch (error) {
      lastError = error;
      host.logger.warn(`Dead-lettering failed (try ${attempt} of ${DEAD_LETTER_TRIES}): ${errorText(error)}`);
      if ((isMessagingError(error) && !error.retriable) || !host.isRunning()) break;
    }
  }
  return lastError;
}

/** Where a message that was not dead-lettered can still be found, for the log line. */
function locate(message: Message): Record<string, unknown> {
  const { partition, offset } = message.metadata;
  const messageId = message.headers['msgport-message-id'];
  return {
    topic: message.topic,
    ...(partition === undefined ? {} : { partition }),
    ...(offset === undefined ? {} : { offset }),
    ...(messageId === undefined ? {} : { messageId }),
    key: message.key === null ? null : message.key.toString('base64').slice(0, MAX_LOGGED_KEY_LENGTH),
    valueBytes: message.value.length,
  };
}

function position(message: Message): string {
  const { partition, offset } = message.metadata;
  return partition === undefined || offset === undefined ? '' : ` at partition ${partition}, offset ${offset}`;
}
