import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import amqplib from 'amqplib';
import { isMessagingError, silentLogger } from '@msgport/core';
import { RabbitMQAdapter } from '@msgport/rabbitmq';
import { uniqueName } from '@msgport/testkit';
import { RABBITMQ_URL, uniqueExchange } from './support/broker.js';
import { useSharedBroker } from './support/shared-broker.js';

// A nacked publish was not stored, so the adapter sends it again on a fresh confirm channel (with
// backoff, within publishTimeoutMs) and rejects only when fresh channels keep nacking it or the
// time is up. A queue with x-max-length 0 and reject-publish overflow nacks every message routed
// to it: that makes the nack reproducible on a single node (on a cluster, RabbitMQ 3.10 can leave
// a channel opened during a failover nacking some quorum queues; see test/cluster/repro).

const exchangeName = uniqueExchange('msgport-publish-nack-test');
useSharedBroker(exchangeName);

let admin: amqplib.ChannelModel;
let channel: amqplib.Channel;

beforeAll(async () => {
  admin = await amqplib.connect(RABBITMQ_URL.split(',')[0]!.trim());
  channel = await admin.createChannel();
}, 60_000);

afterAll(async () => {
  await admin.close();
}, 60_000);

/** A queue bound to `topic` that refuses every message (reject-publish, max length 0). */
async function refusingQueue(topic: string): Promise<string> {
  const queue = `${exchangeName}.${topic}.refusing`;
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
  await channel.bindQueue(queue, exchangeName, topic);
  return queue;
}

/** Replaces the refusing queue of `topic` by one that takes messages. */
async function acceptingQueue(topic: string, refusing: string): Promise<string> {
  await channel.deleteQueue(refusing);
  const queue = `${exchangeName}.${topic}.accepting`;
  await channel.assertQueue(queue, { durable: true });
  await channel.bindQueue(queue, exchangeName, topic);
  return queue;
}

function adapter(publishTimeoutMs: number): RabbitMQAdapter {
  return new RabbitMQAdapter({
    url: RABBITMQ_URL,
    exchangeName,
    logger: silentLogger,
    publishTimeoutMs,
    shutdownTimeoutMs: 2_000,
  });
}

describe('RabbitMQAdapter publish() on a nack', () => {
  it('rejects with PUBLISH_FAILED once fresh channels keep nacking, while other topics publish', async () => {
    const broker = adapter(30_000);
    try {
      await broker.start();
      const topic = uniqueName('nacked');
      await refusingQueue(topic);
      const startedAt = Date.now();
      const nacked = broker.publish(topic, 'refused').then(
        () => null,
        (error: unknown) => error,
      );
      // Publishes to other topics go on while the refused one is retried on fresh channels.
      for (let i = 0; i < 20; i++) {
        await expect(broker.publish(uniqueName('other'), `ok-${i}`)).resolves.toBeUndefined();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const error = await nacked;
      expect(isMessagingError(error)).toBe(true);
      expect(error).toMatchObject({ name: 'PublishError', code: 'PUBLISH_FAILED' });
      expect((error as Error).message).toMatch(/nacked the message \(it could not store it\) on 6 fresh channels in a row/);
      // Sent again with backoff (250 + 500 + 1000 + 2000 + 3000 ms), not at once and not until the timeout.
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(6_500);
      expect(Date.now() - startedAt).toBeLessThan(20_000);
      expect((await broker.health()).details['pendingPublishes']).toBe(0);
      await expect(broker.publish(uniqueName('after'), 'after')).resolves.toBeUndefined();
    } finally {
      await broker.stop();
    }
  }, 60_000);

  it('resolves once the queue takes messages again, and keeps the order of the held publishes', async () => {
    const broker = adapter(30_000);
    try {
      await broker.start();
      const topic = uniqueName('recovers');
      const refusing = await refusingQueue(topic);
      const publishes = [broker.publish(topic, 'a1')];
      await new Promise((resolve) => setTimeout(resolve, 100));
      publishes.push(broker.publish(topic, 'a2'), broker.publish(topic, 'a3'));
      // The first nack came long before (a confirm round trip); the first send again is due at 250 ms.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const accepting = await acceptingQueue(topic, refusing);
      await Promise.all(publishes);
      const bodies: string[] = [];
      for (;;) {
        const message = await channel.get(accepting, { noAck: true });
        if (message === false) break;
        bodies.push(message.content.toString());
      }
      expect(bodies).toEqual(['a1', 'a2', 'a3']);
      await channel.deleteQueue(accepting);
    } finally {
      await broker.stop();
    }
  }, 60_000);

  it('rejects with PUBLISH_TIMEOUT when publishTimeoutMs runs out while the broker keeps nacking', async () => {
    const broker = adapter(1_200);
    try {
      await broker.start();
      const topic = uniqueName('nack-timeout');
      await refusingQueue(topic);
      const startedAt = Date.now();
      const error = await broker.publish(topic, 'refused').then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'PublishError', code: 'PUBLISH_TIMEOUT', retriable: true });
      expect((error as Error).message).toMatch(
        /nacked the message .* on \d channel\(s\) and publishTimeoutMs \(1200 ms\) ran out/,
      );
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_200);
      expect(Date.now() - startedAt).toBeLessThan(3_000);
    } finally {
      await broker.stop();
    }
  }, 60_000);
});
