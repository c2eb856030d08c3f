import { msgportPackage, type Build } from '../lib/builds.js';
import type { KafkaMessage } from 'kafkajs';
import { now, payload } from '../lib/drive.js';
import { firstKafkaBroker, KAFKA_BROKERS, portOpen } from '../lib/env.js';
import { kafkaLog4j, kafkaToolsClasspath, runJava } from '../lib/java.js';
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
import type { Measurement, RunInput, Scenario, ScenarioPlan, VariantSpec } from '../lib/types.js';

/**
 * Scenario 3: the adapter's group consumer against raw kafkajs eachMessage and eachBatch (same
 * consumer settings), and Kafka's ConsumerPerformance as the ceiling, each reading the same
 * pre-filled topic from the beginning with a fresh group.
 */
interface Params {
  readonly impl: 'msgport' | 'each-message' | 'each-batch' | 'each-batch-handler' | 'consumer-performance';
  /** Which msgport runs a msgport variant (the untyped scenario runs both). @default 'this' */
  readonly build?: Build;
}

const TIMEOUT_MS = 120_000;

export const kafkaConsumeScenario: Scenario = {
  name: 'kafka-consume',
  title: 'Kafka consume vs raw kafkajs eachMessage / eachBatch and ConsumerPerformance',
  async unavailable() {
    return (await portOpen(firstKafkaBroker())) ? null : `no Kafka broker at ${KAFKA_BROKERS} (scripts/kafka.sh start)`;
  },
  async prepare({ quick, prefix, log }): Promise<ScenarioPlan> {
    const messages = quick ? 20_000 : 300_000;
    const topic = `${prefix}-topic`;
    const kafka = kafkaClient('msgport-bench');
    const cleanup = async (): Promise<void> => {
      await deleteByPrefix(kafka, prefix).catch(() => undefined);
    };
    try {
      await createTopic(kafka, topic);
      const started = now();
      await prefill(kafka, topic, messages, payload());
      log(`pre-filled ${topic} with ${messages} messages in ${((now() - started) / 1000).toFixed(1)} s`);
    } catch (error) {
      await cleanup();
      throw error;
    }
    const variants: VariantSpec[] = [
      {
        id: 'msgport',
        label: 'msgport KafkaAdapter (group, fromBeginning)',
        role: 'msgport',
        where: 'child',
        params: { impl: 'msgport' },
      },
      { id: 'each-message', label: 'kafkajs eachMessage', role: 'baseline', where: 'child', params: { impl: 'each-message' } },
      {
        id: 'each-batch',
        label: 'kafkajs eachBatch (the batch counted in one call)',
        role: 'baseline',
        where: 'child',
        params: { impl: 'each-batch' },
      },
      {
        // The same work as the others: the application's async handler called and awaited per
        // message, offsets resolved by kafkajs when the batch ends (eachBatchAutoResolve).
        id: 'each-batch-handler',
        label: 'kafkajs eachBatch, async handler awaited per message',
        role: 'baseline',
        where: 'child',
        params: { impl: 'each-batch-handler' },
      },
    ];
    // The Java ceiling needs a JVM start (and a download on first use): not in --quick.
    if (!quick)
      variants.push({
        id: 'consumer-perf',
        label: 'ConsumerPerformance (Java, fetch rate)',
        role: 'ceiling',
        where: 'parent',
        params: { impl: 'consumer-performance' },
      });
    return {
      workload: `${messages.toLocaleString('en-US')} messages of 1 KiB pre-filled in a one-partition topic, read from the beginning by a fresh group each run; timed from the first message to the last; handlers only count; consumers configured like the adapter's (fetch wait 500 ms, commit every 5 s)`,
      variants,
      comparisons: [
        {
          id: 'kafka-consume-each-message',
          label: 'Kafka consume: msgport / kafkajs eachMessage',
          subject: 'msgport',
          baseline: 'each-message',
          metric: 'rate',
          target: { min: 0.9, text: '≥ 0.9×' },
        },
        {
          id: 'kafka-consume-each-batch',
          label: 'Kafka consume: msgport / kafkajs eachBatch (batch counted in one call)',
          subject: 'msgport',
          baseline: 'each-batch',
          metric: 'rate',
          // Issue 13 item 2.
          target: { min: 0.9, text: '≥ 0.9×' },
        },
        {
          id: 'kafka-consume-each-batch-handler',
          label: 'Kafka consume: msgport / kafkajs eachBatch, handler per message',
          subject: 'msgport',
          baseline: 'each-batch-handler',
          metric: 'rate',
          // Issue 13 item 2, against a baseline doing the same work (a handler call per message).
          target: { min: 0.9, text: '≥ 0.9×' },
        },
        ...(quick
          ? []
          : [
              {
                id: 'kafka-consume-ceiling',
                label: 'Kafka consume: msgport / ConsumerPerformance',
                subject: 'msgport',
                baseline: 'consumer-perf',
                metric: 'rate' as const,
              },
            ]),
      ],
      context: { prefix, topic, messages },
      cleanup,
    };
  },
  async run({ variant, context, run }: RunInput): Promise<Measurement> {
    const { impl, build } = variant.params as unknown as Params;
    const topic = String(context['topic']);
    const messages = Number(context['messages']);
    const groupId = `${String(context['prefix'])}-${variant.id}-r${run}`;
    if (impl === 'consumer-performance') return consumerPerformance(topic, groupId, messages);

    let count = 0;
    let first = 0;
    let last = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const timeout = setTimeout(() => done(), TIMEOUT_MS);
    const received = (n = 1): void => {
      if (count === 0) first = now();
      count += n;
      if (count >= messages) {
        last = now();
        done();
      }
    };
    const kafka = kafkaClient('msgport-bench');
    const opened = now();
    try {
      if (impl === 'msgport') {
        const { KafkaAdapter } = await msgportPackage('kafka', build);
        const broker = new KafkaAdapter(kafkaAdapterOptions('msgport-bench', { fromBeginning: true }));
        await broker.start();
        try {
          await broker.subscribe(topic, async () => received(), groupId);
          await finished;
        } finally {
          await broker.stop();
        }
      } else {
        const consumer = rawConsumer(kafka, groupId);
        await consumer.connect();
        try {
          await consumer.subscribe({ topic, fromBeginning: true });
          if (impl === 'each-message') {
            await consumer.run({ ...RAW_RUN_COMMIT, eachMessage: async () => received() });
          } else if (impl === 'each-batch') {
            await consumer.run({ ...RAW_RUN_COMMIT, eachBatch: async ({ batch }) => received(batch.messages.length) });
          } else {
            const handler = async (_message: KafkaMessage): Promise<void> => received();
            await consumer.run({
              ...RAW_RUN_COMMIT,
              eachBatch: async ({ batch }) => {
                for (const message of batch.messages) await handler(message);
              },
            });
          }
          await finished;
        } finally {
          await consumer.disconnect();
        }
      }
    } finally {
      clearTimeout(timeout);
      await deleteQuietly(kafka, [], [groupId]);
    }
    if (count < messages) throw new Error(`received ${count} of ${messages} messages within ${TIMEOUT_MS} ms`);
    const seconds = (last - first) / 1000;
    return { messages, seconds, rate: messages / seconds, extra: { joinSeconds: (first - opened) / 1000 } };
  },
};

async function consumerPerformance(topic: string, groupId: string, messages: number): Promise<Measurement> {
  const classpath = await kafkaToolsClasspath();
  const { output, maxRssKiB } = await runJava([
    '-cp',
    classpath,
    kafkaLog4j(),
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    KAFKA_BROKERS,
    '--topic',
    topic,
    '--messages',
    String(messages),
    '--group',
    groupId,
    '--timeout',
    '60000',
  ]);
  // Header "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
  // rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec", then one data line.
  const lines = output.split('\n');
  const header = lines.findIndex((l) => l.startsWith('start.time'));
  const fields = (lines[header + 1] ?? '').split(',').map((f) => f.trim());
  const consumed = Number(fields[4]);
  const fetchMs = Number(fields[7]);
  const rate = Number(fields[9]);
  await deleteQuietly(kafkaClient('msgport-bench'), [], [groupId]);
  if (header < 0 || !(rate > 0)) throw new Error(`cannot read ConsumerPerformance output: ${output.slice(-300)}`);
  return { messages: consumed, seconds: fetchMs / 1000, rate, ...(maxRssKiB === undefined ? {} : { maxRssKiB }) };
}
