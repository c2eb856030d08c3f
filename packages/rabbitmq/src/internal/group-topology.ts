import type { Channel, ChannelModel } from 'amqplib';
import { SubscribeError, type Logger } from '@msgport/core';
import { replyCode, REPLY_CODES } from './amqp-errors.js';
import {
  deadLetterQueueArguments,
  legacyQueueAction,
  legacyQueueArguments,
  partitionBindingArguments,
  partitionExchangeNames,
  partitionQueueArguments,
  type GroupLayout,
} from './queue-layout.js';

/**
 * A channel for the operations RabbitMQ answers by closing the channel (a queue that is not there,
 * locked by another connection, or declared with other arguments): it is opened again on demand.
 * Operations run one at a time.
 */
export class ProbeChannel {
  readonly #connection: ChannelModel;
  #channel: Promise<Channel> | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(connection: ChannelModel) {
    this.#connection = connection;
  }

  /** Runs `operation` on the channel, after the operations before it. */
  run<T>(operation: (channel: Channel) => Promise<T>): Promise<T> {
    const result = this.#queue.then(async () => {
      const opening = this.#open();
      const channel = await opening;
      try {
        return await operation(channel);
      } catch (error) {
        // The broker closes the channel on such an error (its close event may come later): the
        // next operation gets a fresh one.
        if (this.#channel === opening) this.#channel = null;
        void channel.close().catch(() => undefined);
        throw error;
      }
    });
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Closes the channel (best effort). */
  async close(): Promise<void> {
    await this.#queue;
    const channel = this.#channel;
    this.#channel = null;
    if (channel !== null) await (await channel.catch(() => null))?.close().catch(() => undefined);
  }

  #open(): Promise<Channel> {
    if (this.#channel === null) {
      const opening = this.#connection.createChannel().then((channel) => {
        channel.on('error', () => undefined);
        channel.on('close', () => {
          if (this.#channel === opening) this.#channel = null;
        });
        return channel;
      });
      opening.catch(() => {
        if (this.#channel === opening) this.#channel = null;
      });
      this.#channel = opening;
    }
    return this.#channel;
  }
}

/**
 * Declares what a group's partitions need (see {@link GroupLayout}), on `channel`: the partition
 * and fallback exchanges, the dead-letter queue, every partition queue with its binding (the
 * members queue: {@link declareMembersQueue}). The partition exchange is bound to the topic last, once its queues are bound, so
 * no message reaches it with nowhere to go. Idempotent.
 */
export async function declareGroupTopology(channel: Channel, layout: GroupLayout): Promise<void> {
  await channel.assertExchange(layout.fallbackExchange, 'fanout', { durable: true, autoDelete: true });
  await channel.assertExchange(layout.partitionExchange, 'headers', {
    durable: true,
    autoDelete: true,
    alternateExchange: layout.fallbackExchange,
  });
  await channel.assertQueue(layout.deadLetterQueue, { durable: true, arguments: deadLetterQueueArguments(layout.queueType) });
  await channel.bindQueue(layout.deadLetterQueue, layout.exchange, layout.deadLetterQueue);
  const queueArguments = partitionQueueArguments(layout);
  for (const [partition, queue] of layout.partitionQueues.entries()) {
    await channel.assertQueue(queue, { durable: true, arguments: queueArguments });
    await channel.bindQueue(queue, layout.partitionExchange, '', partitionBindingArguments(partition));
  }
  await channel.bindQueue(layout.partitionQueues[0]!, layout.fallbackExchange, '');
  await channel.bindExchange(layout.partitionExchange, layout.exchange, layout.topic);
}

/**
 * How many partitions the group had before, looked up before its queues are declared (they are
 * named `<topic>.<group>.p<i>`): `null` for a new group or the same count (the usual case costs one
 * passive declare), a lower count when the count went up (the caller then unbinds the group from
 * that count's exchanges with {@link unbindEarlierPartitions}).
 *
 * @throws {SubscribeError} (not retriable) when `<topic>.<group>.p<n>` exists: the group was
 *   consumed with more partitions, and what that queue holds would never be handled.
 */
