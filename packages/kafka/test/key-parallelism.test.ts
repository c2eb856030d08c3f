import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from '@jest/globals';
import { waitFor, type HandlerContext, type Message } from '@msgport/core';
import type { KafkaAdapter, KafkaAdapterOptions } from '@msgport/kafka';
import { uniqueName } from '@msgport/testkit';
import kafkajs from 'kafkajs';
import { createTestAdapter, KAFKA_BROKERS } from './kafka-test-config.js';

// Key-level parallelism within one partition (a subscription's `concurrency` above 1): the order
// per key, the overlap of different keys, commits never past an unfinished message, drain on stop.

const TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 90_000;

const opened: KafkaAdapter[] = [];

/** A started adapter on a one-partition topic that reads a new group from the beginning. */
async function started(options: Partial<KafkaAdapterOptions> = {}): Promise<KafkaAdapter> {
  const adapter = createTestAdapter({ numPartitions: 1, fromBeginning: true, ...options });
  opened.push(adapter);
  await adapter.start();
  return adapter;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((adapter) => adapter.stop()));
}, TEST_TIMEOUT_MS);

function until<T>(predicate: () => T | Promise<T>, description: string): Promise<NonNullable<T>> {
  return waitFor(predicate, { timeoutMs: TIMEOUT_MS, description });
}

/** Key of message i: `k<i % keys>`, or with `run`, `run` messages in a row share a key. */
const keyOf = (i: number, keys: number, run = 1): string => `k${Math.floor(i / run) % keys}`;

/** Publishes `count` messages keyed by {@link keyOf}, in one partition: offsets 0 to count - 1. */
async function publishKeyed(adapter: KafkaAdapter, topic: string, count: number, keys: number, run = 1): Promise<void> {
  for (let from = 0; from < count; from += 500) {
    const to = Math.min(count, from + 500);
    await Promise.all(
      Array.from({ length: to - from }, (_, j) => adapter.publish(topic, `m${from + j}`, { key: keyOf(from + j, keys, run) })),
    );
  }
}

/** Watches a handler: in flight per key and overall, and the offsets each key was handled at. */
class Tracker {
  readonly #busyKeys = new Set<string>();
  inFlight = 0;
  maxInFlight = 0;
  started = 0;
  handled = 0;
  /** Keys seen starting while a message of theirs was still running. */
  readonly sameKeyOverlaps: string[] = [];
  /** Offsets in the order their handling started, per key. */
  readonly offsetsByKey = new Map<string, number[]>();
  readonly offsets: number[] = [];

