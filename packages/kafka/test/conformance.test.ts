import { runConformanceSuite } from '@msgport/testkit';
import { createTestAdapter, kafkaRestartHook } from './kafka-test-config.js';

runConformanceSuite({
  name: 'KafkaAdapter',
  createBroker: (overrides) => createTestAdapter(overrides),
  // Several instances of one group share a topic only when it has several partitions: 4, for the
  // order-across-instances case (4 instances, 53 keys).
  createInstance: (overrides) => createTestAdapter({ numPartitions: 4, ...overrides }),
  deadLetterTopic: (topic) => `${topic}.DLT`,
  // Everything the contract asks for. `publish()` resolves on the broker's acknowledgement, not
  // after handling: that is what a durable broker promises.
  capabilities: {
    retry: true,
    deadLetter: true,
    ordering: true,
    drainOnStop: true,
    restart: true,
    publishResolvesAfterHandling: false,
  },
  // scripts/kafka.sh restart (or MSGPORT_KAFKA_RESTART_COMMAND for another broker).
  restartBroker: kafkaRestartHook(),
});
