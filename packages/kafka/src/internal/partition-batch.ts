import type { Deliver, KeyedExecutor } from '@msgport/core/adapter';
import type { KafkaMessage } from 'kafkajs';
import { fromKafkaMessage } from './mapping.js';

/** One batch of one partition, handed over by kafkajs' `eachBatch`, and what to do with it. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly KafkaMessage[];
  readonly deliver: Deliver;
  /** kafkajs' `resolveOffset`: the offset and everything before it may be committed. */
  readonly resolveOffset: (offset: string) => void;
  /** False once the consumer is stopping, and `isStale` true once the partition was sought. */
  readonly isRunning: () => boolean;
  readonly isStale: () => boolean;
  /** True once per heartbeat interval (and false again until the next): a heartbeat and a commit are due. */
  readonly takeTick: () => boolean;
  /** Heartbeats and commits; rejects when the member must stop (a rebalance). */
  readonly tick: () => Promise<void>;
  /**
   * Calls `listener` whenever a heartbeat and a commit fall due, until the returned function is
   * called: progress is committed even while no delivery completes (one message stuck).
   */
  readonly onTickDue: (listener: () => void) => () => void;
  /** A delivery begins, and ends (the keep-alive counts them). */
  readonly began: () => void;
  readonly ended: () => void;
}

/** Why a batch ended before every message of it was handled: the first message not acknowledged. */
export interface BatchFailure {
  readonly error: unknown;
  readonly offset: string;
}

/**
 * Delivers one batch one message at a time, in offset order (`concurrency` 1). The offset of the
 * last message handled is resolved at each tick and when the batch ends, not per message (kafkajs
 * parses a Long per `resolveOffset`); `isStale()` (a JSON.stringify in kafkajs) is checked per
 * batch and per tick. Stops at the first message that cannot be acknowledged and returns it.
 */
export async function deliverInOrder(batch: PartitionBatch): Promise<BatchFailure | null> {
  const { topic, partition, deliver, isRunning, takeTick, began, ended } = batch;
  // Sought meanwhile: the rest is fetched again from the new position.
  if (batch.isStale()) return null;
  let handled: string | null = null;
  try {
    for (const message of batch.messages) {
      if (!isRunning()) break;
      began();
      try {
        await deliver(fromKafkaMessage(topic, partition, message));
      } catch (error) {
        return { error, offset: message.offset };
      } finally {
        ended();
      }
      handled = message.offset;
      if (takeTick()) {
        batch.resolveOffset(handled);
        handled = null;
        await batch.tick();
        if (batch.isStale()) break;
      }
    }
  } finally {
    if (handled !== null) batch.resolveOffset(handled);
  }
  return null;
}

/**
 * Delivers one batch with key-level parallelism (Confluent Parallel Consumer's key ordering): the
 * messages go through the subscription's `executor` (its `concurrency`, shared by every partition of the topic), so messages with different keys
 * run at once up to its concurrency, messages with one key one at a time in offset order, and
 * keyless messages obey only the limit. Resolves once every message of the batch was handled or
 * skipped; kafkajs fetches the partition again only after that, which bounds what is buffered per
 * partition to one fetch.
 *
 * Offsets are resolved only up to the lowest message not handled yet, as deliveries complete, so a
 * commit never passes a message still running or waiting. A message that cannot be acknowledged
 * (its delivery rejected), a stop, a seek (revocation) or a failed heartbeat halts the batch: what
 * has not begun is skipped, what is running finishes, and the result names the first message not
 * acknowledged (`null` when every message was handled or the batch was halted by the consumer).
 * Messages after it that completed are delivered again by the next fetch (at-least-once).
 */
export async function deliverKeyed(batch: PartitionBatch, executor: KeyedExecutor): Promise<BatchFailure | null> {
  const { topic, partition, messages, deliver, isRunning, isStale, began, ended } = batch;
  const count = messages.length;
  const handled = new Uint8Array(count);
  let settled = 0;
  let halted = false;
  let failedAt = count;
  let failure: unknown;
  let tickFailed = false;
  let tickError: unknown;
  let wake: (() => void) | null = null;
  const resume = (): void => {
    if (wake !== null) {
      const resolve = wake;
      wake = null;
      resolve();
    }
  };
  const settle = (): void => {
    settled++;
    resume();
  };
  for (let index = 0; index < count; index++) {
    const message = messages[index]!;
    const key = message.key === null ? null : message.key.toString('latin1');
    void executor.run(key, () => {
      if (halted || !isRunning() || isStale()) {
        halted = true;
        settle();
        return undefined;
      }
      began();
      return deliver(fromKafkaMessage(topic, partition, message)).then(
        () => {
          handled[index] = 1;
          ended();
          settle();
        },
        (error: unknown) => {
          halted = true;
          if (index < failedAt) {
            failedAt = index;
            failure = error;
          }
          ended();
          settle();
        },
      );
    });
  }
  let resolved = 0;
  const resolveHandled = (): void => {
    let lowest = resolved;
    while (lowest < count && handled[lowest] === 1) lowest++;
    if (lowest > resolved) {
      resolved = lowest;
      batch.resolveOffset(messages[lowest - 1]!.offset);
    }
  };
  const stopListening = batch.onTickDue(resume);
  try {
    while (settled < count) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      resolveHandled();
      if (halted || !batch.takeTick()) continue;
      try {
        await batch.tick();
      } catch (error) {
        halted = true;
        tickFailed = true;
        tickError = error;
      }
    }
  } finally {
    stopListening();
  }
  resolveHandled();
  if (tickFailed) throw tickError;
  return failedAt < count ? { error: failure, offset: messages[failedAt]!.offset } : null;
}
