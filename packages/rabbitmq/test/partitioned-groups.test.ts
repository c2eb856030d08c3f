import { afterEach, describe, expect, it } from '@jest/globals';
import amqplib from 'amqplib';
import { silentLogger, waitFor, type MessageHandler } from '@msgport/core';
import { RabbitMQAdapter, type RabbitMQAdapterOptions } from '@msgport/rabbitmq';
import { collect, uniqueName } from '@msgport/testkit';
import { RABBITMQ_URL, uniqueExchange } from './support/broker.js';
import { capturingLogger, rejectionOf } from './support/helpers.js';
import { useSharedBroker } from './support/shared-broker.js';

// Contract C6 across instances: a group consumes one single-active-consumer queue per partition,
// each partition owned by one instance at a time, so messages with the same key are handled one
// at a time and in publish order however many instances the group has.

const exchangeName = uniqueExchange('msgport-partitions-test');
const opened: RabbitMQAdapter[] = [];

function adapter(options: Partial<RabbitMQAdapterOptions> = {}): RabbitMQAdapter {
  const broker = new RabbitMQAdapter({ url: RABBITMQ_URL, exchangeName, logger: silentLogger, ...options });
  opened.push(broker);
  return broker;
}

async function withChannel<T>(use: (channel: amqplib.Channel) => Promise<T>): Promise<T> {
  const connection = await amqplib.connect(RABBITMQ_URL);
  try {
    // A confirm channel, and its confirms awaited before closing: a quorum queue stores a message
    // asynchronously, and one published without confirms on a channel closed at once may be lost.
    const channel = await connection.createConfirmChannel();
    const result = await use(channel);
    await channel.waitForConfirms();
    await channel.close();
    return result;
  } finally {
    await connection.close();
  }
}

/** The partitions each broker consumes for `<topic>.<group>`, from health(). */
async function ownedPartitions(brokers: readonly RabbitMQAdapter[], topic: string, group: string): Promise<number[][]> {
  return Promise.all(
    brokers.map(async (broker) => {
      const owned = (await broker.health()).details['ownedPartitions'] as Record<string, number[]> | undefined;
      return owned?.[`${topic}.${group}`] ?? [];
    }),
  );
}

/**
 * Records handlings of `<key>|<seq>` messages across instances: order violations (a key's message
 * handled after a later one of that key), overlaps (two handlers of one key running at once),
 * duplicates, and who handled what.
 */
function orderLedger(handlerDelayMs: () => number) {
  const lastSeq = new Map<string, number>();
  const running = new Map<string, number>();
  const seen = new Set<string>();
  const byInstance = new Map<number, number>();
  let violations = 0;
  let overlaps = 0;
  let duplicates = 0;
  const examples: string[] = [];
  const handlerOf =
    (instance: number): MessageHandler =>
    async (message) => {
      const [key, seqText] = message.value.toString().split('|') as [string, string];
      const seq = Number(seqText);
      const active = (running.get(key) ?? 0) + 1;
      running.set(key, active);
      if (active > 1) overlaps++;
      const delay = handlerDelayMs();
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      else await new Promise((resolve) => setImmediate(resolve));
      running.set(key, running.get(key)! - 1);
      const id = `${key}|${seq}`;
      if (seen.has(id)) {
        duplicates++;
        return;
      }
      seen.add(id);
      if (seq < (lastSeq.get(key) ?? -1)) {
        violations++;
        if (examples.length < 5) examples.push(`${key}: ${seq} after ${lastSeq.get(key)} (instance ${instance})`);
      } else {
        lastSeq.set(key, seq);
      }
      byInstance.set(instance, (byInstance.get(instance) ?? 0) + 1);
    };
  return {
    handlerOf,
    get handled(): number {
      return seen.size;
    },
    summary: () => ({
      violations,
      overlaps,
      duplicates,
      handled: seen.size,
      examples,
      byInstance: [...byInstance.entries()].sort(),
    }),
  };
}

/** Publishes `count` messages `<key>|<seq>` over `keys` keys, in order, with up to 200 in flight. */
async function publishInOrder(broker: RabbitMQAdapter, topic: string, count: number, keys: number): Promise<void> {
  const seqs = new Map<string, number>();
  let window: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const key = `key-${i % keys}`;
    const seq = seqs.get(key) ?? 0;
    seqs.set(key, seq + 1);
    window.push(broker.publish(topic, `${key}|${seq}`, { key }));
    if (window.length >= 200) {
      await Promise.all(window);
      window = [];
    }
  }
  await Promise.all(window);
}

useSharedBroker(exchangeName);

afterEach(async () => {
  await Promise.all(opened.splice(0).map((broker) => broker.stop()));
});

