import { silentLogger } from '@msgport/core';
import { RabbitMQAdapter } from '@msgport/rabbitmq';
import { runConformanceSuite } from '@msgport/testkit';
import { restartHookFromEnv } from './support/restart.js';
import { RABBITMQ_URL, uniqueExchange } from './support/broker.js';
import { useSharedBroker } from './support/shared-broker.js';

const exchangeName = uniqueExchange('msgport-conformance');
const shared = useSharedBroker(exchangeName);

runConformanceSuite({
  name: 'RabbitMQAdapter',
  createBroker: () =>
    new RabbitMQAdapter({ url: RABBITMQ_URL, exchangeName, logger: silentLogger, shutdownTimeoutMs: 10_000 }),
  deadLetterTopic: (topic, group) => (group === null ? `${topic}.dlq` : `${topic}.${group}.dlq`),
  // Every capability: retries and dead letters go through core, stop() drains, start() after
  // stop() re-declares and resumes. publish() resolves on the broker's confirm, not after handling.
  capabilities: { retry: true, deadLetter: true, ordering: true, drainOnStop: true, restart: true, publishResolvesAfterHandling: false },
  // rabbitmqctl stop_app / start_app of the test broker (or MSGPORT_RABBITMQ_RESTART_COMMAND),
  // with the broker lock held exclusively so that no other test file runs meanwhile.
  restartBroker: restartHookFromEnv(shared),
});
