import { randomUUID } from 'node:crypto';
import { msgportPackage, type Build } from '../lib/builds.js';
import { drive, now, payload, WARMUP_TEXT, warmupMessages, type Mode } from '../lib/drive.js';
import { firstKafkaBroker, KAFKA_BROKERS, portOpen } from '../lib/env.js';
import { kafkaLog4j, kafkaToolsClasspath, runJava } from '../lib/java.js';
import { createTopic, deleteByPrefix, kafkaAdapterOptions, kafkaClient, rawProducer } from '../lib/kafka.js';
import type { Measurement, RunInput, Scenario, ScenarioPlan, VariantSpec } from '../lib/types.js';

/**
 * Scenario 2: KafkaAdapter.publish() (acks -1, idempotent producer) against raw kafkajs
 * producer.send with the same producer settings, and Kafka's ProducerPerformance as the ceiling.
 */
interface Params {
  readonly impl: 'msgport' | 'raw' | 'raw-batch' | 'raw-batch-id' | 'producer-performance';
  readonly mode: Mode;
  /** At most this many messages … */
  readonly messages: number;
  /** … and no new publish after this many seconds (so slow modes do not take minutes). */
  readonly seconds: number;
  /** ProducerPerformance: extra producer properties. */
  readonly props?: readonly string[];
  /** Which msgport runs a msgport variant (the untyped scenario runs both). @default 'this' */
  readonly build?: Build;
}

const WINDOW = 1_000;
/** Records per call of the raw baseline with message-id headers (see its variant). */
const ID_BATCH = 900;