describe('RabbitMQAdapter groups across instances (partitioned queues)', () => {
  it.each([2, 4])(
    'keeps per-key order with %i instances of a group: 5,000 messages over 53 keys, 0-5 ms handlers, none lost, no key handled twice at once',
    async (instances) => {
      const topic = uniqueName('order-across');
      const group = uniqueName('g');
      const ledger = orderLedger(() => Math.floor(Math.random() * 6));
      const brokers = Array.from({ length: instances }, () => adapter());
      for (const [index, broker] of brokers.entries()) {
        await broker.subscribe(topic, ledger.handlerOf(index), group);
        await broker.start();
      }
      // Published while the instances are still sharing out the partitions: the hand-overs happen mid-stream.
      const publisher = adapter();
      await publisher.start();
      await publishInOrder(publisher, topic, 5_000, 53);

      await waitFor(() => ledger.handled >= 5_000, { timeoutMs: 40_000, description: '5,000 messages handled' });
      const summary = ledger.summary();
      expect(summary).toMatchObject({ violations: 0, overlaps: 0, duplicates: 0, handled: 5_000, examples: [] });
      // The instances shared the work: each owns partitions and handled messages.
      expect(summary.byInstance).toHaveLength(instances);
      const owned = await ownedPartitions(brokers, topic, group);
      expect(owned.flat().sort()).toEqual([0, 1, 2, 3]);
      expect(owned.every((partitions) => partitions.length === 4 / instances)).toBe(true);
    },
    60_000,
  );

  it('hands the partitions of an instance that stops over to the others, keeping per-key order and losing nothing', async () => {
    const topic = uniqueName('handover');
    const group = uniqueName('g');
    const ledger = orderLedger(() => 2);
    const [first, second] = [adapter(), adapter()];
    await first.subscribe(topic, ledger.handlerOf(0), group);
    await second.subscribe(topic, ledger.handlerOf(1), group);
    await first.start();
    await second.start();
    await waitFor(async () => (await ownedPartitions([first, second], topic, group)).every((owned) => owned.length === 2), {
      timeoutMs: 10_000,
      description: 'two partitions each',
    });

    const publisher = adapter();
    await publisher.start();
    await publishInOrder(publisher, topic, 1_000, 53);
    await waitFor(() => ledger.handled >= 200, { timeoutMs: 10_000, description: 'the stream under way' });
    await first.stop();
    await waitFor(() => ledger.handled >= 1_000, { timeoutMs: 30_000, description: 'every message handled' });

    expect(ledger.summary()).toMatchObject({ violations: 0, overlaps: 0, duplicates: 0, handled: 1_000 });
    expect(await ownedPartitions([second], topic, group)).toEqual([[0, 1, 2, 3]]);
  }, 60_000);

  it('routes messages of foreign publishers (no msgport-partition header) to partition 0, and keeps them', async () => {
    const topic = uniqueName('foreign');
    const group = uniqueName('g');
    const received = collect();
    const broker = adapter();
    await broker.subscribe(topic, received.handler, group);
    await broker.start();
    await withChannel(async (channel) => {
      for (const value of ['a', 'b', 'c'])
        channel.publish(exchangeName, topic, Buffer.from(value), { persistent: true, headers: { 'msgport-key': 'aw==' } });
    });
    await received.waitForCount(3);
    expect(received.values()).toEqual(['a', 'b', 'c']);
    expect(received.messages.map((message) => message.metadata.partition)).toEqual([0, 0, 0]);
    expect(received.messages.map((message) => message.key?.toString())).toEqual(['k', 'k', 'k']);
    expect(Object.keys(received.messages[0]!.headers)).toEqual([]);
  });

  it('puts every key on one partition (metadata.partition), the same whichever instance publishes', async () => {
    const topic = uniqueName('stable');
    const group = uniqueName('g');
    const received = collect();
    const consumer = adapter();
    await consumer.subscribe(topic, received.handler, group);
    await consumer.start();
    const [a, b] = [adapter(), adapter()];
    await a.start();
    await b.start();
    for (let i = 0; i < 20; i++) await (i % 2 === 0 ? a : b).publish(topic, `v${i}`, { key: `key-${i % 5}` });
    await received.waitForCount(20);
    const partitionOf = new Map<string, Set<number>>();
    for (const message of received.messages) {
      const key = message.key!.toString();
      partitionOf.set(key, (partitionOf.get(key) ?? new Set()).add(message.metadata.partition!));
    }
    expect([...partitionOf.values()].every((partitions) => partitions.size === 1)).toBe(true);
    expect(received.messages.every((message) => !('msgport-partition' in message.headers))).toBe(true);
  });

  it('keeps the messages a publisher with more partitions sends beyond the group partitions: they go to partition 0', async () => {
    const topic = uniqueName('more-partitions');
    const group = uniqueName('g');
    const received = collect();
    const consumer = adapter({ partitions: 2 });
    await consumer.subscribe(topic, received.handler, group);
    await consumer.start();
    const publisher = adapter({ partitions: 8 });
    await publisher.start();
    // Without a key, the publisher takes its 8 partitions in turn.
    for (let i = 0; i < 8; i++) await publisher.publish(topic, `v${i}`);
    await received.waitForCount(8);
    const partitionOf = Object.fromEntries(
      received.messages.map((message) => [message.value.toString(), message.metadata.partition]),
    );
    expect(partitionOf).toEqual({ v0: 0, v1: 1, v2: 0, v3: 0, v4: 0, v5: 0, v6: 0, v7: 0 });
  });

  describe('queues of an earlier layout', () => {
    it('removes an empty, unused <topic>.<group> queue of the one-queue-per-group layout', async () => {
      const topic = uniqueName('legacy-empty');
      const group = uniqueName('g');
      await declareLegacyQueue(topic, group);
      const logger = capturingLogger();
      const broker = adapter({ logger });
      await broker.subscribe(topic, () => undefined, group);
      await broker.start();
      expect(await queueExists(`${topic}.${group}`)).toBe(false);
      expect(
        logger.lines.some((line) => line.startsWith('info: Removed the empty queue') && line.includes(`${topic}.${group}`)),
      ).toBe(true);
    });

    it('refuses to subscribe while <topic>.<group> of the earlier layout holds messages nobody consumes, and unbinds it', async () => {
      const topic = uniqueName('legacy-full');
      const group = uniqueName('g');
      const legacy = `${topic}.${group}`;
      await declareLegacyQueue(topic, group);
      try {
        await withChannel(async (channel) => {
          channel.sendToQueue(legacy, Buffer.from('stranded'));
          await waitFor(async () => (await channel.checkQueue(legacy)).messageCount === 1, { timeoutMs: 5_000 });
        });
        const broker = adapter();
        await broker.start();
        const error = await rejectionOf(broker.subscribe(topic, () => undefined, group));
        expect(error).toMatchObject({ name: 'SubscribeError', code: 'SUBSCRIBE_FAILED', retriable: false });
        expect((error as Error).message).toContain(`queue "${legacy}"`);
        expect((error as Error).message).toContain('1 message(s)');

        // Unbound: what is published now goes to the partition queues only.
        await broker.publish(topic, 'new');
        await waitFor(
          async () => (await withChannel((channel) => channel.checkQueue(`${topic}.${group}.p0`))).messageCount === 1,
          {
            timeoutMs: 5_000,
            description: 'the new message in partition 0',
          },
        );
        expect((await withChannel((channel) => channel.checkQueue(legacy))).messageCount).toBe(1);
        expect((await broker.health()).status).toBe('up');
      } finally {
        await withChannel((channel) => channel.deleteQueue(legacy));
      }
    });

    it('takes a higher partition count: unbinds the group from the earlier count, so nothing is copied into partition 0', async () => {
      const topic = uniqueName('more');
      const group = uniqueName('g');
      const before = adapter({ partitions: 2 });
      await before.subscribe(topic, () => undefined, group);
      await before.start();
      await before.stop();

      const received = collect();
      const after = adapter({ partitions: 4 });
      await after.subscribe(topic, received.handler, group);
      await after.start();
      // Without a key, a publisher takes its 4 partitions in turn.
      for (let i = 0; i < 8; i++) await after.publish(topic, `v${i}`);
      await received.waitForCount(8);
      await expect(exchangeExists(`${exchangeName}.${topic}.partitions.2`)).resolves.toBe(false);
      // Had the group stayed bound to the 2-partition exchange, its fallback would have copied
      // the messages of partitions 2 and 3 into partition 0.
      await after.publish(topic, 'last', { key: 'k' });
      await received.waitForCount(9);
      expect(received.values().sort()).toEqual(['last', 'v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7']);
    });

    it('refuses a partition count lower than the group had, naming the queue that would be stranded', async () => {
      const topic = uniqueName('fewer');
      const group = uniqueName('g');
      const before = adapter({ partitions: 4 });
      await before.subscribe(topic, () => undefined, group);
      await before.start();
      await before.stop();

      const after = adapter({ partitions: 2 });
      await after.start();
      const error = await rejectionOf(after.subscribe(topic, () => undefined, group));
      expect(error).toMatchObject({ name: 'SubscribeError', code: 'SUBSCRIBE_FAILED', retriable: false });
      expect((error as Error).message).toContain(`"${topic}.${group}.p2" exists`);
    });
  });

  it('rejects a partition count out of range with INVALID_ARGUMENT', () => {
    for (const partitions of [0, 1.5, 1_001, Number.NaN]) {
      expect(() => new RabbitMQAdapter({ url: RABBITMQ_URL, partitions })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });
});

async function declareLegacyQueue(topic: string, group: string): Promise<void> {
  await withChannel(async (channel) => {
    await channel.assertExchange(exchangeName, 'direct', { durable: true });
    const queue = `${topic}.${group}`;
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { 'x-dead-letter-exchange': `${exchangeName}.dlx`, 'x-dead-letter-routing-key': `${queue}.dlq` },
    });
    await channel.bindQueue(queue, exchangeName, topic);
  });
}

async function exchangeExists(exchange: string): Promise<boolean> {
  const connection = await amqplib.connect(RABBITMQ_URL);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      await channel.checkExchange(exchange);
      return true;
    } catch {
      return false;
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function queueExists(queue: string): Promise<boolean> {
  const connection = await amqplib.connect(RABBITMQ_URL);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      await channel.checkQueue(queue);
      return true;
    } catch {
      return false;
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}
