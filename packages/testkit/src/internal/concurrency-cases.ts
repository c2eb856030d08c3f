import { describe, expect } from '@jest/globals';
import type { Message, MessageBrokerPort } from '@msgport/core';
import type { ConformanceCapabilities } from '../run-conformance-suite.js';
import { uniqueName } from '../unique-name.js';
import { deferred, delay } from './deferred.js';

/** What the per-subscription concurrency cases take from the suite. */
export interface ConcurrencyContext {
  readonly caps: ConformanceCapabilities;
  readonly startedBroker: () => Promise<MessageBrokerPort>;
  readonly until: <T>(predicate: () => T, description: string) => Promise<NonNullable<T>>;
  readonly test: (name: string, fn: () => Promise<void>, enabled?: boolean) => void;
}

/** The concurrency of the subscriptions under test. */
const CONCURRENCY = 5;

/** A handler's view of what runs at once: overall, and per key. */
class Overlap {
  readonly #busyKeys = new Set<string>();
  inFlight = 0;
  maxInFlight = 0;
  /** Keys that started while a message of theirs was still running. */
  readonly sameKeyOverlaps: string[] = [];
  /** Values handled, in the order their handling started, per key. */
  readonly valuesByKey = new Map<string, string[]>();
  handled = 0;

  async run(message: Message, body: () => Promise<void>): Promise<void> {
    const key = message.key?.toString('utf8') ?? '';
    if (this.#busyKeys.has(key)) this.sameKeyOverlaps.push(key);
    this.#busyKeys.add(key);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const values = this.valuesByKey.get(key) ?? [];
    values.push(message.value.toString('utf8'));
    this.valuesByKey.set(key, values);
    try {
      await body();
      this.handled++;
    } finally {
      this.inFlight--;
      this.#busyKeys.delete(key);
    }
  }
}

/**
 * Per-subscription `concurrency` (issue 12), on every adapter: different keys run at once up to
 * the subscription's concurrency (on Kafka within one partition too), one key never twice at
 * once and in publish order, and concurrency 1 runs one message at a time.
 *
 * Each case first delivers a pilot message and holds it until every other message was published:
 * on Kafka the rest then arrives in one fetch, rather than some of it in a batch of its own that
 * could not reach the concurrency alone.
 */
export function describeConcurrencyCases({ caps, startedBroker, until, test }: ConcurrencyContext): void {
  /**
   * Subscribes `handle` with `concurrency` behind a pilot, runs `publishAll` while the pilot is
   * held, releases it, and waits until `count` messages besides the pilot were handled.
   */
  const deliverBehindPilot = async (
    concurrency: number,
    count: number,
    handle: (message: Message) => Promise<void>,
    publishAll: (broker: MessageBrokerPort, topic: string) => Promise<unknown>,
  ): Promise<void> => {
    const broker = await startedBroker();
    const topic = uniqueName('msgport-concurrency');
    const pilotStarted = deferred();
    const pilotReleased = deferred();
    let handled = 0;
    await broker.subscribe(
      topic,
      async (message) => {
        if (message.value.toString('utf8') === 'pilot') {
          pilotStarted.resolve();
          await pilotReleased.promise;
          return;
        }
        await handle(message);
        handled++;
      },
      { group: uniqueName('g'), concurrency },
    );
    // A broker whose publish waits for the handler (in-memory) resolves the pilot's publish later.
    const pilot = broker.publish(topic, 'pilot', { key: 'pilot' });
    await pilotStarted.promise;
    const rest = publishAll(broker, topic);
    // With a durable broker, everything is stored before the pilot lets the consumer fetch again.
    if (!caps.publishResolvesAfterHandling) await rest;
    pilotReleased.resolve();
    await Promise.all([pilot, rest]);
    await until(() => handled >= count, `${count} messages handled`);
  };

  describe('per-subscription concurrency', () => {
    test(`concurrency ${CONCURRENCY}: messages with different keys run at once, up to ${CONCURRENCY} and never more`, async () => {
      const overlap = new Overlap();
      const allRunning = deferred();
      const count = CONCURRENCY * 4;
      await deliverBehindPilot(
        CONCURRENCY,
        count,
        (message) =>
          overlap.run(message, async () => {
            // Every message waits until CONCURRENCY run at once: only parallel delivery ends the wait.
            if (overlap.inFlight === CONCURRENCY) allRunning.resolve();
            await allRunning.promise;
          }),
        (broker, topic) => Promise.all(Array.from({ length: count }, (_, i) => broker.publish(topic, `v${i}`, { key: `k${i}` }))),
      );
      expect(overlap.maxInFlight).toBe(CONCURRENCY);
      expect(overlap.handled).toBe(count);
    });

    test(
      `concurrency ${CONCURRENCY}: messages with one key never run at once and keep their publish order`,
      async () => {
        const overlap = new Overlap();
        const keys = ['a', 'b', 'c'];
        const perKey = 20;
        await deliverBehindPilot(
          CONCURRENCY,
          keys.length * perKey,
          (message) => overlap.run(message, () => delay(1)),
          // One publish at a time per key (the order to keep), the keys side by side.
          (broker, topic) =>
            Promise.all(
              keys.map(async (key) => {
                for (let i = 0; i < perKey; i++) await broker.publish(topic, `${key}${i}`, { key });
              }),
            ),
        );
        expect(overlap.sameKeyOverlaps).toEqual([]);
        for (const key of keys) {
          expect(overlap.valuesByKey.get(key)).toEqual(Array.from({ length: perKey }, (_, i) => `${key}${i}`));
        }
      },
      caps.ordering,
    );

    test('concurrency 1: one message at a time, whatever the keys', async () => {
      const overlap = new Overlap();
      const count = 20;
      await deliverBehindPilot(
        1,
        count,
        (message) => overlap.run(message, () => delay(1)),
        (broker, topic) => Promise.all(Array.from({ length: count }, (_, i) => broker.publish(topic, `v${i}`, { key: `k${i}` }))),
      );
      expect(overlap.maxInFlight).toBe(1);
      expect(overlap.handled).toBe(count);
    });
  });
}
