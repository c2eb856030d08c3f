import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaAdapter } from '@msgport/kafka';
import { now, payload } from '../lib/drive.js';
import { firstKafkaBroker, KAFKA_BROKERS, portOpen } from '../lib/env.js';
import {
  createTopic,
  deleteByPrefix,
  deleteQuietly,
  kafkaAdapterOptions,
  kafkaClient,
  prefill,
  RAW_RUN_COMMIT,
  rawConsumer,
} from '../lib/kafka.js';
import type { Measurement, RunInput, Scenario, ScenarioPlan } from '../lib/types.js';

/**
 * Issue 13 item 3: key-level parallelism within one partition. One partition holds messages of
 * 200 keys; every handler awaits 5 ms of simulated I/O. msgport with `concurrency: 50` runs
 * different keys at once (one key at a time, in offset order); with `concurrency: 1`, and with raw
 * kafkajs `eachMessage`, the partition is one sequential stream.
 */
interface Params {
  readonly impl: 'msgport' | 'each-message';
  readonly concurrency: number;
  /** Messages timed: a sequential variant reads a prefix of the topic (it would take minutes). */
  readonly messages: number;
}

const TIMEOUT_MS = 120_000;
const KEYS = 200;
const IO_MS = 5;

export const kafkaKeyParallelScenario: Scenario = {
  name: 'kafka-key-parallel',
  title: `Kafka key-level parallelism in one partition (${KEYS} keys, ${IO_MS} ms handlers)`,
  runs: { full: 3, quick: 1 },
  async unavailable() {
    return (await portOpen(firstKafkaBroker())) ? null : `no Kafka broker at ${KAFKA_BROKERS} (scripts/kafka.sh start)`;
  },
  async prepare({ quick, prefix, log }): Promise<ScenarioPlan> {
    const parallel = quick ? 5_000 : 20_000;
    const sequential = quick ? 300 : 1_000;
    const topic = `${prefix}-topic`;
    const kafka = kafkaClient('msgport-bench');
    const cleanup = async (): Promise<void> => {
      await deleteByPrefix(kafka, prefix).catch(() => undefined);
    };
    try {
      await createTopic(kafka, topic);
      await prefill(kafka, topic, parallel, payload(), (i) => `key-${i % KEYS}`);
      log(`pre-filled ${topic} with ${parallel} messages over ${KEYS} keys`);
    } catch (error) {
      await cleanup();
      throw error;
    }
    const params = (impl: Params['impl'], concurrency: number, messages: number): Params => ({ impl, concurrency, messages });
    return {
      workload:
        `1 KiB messages of ${KEYS} keys (round robin) pre-filled in a one-partition topic, read from the beginning by a fresh group ` +
        `each run; every handler awaits ${IO_MS} ms (setTimeout); timed from the first message to the last: ${parallel.toLocaleString('en-US')} ` +
        `messages with concurrency 50, the first ${sequential.toLocaleString('en-US')} for the sequential variants`,
      variants: [
        {
          id: 'msgport-50',
          label: 'msgport KafkaAdapter, concurrency 50',
          role: 'msgport',
          where: 'child',
          params: { ...params('msgport', 50, parallel) },
        },
        {
          id: 'msgport-1',
          label: 'msgport KafkaAdapter, concurrency 1',
          role: 'msgport',
          where: 'child',
          params: { ...params('msgport', 1, sequential) },
        },
        {
          id: 'each-message',
          label: 'kafkajs eachMessage',
          role: 'baseline',
          where: 'child',
          params: { ...params('each-message', 1, sequential) },
        },
      ],
      comparisons: [
        {
          id: 'kafka-key-parallel-vs-1',
          label: 'Kafka 1 partition, 5 ms handlers: concurrency 50 / concurrency 1',
          subject: 'msgport-50',
          baseline: 'msgport-1',
          metric: 'rate',
          target: { min: 20, text: '≥ 20×' },
        },
        {
          id: 'kafka-key-parallel-vs-each-message',
          label: 'Kafka 1 partition, 5 ms handlers: msgport concurrency 50 / kafkajs eachMessage',
          subject: 'msgport-50',
          baseline: 'each-message',
          metric: 'rate',
          target: { min: 10, text: '≥ 10×' },
        },
      ],
      context: { prefix, topic },
      cleanup,
    };
  },
  async run({ variant, context, run }: RunInput): Promise<Measurement> {
    const { impl, concurrency, messages } = variant.params as unknown as Params;
    const topic = String(context['topic']);
    const groupId = `${String(context['prefix'])}-${variant.id}-r${run}`;

    let count = 0;
    let first = 0;
    let last = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const timeout = setTimeout(() => done(), TIMEOUT_MS);
    const handle = async (): Promise<void> => {
      if (count === 0) first = now();
      await sleep(IO_MS);
      if (++count === messages) {
        last = now();
        done();
      }
    };
    const kafka = kafkaClient('msgport-bench');
    const opened = now();
    try {
      if (impl === 'msgport') {
        // A short shutdown: the sequential variants stop with most of the topic unread.
        const broker = new KafkaAdapter(kafkaAdapterOptions('msgport-bench', { fromBeginning: true, shutdownTimeoutMs: 2_000 }));
        await broker.start();
        try {
          await broker.subscribe(topic, handle, { group: groupId, concurrency });
          await finished;
        } finally {
          await broker.stop();
        }
      } else {
        const consumer = rawConsumer(kafka, groupId);
        await consumer.connect();
        try {
          await consumer.subscribe({ topic, fromBeginning: true });
          await consumer.run({ ...RAW_RUN_COMMIT, eachMessage: handle });
          await finished;
        } finally {
          await consumer.disconnect();
        }
      }
    } finally {
      clearTimeout(timeout);
      await deleteQuietly(kafka, [], [groupId]);
    }
    if (count < messages) throw new Error(`handled ${count} of ${messages} messages within ${TIMEOUT_MS} ms`);
    const seconds = (last - first) / 1000;
    return { messages, seconds, rate: messages / seconds, extra: { joinSeconds: (first - opened) / 1000 } };
  },
};
