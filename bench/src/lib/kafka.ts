import kafkajs, { type Consumer, type ConsumerConfig, type Kafka as KafkaClient, type Producer } from 'kafkajs';
import { KAFKA_BROKERS } from './env.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

/** A kafkajs client for the bench's own (raw) work: baselines, topic setup, pre-filling. */
export function kafkaClient(clientId: string): KafkaClient {
  return new Kafka({
    brokers: KAFKA_BROKERS.split(',').map((b) => b.trim()),
    clientId,
    logLevel: logLevel.ERROR,
    retry: { initialRetryTime: 300, retries: 5 },
  });
}

/**
 * The raw producer the adapter is compared with, configured like the adapter's own: idempotent
 * (so acks -1), one request in flight, the default (Java-compatible) partitioner.
 */
export function rawProducer(kafka: KafkaClient): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
}

/**
 * The raw consumer the adapter is compared with, configured like the adapter's group consumers
 * (session 30 s, heartbeat 3 s, fetch wait 500 ms).
 */
export function rawConsumer(kafka: KafkaClient, groupId: string, extra: Partial<ConsumerConfig> = {}): Consumer {
  return kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    rebalanceTimeout: 60_000,
    heartbeatInterval: 3_000,
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
    ...extra,
  });
}

/** Settings of the raw consumer's run(), as the adapter uses them (commit at most every 5 s). */
export const RAW_RUN_COMMIT = { autoCommit: true, autoCommitInterval: 5_000 } as const;

/** The adapter's options for this broker (plus `extra`). */
export function kafkaAdapterOptions(clientId: string, extra: Record<string, unknown> = {}) {
  return { bootstrapServers: KAFKA_BROKERS, clientId, logger: quietLogger, ...extra };
}

/** Keeps the adapters' warnings (they matter) and drops the rest. */
export const quietLogger = {
  debug: (): void => {},
  info: (): void => {},
  warn: (message: string): void => void process.stderr.write(`msgport warn: ${message}\n`),
  error: (message: string): void => void process.stderr.write(`msgport error: ${message}\n`),
};

/** Creates the topics (one partition each) and waits for their leaders. */
export async function createTopic(kafka: KafkaClient, topics: string | readonly string[], numPartitions = 1): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const names = typeof topics === 'string' ? [topics] : topics;
    // Not kafkajs' waitForLeaders: its metadata request for topics just created can fail with
    // "This server does not host this topic-partition" (it once ended a whole bench run's
    // preparation). Every partition having an end offset is what a producer needs.
    await admin.createTopics({ topics: names.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })), timeout: 60_000 });
    const deadline = Date.now() + 60_000;
    for (const topic of names) {
      let failure: unknown;
      for (;;) {
        try {
          if ((await admin.fetchTopicOffsets(topic)).length === numPartitions) break;
        } catch (error) {
          failure = error;
        }
        if (Date.now() > deadline) throw new Error(`topic ${topic} has no leaders 60 s after its creation`, { cause: failure });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Deletes every topic and consumer group whose name starts with `prefix` (best effort). */
export async function deleteByPrefix(kafka: KafkaClient, prefix: string): Promise<{ topics: number; groups: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    return { topics: topics.length, groups: groups.length };
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the given topics and groups (best effort; never throws). */
export async function deleteQuietly(kafka: KafkaClient, topics: string[], groups: string[] = []): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
  } catch {
    // best effort: the parent's final cleanup deletes by prefix
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Writes `count` copies of `value` to `topic` in batches of 1,000 (acks -1), message i keyed `key(i)` when given. */
export async function prefill(
  kafka: KafkaClient,
  topic: string,
  count: number,
  value: Buffer,
  key?: (index: number) => string,
): Promise<void> {
  const producer = rawProducer(kafka);
  await producer.connect();
  try {
    for (let sent = 0; sent < count;) {
      const n = Math.min(1_000, count - sent);
      const from = sent;
      const messages = Array.from({ length: n }, (_, i) => (key === undefined ? { value } : { key: key(from + i), value }));
      await producer.send({ topic, acks: -1, messages });
      sent += n;
    }
  } finally {
    await producer.disconnect();
  }
}