  /** Wraps `body` as a handler. */
  handler(body: (message: Message, context: HandlerContext) => Promise<void>) {
    return async (message: Message, context: HandlerContext): Promise<void> => {
      const key = message.key?.toString() ?? '';
      if (this.#busyKeys.has(key)) this.sameKeyOverlaps.push(key);
      this.#busyKeys.add(key);
      this.started++;
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const offset = Number(message.metadata.offset);
      const ofKey = this.offsetsByKey.get(key) ?? [];
      ofKey.push(offset);
      this.offsetsByKey.set(key, ofKey);
      try {
        await body(message, context);
        this.offsets.push(offset);
        this.handled++;
      } finally {
        this.inFlight--;
        this.#busyKeys.delete(key);
      }
    };
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** The group's committed offset of partition 0 of `topic`, as a number (-1 when none). */
async function committedOffset(admin: kafkajs.Admin, group: string, topic: string): Promise<number> {
  const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return Number(entry?.partitions.find(({ partition }) => partition === 0)?.offset ?? -1);
}

describe('KafkaAdapter: key-level parallelism within a partition', () => {
  it(
    'concurrency 50 on one partition: different keys at once (never more than 50), each key one at a time in offset order',
    async () => {
      const topic = uniqueName('kafka-keypar');
      const publisher = await started();
      const total = 3_000;
      // Runs of 3 messages in a row with one key, 200 keys.
      await publishKeyed(publisher, topic, total, 200, 3);
      const consumer = await started();
      const tracker = new Tracker();
      await consumer.subscribe(
        topic,
        tracker.handler(async () => {
          await sleep(Math.floor(Math.random() * 3));
        }),
        { group: uniqueName('g'), concurrency: 50 },
      );
      await until(() => tracker.handled >= total, `${total} messages handled`);

      expect(tracker.sameKeyOverlaps).toEqual([]);
      expect(tracker.maxInFlight).toBeGreaterThan(1);
      expect(tracker.maxInFlight).toBeLessThanOrEqual(50);
      expect([...tracker.offsets].sort((a, b) => a - b)).toEqual(range(0, total));
      expect(tracker.offsetsByKey.size).toBe(200);
      for (const [key, offsets] of tracker.offsetsByKey) {
        expect(offsets).toEqual(range(0, total).filter((i) => keyOf(i, 200, 3) === key));
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'runs exactly `concurrency` messages of different keys at once within one partition',
    async () => {
      const topic = uniqueName('kafka-keypar-overlap');
      const publisher = await started();
      // 60 keys, published before the group joins: one fetch, one batch of one partition.
      await publishKeyed(publisher, topic, 60, 60);
      const consumer = await started();
      const tracker = new Tracker();
      let release!: () => void;
      const allRunning = new Promise<void>((resolve) => (release = resolve));
      await consumer.subscribe(
        topic,
        tracker.handler(async () => {
          // Each of the first 50 waits until 50 run at once: only key-level parallelism ends the wait.
          if (tracker.inFlight === 50) release();
          await allRunning;
        }),
        { group: uniqueName('g'), concurrency: 50 },
      );
      await until(() => tracker.handled >= 60, '60 messages handled');
      expect(tracker.maxInFlight).toBe(50);
      expect([...tracker.offsets].sort((a, b) => a - b)).toEqual(range(0, 60));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'commits only up to the lowest unfinished message: a member that stops with one stuck loses nothing, and the next resumes from it',
    async () => {
      const topic = uniqueName('kafka-keypar-commit');
      const group = uniqueName('g');
      const publisher = await started();
      const total = 400;
      const stuck = 100; // key k20, like offsets 140, 180, ..., 380 after it
      await publishKeyed(publisher, topic, total, 40);
      const kafka = new kafkajs.Kafka({
        brokers: KAFKA_BROKERS.split(','),
        clientId: 'inspector',
        logLevel: kafkajs.logLevel.NOTHING,
      });
      const admin = kafka.admin();
      await admin.connect();
      try {
        const a = await started({ shutdownTimeoutMs: 3_000 });
        const first = new Tracker();
        await a.subscribe(
          topic,
          first.handler(async (message, { signal }) => {
            if (Number(message.metadata.offset) !== stuck) return sleep(1);
            // Runs until stop() gives up on it: never acknowledged.
            await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
          }),
          { group, concurrency: 50 },
        );
        // Every message but the stuck one and the 7 after it with its key.
        await until(() => first.handled === total - 8, `${total - 8} messages handled by the first member`);
        // The periodic commit reaches the stuck message, and never passes it.
        await until(async () => (await committedOffset(admin, group, topic)) === stuck, `offset ${stuck} committed`);
        await a.stop();
        expect(await committedOffset(admin, group, topic)).toBe(stuck);
        expect(first.offsets).not.toContain(stuck);

        const b = await started();
        const second = new Tracker();
        await b.subscribe(
          topic,
          second.handler(async () => undefined),
          { group, concurrency: 50 },
        );
        await until(() => second.handled >= total - stuck, `${total - stuck} messages handled by the next member`);
        // Exactly what was not committed: the stuck message on (those after it that the first
        // member finished are delivered again, at-least-once), nothing before it.
        expect([...second.offsets].sort((x, y) => x - y)).toEqual(range(stuck, total));
        expect(new Set([...first.offsets, ...second.offsets]).size).toBe(total);
        expect(second.offsetsByKey.get('k20')).toEqual(range(0, 8).map((i) => stuck + i * 40));
      } finally {
        await admin.disconnect();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stop() drains: the messages running finish and are committed, none starts after stop began, the next member gets the rest',
    async () => {
      const topic = uniqueName('kafka-keypar-drain');
      const group = uniqueName('g');
      const publisher = await started();
      const total = 200;
      await publishKeyed(publisher, topic, total, 100);
      const a = await started();
      const first = new Tracker();
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      await a.subscribe(
        topic,
        first.handler(() => gate),
        { group, concurrency: 50 },
      );
      // Offsets 0 to 49 (keys k0 to k49) run and wait at the gate.
      await until(() => first.inFlight === 50, '50 messages running');
      const stopping = a.stop();
      open();
      await stopping;
      expect(first.started).toBe(50);
      expect(first.handled).toBe(50);
      expect([...first.offsets].sort((x, y) => x - y)).toEqual(range(0, 50));

      const b = await started();
      const second = new Tracker();
      await b.subscribe(
        topic,
        second.handler(async () => undefined),
        { group, concurrency: 50 },
      );
      await until(() => second.handled >= total - 50, `${total - 50} messages handled by the next member`);
      expect([...second.offsets].sort((x, y) => x - y)).toEqual(range(50, total));
      expect(second.sameKeyOverlaps).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
