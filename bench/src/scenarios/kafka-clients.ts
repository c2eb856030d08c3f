import { Consumer, MessagesStreamModes, Producer } from '@platformatic/kafka';
import { now, payload } from '../lib/drive.js';
import { firstKafkaBroker, KAFKA_BROKERS, portOpen } from '../lib/env.js';
import {
  createTopic,
  deleteByPrefix,
  deleteQuietly,
  kafkaClient,
  prefill,
  RAW_RUN_COMMIT,
  rawConsumer,
  rawProducer,
} from '../lib/kafka.js';
import type { Measurement, RunInput, Scenario, ScenarioPlan, VariantSpec } from '../lib/types.js';

/**
 * Scenario (issue 13, item 6): the second Kafka client, measured. Raw `@platformatic/kafka`
 * (maintained; kafkajs has had no release since 2023) against raw kafkajs, both on Node 24 (the
 * newer client needs Node ≥ 22.22), same broker, same run: publish (1,000 records per send call,
 * `acks: -1`, one call at a time) and consume (a fresh group reading a pre-filled topic from the
 * beginning; the handler only counts). No adapter is built on it: this says what one would gain.
 */
interface Params {
  readonly client: 'kafkajs' | 'platformatic';
  readonly op: 'publish' | 'consume';
  /** @platformatic/kafka consume: its own fetch sizes (up to 50 MiB per fetch) or kafkajs' (1 MiB per partition, 10 MiB per fetch). */
  readonly fetch?: 'default' | 'kafkajs';
}

const BATCH = 1_000;
const TIMEOUT_MS = 120_000;

export const kafkaClientsScenario: Scenario = {
  name: 'kafka-clients',
  title: 'Kafka clients on Node 24: raw @platformatic/kafka vs raw kafkajs, publish and consume',
  runs: { full: 5, quick: 2 },
  async unavailable() {
    return (await portOpen(firstKafkaBroker())) ? null : `no Kafka broker at ${KAFKA_BROKERS} (scripts/kafka.sh start)`;
  },
  async prepare({ quick, prefix, log }): Promise<ScenarioPlan> {
    const publishCount = quick ? 20_000 : 100_000;
    const consumeCount = quick ? 20_000 : 200_000;
    const publishTopic = `${prefix}-publish`;
    const consumeTopic = `${prefix}-consume`;
    const kafka = kafkaClient('msgport-bench');
    const cleanup = async (): Promise<void> => {
      await deleteByPrefix(kafka, prefix).catch(() => undefined);
    };
    try {
      await createTopic(kafka, [publishTopic, consumeTopic]);
      const started = now();
      await prefill(kafka, consumeTopic, consumeCount, payload());
      log(`pre-filled ${consumeTopic} with ${consumeCount} messages in ${((now() - started) / 1000).toFixed(1)} s`);
    } catch (error) {
      await cleanup();
      throw error;
    }
    const variant = (client: Params['client'], op: Params['op'], label: string, fetch?: Params['fetch']): VariantSpec => ({
      id: `${client}-${op}${fetch === 'kafkajs' ? '-kafkajs-fetch' : ''}`,
      label,
      role: client === 'kafkajs' ? 'baseline' : 'msgport',
      where: 'child',
      node: '24',
      params: { client, op, ...(fetch === undefined ? {} : { fetch }) },
    });
    return {
      workload:
        `Node 24 (tools/node24), 1 KiB values, one-partition topics. Publish: ${publishCount.toLocaleString('en-US')} records, ` +
        `${BATCH.toLocaleString('en-US')} per send call, acks -1, one call at a time. Consume: ${consumeCount.toLocaleString('en-US')} pre-filled ` +
        'records read from the beginning by a fresh group, timed from the first record to the last, the handler only counts ' +
        '(kafkajs eachBatch; @platformatic/kafka stream, data events; its default fetch takes up to 50 MiB, ' +
        "kafkajs 1 MiB per partition: a second @platformatic/kafka variant uses kafkajs' sizes)",
      variants: [
        variant('kafkajs', 'publish', 'kafkajs 2.2.4 producer.send'),
        variant('platformatic', 'publish', '@platformatic/kafka 2.12.1 producer.send'),
        variant('kafkajs', 'consume', 'kafkajs 2.2.4 eachBatch'),
        variant('platformatic', 'consume', '@platformatic/kafka 2.12.1 consume() stream'),
        variant('platformatic', 'consume', '@platformatic/kafka, kafkajs fetch sizes', 'kafkajs'),
      ],
      comparisons: [
        {
          id: 'kafka-clients-publish',
          label: 'Kafka publish: @platformatic/kafka / kafkajs (Node 24)',
          subject: 'platformatic-publish',
          baseline: 'kafkajs-publish',
          metric: 'rate',
        },
        {
          id: 'kafka-clients-consume',
          label: 'Kafka consume: @platformatic/kafka / kafkajs (Node 24)',
          subject: 'platformatic-consume',
          baseline: 'kafkajs-consume',
          metric: 'rate',
        },
        {
          id: 'kafka-clients-consume-same-fetch',
          label: 'Kafka consume, same fetch sizes: @platformatic/kafka / kafkajs (Node 24)',
          subject: 'platformatic-consume-kafkajs-fetch',
          baseline: 'kafkajs-consume',
          metric: 'rate',
        },
      ],
      context: { prefix, publishTopic, consumeTopic, publishCount, consumeCount },
      cleanup,
    };
  },
  async run({ variant, context, run }: RunInput): Promise<Measurement> {
    const { client, op, fetch } = variant.params as unknown as Params;
    if (op === 'publish') {
      const topic = String(context['publishTopic']);
      const count = Number(context['publishCount']);
      return client === 'kafkajs' ? publishKafkajs(topic, count) : publishPlatformatic(topic, count);
    }
    const topic = String(context['consumeTopic']);
    const count = Number(context['consumeCount']);
    const groupId = `${String(context['prefix'])}-${variant.id}-r${run}`;
    try {
      return client === 'kafkajs'
        ? await consumeKafkajs(topic, count, groupId)
        : await consumePlatformatic(topic, count, groupId, fetch === 'kafkajs');
    } finally {
      await deleteQuietly(kafkaClient('msgport-bench'), [], [groupId]);
    }
  },
};

