import { afterEach, describe, expect, it } from '@jest/globals';
import { DeadLetterHeaders, MESSAGE_ID_HEADER, waitFor, type Message } from '@msgport/core';
import type { KafkaAdapter } from '@msgport/kafka';
import { collect, uniqueName } from '@msgport/testkit';
import kafkajs from 'kafkajs';
import { createTestAdapter, KAFKA_BROKERS, recordingLogger, type RecordingLogger } from './kafka-test-config.js';

const TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;
/** The dead-letter topic's record size limit in these tests. */
const DLT_MAX_MESSAGE_BYTES = 3_000;

const opened: KafkaAdapter[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((adapter) => adapter.stop()));
}, TEST_TIMEOUT_MS);

/** Creates `<topic>.DLT` before the adapter does, with a small `max.message.bytes`. */
async function createSmallDeadLetterTopic(topic: string): Promise<void> {
  const kafka = new kafkajs.Kafka({ brokers: [KAFKA_BROKERS], clientId: 'dlt-preparer', logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        {
          topic: `${topic}.DLT`,
          numPartitions: 1,
          configEntries: [{ name: 'max.message.bytes', value: String(DLT_MAX_MESSAGE_BYTES) }],
        },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** A started adapter whose handler of `topic` fails every message whose value starts with "poison". */
async function failingConsumer(topic: string, group: string, logger: RecordingLogger) {
  const adapter = createTestAdapter({ logger });
  opened.push(adapter);
  await adapter.start();
  const handled = collect({
    timeoutMs: TIMEOUT_MS,
    onMessage: (message) => {
      if (message.value.toString().startsWith('poison')) throw new Error('cannot handle poison');
    },
  });
  await adapter.subscribe(topic, handled.handler, { group, retry: { maxAttempts: 1 } });
  const deadLetters = collect({ timeoutMs: TIMEOUT_MS });
  await adapter.subscribe(`${topic}.DLT`, deadLetters.handler, { group: uniqueName('dlt-reader'), retry: { deadLetter: false } });
  return { adapter, handled, deadLetters };
}

const errorLines = (logger: RecordingLogger): string[] => logger.lines.filter((line) => line.startsWith('error:'));

describe('KafkaAdapter when a dead letter cannot be published', () => {
  it(
    'publishes a fallback dead letter with minimal headers when the full one is too large for the dead-letter topic, logs it at error, and goes on',
    async () => {
      const topic = uniqueName('kafka-dlt-fallback');
      const group = uniqueName('g');
      await createSmallDeadLetterTopic(topic);
      const logger = recordingLogger('none');
      const { adapter, handled, deadLetters } = await failingConsumer(topic, group, logger);

      // Fits in the topic, and in the dead-letter topic, but not with its 4 KB header on top.
      await adapter.publish(topic, 'poison-1', { key: 'k', headers: { 'x-big': 'b'.repeat(4_000) } });
      await adapter.publish(topic, 'next', { key: 'k' });

      const [fallback] = await deadLetters.waitForCount(1);
      await handled.waitForCount(1);
      expect(handled.values()).toEqual(['next']);
      expect(fallback!.value.toString()).toBe('poison-1');
      expect(fallback!.key!.toString()).toBe('k');
      // Of the message's own headers only its id (C11).
      expect(fallback!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(fallback!.headers).toEqual({
        [MESSAGE_ID_HEADER]: fallback!.id,
        [DeadLetterHeaders.errorMessage]: 'cannot handle poison',
        [DeadLetterHeaders.errorType]: 'Error',
        [DeadLetterHeaders.originalTopic]: topic,
        [DeadLetterHeaders.group]: group,
        [DeadLetterHeaders.attempts]: '1',
        [DeadLetterHeaders.deadLetterError]: expect.stringContaining('too large'),
      });
      expect(errorLines(logger)).toEqual([
        expect.stringContaining(`Cannot dead-letter a message from "${topic}" (group "${group}") to "${topic}.DLT"`),
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'when even the fallback is refused, logs at error where the message is (partition, offset), commits it, and handles the next one on its key',
    async () => {
      const topic = uniqueName('kafka-dlt-lost');
      const group = uniqueName('g');
      await createSmallDeadLetterTopic(topic);
      const logger = recordingLogger('none');
      const { adapter, handled, deadLetters } = await failingConsumer(topic, group, logger);

      // Its value alone is larger than the dead-letter topic takes.
      await adapter.publish(topic, `poison-${'p'.repeat(DLT_MAX_MESSAGE_BYTES * 2)}`, { key: 'k' });
      await adapter.publish(topic, 'next', { key: 'k' });

      await handled.waitForCount(1);
      expect(handled.values()).toEqual(['next']);
      expect(deadLetters.count).toBe(0);
      const lines = await waitFor(() => (errorLines(logger).length >= 2 ? errorLines(logger) : undefined), {
        timeoutMs: TIMEOUT_MS,
        description: 'two error lines',
      });
      expect(lines[1]).toContain('not even with minimal headers');
      expect(lines[1]).toContain(`it can still be read in "${topic}" at partition 0, offset 0.`);

      // Committed: a new member of the group starts after it, with nothing left to handle.
      await adapter.stop();
      const again = createTestAdapter({ logger: recordingLogger('none') });
      opened.push(again);
      await again.start();
      const redelivered: Message[] = [];
      await again.subscribe(topic, (message) => void redelivered.push(message), { group });
      await again.publish(topic, 'after', { key: 'k' });
      await waitFor(() => redelivered.length >= 1, { timeoutMs: TIMEOUT_MS, description: 'the message published after' });
      expect(redelivered.map((message) => message.value.toString())).toEqual(['after']);
    },
    TEST_TIMEOUT_MS,
  );
});
