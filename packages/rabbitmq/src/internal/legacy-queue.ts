import type { Channel } from 'amqplib';
import { SubscribeError } from '@msgport/core';
import type { RabbitMQLegacyQueue } from '../rabbitmq-adapter-options.js';
import { replyCode, REPLY_CODES } from './amqp-errors.js';
import { createConsumer, type Consumer } from './consumer.js';
import { attachGroup } from './group-attachment.js';
import { declareGroupTopology, ProbeChannel, queueExists } from './group-topology.js';
import type { Link } from './link.js';
import type { QueueConsumers } from './queue-consumers.js';
import {
  deadLetterQueueArguments,
  groupLayout,
  partitionBindingArguments,
  partitionQueueArguments,
  type GroupLayout,
} from './queue-layout.js';
import type { Settings } from './settings.js';
import { checkedName, deadLetterName } from './topology.js';

/**
 * Taking over the queue of a PyFly service (issue 19; docs/migration-from-pyfly.md). PyFly binds
 * one durable queue per group (named by the group) to the topic on the main exchange; msgport's
 * group consumes partition queues (queue-layout.ts). A group configured with a legacy queue:
 *
 * - `share`: consumes the legacy queue, competing with the PyFly instances, and declares nothing
 *   of its own for the topic but its dead-letter queue (each message is handled once by the fleet);
 * - `switch` (PyFly instances stopped): under a lock, once per group, moves the topic from the
 *   legacy queue to the partition queues in ONE broker operation, then drains the legacy queue
 *   before it consumes its partitions. The switch goes through a per-group exchange, the router:
 *
 * ```
 * exchange "<x>" ──"<topic>"──► exchange "<x>.<topic>.<group>.legacy" (fanout; alternate exchange: the switch exchange)
 *                                   └─► legacy queue                          (while bound: every message goes there)
 * exchange "<x>.<topic>.<group>.legacy.partitions.<n>" (headers, alternate exchange "….fallback" ─► p0)
 *    └─ msgport-partition = "i" ─► queue "<topic>.<group>.p<i>"
 * ```
 *
 * The router is bound to the topic beside PyFly's own binding (RabbitMQ delivers one copy per
 * queue whatever the routes), then PyFly's binding is removed: the legacy queue is reached only
 * through the router. Unbinding it from the router is the switch: from that message on, the router
 * routes nothing itself, so its alternate exchange takes every message to the partition queues.
 * Then the partition queues are bound the usual way (again one copy per queue while both routes
 * exist) and the router and switch exchanges are deleted. The durable, empty queue
 * `<topic>.<group>.legacy.switched` records that the switch happened, so that no later instance
 * ever routes to the legacy queue again.
 */

/** How often the lock of a switch is tried again, and the legacy queue looked at while draining. */
const POLL_MS = 100;

/** Names of what the switch of a group uses (see the top of this file). */
export interface SwitchLayout {
  readonly legacyQueue: string;
  /** Fanout; the legacy queue is bound to it until the switch; alternate exchange: {@link switchExchange}. */
  readonly router: string;
  /** Headers exchange routing to the group's partition queues (like the topic's partition exchange, for this group only). */
  readonly switchExchange: string;
  /** Fanout alternate exchange of {@link switchExchange}, bound to partition 0. */
  readonly switchFallback: string;
  /** Exclusive queue: held by the instance that runs the switch. */
  readonly lock: string;
  /** Durable, empty queue: exists once the switch happened. */
  readonly marker: string;
}

export function switchLayout(layout: GroupLayout, legacyQueue: string): SwitchLayout {
  const { exchange, topic, group, partitions } = layout;
  const router = checkedName(`${exchange}.${topic}.${group}.legacy`, topic);
  const switchExchange = checkedName(`${router}.partitions.${partitions}`, topic);
  return Object.freeze({
    legacyQueue,
    router,
    switchExchange,
    switchFallback: checkedName(`${switchExchange}.fallback`, topic),
    lock: checkedName(`${topic}.${group}.legacy.lock`, topic),
    marker: checkedName(`${topic}.${group}.legacy.switched`, topic),
  });
}

/**
 * `share` phase, on the consumer's channel: checks that the legacy queue exists and declares the
 * group's dead-letter queue (what the handlers dead-letter goes there). Returns the queue to consume.
 * @throws {SubscribeError} (not retriable) when the legacy queue does not exist.
 */
