import { ConfigurationError } from '@msgport/core';
import type { RabbitMQQueueType } from '../rabbitmq-adapter-options.js';
import { replyCode, REPLY_CODES, safeText } from './amqp-errors.js';

/**
 * The arguments that make a durable queue (a partition queue or a dead-letter queue) of
 * `queueType`. The type is always explicit, so a virtual host's default queue type changes nothing.
 *
 * Quorum queues also get at-least-once dead-lettering: what the broker dead-letters itself (a
 * delivery rejected without requeue, see `transportDeadLetters`; the delivery limit of RabbitMQ 4)
 * is kept in the quorum queue until the dead-letter queue confirmed it, instead of being dropped when
 * it cannot be routed there (C5: no message is dropped silently). RabbitMQ requires
 * `x-overflow: reject-publish` with it; the adapter sets no length limit, so that only matters
 * under a length-limit policy, where a publish beyond the limit is then nacked (it rejects) rather
 * than the oldest message dropped.
 */
export function queueTypeArguments(queueType: RabbitMQQueueType, deadLettering: boolean): Record<string, unknown> {
  if (queueType === 'classic') return { 'x-queue-type': 'classic' };
  return deadLettering
    ? { 'x-queue-type': 'quorum', 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' }
    : { 'x-queue-type': 'quorum' };
}

/** The arguments the two queue types differ in: a mismatch on one of them means "the queue has the other type". */
const TYPE_ARGUMENTS =
  /inequivalent arg '(x-queue-type|x-dead-letter-strategy|x-overflow)' for queue '((?:[^']|'(?! in vhost))*)'/;

/**
 * When `error` is RabbitMQ refusing to declare a queue because it exists with the other type
 * (PRECONDITION_FAILED, inequivalent `x-queue-type` or one of the arguments only quorum queues get),
 * a {@link ConfigurationError} naming the queue, both types and what to do; `null` otherwise.
 */
export function queueTypeMismatch(
  error: unknown,
  queueType: RabbitMQQueueType,
  secrets: readonly string[],
): ConfigurationError | null {
  if (replyCode(error) !== REPLY_CODES.PRECONDITION_FAILED) return null;
  const match = TYPE_ARGUMENTS.exec(safeText(error, secrets));
  if (match === null) return null;
  const queue = match[2]!;
  const other: RabbitMQQueueType = queueType === 'quorum' ? 'classic' : 'quorum';
  return new ConfigurationError(
    `Cannot declare queue "${queue}" as a ${queueType} queue (queueType '${queueType}'): it exists as a ${other} queue ` +
      `(RabbitMQ: inequivalent arg '${match[1]}'). Either set queueType: '${other}' to keep using it, or drain the queue and ` +
      `delete it (e.g. rabbitmqctl delete_queue "${queue}") so that it is declared again as a ${queueType} queue.`,
    { cause: error },
  );
}