export async function earlierPartitionCount(probe: ProbeChannel, layout: GroupLayout): Promise<number | null> {
  const { topic, group, partitions } = layout;
  if ((await inspectQueue(probe, layout.extraPartitionQueue, partitionQueueArguments(layout))) !== null) {
    throw new SubscribeError(
      `Cannot subscribe to "${topic}" in group "${group}" with ${partitions} partition(s): queue "${layout.extraPartitionQueue}" ` +
        'exists, so the group was consumed with more partitions, and what that queue holds would never be handled. Use the ' +
        'partition count the group had (the `partitions` option, the same for every publisher and instance), or drain ' +
        `"${layout.extraPartitionQueue}" and the partition queues above it (with that count) and delete them.`,
      { retriable: false },
    );
  }
  if (await queueExists(probe, layout.partitionQueues[partitions - 1]!)) return null;
  if (!(await queueExists(probe, layout.partitionQueues[0]!))) return null;
  for (let count = partitions - 1; count > 1; count--) {
    if (await queueExists(probe, layout.partitionQueues[count - 1]!)) return count;
  }
  return 1;
}

/**
 * Unbinds the group's partition queues from the exchanges of its earlier partition count (they
 * go away with their last queue: they are auto-delete), once the new layout is declared.
 */
export async function unbindEarlierPartitions(
  probe: ProbeChannel,
  layout: GroupLayout,
  earlier: number,
  logger: Logger,
): Promise<void> {
  const { partitionExchange, fallbackExchange } = partitionExchangeNames(layout.exchange, layout.topic, earlier);
  try {
    await probe.run(async (channel) => {
      for (let partition = 0; partition < earlier; partition++) {
        await channel.unbindQueue(
          layout.partitionQueues[partition]!,
          partitionExchange,
          '',
          partitionBindingArguments(partition),
        );
      }
      await channel.unbindQueue(layout.partitionQueues[0]!, fallbackExchange, '');
    });
  } catch (error) {
    // Gone already (no other group of the topic had that count).
    if (replyCode(error) !== REPLY_CODES.NOT_FOUND) throw error;
  }
  logger.info(
    `"${layout.topic}" in group "${layout.group}" had ${earlier} partition(s) and now has ${layout.partitions}: keys move to other ` +
      'partitions, so their order holds again once the earlier partitions are drained.',
  );
}

/**
 * Looks for `<topic>.<group>`, the group's one queue in msgport's layout before partitioned queues
 * (recognised by its arguments; a queue of that name declared by someone else is left alone), once
 * the partition queues are declared: removed when empty and unused; unbound from the topic (so it
 * gets nothing new) and left to the previous version's instances that still consume it; unbound
 * and refused when it holds messages nobody consumes.
 *
 * @throws {SubscribeError} (not retriable) in the last case, saying what to do.
 */
export async function migrateLegacyQueue(probe: ProbeChannel, layout: GroupLayout, logger: Logger): Promise<void> {
  const { topic, group } = layout;
  const where = `"${topic}" in group "${group}"`;
  const legacy = await inspectQueue(probe, layout.legacyQueue, legacyQueueArguments(layout));
  if (legacy === null) return;
  const action = legacyQueueAction(legacy);
  if (action === 'delete') {
    try {
      await probe.run((channel) => channel.deleteQueue(layout.legacyQueue, { ifEmpty: true, ifUnused: true }));
      logger.info(
        `Removed the empty queue "${layout.legacyQueue}" of msgport's earlier layout (one queue per group); ${where} now consumes partition queues.`,
      );
      return;
    } catch (error) {
      // It received a message or a consumer meanwhile: handle it as such below.
      if (replyCode(error) !== REPLY_CODES.PRECONDITION_FAILED) throw error;
    }
  }
  await probe.run((channel) => channel.unbindQueue(layout.legacyQueue, layout.exchange, topic));
  const counts = `${legacy.messageCount} message(s), ${legacy.consumerCount} consumer(s)`;
  if (action === 'unbind') {
    logger.warn(
      `Queue "${layout.legacyQueue}" of msgport's earlier layout (one queue per group) is still consumed (${counts}): ` +
        `unbound it from "${topic}", so it receives nothing new; those consumers drain what it holds while ${where} ` +
        'consumes partition queues. Order per key is not kept between the two during the upgrade.',
    );
    return;
  }
  throw new SubscribeError(
    `Cannot subscribe to ${where}: queue "${layout.legacyQueue}" of msgport's earlier layout (one queue per group) holds ` +
      `${legacy.messageCount} message(s) and nobody consumes it; groups now consume partition queues ` +
      `"${layout.partitionQueues[0]}"…, so those messages would never be handled. It was unbound from "${topic}" (it ` +
      'receives nothing new). Drain it with the previous version (or move its messages to the topic, e.g. with a shovel), ' +
      'then subscribe again: an empty, unused legacy queue is removed automatically.',
    { retriable: false },
  );
}

