import { KafkaAdapter } from '@msgport/kafka';
import { now, until } from '../lib/drive.js';
import { firstKafkaBroker, KAFKA_BROKERS, portOpen } from '../lib/env.js';
import { createTopic, deleteByPrefix, deleteQuietly, kafkaAdapterOptions, kafkaClient } from '../lib/kafka.js';
import type { Comparison, Measurement, RunInput, Scenario, ScenarioPlan, VariantSpec } from '../lib/types.js';

/**
 * Scenario: start-up cost of one group listening to N topics (issue 17). Each run, a fresh group
 * subscribes (before `start()`, as listeners do) to N existing one-partition topics; timed from
 * `start()` to one message of every topic handled: joining, then publishing and delivering. The
 * `rate` of a variant is 1 / that time, so `rate(N) / rate(1)` is `time(1) / time(N)`: the target
 * "N topics start in no more than 2× the time of one" is a ratio ≥ 0.5.
 */
interface Params {
  readonly topics: number;
}

const COUNTS = [1, 10, 30, 50] as const;

export const kafkaGroupTopicsScenario: Scenario = {
  name: 'kafka-group-topics',
  title: 'Kafka: start() and first delivery of one group listening to 1 to 50 topics',
  runs: { full: 5, quick: 2 },
  async unavailable() {
    return (await portOpen(firstKafkaBroker())) ? null : `no Kafka broker at ${KAFKA_BROKERS} (scripts/kafka.sh start)`;
  },
  async prepare({ prefix }): Promise<ScenarioPlan> {
    const topics = Array.from({ length: Math.max(...COUNTS) }, (_, i) => `${prefix}-t${i}`);
    const kafka = kafkaClient('msgport-bench');
    const cleanup = async (): Promise<void> => {
      await deleteByPrefix(kafka, prefix).catch(() => undefined);
    };
    try {
      await createTopic(kafka, topics);
    } catch (error) {
      await cleanup();
      throw error;
    }
    const variants: VariantSpec[] = COUNTS.map((n) => ({
      id: `topics-${n}`,
      label: `msgport, one group on ${n} topic(s)`,
      role: n === 1 ? 'baseline' : 'msgport',
      where: 'child',
      figure: 'duration',
      params: { topics: n },
    }));
    const comparisons: Comparison[] = COUNTS.filter((n) => n > 1).map((n) => ({
      id: `kafka-group-topics-${n}`,
      label: `Kafka start + first delivery: ${n} topics / 1 topic (time ratio inverted)`,
      subject: `topics-${n}`,
      baseline: 'topics-1',
      metric: 'rate',
      ...(n === 30 ? { target: { min: 0.5, text: '≥ 0.5 (30 topics in ≤ 2× the time of 1)' } } : {}),
    }));
    return {
      workload: `one fresh group subscribed before start() to N existing one-partition topics (N = ${COUNTS.join(', ')}); timed from start() until one message published to each topic after start() was handled; rate = 1 / time`,
      variants,
      comparisons,
      context: { prefix, topics },
      cleanup,
    };
  },
  async run({ variant, context, run }: RunInput): Promise<Measurement> {
    const { topics: n } = variant.params as unknown as Params;
    const topics = (context['topics'] as string[]).slice(0, n);
    const groupId = `${String(context['prefix'])}-${variant.id}-r${run}`;
    const broker = new KafkaAdapter(kafkaAdapterOptions('msgport-bench'));
    const seen = new Set<string>();
    for (const topic of topics) await broker.subscribe(topic, async (message) => void seen.add(message.topic), groupId);
    const began = now();
    let started: number;
    try {
      await broker.start();
      started = now();
      await Promise.all(topics.map((topic) => broker.publish(topic, 'hello')));
      await until(() => seen.size === n, `one message of each of ${n} topics`, 120_000);
    } finally {
      await broker.stop();
      await deleteQuietly(kafkaClient('msgport-bench'), [], [groupId]);
    }
    const seconds = (now() - began) / 1000;
    return {
      messages: 1,
      seconds,
      rate: 1 / seconds,
      extra: { startSeconds: (started - began) / 1000, deliverSeconds: seconds - (started - began) / 1000 },
    };
  },
};
