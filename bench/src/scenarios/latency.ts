import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaAdapter } from '@msgport/kafka';
import { RabbitMQAdapter } from '@msgport/rabbitmq';
import {
  amqpConnect,
  deleteRabbitRuns,
  deleteTopology,
  DrainGate,
  PREFETCH,
  publishConfirmed,
  rabbitAdapterOptions,
  rabbitNames,
} from '../lib/amqp.js';
import { now, until } from '../lib/drive.js';
import { firstKafkaBroker, portOpen, RABBITMQ_URL } from '../lib/env.js';
import {
  createTopic,
  deleteQuietly,
  kafkaAdapterOptions,
  kafkaClient,
  deleteByPrefix,
  RAW_RUN_COMMIT,
  rawConsumer,
  rawProducer,
} from '../lib/kafka.js';
import { percentile } from '../lib/stats.js';
import type { Comparison, Measurement, RunInput, Scenario, ScenarioPlan, VariantSpec } from '../lib/types.js';

/**
 * Scenario 6: end-to-end latency, publish() call → handler, at a fixed moderate rate, on each
 * broker, msgport against the raw clients (same process publishes and consumes).
 */
interface Params {
  readonly broker: 'kafka' | 'rabbitmq';
  readonly impl: 'msgport' | 'raw';
  readonly rate: number;
  readonly seconds: number;
}

/** A publisher and a consumer on one topic; `handle` receives every value. */
interface Pipe {
  publish(value: Buffer): Promise<void>;
  close(): Promise<void>;
}

const PROBE = 1;
const MEASURED = 2;

export const latencyScenario: Scenario = {
  name: 'latency',
  title: 'End-to-end latency (publish → handler) at a fixed rate',
  runs: { full: 3, quick: 2 },
  async unavailable(variant) {
    const kafka = await portOpen(firstKafkaBroker());
    const rabbit = await portOpen(RABBITMQ_URL);
    if (variant !== undefined) {
      const up = (variant.params as unknown as Params).broker === 'kafka' ? kafka : rabbit;
      return up ? null : `${(variant.params as unknown as Params).broker} is not reachable`;
    }
    return kafka || rabbit ? null : 'neither Kafka nor RabbitMQ is reachable';
  },
  async prepare({ quick, prefix, runs, log }): Promise<ScenarioPlan> {
    const rate = 100;
    const seconds = quick ? 1.5 : 5;
    const variants: VariantSpec[] = [];
    const comparisons: Comparison[] = [];
    const brokers: Array<[Params['broker'], string, string]> = [];
    // A broker that is down may be restarting (other suites do that): give it a minute.
    if (await reachable(firstKafkaBroker(), log))
      brokers.push(['kafka', 'KafkaAdapter', 'kafkajs (send per message + eachMessage)']);
    if (await reachable(RABBITMQ_URL, log))
      brokers.push(['rabbitmq', 'RabbitMQAdapter', 'amqplib (ConfirmChannel + consume, quorum queue)']);
    for (const [broker, adapter, raw] of brokers) {
      variants.push(
        {
          id: `${broker}-msgport`,
          label: `msgport ${adapter}`,
          role: 'msgport',
          where: 'child',
          params: { broker, impl: 'msgport', rate, seconds },
        },
        { id: `${broker}-raw`, label: raw, role: 'baseline', where: 'child', params: { broker, impl: 'raw', rate, seconds } },
      );
      for (const metric of ['p50Ms', 'p99Ms'] as const) {
        comparisons.push({
          id: `latency-${broker}-${metric}`,
          label: `${broker} latency: msgport / raw`,
          subject: `${broker}-msgport`,
          baseline: `${broker}-raw`,
          metric,
        });
      }
    }
    const kafka = kafkaClient('msgport-bench');
    const kafkaVariants = variants.filter((v) => v.id.startsWith('kafka'));
    if (kafkaVariants.length > 0)
      await createTopic(
        kafka,
        kafkaVariants.flatMap((v) => Array.from({ length: runs }, (_, run) => `${prefix}-${v.id}-r${run}`)),
      );
    return {
      workload: `${rate} msg/s of 1 KiB for ${seconds} s (${(rate * seconds).toLocaleString('en-US')} messages) per run, published without awaiting (open loop) and consumed in the same process by a group subscription; latency = handler entry − publish() call`,
      variants,
      comparisons,
      context: { prefix },
      cleanup: async () => {
        if (kafkaVariants.length > 0) await deleteByPrefix(kafka, prefix).catch(() => undefined);
        const rabbitVariants = variants.filter((v) => v.id.startsWith('rabbitmq')).map((v) => v.id);
        if (rabbitVariants.length > 0) await deleteRabbitRuns(prefix, rabbitVariants, runs);
      },
    };
  },
  async run({ variant, context, run }: RunInput): Promise<Measurement> {
    const params = variant.params as unknown as Params;
    const name = `${String(context['prefix'])}-${variant.id}-r${run}`;
    const total = Math.round(params.rate * params.seconds);
    const latencies = new Float64Array(total);
    let measured = 0;
    let probes = 0;
    const handle = (value: Buffer): void => {
      if (value[0] === PROBE) {
        probes++;
        return;
      }
      if (measured < total) latencies[measured++] = now() - value.readDoubleLE(8);
    };
    const pipe =
      params.broker === 'kafka' ? await kafkaPipe(params.impl, name, handle) : await rabbitPipe(params.impl, name, handle);
    let failures = 0;
    try {
      // Warm up until the consumer is really receiving (group joined, first fetch done).
      const warmDeadline = now() + 60_000;
      while (probes === 0) {
        if (now() > warmDeadline) throw new Error('no probe message arrived within 60 s');
        void pipe.publish(message(PROBE)).catch(() => undefined);
        await sleep(100);
      }
      for (let i = 0; i < 50; i++) {
        void pipe.publish(message(PROBE)).catch(() => undefined);
        await sleep(1000 / params.rate);
      }

      const interval = 1000 / params.rate;
      const start = now();
      for (let i = 0; i < total; i++) {
        const wait = start + i * interval - now();
        if (wait >= 1) await sleep(wait);
        pipe.publish(message(MEASURED)).catch(() => void failures++);
      }
      const seconds = (now() - start) / 1000;
      await until(() => measured >= total || failures > 0, `${total} messages to arrive`, 60_000);
      if (failures > 0) throw new Error(`${failures} publish(es) failed`);
      const sorted = latencies.sort();
      return {
        messages: total,
        seconds,
        rate: total / seconds,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted[sorted.length - 1]!,
      };
    } finally {
      await pipe.close();
    }
  },
};

