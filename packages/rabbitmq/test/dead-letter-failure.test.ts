import { afterEach, describe, expect, it } from '@jest/globals';
import { DeadLetterHeaders, MESSAGE_ID_HEADER, PublishError, type Message } from '@msgport/core';
import { RabbitMQAdapter, type RabbitMQAdapterOptions } from '@msgport/rabbitmq';
import { collect, uniqueName } from '@msgport/testkit';
import { RABBITMQ_URL, uniqueExchange } from './support/broker.js';
import { capturingLogger } from './support/helpers.js';
import { useSharedBroker } from './support/shared-broker.js';

const exchangeName = uniqueExchange('msgport-dlt-failure');
useSharedBroker(exchangeName);

const TIMEOUT_MS = 10_000;
const opened: RabbitMQAdapter[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((adapter) => adapter.stop()));
});

/** An adapter whose dead letters RabbitMQ never accepts (as when every publish to the dead-letter exchange is refused). */
class RefusingAdapter extends RabbitMQAdapter {
  refusals = 0;

  protected override sendDeadLetter(): Promise<void> {
    this.refusals++;
    return Promise.reject(new PublishError('refused by the test', { retriable: false }));
  }
}

async function started<T extends RabbitMQAdapter>(adapter: T): Promise<T> {
  opened.push(adapter);
  await adapter.start();
  return adapter;
}

const options = (logger = capturingLogger()): RabbitMQAdapterOptions => ({
  url: RABBITMQ_URL,
  exchangeName,
  logger,
  publishTimeoutMs: 5_000,
});

/** Subscribes a handler that fails every message whose value starts with "poison", and a reader of its dead-letter queue. */
async function failingConsumer(adapter: RabbitMQAdapter, reader: RabbitMQAdapter, topic: string, group: string) {
  const handled = collect({
    timeoutMs: TIMEOUT_MS,
    onMessage: (message) => {
      const value = message.value.toString();
      if (value === 'poison-long') throw new Error(`cannot handle poison ${'e'.repeat(4_000)}`);
      if (value.startsWith('poison')) throw new Error('cannot handle poison');
    },
  });
  await adapter.subscribe(topic, handled.handler, { group, retry: { maxAttempts: 1 } });
  const deadLetters = collect({ timeoutMs: TIMEOUT_MS });
  await reader.subscribe(`${topic}.${group}.dlq`, deadLetters.handler, {
    group: uniqueName('reader'),
    retry: { deadLetter: false },
  });
  return { handled, deadLetters };
}

const errorLines = (lines: readonly string[]): string[] => lines.filter((line) => line.startsWith('error:'));

describe('RabbitMQAdapter when a dead letter cannot be published', () => {
  it('publishes a fallback dead letter with minimal headers when the full one has headers too large to encode, logs it at error, and goes on', async () => {
    const logger = capturingLogger();
    const adapter = await started(new RabbitMQAdapter(options(logger)));
    const topic = uniqueName('rabbit-dlt-fallback');
    const group = uniqueName('g');
    const { handled, deadLetters } = await failingConsumer(adapter, adapter, topic, group);

    // Headers that fit in AMQP's 64 KiB field table, but not with a 4 KB error message on top.
    await adapter.publish(topic, 'poison-long', { key: 'k', headers: { 'x-big': 'b'.repeat(63_000) } });
    await adapter.publish(topic, 'next', { key: 'k' });

    const [fallback] = await deadLetters.waitForCount(1);
    await handled.waitForCount(1);
    expect(handled.values()).toEqual(['next']);
    expect(fallback!.value.toString()).toBe('poison-long');
    expect(fallback!.key!.toString()).toBe('k');
    // Not the message's own headers (x-big) except its id (C11); the error message cut to 512 characters.
    expect(Object.keys(fallback!.headers).sort()).toEqual([...Object.values(DeadLetterHeaders), MESSAGE_ID_HEADER].sort());
    expect(fallback!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fallback!.headers).toEqual({
      [MESSAGE_ID_HEADER]: fallback!.id,
      [DeadLetterHeaders.errorMessage]: `cannot handle poison ${'e'.repeat(512 - 21)}`,
      [DeadLetterHeaders.errorType]: 'Error',
      [DeadLetterHeaders.originalTopic]: topic,
      [DeadLetterHeaders.group]: group,
      [DeadLetterHeaders.attempts]: '1',
      [DeadLetterHeaders.deadLetterError]: expect.stringContaining('headers are too large'),
    });
    expect(errorLines(logger.lines)).toEqual([
      expect.stringContaining(`Cannot dead-letter a message from "${topic}" (group "${group}") to "${topic}.${group}.dlq"`),
    ]);
  });

  it("when even the fallback is refused, rejects the message without requeue so that RabbitMQ's own dead-lettering moves it to the queue, and handles the next one", async () => {
    const logger = capturingLogger();
    const adapter = await started(new RefusingAdapter(options(logger)));
    const reader = await started(new RabbitMQAdapter(options()));
    const topic = uniqueName('rabbit-dlt-refused');
    const group = uniqueName('g');
    const { handled, deadLetters } = await failingConsumer(adapter, reader, topic, group);

    await adapter.publish(topic, 'poison-1', { key: 'k', headers: { 'x-app': 'kept' } });
    await adapter.publish(topic, 'next', { key: 'k' });

    const [dead] = (await deadLetters.waitForCount(1)) as Message[];
    await handled.waitForCount(1);
    expect(handled.values()).toEqual(['next']);
    expect(adapter.refusals).toBe(2);
    // Moved by the broker: the message as it was, with RabbitMQ's x-death record.
    expect(dead!.value.toString()).toBe('poison-1');
    expect(dead!.key!.toString()).toBe('k');
    expect(dead!.headers['x-app']).toBe('kept');
    expect(dead!.headers['x-death']).toContain('"reason":"rejected"');
    expect(errorLines(logger.lines)).toEqual([
      expect.stringContaining('Publishing it there with minimal headers instead.'),
      expect.stringContaining('Rejecting it so that the broker dead-letters it itself.'),
    ]);
  });
});
