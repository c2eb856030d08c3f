import { describe, expect, it } from '@jest/globals';
import { waitFor, type Logger } from '@msgport/core';
import { PartitionCoordinator, type PartitionDriver } from '../src/internal/partition-coordinator.js';
import { createPartitioner, murmur2, partitionOfKey } from '../src/internal/partitioning.js';
import { planPartitions } from '../src/internal/plan-partitions.js';
import {
  groupLayout,
  legacyQueueAction,
  partitionBindingArguments,
  partitionQueueArguments,
} from '../src/internal/queue-layout.js';

// Pure pieces of the partitioned group layout (issue 16), without a broker.

describe('murmur2 and the partition of a key', () => {
  it("computes Kafka's murmur2 (the values of Kafka's own UtilsTest)", () => {
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [input, hash] of cases) expect(murmur2(Buffer.from(input))).toBe(hash);
  });

  it("puts a key on the partition Kafka's default partitioner picks: positive murmur2 modulo the count", () => {
    // murmur2("foobar") = -790332482; & 0x7fffffff = 1357151166.
    expect(partitionOfKey(Buffer.from('foobar'), 4)).toBe(1357151166 % 4);
    expect(partitionOfKey(Buffer.from('foobar'), 7)).toBe(1357151166 % 7);
    expect(partitionOfKey(Buffer.alloc(0), 4)).toBe((murmur2(Buffer.alloc(0)) & 0x7fffffff) % 4);
  });

  it('spreads 53 keys over every one of 4 partitions', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 53; i++) counts[partitionOfKey(Buffer.from(`key-${i}`), 4)]!++;
    expect(counts).toEqual([12, 15, 12, 14]);
  });

  it('sends a key always to the same partition, and messages without a key to each partition in turn', () => {
    const partitioner = createPartitioner(3);
    const key = Buffer.from('order-17');
    expect(new Set(Array.from({ length: 10 }, () => partitioner(key))).size).toBe(1);
    expect(Array.from({ length: 7 }, () => partitioner(null))).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(createPartitioner(1)(null)).toBe(0);
  });
});

describe('planPartitions()', () => {
  const plan = (partitions: number, members: number, owned: number[], offset = 0) =>
    planPartitions({ partitions, members, owned: new Set(owned), offset });

  it('takes every partition when alone in the group', () => {
    expect(plan(4, 1, [])).toEqual({ target: 4, release: [], candidates: [0, 1, 2, 3] });
  });

  it('gives up what is beyond its fair share, least preferred first, keeping those nearest its offset', () => {
    expect(plan(4, 4, [0, 1, 2, 3], 2)).toEqual({ target: 1, release: [1, 0, 3], candidates: [] });
    expect(plan(4, 2, [0, 1, 2, 3], 0)).toEqual({ target: 2, release: [3, 2], candidates: [] });
  });

  it('tries free partitions from its offset on while below its share, and nothing once there', () => {
    expect(plan(4, 2, [1], 3)).toEqual({ target: 2, release: [], candidates: [3, 0, 2] });
    expect(plan(4, 3, [0, 1], 0)).toEqual({ target: 2, release: [], candidates: [] });
  });

  it('leaves extra instances idle (standing by) when there are more instances than partitions', () => {
    expect(plan(4, 6, [2], 0)).toEqual({ target: 1, release: [], candidates: [] });
    expect(plan(4, 6, [], 1).candidates).toEqual([1, 2, 3, 0]);
  });

  it('counts itself when the member count says nobody is there yet', () => {
    expect(plan(2, 0, []).target).toBe(2);
  });

  it('ends with every partition owned, whatever order the instances apply it in (simulation)', () => {
    for (const [partitions, instances] of [
      [4, 3],
      [4, 4],
      [4, 5],
      [7, 2],
      [16, 5],
    ] as const) {
      const owned = Array.from({ length: instances }, () => new Set<number>());
      const ownerOf = new Map<number, number>();
      for (let round = 0; round < 6; round++) {
        for (let instance = 0; instance < instances; instance++) {
          // The first instance starts alone and takes everything, then the others join.
          const members = round === 0 ? instance + 1 : instances;
          const next = planPartitions({ partitions, members, owned: owned[instance]!, offset: instance * 7 });
          for (const partition of next.release) {
            owned[instance]!.delete(partition);
            ownerOf.delete(partition);
          }
          for (const partition of next.candidates) {
            if (owned[instance]!.size >= next.target) break;
            if (ownerOf.has(partition)) continue;
            ownerOf.set(partition, instance);
            owned[instance]!.add(partition);
          }
        }
      }
      expect(ownerOf.size).toBe(partitions);
      const most = Math.max(...owned.map((set) => set.size));
      expect(most).toBe(Math.ceil(partitions / instances));
    }
  });
});