export const kafkaPublishScenario: Scenario = {
  name: 'kafka-publish',
  title: 'Kafka publish (acks -1, idempotent) vs raw kafkajs and ProducerPerformance',
  async unavailable() {
    return (await portOpen(firstKafkaBroker())) ? null : `no Kafka broker at ${KAFKA_BROKERS} (scripts/kafka.sh start)`;
  },
  async prepare({ quick, prefix, runs }): Promise<ScenarioPlan> {
    const sequential = 100_000;
    const concurrent = 300_000;
    const seconds = quick ? 0.75 : 3;
    const ceiling = 30_000;
    const batchedProps = ['linger.ms=5', 'batch.size=1048576'];
    const seq: Mode = { kind: 'sequential' };
    const window: Mode = { kind: 'window', size: WINDOW };
    const batches: Mode = { kind: 'batches', size: WINDOW };
    const variants: VariantSpec[] = [
      {
        id: 'msgport-seq',
        label: 'msgport KafkaAdapter, sequential awaited',
        role: 'msgport',
        where: 'child',
        params: { impl: 'msgport', mode: seq, messages: sequential, seconds },
      },
      {
        id: 'raw-seq',
        label: 'kafkajs send (1 msg/call), sequential awaited',
        role: 'baseline',
        where: 'child',
        params: { impl: 'raw', mode: seq, messages: sequential, seconds },
      },
      {
        id: 'msgport-conc',
        label: `msgport KafkaAdapter, ${WINDOW} in flight`,
        role: 'msgport',
        where: 'child',
        params: { impl: 'msgport', mode: window, messages: concurrent, seconds },
      },
      {
        id: 'raw-conc',
        label: `kafkajs send (1 msg/call), ${WINDOW} in flight`,
        role: 'baseline',
        where: 'child',
        params: { impl: 'raw', mode: window, messages: concurrent, seconds },
      },
      {
        id: 'raw-batch',
        label: `kafkajs send (${WINDOW} msgs/call), sequential`,
        role: 'baseline',
        where: 'child',
        params: { impl: 'raw-batch', mode: batches, messages: concurrent, seconds },
      },
      {
        // The same records as the adapter sends: since issue 12 every message carries a
        // msgport-message-id header (a UUID), which kafkajs encodes per record. 1,000 such records
        // make a record batch over the broker's default 1 MiB limit (message.max.bytes), which
        // kafkajs does not split: 900 per call, as the adapter's maxBatchBytes splits them too.
        id: 'raw-batch-id',
        label: `kafkajs send (${ID_BATCH} msgs/call), sequential, each with a message-id header`,
        role: 'baseline',
        where: 'child',
        params: { impl: 'raw-batch-id', mode: { kind: 'batches', size: ID_BATCH }, messages: concurrent, seconds },
      },
    ];
    // The Java ceilings need a JVM start each (and a download on first use): not in --quick.
    if (!quick)
      variants.push(
        {
          id: 'producer-perf',
          label: 'ProducerPerformance (Java, acks=all, idempotent, defaults)',
          role: 'ceiling',
          where: 'parent',
          params: { impl: 'producer-performance', mode: seq, messages: ceiling, seconds: 0, props: [] },
        },
        {
          id: 'producer-perf-batched',
          label: 'ProducerPerformance (same + linger.ms=5, batch.size=1 MiB)',
          role: 'ceiling',
          where: 'parent',
          params: { impl: 'producer-performance', mode: seq, messages: ceiling, seconds: 0, props: batchedProps },
        },
      );
    // A fresh topic per variant and run, all created up front (not timed, and not in the children).
    const kafka = kafkaClient('msgport-bench');
    await createTopic(
      kafka,
      variants.flatMap((v) => Array.from({ length: runs }, (_, run) => topicName(prefix, v.id, run))),
    );
    return {
      workload: `1 KiB values, no key, a fresh one-partition topic per run; each Node variant publishes for ${seconds} s (at most ${concurrent.toLocaleString('en-US')} messages) ${WARMUP_TEXT}${quick ? '' : `, ProducerPerformance sends ${ceiling.toLocaleString('en-US')}`}; Node producers idempotent, acks -1, maxInFlightRequests 1 (the adapter's settings)`,
      variants,
      comparisons: [
        {
          id: 'kafka-publish-seq',
          label: 'Kafka publish sequential: msgport / kafkajs',
          subject: 'msgport-seq',
          baseline: 'raw-seq',
          metric: 'rate',
          target: { min: 0.9, text: '≥ 0.9×' },
        },
        {
          id: 'kafka-publish-conc',
          label: `Kafka publish ${WINDOW} in flight: msgport / kafkajs 1 msg/call`,
          subject: 'msgport-conc',
          baseline: 'raw-conc',
          metric: 'rate',
          target: { min: 0.9, text: '≥ 0.9×' },
        },
        {
          id: 'kafka-publish-conc-batch',
          label: `Kafka publish ${WINDOW} in flight: msgport / kafkajs batched`,
          subject: 'msgport-conc',
          baseline: 'raw-batch',
          metric: 'rate',
          target: { min: 0.95, text: '≥ 0.95×' },
        },
        {
          id: 'kafka-publish-conc-batch-id',
          label: `Kafka publish ${WINDOW} in flight: msgport / kafkajs batched, same records (message-id header)`,
          subject: 'msgport-conc',
          baseline: 'raw-batch-id',
          metric: 'rate',
          target: { min: 0.95, text: '≥ 0.95×' },
        },
        {
          id: 'kafka-publish-id-header-cost',
          label: 'Kafka publish: kafkajs batched with a message-id header / without',
          subject: 'raw-batch-id',
          baseline: 'raw-batch',
          metric: 'rate',
        },
        {
          id: 'kafka-publish-conc-vs-seq',
          label: 'Kafka publish: msgport concurrent / msgport sequential',
          subject: 'msgport-conc',
          baseline: 'msgport-seq',
          metric: 'rate',
          target: { min: 10, text: '≥ 10×' },
        },
        ...(quick
          ? []
          : [
              {
                id: 'kafka-publish-ceiling',
                label: 'Kafka publish: msgport concurrent / ProducerPerformance defaults',
                subject: 'msgport-conc',
                baseline: 'producer-perf',
                metric: 'rate' as const,
              },
              {
                id: 'kafka-publish-ceiling-batched',
                label: 'Kafka publish: msgport concurrent / ProducerPerformance batched',
                subject: 'msgport-conc',
                baseline: 'producer-perf-batched',
                metric: 'rate' as const,
              },
              {
                id: 'kafka-publish-raw-ceiling',
                label: 'Kafka publish: kafkajs batched / ProducerPerformance batched',
                subject: 'raw-batch',
                baseline: 'producer-perf-batched',
                metric: 'rate' as const,
              },
            ]),
      ],
      context: { prefix },
      cleanup: async () => {
        await deleteByPrefix(kafka, prefix).catch(() => undefined);
      },
    };
  },
  async run({ variant, context, run }: RunInput): Promise<Measurement> {
    const { impl, mode, messages, seconds, props, build } = variant.params as unknown as Params;
    const topic = topicName(String(context['prefix']), variant.id, run);
    if (impl === 'producer-performance') return producerPerformance(topic, messages, props ?? []);
    const value = payload();
    const warmup = warmupMessages(mode);
    if (impl === 'msgport') {
      const { KafkaAdapter } = await msgportPackage('kafka', build);
      const broker = new KafkaAdapter(kafkaAdapterOptions('msgport-bench'));
      await broker.start();
      try {
        const publish = (): Promise<void> => broker.publish(topic, value);
        await drive(warmup, mode, publish);
        const before = producerStats(await broker.health());
        const start = now();
        const sent = await drive(messages, mode, publish, start + seconds * 1000);
        const result = measured(sent, start);
        const after = producerStats(await broker.health());
        const requests = after.produceRequests - before.produceRequests;
        return {
          ...result,
          extra: {
            produceRequests: requests,
            messagesPerRequest: requests > 0 ? (after.messagesSent - before.messagesSent) / requests : 0,
          },
        };
      } finally {
        await broker.stop();
      }
    }
    const producer = rawProducer(kafkaClient('msgport-bench'));
    await producer.connect();
    try {
      if (impl === 'raw') {
        const send = () => producer.send({ topic, acks: -1, messages: [{ value }] });
        await drive(warmup, mode, send);
        const start = now();
        return measured(await drive(messages, mode, send, start + seconds * 1000), start);
      }
      const batch = mode.kind === 'sequential' ? 1 : mode.size;
      // A fresh array of fresh records per call, as an application sending new data builds them
      // (the adapter gets a new message per publish too).
      const record: () => { value: Buffer; headers?: Record<string, string> } =
        impl === 'raw-batch-id' ? () => ({ value, headers: { 'msgport-message-id': randomUUID() } }) : () => ({ value });
      const records = (n: number): ReturnType<typeof record>[] => Array.from({ length: n }, record);
      for (let warm = 0; warm < warmup; warm += batch) await producer.send({ topic, acks: -1, messages: records(batch) });
      const start = now();
      const deadline = start + seconds * 1000;
      let sent = 0;
      while (sent < messages && now() < deadline) {
        const n = Math.min(batch, messages - sent);
        await producer.send({ topic, acks: -1, messages: records(n) });
        sent += n;
      }
      return measured(sent, start);
    } finally {
      await producer.disconnect();
    }
  },
};

