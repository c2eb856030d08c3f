import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  ConnectionError,
  InvalidArgumentError,
  PublishError,
  isMessagingError,
  waitFor,
  type Message,
  type MessagingError,
} from '@msgport/core';
import { KafkaAdapter, type KafkaAdapterOptions } from '@msgport/kafka';
import { collect, uniqueName } from '@msgport/testkit';
import kafkajs from 'kafkajs';
import { createTestAdapter, KAFKA_BROKERS, recordingLogger } from './kafka-test-config.js';

const TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;

const opened: KafkaAdapter[] = [];

/** A started adapter that afterEach stops. */
async function started(options: Partial<KafkaAdapterOptions> = {}): Promise<KafkaAdapter> {
  const adapter = createTestAdapter(options);
  opened.push(adapter);
  await adapter.start();
  return adapter;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((adapter) => adapter.stop()));
}, TEST_TIMEOUT_MS);

interface ConsumerHealth {
  readonly topics: readonly string[];
  readonly group: string | null;
  readonly state: string;
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

async function kafkaConsumers(adapter: KafkaAdapter): Promise<ConsumerHealth[]> {
  return (await adapter.health()).details['kafkaConsumers'] as ConsumerHealth[];
}

async function assignedPartitions(adapter: KafkaAdapter, topic: string): Promise<readonly number[]> {
  return (await kafkaConsumers(adapter)).find((consumer) => consumer.topics.includes(topic))?.assignment[topic] ?? [];
}

async function producerStats(adapter: KafkaAdapter): Promise<{ produceRequests: number; messagesSent: number }> {
  return (await adapter.health()).details['producer'] as { produceRequests: number; messagesSent: number };
}

async function rejection(promise: Promise<unknown>): Promise<MessagingError> {
  try {
    await promise;
  } catch (error) {
    if (isMessagingError(error)) return error;
    throw new Error(`Expected a MessagingError, got ${inspect(error)}`, { cause: error });
  }
  throw new Error('Expected a rejection, but the promise resolved.');
}

function until<T>(predicate: () => T | Promise<T>, description: string, timeoutMs = TIMEOUT_MS): Promise<NonNullable<T>> {
  return waitFor(predicate, { timeoutMs, description });
}

const ids = (messages: readonly Message[]): string[] => messages.map((message) => message.value.toString());

describe('KafkaAdapter', () => {
  describe('consumer groups', () => {
    it(
      'two instances in one group share the partitions of a 4-partition topic, with no loss and no duplicates',
      async () => {
        const topic = uniqueName('kafka-share');
        const group = uniqueName('g');
        const a = await started({ numPartitions: 4 });
        const b = await started({ numPartitions: 4 });
        const receivedA = collect();
        const receivedB = collect();
        await a.subscribe(topic, receivedA.handler, group);
        await b.subscribe(topic, receivedB.handler, group);
        await until(
          async () => (await assignedPartitions(a, topic)).length === 2 && (await assignedPartitions(b, topic)).length === 2,
          'the 4 partitions split 2/2 between the instances',
        );

        const total = 400;
        const expected = Array.from({ length: total }, (_, i) => `m${i}`);
        await Promise.all(expected.map((id) => a.publish(topic, id, { key: `key-${id}` })));

        await until(() => receivedA.count + receivedB.count >= total, `${total} messages over both instances`);
        const all = [...ids(receivedA.messages), ...ids(receivedB.messages)];
        expect(new Set(all).size).toBe(total);
        expect(all).toHaveLength(total);
        expect([...all].sort()).toEqual([...expected].sort());
        expect(receivedA.count).toBeGreaterThan(0);
        expect(receivedB.count).toBeGreaterThan(0);
        // Each instance only ever saw its own partitions.
        const partitionsOf = (messages: readonly Message[]) => new Set(messages.map((message) => message.metadata.partition));
        const ofA = partitionsOf(receivedA.messages);
        for (const partition of partitionsOf(receivedB.messages)) expect(ofA.has(partition)).toBe(false);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'an instance that stops mid-stream hands its partitions over and nothing is lost',
      async () => {
        const topic = uniqueName('kafka-handover');
        const group = uniqueName('g');
        const publisher = await started({ numPartitions: 4 });
        const a = await started({ numPartitions: 4 });
        const b = await started({ numPartitions: 4 });
        const slow = async (): Promise<void> => {
          await new Promise((resolve) => setImmediate(resolve));
        };
        const receivedA = collect({ onMessage: slow });
        const receivedB = collect({ onMessage: slow });
        await a.subscribe(topic, receivedA.handler, group);
        await b.subscribe(topic, receivedB.handler, group);
        await until(async () => (await assignedPartitions(a, topic)).length === 2, 'instance A owning 2 partitions');

        const total = 600;
        const publishRange = async (from: number, to: number): Promise<void> => {
          for (let i = from; i < to; i += 20) {
            await Promise.all(Array.from({ length: 20 }, (_, j) => publisher.publish(topic, `m${i + j}`, { key: `k${i + j}` })));
          }
        };
        await publishRange(0, total / 2);
        // Stop A once it is busy, and publish the second half while it stops.
        await until(() => receivedA.count >= 30, 'instance A handling messages');
        const stopping = a.stop();
        await publishRange(total / 2, total);
        await stopping;
        await until(async () => (await assignedPartitions(b, topic)).length === 4, 'instance B taking over all 4 partitions');

        const expected = Array.from({ length: total }, (_, i) => `m${i}`);
        const seen = (): Set<string> => new Set([...ids(receivedA.messages), ...ids(receivedB.messages)]);
        await until(() => seen().size === total, `all ${total} messages handled by A or B`);
        expect([...seen()].sort()).toEqual([...expected].sort());
        // At-least-once: a handover may repeat what was handled but not yet committed; it must
        // not repeat more than a few messages.
        const duplicates = receivedA.count + receivedB.count - total;
        expect(duplicates).toBeLessThan(50);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('start position', () => {
    it(
      'a new group starts at the latest offset by default and at the beginning with fromBeginning: true',
      async () => {
        const topic = uniqueName('kafka-start');
        const publisher = await started();
        await publisher.publish(topic, 'old');

        const latest = await started();
        const fromLatest = collect();
        await latest.subscribe(topic, fromLatest.handler, uniqueName('g-latest'));
        const beginning = await started({ fromBeginning: true });
        const fromBeginning = collect();
        await beginning.subscribe(topic, fromBeginning.handler, uniqueName('g-beginning'));

        await publisher.publish(topic, 'new');
        // One partition, so 'old' would arrive before 'new'.
        await fromLatest.waitForCount(1, { timeoutMs: TIMEOUT_MS });
        await fromBeginning.waitForCount(2, { timeoutMs: TIMEOUT_MS });
        expect(fromLatest.values()).toEqual(['new']);
        expect(fromBeginning.values()).toEqual(['old', 'new']);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'a group that has committed offsets resumes there after a restart, whatever fromBeginning says',
      async () => {
        const topic = uniqueName('kafka-resume');
        const group = uniqueName('g');
        const publisher = await started();
        await publisher.publish(topic, 'before');

        const first = await started({ fromBeginning: true });
        const firstRun = collect();
        await first.subscribe(topic, firstRun.handler, group);
        await firstRun.waitForCount(1, { timeoutMs: TIMEOUT_MS });
        await first.stop();

        await publisher.publish(topic, 'while-away');
        const second = await started({ fromBeginning: true });
        const secondRun = collect();
        await second.subscribe(topic, secondRun.handler, group);
        await publisher.publish(topic, 'after');
        await secondRun.waitForCount(2, { timeoutMs: TIMEOUT_MS });
        expect(firstRun.values()).toEqual(['before']);
        expect(secondRun.values()).toEqual(['while-away', 'after']);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'receives what is published right after subscribe() resolves, on every partition, with and without a group',
      async () => {
        const broker = await started({ numPartitions: 8 });
        // Several rounds: without pinned start offsets, kafkajs loses messages here most of the time.
        for (const group of [uniqueName('g'), undefined, uniqueName('g'), undefined, uniqueName('g'), undefined]) {
          const topic = uniqueName('kafka-immediate');
          const received = collect();
          await broker.subscribe(topic, received.handler, group);
          const sent = Array.from({ length: 64 }, (_, i) => `m${i}`);
          await Promise.all(sent.map((id) => broker.publish(topic, id, { key: id })));
          await received.waitForCount(sent.length, { timeoutMs: TIMEOUT_MS });
          expect(received.values().sort()).toEqual([...sent].sort());
          expect(new Set(received.messages.map((message) => message.metadata.partition)).size).toBeGreaterThan(1);
        }
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('stopping', () => {
    it(
      'a handler running longer than the session timeout keeps its group membership: its message is handled once and committed',
      async () => {
        // kafkajs heartbeats only between messages; without the adapter's keep-alive the broker
        // would evict this member after sessionTimeoutMs, its commit would fail, and the message
        // would be delivered again after the rejoin.
        const sessionTimeoutMs = 6_000;
        const topic = uniqueName('kafka-long-handler');
        const group = uniqueName('g');
        const adapter = await started({ sessionTimeoutMs, heartbeatIntervalMs: 500 });
        const calls: string[] = [];
        const run = collect({
          onMessage: async (message) => {
            calls.push(message.value.toString());
            if (message.value.toString() === 'slow') await new Promise((resolve) => setTimeout(resolve, sessionTimeoutMs * 1.5));
          },
        });
        await adapter.subscribe(topic, run.handler, group);
        await adapter.publish(topic, 'slow');
        await adapter.publish(topic, 'after');
        await run.waitForCount(2, { timeoutMs: sessionTimeoutMs * 1.5 + TIMEOUT_MS });
        // A redelivery of "slow" would come after "after" was fetched again from the old offset.
        await adapter.publish(topic, 'marker');
        await run.waitForCount(3, { timeoutMs: TIMEOUT_MS });
        expect(calls).toEqual(['slow', 'after', 'marker']);
        const [consumer] = await kafkaConsumers(adapter);
        expect(consumer).toMatchObject({ topics: [topic], group, state: 'up', assignment: { [topic]: [0] }, crashes: 0 });
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'stop() lets the in-flight handler finish and commits its message: the next instance does not get it again',
      async () => {
        const topic = uniqueName('kafka-drain');
        const group = uniqueName('g');
        const first = await started();
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let entered = false;
        const firstRun = collect({
          onMessage: async () => {
            entered = true;
            await gate;
          },
        });
        await first.subscribe(topic, firstRun.handler, group);
        await first.publish(topic, 'in-flight');
        await until(() => entered, 'the handler to start');

        let stopped = false;
        const stopping = first.stop().then(() => (stopped = true));
        await until(async () => (await first.health()).details['state'] === 'stopping', 'stop() to begin');
        // stop() waits for the handler instead of interrupting it: the collector records the
        // message only when the handler returns, which happens after release().
        expect(stopped).toBe(false);
        release();
        await stopping;
        expect(firstRun.values()).toEqual(['in-flight']);

        const second = await started();
        const secondRun = collect();
        await second.subscribe(topic, secondRun.handler, group);
        await second.publish(topic, 'next');
        await secondRun.waitForCount(1, { timeoutMs: TIMEOUT_MS });
        expect(secondRun.values()).toEqual(['next']);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'unsubscribing a broadcast subscription deletes its throwaway consumer group',
      async () => {
        const clientId = uniqueName('broadcast-client');
        const broker = await started({ clientId });
        const topic = uniqueName('kafka-broadcast-cleanup');
        const kafka = new kafkajs.Kafka({
          brokers: KAFKA_BROKERS.split(','),
          clientId: 'inspector',
          logLevel: kafkajs.logLevel.NOTHING,
        });
        const admin = kafka.admin();
        await admin.connect();
        try {
          const throwaway = async () =>
            (await admin.listGroups()).groups
              .filter(({ groupId }) => groupId.startsWith(`${clientId}-broadcast-`))
              .map(({ groupId }) => groupId);
          const subscription = await broker.subscribe(topic, () => undefined);
          expect(await throwaway()).toHaveLength(1);
          await subscription.unsubscribe();
          expect(await throwaway()).toEqual([]);
        } finally {
          await admin.disconnect();
        }
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('failures', () => {
    it(
      'a failing handler never blocks its partition: the poison message is dead-lettered and later messages flow',
      async () => {
        const topic = uniqueName('kafka-poison');
        const group = uniqueName('g');
        const broker = await started({ retry: { maxAttempts: 2, initialDelayMs: 10 } });
        const handled = collect({
          onMessage: (message) => {
            if (message.value.toString() === 'poison') throw new Error('cannot handle poison');
          },
        });
        const deadLetters = collect();
        await broker.subscribe(`${topic}.DLT`, deadLetters.handler, uniqueName('dlt-reader'));
        await broker.subscribe(topic, handled.handler, group);

        await broker.publish(topic, 'before');
        await broker.publish(topic, 'poison', { key: 'p', headers: { 'x-trace': 't-1' } });
        await broker.publish(topic, 'after');

        await handled.waitForCount(2, { timeoutMs: TIMEOUT_MS });
        expect(handled.values()).toEqual(['before', 'after']);
        const [deadLetter] = await deadLetters.waitForCount(1, { timeoutMs: TIMEOUT_MS });
        expect(deadLetter!.value.toString()).toBe('poison');
        expect(deadLetter!.key!.toString()).toBe('p');
        expect(deadLetter!.headers).toMatchObject({
          'x-trace': 't-1',
          'msgport-error-message': 'cannot handle poison',
          'msgport-original-topic': topic,
          'msgport-group': group,
          'msgport-attempts': '2',
        });

        // The poison message was committed once dead-lettered: the group does not see it again.
        await broker.stop();
        const again = await started();
        const resumed = collect();
        await again.subscribe(topic, resumed.handler, group);
        await again.publish(topic, 'later');
        await resumed.waitForCount(1, { timeoutMs: TIMEOUT_MS });
        expect(resumed.values()).toEqual(['later']);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'a dead letter that fails to publish once is published on the next try: dead-lettered once, without a redelivery',
      async () => {
        class FlakyDeadLetterAdapter extends KafkaAdapter {
          failuresLeft = 1;
          protected override sendDeadLetter(deadLetter: Message, original: Message, group: string | null): Promise<void> {
            if (this.failuresLeft-- > 0) return Promise.reject(new Error('dead-letter topic unavailable'));
            return super.sendDeadLetter(deadLetter, original, group);
          }
        }
        const topic = uniqueName('kafka-dlt-fails');
        const logger = recordingLogger('none');
        const broker = new FlakyDeadLetterAdapter({
          ...createTestAdapterOptions(),
          logger,
          retry: { maxAttempts: 2, initialDelayMs: 10 },
        });
        opened.push(broker);
        await broker.start();
        let attempts = 0;
        const handled = collect({
          onMessage: (message) => {
            if (message.value.toString() === 'poison') {
              attempts++;
              throw new Error('still poison');
            }
          },
        });
        const deadLetters = collect();
        await broker.subscribe(`${topic}.DLT`, deadLetters.handler, uniqueName('dlt-reader'));
        await broker.subscribe(topic, handled.handler, uniqueName('g'));

        await broker.publish(topic, 'poison');
        await broker.publish(topic, 'after');
        await handled.waitForCount(1, { timeoutMs: TIMEOUT_MS });
        await deadLetters.waitForCount(1, { timeoutMs: TIMEOUT_MS });
        expect(handled.values()).toEqual(['after']);
        expect(deadLetters.values()).toEqual(['poison']);
        // Two attempts, a failed dead letter tried again at once (core), dead-lettered.
        expect(attempts).toBe(2);
        expect(logger.lines.some((line) => line.includes('Dead-lettering failed (try 1 of 3)'))).toBe(true);
        expect(logger.lines.filter((line) => line.startsWith('error:'))).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('mapping on the wire', () => {
    it(
      'a header that is not valid UTF-8, written by a plain kafkajs producer, arrives as lowercase hex',
      async () => {
        const topic = uniqueName('kafka-foreign');
        const broker = await started();
        const received = collect();
        await broker.subscribe(topic, received.handler, uniqueName('g'));

        const kafka = new kafkajs.Kafka({
          brokers: KAFKA_BROKERS.split(','),
          clientId: 'foreign-producer',
          logLevel: kafkajs.logLevel.NOTHING,
        });
        const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
        await producer.connect();
        try {
          await producer.send({
            topic,
            messages: [
              {
                key: Buffer.from([0xc3, 0x28]),
                value: Buffer.from('from a foreign producer'),
                headers: { 'x-binary': Buffer.from([0xff, 0xfe, 0x00, 0x01]), 'x-text': Buffer.from('héllo', 'utf8') },
              },
            ],
          });
        } finally {
          await producer.disconnect();
        }

        const [message] = await received.waitForCount(1, { timeoutMs: TIMEOUT_MS });
        expect(message!.headers).toEqual({ 'x-binary': 'fffe0001', 'x-text': 'héllo' });
        expect(message!.key!.equals(Buffer.from([0xc3, 0x28]))).toBe(true);
        expect(message!.value.toString()).toBe('from a foreign producer');
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'sends messages with the same key to the same partition, in order, and reports partition, offset and timestamp',
      async () => {
        const topic = uniqueName('kafka-keys');
        const broker = await started({ numPartitions: 6 });
        const received = collect();
        await broker.subscribe(topic, received.handler, uniqueName('g'));
        const before = Date.now();
        const keys = ['alpha', 'beta', 'gamma', 'delta'];
        await Promise.all(
          keys.flatMap((key) => Array.from({ length: 10 }, (_, i) => broker.publish(topic, `${key}-${i}`, { key }))),
        );
        await received.waitForCount(40, { timeoutMs: TIMEOUT_MS });

        for (const key of keys) {
          const ofKey = received.messages.filter((message) => message.key!.toString() === key);
          expect(ids(ofKey)).toEqual(Array.from({ length: 10 }, (_, i) => `${key}-${i}`));
          expect(new Set(ofKey.map((message) => message.metadata.partition)).size).toBe(1);
          const offsets = ofKey.map((message) => BigInt(message.metadata.offset!));
          expect([...offsets].sort((x, y) => (x < y ? -1 : 1))).toEqual(offsets);
        }
        for (const message of received.messages) {
          expect(message.metadata.partition).toBeGreaterThanOrEqual(0);
          expect(message.metadata.timestamp).toBeGreaterThanOrEqual(before - 60_000);
          // Transport facts stay out of the headers: only the message id publish() adds (C11).
          expect(Object.keys(message.headers)).toEqual(['msgport-message-id']);
        }
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('publishing', () => {
    it(
      'batches 1,000 concurrent publishes into far fewer produce requests, each caller getting its acknowledgement',
      async () => {
        const topic = uniqueName('kafka-batch');
        const broker = await started({ numPartitions: 3 });
        await broker.publish(topic, 'warm-up'); // creates the topic
        const before = await producerStats(broker);

        const results = await Promise.allSettled(
          Array.from({ length: 1000 }, (_, i) => broker.publish(topic, `m${i}`, { key: `k${i}` })),
        );
        expect(results.every((result) => result.status === 'fulfilled')).toBe(true);

        const after = await producerStats(broker);
        expect(after.messagesSent - before.messagesSent).toBe(1000);
        const requests = after.produceRequests - before.produceRequests;
        expect(requests).toBeGreaterThan(0);
        expect(requests).toBeLessThanOrEqual(20);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'rejects only the message that is too large with MESSAGE_TOO_LARGE; the others of the same batch are stored',
      async () => {
        const topic = uniqueName('kafka-too-large');
        // A budget above the broker's 1 MB limit puts the big message in the same request as the small ones.
        const broker = await started({ maxBatchBytes: 16 * 1024 * 1024 });
        const received = collect();
        await broker.subscribe(topic, received.handler, uniqueName('g'));

        const big = broker.publish(topic, Buffer.alloc(2 * 1024 * 1024, 1));
        const small = Array.from({ length: 5 }, (_, i) => broker.publish(topic, `small-${i}`));
        const error = await rejection(big);
        await Promise.all(small);

        expect(error).toBeInstanceOf(PublishError);
        expect(error.code).toBe('MESSAGE_TOO_LARGE');
        expect(error.retriable).toBe(false);
        expect(error.message).toContain(topic);
        await received.waitForCount(5, { timeoutMs: TIMEOUT_MS });
        expect(received.values().sort()).toEqual(['small-0', 'small-1', 'small-2', 'small-3', 'small-4']);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('connection and credentials', () => {
    it('start() against an unreachable broker rejects with ConnectionError within connectionTimeoutMs', async () => {
      const adapter = createTestAdapter({
        bootstrapServers: '127.0.0.1:1',
        connectionTimeoutMs: 1_500,
        logger: recordingLogger('none'),
      });
      opened.push(adapter);
      const began = Date.now();
      const error = await rejection(adapter.start());
      const elapsed = Date.now() - began;
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error.code).toBe('CONNECTION_FAILED');
      expect(error.retriable).toBe(true);
      expect(error.message).toContain('127.0.0.1:1');
      expect(elapsed).toBeGreaterThanOrEqual(1_000);
      expect(elapsed).toBeLessThan(3_000);
      expect((await adapter.health()).status).toBe('stopped');
    });

    it('start() against a server that accepts connections but never answers rejects within connectionTimeoutMs', async () => {
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
      });
      silent.listen(0, '127.0.0.1');
      await once(silent, 'listening');
      const { port } = silent.address() as { port: number };
      try {
        const adapter = createTestAdapter({
          bootstrapServers: `127.0.0.1:${port}`,
          connectionTimeoutMs: 1_500,
          logger: recordingLogger('none'),
        });
        opened.push(adapter);
        const began = Date.now();
        const error = await rejection(adapter.start());
        expect(error).toBeInstanceOf(ConnectionError);
        expect(Date.now() - began).toBeLessThan(3_000);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('start() with ssl against the plaintext listener fails fast with TLS_FAILED (not retriable), advising to check ssl', async () => {
      const adapter = createTestAdapter({ ssl: true, connectionTimeoutMs: 10_000, logger: recordingLogger('none') });
      opened.push(adapter);
      const began = Date.now();
      const error = await rejection(adapter.start());
      const elapsed = Date.now() - began;
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error.code).toBe('TLS_FAILED');
      expect(error.retriable).toBe(false);
      expect(error.message).toContain(KAFKA_BROKERS);
      expect(error.message).toContain("Check `ssl` — the broker's listener may not use TLS, or its certificate is not trusted.");
      expect(error.message).not.toMatch(/[\r\n]/);
      // Not retried until connectionTimeoutMs (10 s): the first failed handshake is the answer.
      expect(elapsed).toBeLessThan(3_000);
      expect((await adapter.health()).status).toBe('stopped');
    });

    it('never shows the SASL password in an error, a log line or health()', async () => {
      const password = 'msgport-Sup3r-S3cret-pa55word';
      const logger = recordingLogger('none');
      // The test listener speaks PLAINTEXT, so SASL fails; the failure must not leak the secret.
      const adapter = createTestAdapter({
        sasl: { mechanism: 'plain', username: 'alice', password },
        connectionTimeoutMs: 3_000,
        logger,
      });
      opened.push(adapter);
      const error = await rejection(adapter.start());
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error.code).toBe('AUTHENTICATION_FAILED');
      expect(error.retriable).toBe(false);
      const everything = [
        error.message,
        inspect(error, { depth: 10 }),
        JSON.stringify(await adapter.health()),
        inspect(adapter, { depth: 5 }),
        ...logger.lines,
      ].join('\n');
      expect(everything).not.toContain(password);
    });

    it('rejects invalid options with InvalidArgumentError, naming each problem', () => {
      let error: unknown;
      try {
        new KafkaAdapter({ bootstrapServers: ' , ', numPartitions: 0, heartbeatIntervalMs: 5_000, sessionTimeoutMs: 5_000 });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidArgumentError);
      const message = (error as Error).message;
      expect(message).toContain('bootstrapServers');
      expect(message).toContain('numPartitions');
      expect(message).toContain('heartbeatIntervalMs');
    });
  });

  describe('health', () => {
    it(
      'reports up with each Kafka consumer, its group, its topics and its partitions',
      async () => {
        const topic = uniqueName('kafka-health');
        const group = uniqueName('g');
        const broker = await started({ numPartitions: 3 });
        await broker.subscribe(topic, () => undefined, group);
        await broker.subscribe(topic, () => undefined);
        const report = await broker.health();
        expect(report.status).toBe('up');
        const consumers = await kafkaConsumers(broker);
        expect(consumers).toHaveLength(2);
        const all = { topics: [topic], state: 'up', assignment: { [topic]: [0, 1, 2] } };
        expect(consumers.find((consumer) => consumer.group === group)).toMatchObject(all);
        expect(consumers.find((consumer) => consumer.group === null)).toMatchObject(all);
        expect(report.details['brokers']).toEqual(KAFKA_BROKERS.split(','));
      },
      TEST_TIMEOUT_MS,
    );
  });
});

function createTestAdapterOptions(): KafkaAdapterOptions {
  return {
    bootstrapServers: KAFKA_BROKERS,
    clientId: 'msgport-test',
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 300,
    rebalanceTimeoutMs: 10_000,
    fetchMaxWaitMs: 100,
  };
}
