import { KafkaAdapter } from '@msgport/kafka';
import { runFuzzSuite } from '@msgport/testkit';
import { createTestAdapter, FAST_GROUP_OPTIONS, KAFKA_BROKERS } from './kafka-test-config.js';

runFuzzSuite({
  name: 'KafkaAdapter',
  createBroker: (logger) => createTestAdapter({ logger }),
  deadLetterTopic: (topic) => `${topic}.DLT`,
  options: {
    create: (options) => new KafkaAdapter(options as ConstructorParameters<typeof KafkaAdapter>[0]),
    base: { bootstrapServers: KAFKA_BROKERS, clientId: 'msgport-fuzz', ...FAST_GROUP_OPTIONS },
    keys: [
      'bootstrapServers',
      'clientId',
      'ssl',
      'sasl',
      'numPartitions',
      'replicationFactor',
      'fromBeginning',
      'connectionTimeoutMs',
      'requestTimeoutMs',
      'publishTimeoutMs',
      'sessionTimeoutMs',
      'heartbeatIntervalMs',
      'fetchMaxWaitMs',
      'maxBatchSize',
      'maxBatchBytes',
      'lingerMs',
      'retry',
      'shutdownTimeoutMs',
      'concurrency',
      'logger',
    ],
    // The test broker's listener speaks no SASL: start() fails on authentication, quickly.
    withSecret: (secret) => ({ sasl: { mechanism: 'plain', username: 'fuzz', password: secret }, connectionTimeoutMs: 3_000 }),
  },
});
