import { attachOnOwnChannel, createConsumer, describeSpec, waitIdle, type Consumer } from './consumer.js';
import {
  countMembers,
  declareGroupTopology,
  declareMembersQueue,
  disownPartition,
  earlierPartitionCount,
  migrateLegacyQueue,
  ProbeChannel,
  tryOwnPartition,
  unbindEarlierPartitions,
  whenPartitionUnconsumed,
} from './group-topology.js';
import type { Link } from './link.js';
import { PartitionCoordinator, type PartitionDriver } from './partition-coordinator.js';
import type { QueueConsumers } from './queue-consumers.js';
import { groupLayout, type GroupLayout } from './queue-layout.js';

/** How often each instance of a group reviews which partitions it consumes (±20 % jitter). */
const PARTITION_REVIEW_INTERVAL_MS = 1_000;
/**
 * Upper bound of the wait for the broker to count a closed partition consumer out (it takes a few
 * milliseconds; a broker that takes longer is overloaded, and the handover goes ahead).
 */
const HANDOVER_SETTLE_TIMEOUT_MS = 5_000;

/**
 * Attaches a group subscription to `link`: declares the group's partition queues (see
 * queue-layout.ts), checks for queues of an earlier layout, joins the group's members queue on a
 * channel of its own, then starts the coordinator that picks the partitions this instance
 * consumes (its first review is over when this resolves).
 */
export async function attachGroup(consumers: QueueConsumers, consumer: Consumer, link: Link): Promise<void> {
  const { settings, logger } = consumers;
  const previous = consumer.group;
  consumer.group = null;
  // The coordinator of an earlier attachment on this connection gives its partitions up first:
  // its locks belong to this connection too, and the new one must not inherit them.
  if (previous !== null) await previous.stop();
  const { topic, group } = consumer.spec;
  const layout = groupLayout(settings.exchange, topic, group!, settings.partitions, settings.queueType);
  const probe = new ProbeChannel(link.connection);
  const attached = await attachOnOwnChannel(consumers, consumer, link, {
    prepare: async (channel) => {
      // One group's topology at a time per connection: RabbitMQ 3.10 on a small single node stopped
      // answering new connections (and `rabbitmqctl stop_app`) after one adapter declared ~100 quorum
      // queues at once (20 group subscriptions made together: the conformance suite's concurrent-topics
      // case); declared in turn, they are not.
      const declared = link.declaring.then(async () => {
        // Queues of earlier layouts: looked for before and after declaring (see group-topology.ts).
        const earlier = await earlierPartitionCount(probe, layout);
        await declareGroupTopology(channel, layout);
        await declareMembersQueue(probe, layout);
        link.deadLetterQueues.add(layout.deadLetterQueue);
        if (earlier !== null) await unbindEarlierPartitions(probe, layout, earlier, logger);
        await migrateLegacyQueue(probe, layout, logger);
      });
      link.declaring = declared.catch(() => undefined);
      await declared;
      const { consumerTag } = await channel.consume(
        layout.membersQueue,
        (delivery) => {
          // Nothing is routed to the members queue; a cancel means it was deleted: attach again.
          if (delivery === null && consumer.channel === channel) void channel.close().catch(() => undefined);
        },
        { noAck: true },
      );
      return consumerTag;
    },
    consume: (_channel, consumerTag) => {
      consumer.consumerTag = consumerTag;
    },
    release: () => probe.close(),
  });
  if (!attached) return;
  let coordinator: PartitionCoordinator | null = null;
  coordinator = new PartitionCoordinator({
    partitions: settings.partitions,
    driver: partitionDriver(consumers, consumer, link, layout, probe, (partition) => coordinator?.lost(partition)),
    logger,
    intervalMs: PARTITION_REVIEW_INTERVAL_MS,
    offset: consumers.partitionOffset,
    describe: describeSpec(consumer.spec),
  });
  consumer.group = coordinator;
  await coordinator.start();
}

/**
 * What the coordinator of `group` does on `link`: locks, member count, and one consumer per owned
 * partition, whose channel closing unexpectedly is reported to `onLost`.
 */
function partitionDriver(
  consumers: QueueConsumers,
  group: Consumer,
  link: Link,
  layout: GroupLayout,
  probe: ProbeChannel,
  onLost: (partition: number) => void,
): PartitionDriver {
  const owned = new Map<number, Consumer>();
  /** Before another instance may take `partition`: what this one received from it is back in the queue. */
  const settledBeforeHandover = async (partition: number): Promise<void> => {
    if (link.closed) return;
    const settled = await whenPartitionUnconsumed(probe, layout, partition, Date.now() + HANDOVER_SETTLE_TIMEOUT_MS);
    if (!settled) {
      consumers.logger.warn(
        `RabbitMQ still counts a consumer on "${layout.partitionQueues[partition]}" ${HANDOVER_SETTLE_TIMEOUT_MS} ms after this ` +
          'instance closed it; giving the partition up anyway.',
      );
    }
  };
  /** Consumers whose channel closed under them, until their partition is given up. */
  const lost = new Map<number, Consumer>();
  return {
    countMembers: () => countMembers(probe, layout),
    tryOwn: (partition) => tryOwnPartition(probe, layout, partition),
    disown: async (partition) => {
      // The broker returned a lost consumer's unacknowledged messages to the queue; handlers of
      // some may still run here. The next owner must not get them before those end.
      const consumer = lost.get(partition);
      if (consumer !== undefined) await waitIdle(consumer);
      lost.delete(partition);
      await settledBeforeHandover(partition);
      await disownPartition(probe, layout, partition);
    },
    redeclare: async () => {
      await probe.run((channel) => declareGroupTopology(channel, layout));
      await declareMembersQueue(probe, layout);
    },
    consume: async (partition) => {
      const consumer: Consumer = createConsumer(group.spec, group.deliver, {
        index: partition,
        queue: layout.partitionQueues[partition]!,
        onLost: () => {
          if (owned.get(partition) === consumer) owned.delete(partition);
          lost.set(partition, consumer);
          onLost(partition);
        },
      });
      owned.set(partition, consumer);
      try {
        await consumers.attach(consumer, link);
      } catch (error) {
        owned.delete(partition);
        consumer.closed = true;
        throw error;
      }
    },
    stopConsuming: async (partition) => {
      const consumer = owned.get(partition);
      owned.delete(partition);
      if (consumer !== undefined) await consumers.close(consumer);
    },
    close: () => probe.close(),
  };
}
