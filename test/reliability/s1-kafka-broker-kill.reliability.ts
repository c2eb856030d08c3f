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

// Focused reproduction, on a private broker (its own ports and data, so the shared one is not
// disturbed): how long does a publish wait for a broker that is gone? kafka-adapter.ts documents
// its produce retries as "about 30 s in all, then publish() rejects" (PRODUCER_RETRY), the bound
// that lets a publish ride out a broker restart (RabbitMQAdapter waits publishTimeoutMs, 30 s).
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

  it('keeps retrying for the documented ~30 s before it rejects', async () => {
    adapter = new KafkaAdapter({ bootstrapServers: broker.bootstrap, logger: silentLogger, connectionTimeoutMs: 10_000 });
    await adapter.start();
    await adapter.publish(topic, 'before');
    const settle = (promise: Promise<void>, issuedAt: number) =>
      promise.then(
        () => ({ status: 'resolved', ms: Date.now() - issuedAt, message: '' }),
        (error: unknown) => ({ status: 'rejected', ms: Date.now() - issuedAt, message: (error as Error).message }),
      );
    let outcomes: Array<{ status: string; ms: number; message: string }>;
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
        `(documented: about 30 s); e.g. "${existing!.message}"`,
    });
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(outcome.ms).toBeGreaterThanOrEqual(25_000);
      expect(outcome.ms).toBeLessThanOrEqual(45_000);
    }
  }, 180_000);
});