/** True when `queue` exists (looked up on `probe`: RabbitMQ answers a missing queue by closing the channel). */
export async function queueExists(probe: ProbeChannel, queue: string): Promise<boolean> {
  try {
    await probe.run((channel) => channel.checkQueue(queue));
    return true;
  } catch (error) {
    if (replyCode(error) === REPLY_CODES.NOT_FOUND) return false;
    throw error;
  }
}

/**
 * The message and consumer counts of `queue`, or `null` when there is no such queue or it was
 * declared with other arguments than `expected` (then it is not the queue looked for).
 */
async function inspectQueue(
  probe: ProbeChannel,
  queue: string,
  expected: Record<string, unknown>,
): Promise<{ messageCount: number; consumerCount: number } | null> {
  try {
    await probe.run((channel) => channel.checkQueue(queue));
  } catch (error) {
    if (replyCode(error) === REPLY_CODES.NOT_FOUND) return null;
    throw error;
  }
  try {
    // Declaring it as it was declared succeeds only for the queue looked for (and changes nothing).
    return await probe.run((channel) => channel.assertQueue(queue, { durable: true, arguments: expected }));
  } catch (error) {
    if (replyCode(error) === REPLY_CODES.PRECONDITION_FAILED) return null;
    throw error;
  }
}

/** Takes the lock of `partition` (its exclusive owner queue); false when another connection holds it. */
export async function tryOwnPartition(probe: ProbeChannel, layout: GroupLayout, partition: number): Promise<boolean> {
  try {
    await probe.run((channel) =>
      channel.assertQueue(layout.ownerQueues[partition], {
        exclusive: true,
        durable: false,
        arguments: { 'x-queue-type': 'classic' },
      }),
    );
    return true;
  } catch (error) {
    if (replyCode(error) === REPLY_CODES.RESOURCE_LOCKED) return false;
    throw error;
  }
}

/** Gives up the lock of `partition` (held by this connection). */
export async function disownPartition(probe: ProbeChannel, layout: GroupLayout, partition: number): Promise<void> {
  await probe.run((channel) => channel.deleteQueue(layout.ownerQueues[partition]!));
}

/**
 * Waits until the broker no longer counts a consumer on the queue of `partition` (or `deadline`
 * passes: false). Closing a channel returns its unacknowledged messages, but a quorum queue
 * applies that after the close completed; the next owner must not start consuming before those
 * messages are back in their place.
 */
export async function whenPartitionUnconsumed(
  probe: ProbeChannel,
  layout: GroupLayout,
  partition: number,
  deadline: number,
): Promise<boolean> {
  for (;;) {
    const { consumerCount } = await probe.run((channel) => channel.checkQueue(layout.partitionQueues[partition]!));
    if (consumerCount === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The members queue: classic whatever the virtual host's default queue type (quorum queues cannot
 * be auto-delete) and NOT durable. A classic queue lives on the node that declared it; when that
 * node dies, the other nodes of a cluster delete a non-durable queue of it at once, so the group's
 * instances (failing over to them) declare it again and resume. A durable one would stay declared
 * there, refusing every use (`home node … is down or inaccessible`), until that node is back.
 */
const MEMBERS_QUEUE = { durable: false, autoDelete: true, arguments: { 'x-queue-type': 'classic' } } as const;

/**
 * Declares the group's members queue `<topic>.<group>.members` (one presence consumer per
 * instance; nothing is routed to it). One declared durable by an earlier version (still consumed
 * by its instances during a rolling upgrade) is used as it is: the broker refuses to declare it
 * with other flags, and it is auto-delete, so it goes away with the last of those instances.
 */
export async function declareMembersQueue(probe: ProbeChannel, layout: GroupLayout): Promise<void> {
  try {
    await probe.run((channel) => channel.assertQueue(layout.membersQueue, MEMBERS_QUEUE));
  } catch (error) {
    if (replyCode(error) !== REPLY_CODES.PRECONDITION_FAILED) throw error;
    await probe.run((channel) => channel.assertQueue(layout.membersQueue, { ...MEMBERS_QUEUE, durable: true }));
  }
}

/** Instances of the group that consume now: the consumers of its members queue. */
export async function countMembers(probe: ProbeChannel, layout: GroupLayout): Promise<number> {
  const { consumerCount } = await probe.run((channel) => channel.checkQueue(layout.membersQueue));
  return consumerCount;
}
