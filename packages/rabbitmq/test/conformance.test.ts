import { afterAll, beforeAll } from '@jest/globals';
import { silentLogger } from '@msgport/core';
import { RabbitMQAdapter } from '@msgport/rabbitmq';
import { runConformanceSuite } from '@msgport/testkit';
import { deleteTopology, RABBITMQ_URL, requireBroker, uniqueExchange } from './support/broker.js';
import { lockBrokerShared, type BrokerLock } from './support/broker-lock.js';

const exchangeName = uniqueExchange('msgport-conformance');
let lock: BrokerLock | undefined;

beforeAll(async () => {
  lock = await lockBrokerShared(100_000);
  await requireBroker();
}, 120_000);
afterAll(async () => {
  try {
    await deleteTopology(exchangeName);
  } finally {
    lock?.release();
  }
}, 60_000);

runConformanceSuite({
  name: 'RabbitMQAdapter',
  createBroker: () =>
    new RabbitMQAdapter({ url: RABBITMQ_URL, exchangeName, logger: silentLogger, shutdownTimeoutMs: 10_000 }),
  deadLetterTopic: (topic, group) => (group === null ? `${topic}.dlq` : `${topic}.${group}.dlq`),
  // Every capability: retries and dead letters go through core, stop() drains, start() after
  // stop() re-declares and resumes. publish() resolves on the broker's confirm, not after handling.
  capabilities: { retry: true, deadLetter: true, ordering: true, drainOnStop: true, restart: true, publishResolvesAfterHandling: false },
});