async function reachable(address: string, log: (line: string) => void, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  if (await portOpen(address)) return true;
  log(`waiting up to ${timeoutMs / 1000} s for ${address.replace(/\/\/[^@]*@/, '//')}`);
  while (Date.now() < deadline) {
    await sleep(2_000);
    if (await portOpen(address)) return true;
  }
  return false;
}

function message(kind: number): Buffer {
  const value = Buffer.alloc(1024, 0x61);
  value[0] = kind;
  value.writeDoubleLE(now(), 8);
  return value;
}

async function kafkaPipe(impl: Params['impl'], name: string, handle: (value: Buffer) => void): Promise<Pipe> {
  const kafka = kafkaClient('msgport-bench');
  const group = `${name}-g`;
  const cleanup = (): Promise<void> => deleteQuietly(kafka, [], [group]);
  if (impl === 'msgport') {
    const broker = new KafkaAdapter(kafkaAdapterOptions('msgport-bench'));
    await broker.start();
    await broker.subscribe(name, async (message) => handle(message.value), group);
    return {
      publish: (value) => broker.publish(name, value),
      close: async () => {
        await broker.stop();
        await cleanup();
      },
    };
  }
  const producer = rawProducer(kafka);
  const consumer = rawConsumer(kafka, group);
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic: name, fromBeginning: false });
  await consumer.run({ ...RAW_RUN_COMMIT, eachMessage: async ({ message }) => handle(message.value!) });
  return {
    publish: async (value) => {
      await producer.send({ topic: name, acks: -1, messages: [{ value }] });
    },
    close: async () => {
      await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
      await cleanup();
    },
  };
}

async function rabbitPipe(impl: Params['impl'], name: string, handle: (value: Buffer) => void): Promise<Pipe> {
  const topic = `${name}-t`;
  if (impl === 'msgport') {
    const broker = new RabbitMQAdapter(rabbitAdapterOptions(name));
    await broker.start();
    await broker.subscribe(topic, async (message) => handle(message.value), 'g');
    return {
      publish: (value) => broker.publish(topic, value),
      close: async () => {
        await broker.stop();
        await deleteTopology(rabbitNames(name).queues, rabbitNames(name).exchanges);
      },
    };
  }
  const queue = `${topic}.raw`;
  const connection = await amqpConnect();
  const setup = await connection.createChannel();
  await setup.assertExchange(name, 'direct', { durable: true });
  // A quorum queue, like the group queues the adapter declares by default (queueType 'quorum').
  await setup.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await setup.bindQueue(queue, name, topic);
  const consumer = await connection.createChannel();
  await consumer.prefetch(PREFETCH);
  await consumer.consume(queue, (delivery) => {
    if (delivery === null) return;
    handle(delivery.content);
    consumer.ack(delivery);
  });
  const publisher = await connection.createConfirmChannel();
  const gate = new DrainGate();
  return {
    publish: (value) => publishConfirmed(publisher, gate, name, topic, value),
    close: async () => {
      await connection.close().catch(() => undefined);
      await deleteTopology(rabbitNames(name).queues, rabbitNames(name).exchanges);
    },
  };
}
