import type { RabbitMQQueueType } from '../rabbitmq-adapter-options.js';
import { PARTITION_HEADER } from './mapping.js';
import { queueTypeArguments } from './queue-type.js';
import { checkedName, deadLetterExchangeName, deadLetterName, legacyGroupQueueName } from './topology.js';

/**
 * The names and arguments of what a group of a topic uses on RabbitMQ (contract C6: per-key order
 * across the instances of a group):
 *
 * ```
 * exchange "<x>" (direct) ──"<topic>"──► exchange "<x>.<topic>.partitions.<n>" (headers; alternate exchange: the fallback)
 *    ├─ msgport-partition = "0" ─► queue "<topic>.<group>.p0"   (durable, single active consumer)
 *    ├─ …
 *    └─ msgport-partition = "<n-1>" ─► queue "<topic>.<group>.p<n-1>"
 * exchange "<x>.<topic>.partitions.<n>.fallback" (fanout) ─► queue "<topic>.<group>.p0"
 *    (what the headers exchange cannot route: no or an out-of-range msgport-partition header,
 *     i.e. messages of foreign publishers and of publishers with more partitions)
 * queue "<topic>.<group>.members"   (classic, not durable, auto-delete; one presence consumer per instance)
 * queue "<topic>.<group>.p<i>.owner" (exclusive: exists while one instance owns partition i)
 * ```
 *
 * The partition count is part of the partition exchange's name, so groups (or publishers) with
 * different counts never misroute each other's messages: each count has its own exchange and
 * fallback. Both exchanges are auto-delete: they go away with the last partition queue bound to them.
 * A group whose count went up is unbound from the exchanges of its earlier count (else their
 * fallback would copy messages of its new partitions into partition 0).
 */
export interface GroupLayout {
  readonly topic: string;
  readonly group: string;
  readonly partitions: number;
  /** The type of the partition queues and the dead-letter queue. */
  readonly queueType: RabbitMQQueueType;
  /** The main (direct) exchange: routing key = topic. */
  readonly exchange: string;
  /** The headers exchange that routes the topic's messages to partition queues by {@link PARTITION_HEADER}. */
  readonly partitionExchange: string;
  /** The fanout alternate exchange of {@link partitionExchange}: whatever it cannot route goes to partition 0. */
  readonly fallbackExchange: string;
  /** The fanout dead-letter exchange, `<x>.dlx`. */
  readonly deadLetterExchange: string;
  /** `<topic>.<group>.dlq`: routing key and queue of the group's dead letters. */
  readonly deadLetterQueue: string;
  /** `<topic>.<group>.members`: one consumer per running instance of the group (how instances count each other). */
  readonly membersQueue: string;
  /** `<topic>.<group>`: the group's one queue before partitioned queues. */
  readonly legacyQueue: string;
  /** `<topic>.<group>.p<i>`, for every partition. */
  readonly partitionQueues: readonly string[];
  /** `<topic>.<group>.p<i>.owner`, for every partition: the exclusive queue whose owner consumes partition i. */
  readonly ownerQueues: readonly string[];
  /** `<topic>.<group>.p<n>`: a partition queue that exists only if the group was consumed with more partitions. */
  readonly extraPartitionQueue: string;
}

/**
 * `<topic>.<group>.p<partition>`.
 * @throws {InvalidArgumentError} when it is longer than RabbitMQ allows (255 bytes).
 */
export function partitionQueueName(topic: string, group: string, partition: number): string {
  return checkedName(`${topic}.${group}.p${partition}`, topic);
}

/**
 * The headers exchange of `topic` for `partitions` partitions, `<exchange>.<topic>.partitions.<n>`,
 * and its alternate exchange, `….fallback`.
 * @throws {InvalidArgumentError} when a name is longer than RabbitMQ allows (255 bytes).
 */
