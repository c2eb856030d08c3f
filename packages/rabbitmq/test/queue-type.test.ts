import { afterAll, describe, expect, it } from '@jest/globals';
import amqplib from 'amqplib';
import { isMessagingError, silentLogger } from '@msgport/core';
import { RabbitMQAdapter, type RabbitMQAdapterOptions } from '@msgport/rabbitmq';
import { collect, uniqueName } from '@msgport/testkit';
import { RABBITMQ_URL, rabbitmqctl, uniqueExchange } from './support/broker.js';
import { rejectionOf } from './support/helpers.js';
import { useSharedBroker } from './support/shared-broker.js';

const exchangeName = uniqueExchange('msgport-queue-type-test');
useSharedBroker(exchangeName);

const opened: RabbitMQAdapter[] = [];
afterAll(async () => {
  await Promise.all(opened.map((broker) => broker.stop()));
});

function adapter(options: Partial<RabbitMQAdapterOptions> = {}): RabbitMQAdapter {
  const broker = new RabbitMQAdapter({ url: RABBITMQ_URL, exchangeName, logger: silentLogger, partitions: 2, ...options });
  opened.push(broker);
  return broker;
}

/** The type of each of `queues`, from rabbitmqctl (no management plugin needed). */
async function typesOf(queues: readonly string[]): Promise<Record<string, string>> {
  const rows = await rabbitmqctl('list_queues', 'name', 'type');
  const types: Record<string, string> = {};
  for (const [name, type] of rows) if (queues.includes(name!)) types[name!] = type!;
  return types;
}

describe('queueType', () => {
  it('declares group (partition) and dead-letter queues as quorum queues by default; the rest stays classic', async () => {
    const topic = uniqueName('qt-default');
    const broker = adapter();
    const received = collect();
    await broker.subscribe(topic, received.handler, 'g');
    await broker.start();
    await broker.publish(topic, 'hello', { key: 'k' });
    await received.waitForCount(1);
    const queues = [`${topic}.g.p0`, `${topic}.g.p1`, `${topic}.g.dlq`, `${topic}.g.members`];
    expect(await typesOf(queues)).toEqual({
      [`${topic}.g.p0`]: 'quorum',
      [`${topic}.g.p1`]: 'quorum',
      [`${topic}.g.dlq`]: 'quorum',
      [`${topic}.g.members`]: 'classic',
    });
    // Declaring it passively with the arguments of a quorum partition queue succeeds (and changes nothing).
    const connection = await amqplib.connect(RABBITMQ_URL);
    try {
      const channel = await connection.createChannel();
      await expect(
        channel.assertQueue(`${topic}.g.p0`, {
          durable: true,
          arguments: {
            'x-queue-type': 'quorum',
            'x-single-active-consumer': true,
            'x-dead-letter-exchange': `${exchangeName}.dlx`,
            'x-dead-letter-routing-key': `${topic}.g.dlq`,
            'x-dead-letter-strategy': 'at-least-once',
            'x-overflow': 'reject-publish',
          },
        }),
      ).resolves.toMatchObject({ queue: `${topic}.g.p0` });
    } finally {
      await connection.close();
    }
    await broker.stop();
  }, 60_000);

  it("declares classic queues with queueType: 'classic'", async () => {
    const topic = uniqueName('qt-classic');
    const broker = adapter({ queueType: 'classic' });
    const received = collect();
    await broker.subscribe(topic, received.handler, 'g');
    await broker.start();
    await broker.publish(topic, 'hello');
    await received.waitForCount(1);
    expect(await typesOf([`${topic}.g.p0`, `${topic}.g.dlq`])).toEqual({
      [`${topic}.g.p0`]: 'classic',
      [`${topic}.g.dlq`]: 'classic',
    });
    await broker.stop();
  }, 60_000);

  it('refuses group queues of the other type (an upgrade from classic) with a ConfigurationError naming the queue, both types and what to do', async () => {
    const topic = uniqueName('qt-mismatch');
    // The group as the previous version (classic queues) left it.
    const previous = adapter({ queueType: 'classic' });
    await previous.subscribe(topic, () => undefined, 'g');
    await previous.start();
    await previous.stop();
    const broker = adapter();
    await broker.start();
    const error = await rejectionOf(broker.subscribe(topic, () => undefined, 'g'));
    expect(isMessagingError(error) && error.name).toBe('ConfigurationError');
    expect(isMessagingError(error) && error.code).toBe('INVALID_CONFIG');
    expect(isMessagingError(error) && error.retriable).toBe(false);
    const message = (error as Error).message;
    expect(message).toMatch(
      new RegExp(
        `Cannot declare queue "${topic}\\.g\\.(dlq|p\\d)" as a quorum queue \\(queueType 'quorum'\\): it exists as a classic queue`,
      ),
    );
    expect(message).toContain("set queueType: 'classic'");
    expect(message).toContain('delete it');
    await broker.stop();
  }, 60_000);

  it('refuses quorum group queues when queueType is classic, the same way', async () => {
    const topic = uniqueName('qt-mismatch-q');
    const previous = adapter();
    await previous.subscribe(topic, () => undefined, 'g');
    await previous.start();
    await previous.stop();
    const broker = adapter({ queueType: 'classic' });
    await broker.start();
    const error = await rejectionOf(broker.subscribe(topic, () => undefined, 'g'));
    expect(isMessagingError(error) && error.name).toBe('ConfigurationError');
    const message = (error as Error).message;
    expect(message).toMatch(
      new RegExp(
        `Cannot declare queue "${topic}\\.g\\.(dlq|p\\d)" as a classic queue \\(queueType 'classic'\\): it exists as a quorum queue`,
      ),
    );
    expect(message).toContain("set queueType: 'quorum'");
    await broker.stop();
  }, 60_000);

  it('refuses an unknown queueType at construction', () => {
    expect(() => adapter({ queueType: 'mirrored' as never })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
