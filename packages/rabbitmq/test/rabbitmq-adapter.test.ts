import { createServer, type Server, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import amqplib from 'amqplib';
import { isMessagingError, silentLogger, waitFor, type Message, type MessageHandler } from '@msgport/core';
import * as rabbitmq from '@msgport/rabbitmq';
import { RabbitMQAdapter, type RabbitMQAdapterOptions } from '@msgport/rabbitmq';
import { collect, uniqueName } from '@msgport/testkit';
import { RABBITMQ_URL, rabbitmqctl, uniqueExchange } from './support/broker.js';
import { capturingLogger, rejectionOf } from './support/helpers.js';
import { useSharedBroker } from './support/shared-broker.js';

const exchangeName = uniqueExchange('msgport-adapter-test');
/**
 * Jest timeout of the tests that shell out to rabbitmqctl: each call starts an Erlang VM (about a
 * second on an idle machine, several under load), so they need more than Jest's 5 s default.
 */
const RABBITMQCTL_TEST_TIMEOUT_MS = 30_000;
const opened: RabbitMQAdapter[] = [];

function adapter(options: Partial<RabbitMQAdapterOptions> = {}): RabbitMQAdapter {
  const broker = new RabbitMQAdapter({ url: RABBITMQ_URL, exchangeName, logger: silentLogger, ...options });
  opened.push(broker);
  return broker;
}

async function started(options: Partial<RabbitMQAdapterOptions> = {}): Promise<RabbitMQAdapter> {
  const broker = adapter(options);
  await broker.start();
  return broker;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** A TCP server that accepts connections and never answers: a broker that hangs. */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The partition queues of `group` on `topic` with the default 4 partitions. */
function partitionQueues(topic: string, group: string): string[] {
  return range(4).map((partition) => `${topic}.${group}.p${partition}`);
}

/** Sum of `column` over the partition queues of `group` on `topic`, from rabbitmqctl list_queues. */
async function acrossPartitions(topic: string, group: string, column: string): Promise<number> {
  const queues = new Set(partitionQueues(topic, group));
  const rows = await rabbitmqctl('list_queues', 'name', column);
  return rows.filter(([name]) => queues.has(name!)).reduce((sum, [, value]) => sum + Number(value), 0);
}

/** Waits until every instance owns the same number of partitions of `group` on `topic` (health details). */
async function balanced(brokers: readonly RabbitMQAdapter[], topic: string, group: string): Promise<void> {
  await waitFor(
    async () => {
      const owned = await Promise.all(
        brokers.map(
          async (broker) =>
            ((await broker.health()).details['ownedPartitions'] as Record<string, number[]>)[`${topic}.${group}`] ?? [],
        ),
      );
      return owned.every((partitions) => partitions.length === 4 / brokers.length);
    },
    { timeoutMs: 15_000, intervalMs: 100, description: 'the partitions shared out between the instances' },
  );
}

/** Opens a plain amqplib channel on the test broker, for checks from outside the adapter. */
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

useSharedBroker(exchangeName);

afterEach(async () => {
  await Promise.all(opened.splice(0).map((broker) => broker.stop()));
});

describe('RabbitMQAdapter', () => {
  it('exports exactly RabbitMQAdapter at run time', () => {
    expect(Object.keys(rabbitmq).sort()).toEqual(['RabbitMQAdapter']);
  });

  describe('groups across adapter instances', () => {
    it('two instances in one group compete for messages, each handled exactly once', async () => {
      const topic = uniqueName('compete');
      const group = uniqueName('g');
      const [first, second] = [collect(), collect()];
      const a = await started();
      const b = await started();
      await a.subscribe(topic, first.handler, group);
      await b.subscribe(topic, second.handler, group);
      // The first instance took every partition; within a review or two each owns its share.
      await balanced([a, b], topic, group);

      const sent = range(200).map((i) => `m${i}`);
      await Promise.all(sent.map((value) => a.publish(topic, value)));

      await waitFor(() => first.count + second.count >= sent.length, { timeoutMs: 10_000, description: 'every message' });
      const all = [...first.values(), ...second.values()];
      expect(all.sort()).toEqual([...sent].sort());
      expect(first.count).toBeGreaterThan(0);
      expect(second.count).toBeGreaterThan(0);
    });

    it('two instances without a group each receive every message', async () => {
      const topic = uniqueName('fanout');
      const [first, second] = [collect(), collect()];
      const a = await started();
      const b = await started();
      await a.subscribe(topic, first.handler);
      await b.subscribe(topic, second.handler);

      const sent = range(50).map((i) => `m${i}`);
      await Promise.all(sent.map((value) => b.publish(topic, value)));

      await first.waitForCount(sent.length);
      await second.waitForCount(sent.length);
      expect(first.values().sort()).toEqual([...sent].sort());
      expect(second.values().sort()).toEqual([...sent].sort());
    });

    it('two topics consumed by one group never mix', async () => {
      const group = uniqueName('shared');
      const [topicA, topicB] = [uniqueName('mix-a'), uniqueName('mix-b')];
      const [onA, onB] = [collect(), collect()];
      const a = await started();
      const b = await started();
      await a.subscribe(topicA, onA.handler, group);
      await b.subscribe(topicB, onB.handler, group);

      await Promise.all(range(20).flatMap((i) => [a.publish(topicA, `a${i}`), a.publish(topicB, `b${i}`)]));

      await onA.waitForCount(20);
      await onB.waitForCount(20);
      expect(onA.values().every((value) => value.startsWith('a'))).toBe(true);
      expect(onB.values().every((value) => value.startsWith('b'))).toBe(true);
      expect(onA.messages.every((message) => message.topic === topicA)).toBe(true);
      expect(onB.messages.every((message) => message.topic === topicB)).toBe(true);
    });
  });

  describe('topology on the broker', () => {
    it(
      'declares the exchanges, partition queues and bindings the README names',
      async () => {
        const topic = uniqueName('names');
        const group = uniqueName('billing');
        const broker = await started();
        await broker.subscribe(topic, () => undefined, group);
        await broker.subscribe(topic, () => undefined);
        const partitionExchange = `${exchangeName}.${topic}.partitions.4`;
        const fallbackExchange = `${partitionExchange}.fallback`;

        const exchanges = await rabbitmqctl('list_exchanges', 'name', 'type', 'durable', 'auto_delete', 'arguments');
        const exchange = new Map(exchanges.map((row) => [row[0]!, row.slice(1)]));
        expect(exchange.get(exchangeName)?.slice(0, 3)).toEqual(['direct', 'true', 'false']);
        expect(exchange.get(`${exchangeName}.dlx`)?.slice(0, 3)).toEqual(['fanout', 'true', 'false']);
        expect(exchange.get(partitionExchange)?.slice(0, 3)).toEqual(['headers', 'true', 'true']);
        expect(exchange.get(partitionExchange)?.[3]).toContain(fallbackExchange);
        expect(exchange.get(fallbackExchange)?.slice(0, 3)).toEqual(['fanout', 'true', 'true']);

        // A quorum queue counts a new consumer once Raft applied it: polled with a deadline.
        await waitFor(async () => (await acrossPartitions(topic, group, 'consumers')) === 4, {
          timeoutMs: 10_000,
          intervalMs: 100,
          description: 'one consumer on each partition queue',
        });
        const queues = await rabbitmqctl('list_queues', 'name', 'durable', 'auto_delete', 'exclusive', 'arguments', 'consumers');
        const byName = new Map(queues.map((row) => [row[0]!, row]));
        for (const queue of partitionQueues(topic, group)) {
          const row = byName.get(queue);
          // Durable, not auto-delete; a quorum queue (the default queueType) has no exclusive flag.
          expect(row?.slice(1, 3)).toEqual(['true', 'false']);
          expect(row?.[4]).toContain('"x-queue-type","quorum"');
          expect(row?.[4]).toContain('x-single-active-consumer');
          expect(row?.[4]).toContain(`${exchangeName}.dlx`);
          expect(row?.[4]).toContain(`${topic}.${group}.dlq`);
          // One instance, alone in its group: it consumes every partition.
          expect(row?.[5]).toBe('1');
          // It owns each through an exclusive owner queue.
          expect(byName.get(`${queue}.owner`)?.slice(1, 4)).toEqual(['false', 'false', 'true']);
        }
        expect(byName.get(`${topic}.${group}.members`)?.slice(1, 4)).toEqual(['false', 'true', 'false']);
        expect(byName.get(`${topic}.${group}.members`)?.[5]).toBe('1');
        for (const deadLetterQueue of [`${topic}.${group}.dlq`, `${topic}.dlq`]) {
          expect(byName.get(deadLetterQueue)?.slice(1, 3)).toEqual(['true', 'false']);
          expect(byName.get(deadLetterQueue)?.[4]).toContain('"x-queue-type","quorum"');
        }
        // Never a queue named by the group alone, nor the one-queue-per-group layout.
        expect(byName.has(group)).toBe(false);
        expect(byName.has(`${topic}.${group}`)).toBe(false);

        const bindings = await rabbitmqctl(
          'list_bindings',
          'source_name',
          'destination_name',
          'destination_kind',
          'routing_key',
          'arguments',
        );
        const keyed = bindings.map((row) => row.slice(0, 4));
        expect(keyed).toContainEqual([exchangeName, partitionExchange, 'exchange', topic]);
        for (const [partition, queue] of partitionQueues(topic, group).entries()) {
          const binding = bindings.find(([source, name]) => source === partitionExchange && name === queue);
          expect(binding?.[4]).toContain(`msgport-partition`);
          expect(binding?.[4]).toContain(`"${partition}"`);
        }
        expect(keyed).toContainEqual([fallbackExchange, `${topic}.${group}.p0`, 'queue', '']);
        expect(keyed).toContainEqual([exchangeName, `${topic}.${group}.dlq`, 'queue', `${topic}.${group}.dlq`]);
        expect(keyed).toContainEqual([exchangeName, `${topic}.dlq`, 'queue', `${topic}.dlq`]);
        // The broadcast subscription: a server-named, exclusive, auto-delete queue bound to the topic.
        const broadcast = keyed.filter(
          ([source, name, kind, key]) =>
            source === exchangeName && kind === 'queue' && key === topic && name!.startsWith('amq.gen-'),
        );
        expect(broadcast).toHaveLength(1);
        expect(byName.get(broadcast[0]![1]!)?.slice(1, 4)).toEqual(['false', 'true', 'true']);
        expect(keyed).toContainEqual([`${exchangeName}.dlx`, exchangeName, 'exchange', '']);
      },
      RABBITMQCTL_TEST_TIMEOUT_MS,
    );

    it('keeps dead letters in <topic>.<group>.dlq when nobody consumes them, with the error headers', async () => {
      const topic = uniqueName('dlq-kept');
      const group = uniqueName('g');
      const broker = await started();
      await broker.subscribe(
        topic,
        () => {
          throw new Error('always fails');
        },
        { group, retry: { maxAttempts: 2, initialDelayMs: 1 } },
      );
      await broker.publish(topic, 'poison', { key: 'k1', headers: { trace: 'Zürich' } });

      const dead = await waitFor(
        () => withChannel(async (channel) => (await channel.get(`${topic}.${group}.dlq`, { noAck: true })) || undefined),
        { timeoutMs: 10_000, intervalMs: 100, description: 'a dead letter in the dlq' },
      );
      expect(dead.content.toString()).toBe('poison');
      expect(dead.fields.routingKey).toBe(`${topic}.${group}.dlq`);
      expect(dead.properties.deliveryMode).toBe(2);
      expect(dead.properties.headers).toMatchObject({
        trace: 'Zürich',
        'msgport-key': Buffer.from('k1').toString('base64'),
        'msgport-error-message': 'always fails',
        'msgport-original-topic': topic,
        'msgport-group': group,
        'msgport-attempts': '2',
      });
    });

    it('routes a message the broker rejects from the group queue into the same dlq', async () => {
      const topic = uniqueName('dlx');
      const group = uniqueName('g');
      const broker = await started();
      const subscription = await broker.subscribe(topic, () => undefined, group);
      await subscription.unsubscribe();
      await broker.publish(topic, 'rejected by a foreign consumer');

      // A consumer, not basic.get: quorum queues with single active consumer refuse basic.get.
      await withChannel(async (channel) => {
        let rejected = false;
        for (const queue of partitionQueues(topic, group)) {
          await channel.consume(queue, (message) => {
            if (message === null) return;
            channel.nack(message, false, false);
            rejected = true;
          });
        }
        await waitFor(() => rejected || undefined, { timeoutMs: 5_000, description: 'the message' });
      });
      const dead = await waitFor(
        () => withChannel(async (channel) => (await channel.get(`${topic}.${group}.dlq`, { noAck: true })) || undefined),
        { timeoutMs: 5_000, intervalMs: 50, description: 'the broker-side dead letter' },
      );
      expect(dead.content.toString()).toBe('rejected by a foreign consumer');
    });

    it(
      'declares the partition queues again and resumes when they are deleted under the consumer',
      async () => {
        const topic = uniqueName('deleted');
        const group = uniqueName('g');
        const received = collect();
        const broker = await started();
        await broker.subscribe(topic, received.handler, group);
        await broker.publish(topic, 'before', { key: 'k' });
        await received.waitForCount(1);

        await withChannel(async (channel) => {
          for (const queue of partitionQueues(topic, group)) await channel.deleteQueue(queue);
        });
        await waitFor(async () => (await acrossPartitions(topic, group, 'consumers')) === 4, {
          timeoutMs: 15_000,
          intervalMs: 200,
          description: 'the partition queues declared again, each with its consumer',
        });
        expect((await broker.health()).status).toBe('up');
        await broker.publish(topic, 'after', { key: 'k' });
        await received.waitForCount(2);
        expect(received.values()).toEqual(['before', 'after']);
      },
      RABBITMQCTL_TEST_TIMEOUT_MS,
    );
  });

  describe('subscribe() failures', () => {
    it('rejects with SUBSCRIBE_FAILED, naming the queue, when a partition queue exists with other arguments', async () => {
      const topic = uniqueName('clash');
      const group = uniqueName('g');
      // A queue of that name declared by someone else, without single active consumer or dead-lettering.
      await withChannel((channel) => channel.assertQueue(`${topic}.${group}.p1`, { durable: true }));
      try {
        const broker = await started();
        const error = await rejectionOf(broker.subscribe(topic, () => undefined, group));
        expect(error).toMatchObject({ name: 'SubscribeError', code: 'SUBSCRIBE_FAILED' });
        expect((error as Error).message).toContain(`${topic}.${group}.p1`);
        // The adapter is still usable.
        const other = collect();
        await broker.subscribe(topic, other.handler, uniqueName('g'));
        await broker.publish(topic, 'still works');
        await other.waitForCount(1);
        expect((await broker.health()).status).toBe('up');
      } finally {
        await withChannel((channel) => channel.deleteQueue(`${topic}.${group}.p1`));
      }
    });

    it('leaves alone a <topic>.<group> queue that is not the one msgport declared before partitioned queues', async () => {
      const topic = uniqueName('not-ours');
      const group = uniqueName('g');
      // E.g. declared by another application, with other arguments: not msgport's earlier layout.
      await withChannel((channel) => channel.assertQueue(`${topic}.${group}`, { durable: true }));
      try {
        const received = collect();
        const broker = await started();
        await broker.subscribe(topic, received.handler, group);
        await broker.publish(topic, 'works');
        await received.waitForCount(1);
        expect((await withChannel((channel) => channel.checkQueue(`${topic}.${group}`))).messageCount).toBe(0);
      } finally {
        await withChannel((channel) => channel.deleteQueue(`${topic}.${group}`));
      }
    });

    it(
      'joins a group whose members queue an earlier version declared durable, and declares it non-durable once that one is gone',
      async () => {
        const topic = uniqueName('members-upgrade');
        const group = uniqueName('g');
        const members = `${topic}.${group}.members`;
        const durability = async (): Promise<string | undefined> =>
          (await rabbitmqctl('list_queues', 'name', 'durable')).find((row) => row[0] === members)?.[1];
        // What an instance of the earlier version declares (durable, auto-delete) and holds.
        const earlier = await amqplib.connect(RABBITMQ_URL);
        try {
          const channel = await earlier.createChannel();
          await channel.assertQueue(members, { durable: true, autoDelete: true, arguments: { 'x-queue-type': 'classic' } });
          await channel.consume(members, () => undefined, { noAck: true });
          const broker = await started();
          // The broker refuses to declare it non-durable: the adapter uses it as it is.
          await broker.subscribe(topic, () => undefined, group);
          expect(await durability()).toBe('true');
          expect((await withChannel((probe) => probe.checkQueue(members))).consumerCount).toBe(2);
          await broker.stop();
        } finally {
          await earlier.close();
        }
        // Auto-delete: gone with its last consumer; the next instance declares it non-durable.
        const received = collect();
        const broker = await started();
        await broker.subscribe(topic, received.handler, group);
        await broker.publish(topic, 'after the upgrade');
        await received.waitForCount(1);
        expect(await durability()).toBe('false');
      },
      RABBITMQCTL_TEST_TIMEOUT_MS,
    );
  });

  describe('messages', () => {
    it('decodes header values of a foreign producer: bytes as UTF-8 or lowercase hex, numbers as strings', async () => {
      const topic = uniqueName('foreign');
      const group = uniqueName('g');
      const received = collect();
      const broker = await started();
      await broker.subscribe(topic, received.handler, group);

      await withChannel(async (channel) => {
        channel.publish(exchangeName, topic, Buffer.from('from java'), {
          headers: { bytes: Buffer.from([0xff, 0x00, 0xab]), text: Buffer.from('ok ✓'), number: 42, flag: false },
        });
      });

      const [message] = await received.waitForCount(1);
      expect(message!.key).toBeNull();
      expect({ ...message!.headers }).toEqual({ bytes: 'ff00ab', text: 'ok ✓', number: '42', flag: 'false' });
      expect(message!.metadata.redelivered).toBe(false);
    });

    it('rejects a value larger than maxMessageBytes with MESSAGE_TOO_LARGE before sending', async () => {
      const broker = await started({ maxMessageBytes: 1_024 });
      const error = await rejectionOf(broker.publish(uniqueName('big'), Buffer.alloc(1_025)));
      expect(error).toMatchObject({ name: 'PublishError', code: 'MESSAGE_TOO_LARGE', retriable: false });
      await expect(broker.publish(uniqueName('small'), Buffer.alloc(1_024))).resolves.toBeUndefined();
    });

    it("maps the broker's own size limit to MESSAGE_TOO_LARGE and keeps publishing afterwards", async () => {
      const topic = uniqueName('huge');
      const group = uniqueName('g');
      const received = collect();
      const broker = await started({ maxMessageBytes: 256 * 1024 * 1024 });
      await broker.subscribe(topic, received.handler, group);

      // RabbitMQ 3.10's default max_message_size is 128 MiB.
      const error = await rejectionOf(broker.publish(topic, Buffer.alloc(128 * 1024 * 1024 + 1)));
      expect(error).toMatchObject({ name: 'PublishError', code: 'MESSAGE_TOO_LARGE', retriable: false });

      await broker.publish(topic, 'still publishing');
      await received.waitForCount(1);
      expect(received.values()).toEqual(['still publishing']);
      expect((await broker.health()).status).toBe('up');
    }, 60_000);

    it('rejects headers too large for an AMQP frame with MESSAGE_TOO_LARGE and keeps publishing', async () => {
      const topic = uniqueName('fat-headers');
      const broker = await started();
      const error = await rejectionOf(broker.publish(topic, 'v', { headers: { big: 'x'.repeat(70 * 1024) } }));
      expect(error).toMatchObject({ name: 'PublishError', code: 'MESSAGE_TOO_LARGE', retriable: false });
      await expect(broker.publish(topic, 'v', { headers: { small: 'x' } })).resolves.toBeUndefined();
    });

    it('pipelines concurrent publishes and handles up to `concurrency` messages at once', async () => {
      const topic = uniqueName('concurrency');
      const group = uniqueName('g');
      let active = 0;
      let peak = 0;
      const handler: MessageHandler = async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setTimeout(resolve, 20));
        active--;
      };
      const received = collect({ onMessage: handler });
      const broker = await started({ concurrency: 4, prefetch: 8 });
      await broker.subscribe(topic, received.handler, group);

      await Promise.all(range(40).map((i) => broker.publish(topic, `m${i}`, { key: `k${i}` })));
      await received.waitForCount(40);
      expect(peak).toBe(4);
    });

    it('rejects a prefetch lower than concurrency with INVALID_ARGUMENT', () => {
      expect(() => new RabbitMQAdapter({ url: RABBITMQ_URL, concurrency: 10, prefetch: 5 })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    });
  });

  describe('connection failures and credentials', () => {
    it('start() fails with INVALID_CONFIG when the exchange exists with another type', async () => {
      const taken = uniqueExchange('msgport-taken');
      await withChannel((channel) => channel.assertExchange(taken, 'topic', { durable: true }));
      try {
        const error = await rejectionOf(adapter({ exchangeName: taken }).start());
        expect(error).toMatchObject({ name: 'ConfigurationError', code: 'INVALID_CONFIG', retriable: false });
        expect((error as Error).message).toContain(taken);
      } finally {
        await withChannel((channel) => channel.deleteExchange(taken));
      }
    });

    const password = 'Sup3r-S3cret-Pa55';

    /** Everything a user could ever see from an error: message, cause chain, inspect output. */
    function everything(error: unknown): string {
      return `${String(error)}\n${inspect(error, { depth: 10 })}\n${(error as Error).stack ?? ''}`;
    }

    it('start() against a closed port fails with a retriable ConnectionError within connectionTimeoutMs, without the password', async () => {
      const logger = capturingLogger();
      const broker = adapter({ url: `amqp://guest:${password}@127.0.0.1:1/`, connectionTimeoutMs: 1_500, logger });
      const began = Date.now();
      const error = await rejectionOf(broker.start());
      const elapsed = Date.now() - began;

      expect(isMessagingError(error)).toBe(true);
      expect(error).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_FAILED', retriable: true });
      expect(elapsed).toBeLessThan(1_500 + 500);
      expect((error as Error).message).toContain('amqp://guest:***@127.0.0.1:1/');
      expect(everything(error)).not.toContain(password);
      expect(logger.lines.join('\n')).not.toContain(password);
      expect((await broker.health()).status).toBe('stopped');
    });

    it('start() against a broker that never answers fails within connectionTimeoutMs', async () => {
      const hole = await blackHole();
      try {
        const logger = capturingLogger();
        const broker = adapter({ url: `amqp://guest:${password}@127.0.0.1:${hole.port}/`, connectionTimeoutMs: 1_000, logger });
        const began = Date.now();
        const error = await rejectionOf(broker.start());
        expect(Date.now() - began).toBeLessThan(1_000 + 500);
        expect(error).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_FAILED' });
        expect(everything(error)).not.toContain(password);
        expect(logger.lines.join('\n')).not.toContain(password);
      } finally {
        await hole.close();
      }
    });

    it('start() with a wrong password fails quickly with AUTHENTICATION_FAILED, not retriable, without the password', async () => {
      const logger = capturingLogger();
      const url = new URL(RABBITMQ_URL);
      url.password = password;
      const broker = adapter({ url: url.toString(), logger });
      const began = Date.now();
      const error = await rejectionOf(broker.start());

      expect(error).toMatchObject({ name: 'ConnectionError', code: 'AUTHENTICATION_FAILED', retriable: false });
      expect(Date.now() - began).toBeLessThan(3_000);
      expect((error as Error).message).toContain(':***@');
      expect(everything(error)).not.toContain(password);
      expect(logger.lines.join('\n')).not.toContain(password);
    });

    it('never shows the password in health details or logs while running', async () => {
      const logger = capturingLogger();
      const broker = await started({ logger });
      const secret = new URL(RABBITMQ_URL).password;
      const report = await broker.health();
      expect(report.details.url).toBe(RABBITMQ_URL.replace(`:${secret}@`, ':***@'));
      if (secret.length > 0) {
        expect(JSON.stringify(report)).not.toContain(`:${secret}@`);
        expect(logger.lines.join('\n')).not.toContain(`:${secret}@`);
      }
    });

    it('rejects a URL that is not amqp:// or amqps:// without echoing its password', () => {
      let error: unknown;
      try {
        new RabbitMQAdapter({ url: `http://guest:${password}@localhost/` });
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(everything(error)).not.toContain(password);
    });
  });

  describe('subscriptions', () => {
    it('receives a message published right after subscribe() resolved, on a fresh group and a broadcast', async () => {
      const broker = await started();
      for (let i = 0; i < 5; i++) {
        const topic = uniqueName('immediate');
        const inGroup = collect();
        const broadcast = collect();
        await broker.subscribe(topic, inGroup.handler, uniqueName('g'));
        await broker.subscribe(topic, broadcast.handler);
        await broker.publish(topic, `m${i}`);
        await inGroup.waitForCount(1);
        await broadcast.waitForCount(1);
      }
    });

    it(
      'stop() cancels the consumer, lets the running handler finish and acknowledges it',
      async () => {
        const topic = uniqueName('drain-ack');
        const group = uniqueName('g');
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const handled: Message[] = [];
        const broker = await started();
        await broker.subscribe(
          topic,
          async (message) => {
            await gate;
            handled.push(message);
          },
          group,
        );
        await broker.publish(topic, 'slow');
        await waitFor(async () => (await acrossPartitions(topic, group, 'messages_unacknowledged')) === 1, {
          timeoutMs: 10_000,
          intervalMs: 100,
          description: 'the message in flight',
        });
        const stopped = broker.stop();
        release();
        await stopped;
        expect(handled).toHaveLength(1);
        // A quorum queue applies acknowledgements and the consumer's departure asynchronously (Raft):
        // polled with a deadline; a lost acknowledgement would keep the count at 1.
        await waitFor(async () => (await acrossPartitions(topic, group, 'messages')) === 0, {
          timeoutMs: 10_000,
          intervalMs: 100,
          description: 'the handled message acknowledged',
        });
        expect(await acrossPartitions(topic, group, 'consumers')).toBe(0);
      },
      RABBITMQCTL_TEST_TIMEOUT_MS,
    );

    it(
      'stop() returns deliveries queued behind a running handler to the queue, logging that at debug, not warn',
      async () => {
        const topic = uniqueName('drain-queued');
        const group = uniqueName('g');
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const handled: string[] = [];
        const logger = capturingLogger();
        const broker = await started({ logger });
        await broker.subscribe(
          topic,
          async (message) => {
            await gate;
            handled.push(message.value.toString());
          },
          group,
        );
        for (const value of ['first', 'second', 'third']) await broker.publish(topic, value, { key: 'k' });
        // All three are with the adapter: one in the handler, two queued behind it in core.
        await waitFor(async () => (await acrossPartitions(topic, group, 'messages_unacknowledged')) === 3, {
          timeoutMs: 10_000,
          intervalMs: 100,
          description: 'three messages in flight',
        });
        const stopped = broker.stop();
        release();
        await stopped;

        expect(handled).toEqual(['first']);
        const notHandled = logger.lines.filter((line) => line.includes('was not handled'));
        expect(notHandled).toHaveLength(2);
        for (const line of notHandled) {
          expect(line).toMatch(/^debug: /);
          expect(line).toContain('CONSUMER_CLOSED');
        }
        expect(logger.lines.filter((line) => /^(warn|error): /.test(line))).toEqual([]);
        // Applied asynchronously by a quorum queue (see above): the two that were not handled are back.
        await waitFor(async () => (await acrossPartitions(topic, group, 'messages')) === 2, {
          timeoutMs: 10_000,
          intervalMs: 100,
          description: 'the first acknowledged, the other two back in the queue',
        });
      },
      RABBITMQCTL_TEST_TIMEOUT_MS,
    );
  });
});