export async function prepareSharedQueue(
  channel: Channel,
  link: Link,
  settings: Settings,
  legacy: Required<RabbitMQLegacyQueue>,
): Promise<string> {
  try {
    await channel.checkQueue(legacy.queue);
  } catch (error) {
    if (replyCode(error) === REPLY_CODES.NOT_FOUND) throw missingQueue(legacy);
    throw error;
  }
  const deadLetterQueue = deadLetterName(legacy.topic, legacy.group);
  await channel.assertQueue(deadLetterQueue, { durable: true, arguments: deadLetterQueueArguments(settings.queueType) });
  await channel.bindQueue(deadLetterQueue, settings.exchange, deadLetterQueue);
  link.deadLetterQueues.add(deadLetterQueue);
  return legacy.queue;
}

/**
 * `switch` phase: attaches the group `consumer` on `link` once the topic was switched to its
 * partition queues (by this instance, under the group's lock, unless another did it before) and
 * the legacy queue is drained (by this instance, beside any other consumer it has left).
 */
export async function attachSwitchingGroup(
  consumers: QueueConsumers,
  consumer: Consumer,
  link: Link,
  legacy: Required<RabbitMQLegacyQueue>,
): Promise<void> {
  const { settings, logger } = consumers;
  const layout = groupLayout(settings.exchange, legacy.topic, legacy.group, settings.partitions, settings.queueType);
  const names = switchLayout(layout, legacy.queue);
  const probe = new ProbeChannel(link.connection);
  try {
    if (!(await holdLock(probe, names, consumer, link))) return;
    try {
      if (await switchTopic(probe, layout, names)) {
        logger.info(
          `Switched "${legacy.topic}" in group "${legacy.group}" from the legacy queue "${legacy.queue}" to the partition ` +
            `queues "${layout.partitionQueues[0]}"…: new messages go there; draining "${legacy.queue}" first.`,
        );
      }
    } finally {
      await probe.run((channel) => channel.deleteQueue(names.lock)).catch(() => undefined);
    }
    if (!(await drainLegacyQueue(consumers, consumer, link, probe, legacy))) return;
    if (legacy.deleteWhenDrained) await deleteDrained(consumers, probe, legacy);
  } finally {
    await probe.close();
  }
  await attachGroup(consumers, consumer, link);
}

