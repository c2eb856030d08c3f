import { afterEach, describe, expect, it } from '@jest/globals';
import { InvalidArgumentError, silentLogger } from '@msgport/core';
import { KafkaAdapter, type KafkaAdapterOptions } from '@msgport/kafka';
import { collect, uniqueName } from '@msgport/testkit';
import kafkajs from 'kafkajs';
import { createTestAdapter, KAFKA_BROKERS, TOPIC_REPLICATION_OPTIONS } from './kafka-test-config.js';

const TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;

const opened: KafkaAdapter[] = [];

async function started(options: Partial<KafkaAdapterOptions> = {}): Promise<KafkaAdapter> {
  const adapter = createTestAdapter(options);
  opened.push(adapter);
  await adapter.start();
  return adapter;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((adapter) => adapter.stop()));
}, TEST_TIMEOUT_MS);

function invalidOptionsMessage(options: KafkaAdapterOptions): string {
  try {
    new KafkaAdapter(options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as Error).message;
  }
  throw new Error('Expected new KafkaAdapter() to throw');
}

/** Replication factor and `min.insync.replicas` of `topics`, as the brokers report them. */
async function topicSettings(
  topics: readonly string[],
): Promise<Record<string, { replicas: number; minInsync: string; fromTopic: boolean }>> {
  const kafka = new kafkajs.Kafka({
    brokers: KAFKA_BROKERS.split(','),
    clientId: 'topic-inspector',
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['min.insync.replicas'] })),
    });
    const result: Record<string, { replicas: number; minInsync: string; fromTopic: boolean }> = {};
    for (const topic of metadata.topics) {
      const entry = configs.resources.find((resource) => resource.resourceName === topic.name)!.configEntries[0]!;
      result[topic.name] = {
        replicas: topic.partitions[0]!.replicas.length,
        minInsync: entry.configValue,
        fromTopic: entry.configSource === kafkajs.ConfigSource.TOPIC_CONFIG,
      };
    }
    return result;
  } finally {
    await admin.disconnect();
  }
}

describe('KafkaAdapter topic settings', () => {
  it('rejects minInsyncReplicas above replicationFactor, saying what to change', () => {
    const message = invalidOptionsMessage({ bootstrapServers: '127.0.0.1:9092', minInsyncReplicas: 2 });
    expect(message).toContain('minInsyncReplicas (2) must not exceed replicationFactor (1)');
    expect(message).toContain('Raise replicationFactor');
    expect(invalidOptionsMessage({ bootstrapServers: '127.0.0.1:9092', replicationFactor: 3, minInsyncReplicas: 4 })).toContain(
      'minInsyncReplicas (4) must not exceed replicationFactor (3)',
    );
    expect(invalidOptionsMessage({ bootstrapServers: '127.0.0.1:9092', minInsyncReplicas: 0 })).toContain(
      'minInsyncReplicas must be an integer >= 1',
    );
    expect(
      () => new KafkaAdapter({ bootstrapServers: '127.0.0.1:9092', replicationFactor: 3, minInsyncReplicas: 2 }),
    ).not.toThrow();
  });

  it(
    'creates its topics and their dead-letter topics with replicationFactor and minInsyncReplicas',
    async () => {
      // The test broker's replication (1 on the single broker, 3 and 2 on the cluster leg).
      const replicationFactor = TOPIC_REPLICATION_OPTIONS.replicationFactor ?? 1;
      const minInsyncReplicas = TOPIC_REPLICATION_OPTIONS.minInsyncReplicas ?? replicationFactor;
      const topic = uniqueName('kafka-min-isr');
      const broker = await started({ replicationFactor, minInsyncReplicas, retry: { maxAttempts: 1 } });
      const handled = collect({
        onMessage: () => {
          throw new Error('dead-letter me');
        },
      });
      await broker.subscribe(topic, handled.handler, uniqueName('g'));
      const deadLetters = collect();
      await broker.subscribe(`${topic}.DLT`, deadLetters.handler, uniqueName('dlt'));
      await broker.publish(topic, 'to the DLT');
      await deadLetters.waitForCount(1, { timeoutMs: TIMEOUT_MS });

      const expected = { replicas: replicationFactor, minInsync: String(minInsyncReplicas), fromTopic: true };
      expect(await topicSettings([topic, `${topic}.DLT`])).toEqual({ [topic]: expected, [`${topic}.DLT`]: expected });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'leaves min.insync.replicas to the broker when minInsyncReplicas is not set',
    async () => {
      const topic = uniqueName('kafka-broker-isr');
      const broker = new KafkaAdapter({
        bootstrapServers: KAFKA_BROKERS,
        clientId: 'msgport-test',
        replicationFactor: TOPIC_REPLICATION_OPTIONS.replicationFactor ?? 1,
        logger: silentLogger,
      });
      opened.push(broker);
      await broker.start();
      await broker.publish(topic, 'x');
      const settings = await topicSettings([topic]);
      expect(settings[topic]!.fromTopic).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );
});
