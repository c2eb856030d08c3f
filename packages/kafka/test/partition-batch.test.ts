import { describe, expect, it } from '@jest/globals';
import type { Message } from '@msgport/core';
import { KeyedExecutor } from '@msgport/core/adapter';
import type { KafkaMessage } from 'kafkajs';
import { deliverInOrder, deliverKeyed, type PartitionBatch } from '../src/internal/partition-batch.js';

// The batch loops without a broker: what is resolved (so committed), what runs, and when it stops.

/** Records of offsets 0 to n - 1, record i keyed `keys[i]` (null: no key). */
function records(keys: ReadonlyArray<string | null>): KafkaMessage[] {
  return keys.map((key, offset) => ({
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from(`v${offset}`),
    timestamp: '0',
    attributes: 0,
    offset: String(offset),
    headers: {},
  }));
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A batch whose deliveries wait until the test settles them, one deferred per offset. */
function gatedBatch(keys: ReadonlyArray<string | null>, overrides: Partial<PartitionBatch> = {}) {
  const messages = records(keys);
  const gates = messages.map(() => deferred());
  const started: number[] = [];
  const resolved: string[] = [];
  let running = 0;
  const batch: PartitionBatch = {
    topic: 't',
    partition: 0,
    messages,
    deliver: (message: Message) => {
      const offset = Number(message.metadata.offset);
      started.push(offset);
      return gates[offset]!.promise;
    },
    resolveOffset: (offset) => void resolved.push(offset),
    isRunning: () => true,
    isStale: () => false,
    takeTick: () => false,
    tick: async () => undefined,
    onTickDue: () => () => undefined,
    began: () => void running++,
    ended: () => void running--,
    ...overrides,
  };
  return { batch, gates, started, resolved, running: () => running };
}

/** Lets every pending promise callback run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('deliverKeyed', () => {
  it('runs different keys at once up to the limit, one key at a time in offset order', async () => {
    const { batch, gates, started } = gatedBatch(['a', 'b', 'a', 'c', 'd']);
    const done = deliverKeyed(batch, new KeyedExecutor(3));
    await settle();
    // a0, b1, c3 run (a2 waits for a0, d4 for a slot).
    expect(started).toEqual([0, 1, 3]);
    gates[0]!.resolve();
    await settle();
    expect(started).toEqual([0, 1, 3, 2]);
    for (const gate of gates) gate.resolve();
    await expect(done).resolves.toBeNull();
    expect(started).toEqual([0, 1, 3, 2, 4]);
  });

  it('resolves offsets only up to the lowest message not handled yet', async () => {
    const { batch, gates, resolved } = gatedBatch(['a', 'b', 'c', 'd'], { takeTick: () => true });
    const done = deliverKeyed(batch, new KeyedExecutor(4));
    await settle();
    gates[1]!.resolve();
    gates[2]!.resolve();
    await settle();
    expect(resolved).toEqual([]); // offset 0 still runs
    gates[0]!.resolve();
    await settle();
    expect(resolved).toEqual(['2']);
    gates[3]!.resolve();
    await expect(done).resolves.toBeNull();
    expect(resolved).toEqual(['2', '3']);
  });

  it('a message that cannot be acknowledged halts the batch: later ones do not start, running ones finish, nothing past it is resolved', async () => {
    const { batch, gates, started, resolved } = gatedBatch(['a', 'b', 'a', 'c', 'd']);
    const done = deliverKeyed(batch, new KeyedExecutor(2));
    await settle();
    expect(started).toEqual([0, 1]);
    gates[1]!.reject(new Error('not acknowledged'));
    await settle();
    // c3 would have taken the free slot: it is skipped, as is a2 once a0 is done.
    expect(started).toEqual([0, 1]);
    gates[0]!.resolve();
    const failure = await done;
    expect(failure).toEqual({ error: new Error('not acknowledged'), offset: '1' });
    expect(started).toEqual([0, 1]);
    expect(resolved).toEqual(['0']);
  });

  it('takes no new message once the consumer stops, and lets the running ones finish', async () => {
    let running = true;
    const { batch, gates, started, resolved } = gatedBatch(['a', 'b', 'c'], { isRunning: () => running });
    const done = deliverKeyed(batch, new KeyedExecutor(2));
    await settle();
    running = false;
    gates[0]!.resolve();
    await settle();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await expect(done).resolves.toBeNull();
    expect(started).toEqual([0, 1]);
    expect(resolved.at(-1)).toBe('1');
  });

  it('heartbeats and commits when a tick falls due even while no delivery completes, and rethrows a failed heartbeat after the running ones finish', async () => {
    let listener: (() => void) | null = null;
    let due = false;
    const ticks: string[] = [];
    const { batch, gates, resolved } = gatedBatch(['a', 'b'], {
      onTickDue: (wake) => {
        listener = wake;
        return () => (listener = null);
      },
      takeTick: () => {
        const was = due;
        due = false;
        return was;
      },
      tick: async () => {
        ticks.push(resolved.join(','));
        throw new Error('rebalancing');
      },
    });
    const done = deliverKeyed(batch, new KeyedExecutor(2));
    await settle();
    gates[0]!.resolve();
    await settle();
    due = true;
    listener!();
    await settle();
    // The tick ran after offset 0 was resolved, with offset 1 still running.
    expect(ticks).toEqual(['0']);
    gates[1]!.resolve();
    await expect(done).rejects.toThrow('rebalancing');
    expect(resolved).toEqual(['0', '1']);
    expect(listener).toBeNull();
  });
});

describe('deliverInOrder', () => {
  it('delivers one at a time and resolves the last handled offset once, when the batch ends', async () => {
    const { batch, gates, started, resolved } = gatedBatch(['a', 'b', 'c']);
    const done = deliverInOrder(batch);
    await settle();
    expect(started).toEqual([0]);
    gates[0]!.resolve();
    await settle();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await expect(done).resolves.toBeNull();
    expect(resolved).toEqual(['2']);
  });

  it('stops at a message that cannot be acknowledged and resolves only what came before it', async () => {
    const { batch, gates, started, resolved } = gatedBatch(['a', 'b', 'c']);
    const done = deliverInOrder(batch);
    gates[0]!.resolve();
    gates[1]!.reject(new Error('not acknowledged'));
    await expect(done).resolves.toEqual({ error: new Error('not acknowledged'), offset: '1' });
    expect(started).toEqual([0, 1]);
    expect(resolved).toEqual(['0']);
  });
});
