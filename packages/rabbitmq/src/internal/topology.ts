import { InvalidArgumentError } from '@msgport/core';

/** Longest queue name or routing key RabbitMQ accepts, in UTF-8 bytes. */
export const MAX_AMQP_NAME_BYTES = 255;

/**
 * The one durable queue a group consumed in msgport's layout before partitioned queues:
 * `<topic>.<group>`. Only looked for, to migrate from it (see queue-layout.ts).
 */
export function legacyGroupQueueName(topic: string, group: string): string {
  return checkedName(`${topic}.${group}`, topic);
}

/**
 * The dead-letter topic (routing key, and name of the durable queue that keeps the dead letters) of
 * `topic` for `group`: `<topic>.<group>.dlq`, or `<topic>.dlq` for broadcast subscriptions.
 */
export function deadLetterName(topic: string, group: string | null): string {
  return checkedName(group === null ? `${topic}.dlq` : `${topic}.${group}.dlq`, topic);
}

/** The fanout dead-letter exchange bound to the main exchange: `<exchangeName>.dlx`. */
export function deadLetterExchangeName(exchangeName: string): string {
  return `${exchangeName}.dlx`;
}

/**
 * `name`, derived from `topic`, when RabbitMQ accepts its length.
 * @throws {InvalidArgumentError} when it is longer than {@link MAX_AMQP_NAME_BYTES}.
 */
export function checkedName(name: string, topic: string): string {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_AMQP_NAME_BYTES) {
    throw new InvalidArgumentError(
      `Cannot use topic "${topic}" on RabbitMQ: the derived name "${name.slice(0, 60)}…" is ${bytes} bytes, and RabbitMQ ` +
        `allows ${MAX_AMQP_NAME_BYTES} for queue names and routing keys. Use a shorter topic or group name.`,
    );
  }
  return name;
}