const topicName = (prefix: string, variant: string, run: number): string => `${prefix}-${variant}-r${run}`;

function measured(messages: number, start: number, extra?: Record<string, number>): Measurement {
  const seconds = (now() - start) / 1000;
  return { messages, seconds, rate: messages / seconds, ...(extra === undefined ? {} : { extra }) };
}

/** The adapter's producer counters from health(). */
function producerStats(report: { details: Readonly<Record<string, unknown>> }): {
  produceRequests: number;
  messagesSent: number;
} {
  const producer = report.details['producer'] as { produceRequests?: number; messagesSent?: number } | undefined;
  return { produceRequests: producer?.produceRequests ?? 0, messagesSent: producer?.messagesSent ?? 0 };
}

async function producerPerformance(topic: string, messages: number, props: readonly string[]): Promise<Measurement> {
  const classpath = await kafkaToolsClasspath();
  const { output, maxRssKiB } = await runJava([
    '-cp',
    classpath,
    kafkaLog4j(),
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(messages),
    '--record-size',
    '1024',
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${KAFKA_BROKERS}`,
    'acks=all',
    'enable.idempotence=true',
    ...props,
  ]);
  // Last summary line: "N records sent, R records/sec (M MB/sec), …"
  const match = [...output.matchAll(/(\d+) records sent, ([\d.]+) records\/sec/g)].at(-1);
  if (match === undefined) throw new Error(`cannot read ProducerPerformance output: ${output.slice(-300)}`);
  const rate = Number(match[2]);
  return {
    messages: Number(match[1]),
    seconds: Number(match[1]) / rate,
    rate,
    ...(maxRssKiB === undefined ? {} : { maxRssKiB }),
  };
}