async function publishKafkajs(topic: string, count: number): Promise<Measurement> {
  const producer = rawProducer(kafkaClient('msgport-bench'));
  await producer.connect();
  const value = payload();
  const records = Array.from({ length: BATCH }, () => ({ value }));
  try {
    await producer.send({ topic, acks: -1, messages: records }); // warm-up: metadata, connections
    const started = now();
    for (let sent = 0; sent < count; sent += BATCH) await producer.send({ topic, acks: -1, messages: records });
    const seconds = (now() - started) / 1000;
    return { messages: count, seconds, rate: count / seconds };
  } finally {
    await producer.disconnect();
  }
}

async function publishPlatformatic(topic: string, count: number): Promise<Measurement> {
  const producer = new Producer({
    clientId: 'msgport-bench',
    bootstrapBrokers: KAFKA_BROKERS.split(','),
    acks: -1,
    autocreateTopics: false,
  });
  const value = payload();
  const records = Array.from({ length: BATCH }, () => ({ topic, value }));
  try {
    await producer.send({ messages: records }); // warm-up: metadata, connections
    const started = now();
    for (let sent = 0; sent < count; sent += BATCH) await producer.send({ messages: records });
    const seconds = (now() - started) / 1000;
    return { messages: count, seconds, rate: count / seconds };
  } finally {
    await producer.close();
  }
}

/** Counts arrivals; resolves once `count` arrived (or after TIMEOUT_MS). */
function counter(count: number) {
  let received = 0;
  let first = 0;
  let last = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const timeout = setTimeout(() => done(), TIMEOUT_MS);
  return {
    add(n: number): void {
      if (received === 0) first = now();
      received += n;
      if (received >= count) {
        last = now();
        done();
      }
    },
    async result(): Promise<Measurement> {
      await finished;
      clearTimeout(timeout);
      if (received < count) throw new Error(`received ${received} of ${count} messages within ${TIMEOUT_MS} ms`);
      const seconds = (last - first) / 1000;
      return { messages: count, seconds, rate: count / seconds };
    },
  };
}

async function consumeKafkajs(topic: string, count: number, groupId: string): Promise<Measurement> {
  const consumer = rawConsumer(kafkaClient('msgport-bench'), groupId);
  const arrivals = counter(count);
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ ...RAW_RUN_COMMIT, eachBatch: async ({ batch }) => arrivals.add(batch.messages.length) });
    return await arrivals.result();
  } finally {
    await consumer.disconnect();
  }
}

async function consumePlatformatic(topic: string, count: number, groupId: string, kafkajsFetch: boolean): Promise<Measurement> {
  // Settings like kafkajs' above: 30 s session, 3 s heartbeat, fetch wait 500 ms, commit every 5 s.
  const consumer = new Consumer({
    clientId: 'msgport-bench',
    groupId,
    bootstrapBrokers: KAFKA_BROKERS.split(','),
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTime: 500,
    ...(kafkajsFetch ? { maxBytes: 10 * 1_048_576, maxBytesPerPartition: 1_048_576 } : {}),
  });
  const arrivals = counter(count);
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: 5_000 });
    stream.on('data', () => arrivals.add(1));
    try {
      return await arrivals.result();
    } finally {
      await stream.close();
    }
  } finally {
    await consumer.close();
  }
}
