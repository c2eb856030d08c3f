import type { Channel } from 'amqplib';
import { ConnectionError } from '@msgport/core';
import type { ConsumerSpec, Deliver } from '@msgport/core/adapter';
import type { Link } from './link.js';
import type { PartitionCoordinator } from './partition-coordinator.js';
import type { QueueConsumers } from './queue-consumers.js';

/** One consumer: of a broadcast subscription, of a group (its members queue), or of one partition queue of a group. */
export interface Consumer {
  readonly spec: ConsumerSpec;
  readonly deliver: Deliver;
  closed: boolean;
  link: Link | null;
  channel: Channel | null;
  consumerTag: string | null;
  attaching: { readonly link: Link; readonly promise: Promise<void> } | null;
  retryTimer: NodeJS.Timeout | null;
  retryAttempt: number;
  inFlight: number;
  idleWaiters: Array<() => void>;
  /**
   * A partition consumer giving its partition up: deliveries that arrive from now on are not
   * handed to core and stay unacknowledged, so that closing the channel returns them to the queue
   * in their place (see QueueConsumers.close()).
   */
  holding: boolean;
  /** True once openConsumer() returned it: from then on, health expects it to be consuming. */
  opened: boolean;
  /**
   * Set on the consumer of one partition queue of a group (created and closed by the group's
   * coordinator, never registered with the adapter); `onLost` tells the coordinator its channel closed.
   */
  readonly partition: { readonly index: number; readonly queue: string; readonly onLost: () => void } | null;
  /** Set on a consumer of a group's legacy queue (a PyFly service's queue, see legacy-queue.ts): the queue. */
  readonly legacyQueue: string | null;
  /**
   * For a group subscription: who decides which partitions it consumes on the current connection
   * (its own channel consumes the group's members queue, which counts the group's instances).
   */
  group: PartitionCoordinator | null;
}

export function createConsumer(
  spec: ConsumerSpec,
  deliver: Deliver,
  partition: Consumer['partition'] = null,
  legacyQueue: string | null = null,
): Consumer {
  return {
    spec,
    deliver,
    closed: false,
    link: null,
    channel: null,
    consumerTag: null,
    attaching: null,
    retryTimer: null,
    retryAttempt: 0,
    inFlight: 0,
    idleWaiters: [],
    holding: false,
    opened: partition !== null,
    partition,
    legacyQueue,
    group: null,
  };
}

/** Acknowledges or rejects on `channel`, if it is still the consumer's (a delivery tag is only valid on its channel). */
export function settle(consumer: Consumer, channel: Channel, action: () => void): void {
  // On another channel the message is redelivered anyway.
  if (consumer.channel !== channel) return;
  try {
    action();
  } catch {
    // The channel closed meanwhile: the broker redelivers the message.
  }
}

/** Resolves once no delivery of `consumer` is in flight. */
export function waitIdle(consumer: Consumer): Promise<void> {
  if (consumer.inFlight === 0) return Promise.resolve();
  return new Promise((resolve) => consumer.idleWaiters.push(resolve));
}

/** `topic`, or `topic" in group "group` (to be quoted), for log lines. */
export function describeSpec(spec: ConsumerSpec): string {
  return spec.group === null ? spec.topic : `${spec.topic}" in group "${spec.group}`;
}

/** The steps of {@link attachOnOwnChannel}. */
export interface ChannelAttachment<T> {
  /** Declares (or looks up) what the consumer consumes, on its new channel. */
  readonly prepare: (channel: Channel) => Promise<T>;
  /** Once the consumer owns the channel: starts consuming what `prepare` gave. */
  readonly consume: (channel: Channel, prepared: T) => Promise<void> | void;
  /** Closed before the channel when the attachment ends early (a probe channel of the group). */
  readonly release?: () => Promise<void>;
}

/**
 * Attaches `consumer` on a new channel of `link`, watched by `consumers`: runs `prepare`; unless
 * the consumer was closed meanwhile (then the channel is closed and this resolves `false`), the
 * consumer takes `link` and the channel as its own, and `consume` runs. A link that closed meanwhile
 * is a ConnectionError (the attachment is retried). On any failure the channel is no longer the
 * consumer's and is closed (after `release`), and the error is rethrown.
 */
export async function attachOnOwnChannel<T>(
  consumers: QueueConsumers,
  consumer: Consumer,
  link: Link,
  attachment: ChannelAttachment<T>,
): Promise<boolean> {
  const channel = await link.connection.createChannel();
  consumers.watchChannel(consumer, link, channel);
  const closeChannel = async (): Promise<void> => {
    await attachment.release?.();
    await channel.close().catch(() => undefined);
  };
  try {
    const prepared = await attachment.prepare(channel);
    if (consumer.closed) {
      await closeChannel();
      return false;
    }
    if (link.closed)
      throw new ConnectionError('The RabbitMQ connection closed while the consumer was being set up; it will be retried.');
    consumer.link = link;
    consumer.channel = channel;
    // A step that completes synchronously takes no turn of its own: nothing runs between it and the adoption.
    const consuming = attachment.consume(channel, prepared);
    if (consuming !== undefined) await consuming;
    consumer.retryAttempt = 0;
    return true;
  } catch (error) {
    if (consumer.channel === channel) consumer.channel = null;
    await closeChannel();
    throw error;
  }
}