describe('groupLayout()', () => {
  it('names the partition queues, owner queues, members queue and exchanges of a group', () => {
    const layout = groupLayout('msgport', 'orders', 'billing', 3);
    expect(layout).toMatchObject({
      exchange: 'msgport',
      partitionExchange: 'msgport.orders.partitions.3',
      fallbackExchange: 'msgport.orders.partitions.3.fallback',
      deadLetterExchange: 'msgport.dlx',
      deadLetterQueue: 'orders.billing.dlq',
      membersQueue: 'orders.billing.members',
      legacyQueue: 'orders.billing',
      partitionQueues: ['orders.billing.p0', 'orders.billing.p1', 'orders.billing.p2'],
      ownerQueues: ['orders.billing.p0.owner', 'orders.billing.p1.owner', 'orders.billing.p2.owner'],
      extraPartitionQueue: 'orders.billing.p3',
    });
  });

  it('declares partition queues with single active consumer and dead-lettering, bound by the partition header', () => {
    const layout = groupLayout('msgport', 'orders', 'billing', 2, 'classic');
    expect(partitionQueueArguments(layout)).toEqual({
      'x-single-active-consumer': true,
      'x-dead-letter-exchange': 'msgport.dlx',
      'x-dead-letter-routing-key': 'orders.billing.dlq',
      'x-queue-type': 'classic',
    });
    expect(partitionBindingArguments(1)).toEqual({ 'x-match': 'all', 'msgport-partition': '1' });
  });

  it('declares quorum partition queues (the default) with at-least-once dead-lettering', () => {
    const layout = groupLayout('msgport', 'orders', 'billing', 2);
    expect(layout.queueType).toBe('quorum');
    expect(partitionQueueArguments(layout)).toEqual({
      'x-single-active-consumer': true,
      'x-dead-letter-exchange': 'msgport.dlx',
      'x-dead-letter-routing-key': 'orders.billing.dlq',
      'x-queue-type': 'quorum',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
  });

  it('rejects names longer than RabbitMQ allows with INVALID_ARGUMENT', () => {
    expect(() => groupLayout('msgport', 't'.repeat(240), 'g', 4)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('removes an empty unused legacy queue, lets a consumed one drain, refuses one holding unconsumed messages', () => {
    expect(legacyQueueAction({ messageCount: 0, consumerCount: 0 })).toBe('delete');
    expect(legacyQueueAction({ messageCount: 12, consumerCount: 2 })).toBe('unbind');
    expect(legacyQueueAction({ messageCount: 0, consumerCount: 1 })).toBe('unbind');
    expect(legacyQueueAction({ messageCount: 3, consumerCount: 0 })).toBe('refuse');
  });
});

describe('PartitionCoordinator', () => {
  const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

  /** An in-memory broker of locks shared by fake instances. */
  function fakeCluster() {
    const locks = new Map<number, string>();
    const members = new Set<string>();
    const events: string[] = [];
    const driver = (name: string, overrides: Partial<PartitionDriver> = {}): PartitionDriver => ({
      countMembers: async () => members.size,
      tryOwn: async (partition) => {
        if (locks.has(partition)) return false;
        locks.set(partition, name);
        return true;
      },
      disown: async (partition) => {
        if (locks.get(partition) === name) locks.delete(partition);
      },
      consume: async (partition) => void events.push(`${name} consume ${partition}`),
      stopConsuming: async (partition) => void events.push(`${name} stop ${partition}`),
      redeclare: async () => void events.push(`${name} redeclare`),
      close: async () => void events.push(`${name} close`),
      ...overrides,
    });
    return { locks, members, events, driver };
  }

  const coordinator = (driver: PartitionDriver, intervalMs = 60_000) =>
    new PartitionCoordinator({ partitions: 4, driver, logger: silent, intervalMs, offset: 0, describe: 't" in group "g' });

  it('takes every free partition on its first review when alone', async () => {
    const cluster = fakeCluster();
    cluster.members.add('a');
    const a = coordinator(cluster.driver('a'));
    await a.start();
    expect(a.owned).toEqual([0, 1, 2, 3]);
    await a.stop();
    expect(cluster.locks.size).toBe(0);
    expect(cluster.events.filter((event) => event.startsWith('a stop')).sort()).toEqual([
      'a stop 0',
      'a stop 1',
      'a stop 2',
      'a stop 3',
    ]);
    expect(cluster.events.at(-1)).toBe('a close');
  });

  it('takes nothing another instance holds, and stops consuming before giving a lock up', async () => {
    const cluster = fakeCluster();
    cluster.members.add('a').add('b');
    cluster.locks.set(0, 'b').set(1, 'b');
    const order: string[] = [];
    const a = coordinator(
      cluster.driver('a', {
        stopConsuming: async (partition) =>
          void order.push(`stop ${partition} (locked: ${cluster.locks.get(partition) === 'a'})`),
        disown: async (partition) => {
          order.push(`disown ${partition}`);
          cluster.locks.delete(partition);
        },
      }),
    );
    await a.start();
    expect(a.owned).toEqual([2, 3]);
    await a.stop();
    expect(order.slice(0, 2)).toEqual(['stop 2 (locked: true)', 'stop 3 (locked: true)']);
    expect(order.slice(2).sort()).toEqual(['disown 2', 'disown 3']);
  });

  it('gives a lock up when consuming its partition fails, and declares the layout again at the next review', async () => {
    const cluster = fakeCluster();
    cluster.members.add('a');
    let failures = 1;
    const a = coordinator(
      cluster.driver('a', {
        consume: async (partition) => {
          if (partition === 0 && failures-- > 0) throw new Error('NOT_FOUND - no queue');
          cluster.events.push(`a consume ${partition}`);
        },
      }),
      20,
    );
    await a.start();
    expect(a.owned).toEqual([]);
    expect(cluster.locks.size).toBe(0);
    await waitFor(() => a.owned.length === 4, { timeoutMs: 5_000, description: 'every partition at a later review' });
    expect(cluster.events[0]).toBe('a redeclare');
    await a.stop();
  });

  it('forgets a lost partition and stops reviewing after abandon() without calling the broker', async () => {
    const cluster = fakeCluster();
    cluster.members.add('a');
    const a = coordinator(cluster.driver('a'));
    await a.start();
    a.lost(2);
    expect(a.owned).toEqual([0, 1, 3]);
    const before = cluster.events.length;
    a.abandon();
    expect(a.owned).toEqual([]);
    await a.stop();
    expect(cluster.events.length).toBe(before);
  });
});