/** Takes the group's switch lock, waiting while another instance holds it; false when the consumer closed meanwhile. */
async function holdLock(probe: ProbeChannel, names: SwitchLayout, consumer: Consumer, link: Link): Promise<boolean> {
  for (;;) {
    if (consumer.closed) return false;
    if (link.closed)
      throw new SubscribeError('The RabbitMQ connection closed during the switch from the legacy queue; retrying.');
    try {
      await probe.run((channel) =>
        channel.assertQueue(names.lock, { exclusive: true, durable: false, arguments: { 'x-queue-type': 'classic' } }),
      );
      return true;
    } catch (error) {
      if (replyCode(error) !== REPLY_CODES.RESOURCE_LOCKED) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Switches the topic from the legacy queue to the group's partition queues unless that happened
 * already (the marker queue exists), then brings the group to msgport's usual layout. Every step
 * is idempotent: an instance that died midway leaves a state the next one completes. True when
 * this call made the switch.
 */
async function switchTopic(probe: ProbeChannel, layout: GroupLayout, names: SwitchLayout): Promise<boolean> {
  const { exchange, topic } = layout;
  const switching = !(await queueExists(probe, names.marker));
  if (switching) {
    if (!(await queueExists(probe, names.legacyQueue))) throw missingQueue({ ...layout, queue: names.legacyQueue });
    await probe.run(async (channel) => {
      // The partition queues, reached from the switch exchange only (nothing routes to it yet).
      await channel.assertExchange(names.switchFallback, 'fanout', { durable: true });
      await channel.assertExchange(names.switchExchange, 'headers', { durable: true, alternateExchange: names.switchFallback });
      const queueArguments = partitionQueueArguments(layout);
      for (const [partition, queue] of layout.partitionQueues.entries()) {
        await channel.assertQueue(queue, { durable: true, arguments: queueArguments });
        await channel.bindQueue(queue, names.switchExchange, '', partitionBindingArguments(partition));
      }
      await channel.bindQueue(layout.partitionQueues[0]!, names.switchFallback, '');
      // The router routes to the legacy queue, beside PyFly's binding: one copy per queue.
      await channel.assertExchange(names.router, 'fanout', { durable: true, alternateExchange: names.switchExchange });
      await channel.bindQueue(names.legacyQueue, names.router, '');
      await channel.bindExchange(names.router, exchange, topic);
      await channel.unbindQueue(names.legacyQueue, exchange, topic);
      // The switch: one operation. From the next message on, the router's alternate exchange takes them.
      await channel.unbindQueue(names.legacyQueue, names.router, '');
      await channel.assertQueue(names.marker, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    });
  }
  // Switched: PyFly's binding stays removed (a PyFly instance started since would have bound it again).
  if (await queueExists(probe, names.legacyQueue)) {
    await probe.run((channel) => channel.unbindQueue(names.legacyQueue, exchange, topic));
  }
  // msgport's layout (one copy per queue while the router still routes too), then the router goes.
  await probe.run((channel) => declareGroupTopology(channel, layout));
  for (const name of [names.router, names.switchExchange, names.switchFallback]) {
    await probe
      .run((channel) => channel.deleteExchange(name))
      .catch((error: unknown) => {
        if (replyCode(error) !== REPLY_CODES.NOT_FOUND) throw error;
      });
  }
  return switching;
}

/**
 * Consumes the legacy queue until RabbitMQ reports it holds no ready message after this
 * instance's deliveries from it were settled; false when the consumer closed meanwhile. Messages
 * other consumers still hold unacknowledged (a PyFly instance stopping) may come back later: they
 * are handled by whoever consumes the queue then (see the guide).
 */
async function drainLegacyQueue(
  consumers: QueueConsumers,
  consumer: Consumer,
  link: Link,
  probe: ProbeChannel,
  legacy: Required<RabbitMQLegacyQueue>,
): Promise<boolean> {
  let drainer: Consumer | null = null;
  try {
    for (;;) {
      if (consumer.closed) return false;
      if (link.closed) throw new SubscribeError('The RabbitMQ connection closed while draining the legacy queue; retrying.');
      const ready = await readyCount(probe, legacy.queue);
      if (ready === 0) {
        if (drainer === null) return true;
        // Settle what it received, then look again (a delivery it returned would be ready again).
        await consumers.close(drainer);
        drainer = null;
        continue;
      }
      if (drainer === null) {
        drainer = createConsumer(consumer.spec, consumer.deliver, null, legacy.queue);
        await consumers.attach(drainer, link);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    if (drainer !== null) await consumers.close(drainer);
  }
}

async function readyCount(probe: ProbeChannel, queue: string): Promise<number> {
  try {
    return (await probe.run((channel) => channel.checkQueue(queue))).messageCount;
  } catch (error) {
    // Deleted once drained by another instance: nothing left.
    if (replyCode(error) === REPLY_CODES.NOT_FOUND) return 0;
    throw error;
  }
}

async function deleteDrained(
  consumers: QueueConsumers,
  probe: ProbeChannel,
  legacy: Required<RabbitMQLegacyQueue>,
): Promise<void> {
  try {
    await probe.run((channel) => channel.deleteQueue(legacy.queue, { ifEmpty: true, ifUnused: true }));
    consumers.logger.info(`Deleted the drained legacy queue "${legacy.queue}" (empty, unused).`);
  } catch (error) {
    const code = replyCode(error);
    if (code === REPLY_CODES.PRECONDITION_FAILED) {
      consumers.logger.info(`Kept the legacy queue "${legacy.queue}": it is not empty or still consumed.`);
    } else if (code !== REPLY_CODES.NOT_FOUND) throw error;
  }
}

function missingQueue(legacy: { readonly topic: string; readonly group: string; readonly queue: string }): SubscribeError {
  return new SubscribeError(
    `Cannot subscribe to "${legacy.topic}" in group "${legacy.group}": its legacy queue "${legacy.queue}" (legacyQueues) does ` +
      'not exist. PyFly names a group\'s queue by the group alone ("pyfly.<topic>" without a group); check the name with ' +
      '`rabbitmqctl list_queues name messages consumers`.',
    { retriable: false },
  );
}
