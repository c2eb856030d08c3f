import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { silentLogger } from '@msgport/core';
import { KafkaAdapter } from '@msgport/kafka';
import { runBrokerFault } from './support/broker-fault.js';
import { ensureKafkaRunning, killKafka, startKafkaKeepingData, unique } from './support/brokers.js';
import { recordFigures } from './support/figures.js';
import { PrivateKafka } from './support/private-kafka.js';

// Scenario 1: the Kafka broker is SIGKILLed (scripts/kafka.sh kill) in the middle of 5,000
// publishes with consumers running, and restarted on the same data (KAFKA_KEEP_DATA=1). Every
// publish that resolved is consumed at least once; producer and consumers recover without being
// restarted; duplicates are counted. The broker is always brought back, even when the test fails.

describe('kafka: broker SIGKILL and restart mid-stream', () => {
  afterAll(async () => {
    await ensureKafkaRunning();
  });

  it('every confirmed publish is consumed; producer and consumers recover without a restart', async () => {
    await runBrokerFault('kafka', {
      scenario: '1. broker SIGKILL + restart',
      description: 'scripts/kafka.sh kill (SIGKILL), then KAFKA_KEEP_DATA=1 scripts/kafka.sh start',
      inject: killKafka,
      restore: startKafkaKeepingData,
      ensureUp: ensureKafkaRunning,
    });
  }, 420_000);
});

// On a private broker (its own ports and data, so the shared one is not disturbed): how long does a
// publish wait for a broker that is gone? KafkaAdapter documents publishTimeoutMs (default 30 s,
// like RabbitMQAdapter's): it sends again with backoff until then, so that a publish rides out a
// broker restart, then rejects with PUBLISH_TIMEOUT. That holds for a topic that exists and for
// one the adapter still has to create.
describe('kafka: publish while the broker is down', () => {
  const broker = new PrivateKafka({ basePort: 19192 });
  const topic = unique('rel-outage');
  let adapter: KafkaAdapter | undefined;

  beforeAll(async () => {
    await broker.start();
  }, 180_000);
  afterAll(async () => {
    await adapter?.stop();
    await broker.destroy();
  }, 120_000);

  it('keeps retrying for publishTimeoutMs (30 s by default), then rejects with PUBLISH_TIMEOUT', async () => {
    adapter = new KafkaAdapter({ bootstrapServers: broker.bootstrap, logger: silentLogger, connectionTimeoutMs: 10_000 });
    await adapter.start();
    await adapter.publish(topic, 'before');
    const settle = (promise: Promise<void>, issuedAt: number) =>
      promise.then(
        () => ({ status: 'resolved', ms: Date.now() - issuedAt, message: '' }),
        (error: unknown) => {
          const { message, code, retriable } = error as { message: string; code?: string; retriable?: boolean };
          return { status: 'rejected', ms: Date.now() - issuedAt, message, code, retriable };
        },
      );
    let outcomes: Array<{
      status: string;
      ms: number;
      message: string;
      code?: string | undefined;
      retriable?: boolean | undefined;
    }>;
    try {
      await broker.kill();
      const issuedAt = Date.now();
      outcomes = await Promise.all([
        settle(adapter.publish(topic, 'existing topic'), issuedAt),
        settle(adapter.publish(unique('rel-outage-new'), 'new topic'), issuedAt),
      ]);
    } finally {
      await broker.restart();
    }
    const [existing, created] = outcomes;
    recordFigures({
      scenario: '1b. publish while the broker is down (private broker, stays down)',
      broker: 'kafka',
      sent: 2,
      confirmed: outcomes.filter((outcome) => outcome.status === 'resolved').length,
      received: null,
      lost: null,
      duplicates: null,
      recoverMs: null,
      durationMs: Math.max(...outcomes.map((outcome) => outcome.ms)),
      notes:
        `publish to an existing topic ${existing!.status} after ${existing!.ms} ms, to a new topic ${created!.status} after ${created!.ms} ms ` +
        `(publishTimeoutMs: 30000 ms); e.g. ${existing!.code}: "${existing!.message}"`,
    });
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(outcome).toMatchObject({ code: 'PUBLISH_TIMEOUT', retriable: true });
      // The deadline is a timer, not a retry count: neither earlier nor much later.
      expect(outcome.ms).toBeGreaterThanOrEqual(29_900);
      expect(outcome.ms).toBeLessThanOrEqual(32_000);
    }
  }, 180_000);
});
