import type { RecordMetadata } from 'kafkajs';
import type { OutgoingRecord } from './mapping.js';
import type { TopicRecords } from './publish-batcher.js';

/** `producer.sendBatch` with `acks: -1`: resolves with one entry per partition a broker answered for. */
export type SendBatchAcks = (topicMessages: TopicRecords[]) => Promise<RecordMetadata[]>;

/** Rounds of sending again what kafkajs left out, after which the batch fails (never seen beyond 2). */
const MAX_ROUNDS = 10;

/**
 * Sends `batch` until a broker acknowledged the partition of every record in it, and marks each
 * record `acknowledged` as soon as its partition answered.
 *
 * kafkajs 2.2.4 keeps the answers of one `sendBatch` by broker, not by partition: when an attempt
 * inside it fails (a broker died) and the next attempt finds that a partition moved to a broker
 * that already answered for other partitions, that broker is not asked again, and `sendBatch`
 * resolves without ever having sent that partition's records (tulios/kafkajs#1303, #1798; kafkajs
 * is unmaintained). The answer then has no entry for that partition: its records are sent again
 * here, alone, to the partition's new leader. Records already acknowledged, in this call or in an
 * earlier attempt of the same batch, are never sent twice.
 *
 * @param onLeftOut called with the number of records kafkajs resolved without sending, each time.
 * @throws what `send` throws; an `Error` when records are still left out after {@link MAX_ROUNDS}.
 */
export async function sendEveryRecord(
  send: SendBatchAcks,
  batch: readonly TopicRecords[],
  onLeftOut: (count: number) => void,
): Promise<void> {
  let pending = unacknowledged(batch);
  for (let round = 1; pending.length > 0; round++) {
    if (round > MAX_ROUNDS) {
      throw new Error(`kafkajs resolved a produce request ${MAX_ROUNDS} times without sending ${count(pending)} of its records`);
    }
    const answers = await send(pending);
    const answered = new Set(answers.map((answer) => partitionKey(answer.topicName, answer.partition)));
    for (const { topic, messages } of pending) {
      for (const record of messages) {
        if (answered.has(partitionKey(topic, record.chosenPartition))) record.acknowledged = true;
      }
    }
    pending = unacknowledged(pending);
    if (pending.length > 0) onLeftOut(count(pending));
  }
}

function unacknowledged(batch: readonly TopicRecords[]): TopicRecords[] {
  const left: TopicRecords[] = [];
  for (const { topic, messages } of batch) {
    // The common case keeps the caller's arrays: nothing was acknowledged yet.
    if (!messages.some((record) => record.acknowledged)) {
      left.push({ topic, messages });
      continue;
    }
    const rest = messages.filter((record: OutgoingRecord) => !record.acknowledged);
    if (rest.length > 0) left.push({ topic, messages: rest });
  }
  return left;
}

function count(batch: readonly TopicRecords[]): number {
  return batch.reduce((sum, { messages }) => sum + messages.length, 0);
}

function partitionKey(topic: string, partition: number): string {
  return `${partition}\u0000${topic}`;
}