export function partitionExchangeNames(
  exchange: string,
  topic: string,
  partitions: number,
): { partitionExchange: string; fallbackExchange: string } {
  const partitionExchange = checkedName(`${exchange}.${topic}.partitions.${partitions}`, topic);
  return { partitionExchange, fallbackExchange: checkedName(`${partitionExchange}.fallback`, topic) };
}

/**
 * The layout of `group` on `topic` with `partitions` partitions, behind `exchange`.
 * @throws {InvalidArgumentError} when a derived name is longer than RabbitMQ allows (255 bytes).
 */
export function groupLayout(
  exchange: string,
  topic: string,
  group: string,
  partitions: number,
  queueType: RabbitMQQueueType = 'quorum',
): GroupLayout {
  const base = `${topic}.${group}`;
  const partitionQueue = (i: number): string => partitionQueueName(topic, group, i);
  const indexes = Array.from({ length: partitions }, (_, i) => i);
  return Object.freeze({
    topic,
    group,
    partitions,
    queueType,
    exchange,
    ...partitionExchangeNames(exchange, topic, partitions),
    deadLetterExchange: deadLetterExchangeName(exchange),
    deadLetterQueue: deadLetterName(topic, group),
    membersQueue: checkedName(`${base}.members`, topic),
    legacyQueue: legacyGroupQueueName(topic, group),
    partitionQueues: Object.freeze(indexes.map(partitionQueue)),
    ownerQueues: Object.freeze(indexes.map((i) => checkedName(`${base}.p${i}.owner`, topic))),
    extraPartitionQueue: partitionQueue(partitions),
  });
}

/**
 * Arguments of a partition queue: single active consumer (the broker never hands one partition to
 * two consumers at once, even while ownership changes hands) and dead-lettering into the group's
 * dead-letter queue, so that what the broker itself dead-letters lands there too.
 *
 * Of the layout's queue type (quorum queues support both arguments; see queue-type.ts for what
 * else a quorum queue gets).
 */
export function partitionQueueArguments(layout: GroupLayout): Record<string, unknown> {
  return {
    'x-single-active-consumer': true,
    'x-dead-letter-exchange': layout.deadLetterExchange,
    'x-dead-letter-routing-key': layout.deadLetterQueue,
    ...queueTypeArguments(layout.queueType, true),
  };
}

/** Arguments of a dead-letter queue (`<topic>.<group>.dlq`, `<topic>.dlq`) of `queueType`. */
export function deadLetterQueueArguments(queueType: RabbitMQQueueType): Record<string, unknown> {
  return queueTypeArguments(queueType, false);
}

/** Arguments of the binding of partition `partition`'s queue to the partition exchange. */
export function partitionBindingArguments(partition: number): Record<string, unknown> {
  return { 'x-match': 'all', [PARTITION_HEADER]: String(partition) };
}

/** Arguments the legacy `<topic>.<group>` queue was declared with (to recognise it as msgport's). */
export function legacyQueueArguments(layout: GroupLayout): Record<string, unknown> {
  return { 'x-dead-letter-exchange': layout.deadLetterExchange, 'x-dead-letter-routing-key': layout.deadLetterQueue };
}

/**
 * What to do with the legacy `<topic>.<group>` queue found at subscribe time:
 * - `delete`: empty and nobody consumes it: remove it (atomically, if still empty and unused);
 * - `unbind`: an instance of the previous version still consumes it (a rolling upgrade): unbind it
 *   from the topic so that it gets nothing new, and let those instances drain it;
 * - `refuse`: it holds messages and nobody consumes them: unbind it and fail the subscription, or
 *   those messages would never be handled.
 */
export type LegacyQueueAction = 'delete' | 'unbind' | 'refuse';

export function legacyQueueAction(queue: { readonly messageCount: number; readonly consumerCount: number }): LegacyQueueAction {
  if (queue.consumerCount > 0) return 'unbind';
  return queue.messageCount > 0 ? 'refuse' : 'delete';
}
