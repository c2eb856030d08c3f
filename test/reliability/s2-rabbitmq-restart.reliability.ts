import { afterAll, describe, it } from '@jest/globals';
import { runBrokerFault } from './support/broker-fault.js';
import { ensureRabbitRunning, startRabbit, stopRabbit } from './support/brokers.js';

// Scenario 2: RabbitMQ is restarted (rabbitmqctl stop_app, then start_app) in the middle of a
// stream of 5,000 publishes with publishers and consumers active. Every publish that resolved is
// consumed at least once; they all recover without being restarted; duplicates are counted. The
// broker is always brought back, even when the test fails.

describe('rabbitmq: broker restart mid-stream', () => {
  afterAll(async () => {
    await ensureRabbitRunning();
  });

  it('every confirmed publish is consumed; publishers and consumers recover without a restart', async () => {
    await runBrokerFault('rabbitmq', {
      scenario: '2. broker restart',
      description: 'rabbitmqctl stop_app, then start_app',
      inject: stopRabbit,
      restore: startRabbit,
      ensureUp: ensureRabbitRunning,
    });
  }, 420_000);
});
