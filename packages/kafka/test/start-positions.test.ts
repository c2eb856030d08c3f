import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import type { Logger } from '@msgport/core';
import type { Admin, ConsumerRunConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { GroupConsumer, type GroupConsumerOptions } from '../src/internal/group-consumer.js';

// A kafkajs consumer and admin stand in for the real ones: a group without committed offsets
// starts each topic at its end offset as of subscribe() (the pin), even when kafkajs starts a
// partition elsewhere (its per-broker fetchers race on a cluster) or when the session that made
// the seek is replaced before kafkajs applied it.

interface Seek {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

interface Fake {
  readonly consumer: GroupConsumer;
  /** End offset of partition 0 of each topic. */
  readonly ends: Map<string, number>;
  /** The group's committed offset on partition 0 of each topic (none: not there). */
  readonly committed: Map<string, number>;
  /** Seeks asked of each kafkajs consumer, per session (one session per join). */
  readonly seeks: Seek[][];
  /** Committed-offset reads so far. */
  readonly offsetReads: () => number;
  /** Runs the eachBatch of the latest session on partition 0 of `topic`, fetched from `from`. */
  readonly batch: (topic: string, from: number, count: number) => Promise<void>;
  /** Values delivered so far. */
  readonly delivered: string[];
}

function fake(): Fake {
  const ends = new Map<string, number>();
  const committed = new Map<string, number>();
  const seeks: Seek[][] = [];
  const delivered: string[] = [];
  let offsetReads = 0;
  let eachBatch: ConsumerRunConfig['eachBatch'];
  const logger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const newConsumer = () => {
    const events = new EventEmitter();
    let topics: string[] = [];
    const mine: Seek[] = [];
    seeks.push(mine);
    return {
      events: { GROUP_JOIN: 'join', CRASH: 'crash', REBALANCING: 'rebalancing' },
      on: (event: string, listener: (event: unknown) => void) => events.on(event, listener),
      connect: async () => undefined,
      subscribe: async (subscription: { topics: string[] }) => void (topics = subscription.topics),
      run: async (config: ConsumerRunConfig) => {
        eachBatch = config.eachBatch;
        const memberAssignment = Object.fromEntries(topics.map((topic) => [topic, [0]]));
        events.emit('join', { payload: { memberAssignment } });
      },
      disconnect: async () => undefined,
      seek: (seek: Seek) => void mine.push(seek),
    };
  };
  const offsetsAdmin = {
    fetchOffsets: async ({ topics }: { topics: string[] }) => {
      offsetReads++;
      return topics.map((topic) => ({
        topic,
        partitions: [{ partition: 0, offset: String(committed.get(topic) ?? -1), metadata: null }],
      }));
    },
    fetchTopicOffsets: async (topic: string) => [
      { partition: 0, offset: String(ends.get(topic) ?? 0), high: String(ends.get(topic) ?? 0), low: '0' },
    ],
  };
  const options: GroupConsumerOptions = {
    newClient: () => ({ consumer: newConsumer }) as unknown as Kafka,
    admin: {} as Admin,
    offsetsAdmin: offsetsAdmin as unknown as Admin,
    group: 'g',
    groupId: 'g',
    fromBeginning: false,
    sessionTimeoutMs: 6_000,
    rebalanceTimeoutMs: 10_000,
    heartbeatIntervalMs: 300,
    fetchMaxWaitMs: 100,
    requestTimeoutMs: 30_000,
    joinTimeout: { ms: 60_000, option: 'connectionTimeoutMs' },
    retry: { retries: 0 },
    partitionAssigners: [],
    logger,
    redact: (text) => text,
    ensureTopic: async () => undefined,
  };
  const consumer = new GroupConsumer(options);
  const batch = async (topic: string, from: number, count: number): Promise<void> => {
    const messages = Array.from(
      { length: count },
      (_, i) =>
        ({
          offset: String(from + i),
          key: null,
          value: Buffer.from(`${topic}:${from + i}`),
          headers: {},
        }) as unknown as KafkaMessage,
    );
    const payload = {
      // kafkajs' Batch: the offset it fetched from is a field its type leaves out.
      batch: { topic, partition: 0, messages, fetchedOffset: String(from), firstOffset: () => String(from) },
      resolveOffset: () => undefined,
      heartbeat: async () => undefined,
      commitOffsetsIfNecessary: async () => undefined,
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload;
    await eachBatch!(payload);
  };
  return { consumer, ends, committed, seeks, offsetReads: () => offsetReads, batch, delivered };
}

const deliverTo = (delivered: string[]) => async (message: { value: Buffer }) => void delivered.push(message.value.toString());

describe('GroupConsumer: start positions of a group without committed offsets', () => {
  it('seeks back to the pin when kafkajs starts a pinned partition past it (the seek was overtaken)', async () => {
    const { consumer, ends, committed, seeks, batch, delivered } = fake();
    ends.set('t', 0);
    await consumer.add('t', deliverTo(delivered), 1);
    expect(seeks).toEqual([[{ topic: 't', partition: 0, offset: '0' }]]);
    // kafkajs applied the seek (committed the pin), then started the partition at "latest" anyway.
    committed.set('t', 0);
    await batch('t', 3, 2);
    expect(delivered).toEqual([]);
    expect(seeks[0]).toEqual([
      { topic: 't', partition: 0, offset: '0' },
      { topic: 't', partition: 0, offset: '0' },
    ]);
    await batch('t', 0, 5);
    expect(delivered).toEqual(['t:0', 't:1', 't:2', 't:3', 't:4']);
    await consumer.close();
  });

  it('seeks back to the pin when the seek was never applied (no committed offset)', async () => {
    const { consumer, ends, seeks, batch, delivered } = fake();
    ends.set('t', 2);
    await consumer.add('t', deliverTo(delivered), 1);
    await batch('t', 4, 1);
    expect(delivered).toEqual([]);
    expect(seeks[0]!.at(-1)).toEqual({ topic: 't', partition: 0, offset: '2' });
    await consumer.close();
  });

  it('starts where the group committed when another member moved it past the pin, and forgets the pin', async () => {
    const { consumer, ends, committed, seeks, batch, delivered, offsetReads } = fake();
    ends.set('t', 0);
    await consumer.add('t', deliverTo(delivered), 1);
    committed.set('t', 5);
    const reads = offsetReads();
    await batch('t', 5, 1);
    expect(delivered).toEqual(['t:5']);
    expect(seeks[0]).toHaveLength(1);
    expect(offsetReads()).toBe(reads + 1);
    // Checked once per join: the next batches are delivered without asking again.
    await batch('t', 6, 1);
    expect(delivered).toEqual(['t:5', 't:6']);
    expect(offsetReads()).toBe(reads + 1);
    await consumer.close();
  });

  it('does not ask the broker when the partition starts at the pin', async () => {
    const { consumer, ends, batch, delivered, offsetReads } = fake();
    ends.set('t', 7);
    await consumer.add('t', deliverTo(delivered), 1);
    const reads = offsetReads();
    await batch('t', 7, 1);
    expect(delivered).toEqual(['t:7']);
    expect(offsetReads()).toBe(reads);
    await consumer.close();
  });

  it('keeps the pin of a session replaced before kafkajs applied its seek: the next session seeks there, not to a later end', async () => {
    const { consumer, ends, seeks, delivered } = fake();
    ends.set('t', 0);
    await consumer.add('t', deliverTo(delivered), 1);
    // Published to "t" after subscribe() resolved; the seek was never applied (nothing committed).
    ends.set('t', 4);
    ends.set('u', 9);
    await consumer.add('u', deliverTo(delivered), 1);
    expect(seeks).toHaveLength(2);
    expect(seeks[1]).toEqual(
      expect.arrayContaining([
        { topic: 't', partition: 0, offset: '0' },
        { topic: 'u', partition: 0, offset: '9' },
      ]),
    );
    expect(seeks[1]).toHaveLength(2);
    await consumer.close();
  });

  it('drops the pin once the group committed on the partition: a later session does not seek', async () => {
    const { consumer, ends, committed, seeks, delivered } = fake();
    ends.set('t', 0);
    await consumer.add('t', deliverTo(delivered), 1);
    committed.set('t', 3);
    ends.set('u', 1);
    await consumer.add('u', deliverTo(delivered), 1);
    expect(seeks[1]).toEqual([{ topic: 'u', partition: 0, offset: '1' }]);
    await consumer.close();
  });
});
