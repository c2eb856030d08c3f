import { createHook } from 'node:async_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectionError, PublishError, isMessagingError, waitFor, type MessagingError } from '@msgport/core';
import { KafkaAdapter, type KafkaAdapterOptions } from '@msgport/kafka';
import { uniqueName } from '@msgport/testkit';
import { FAST_GROUP_OPTIONS, recordingLogger } from './kafka-test-config.js';
import { PrivateBroker } from './private-broker.js';

// Outages need a broker that can be killed: a private one (scripts/kafka.sh on free ports, in a
// temporary directory), never the shared broker on 9092.

interface Settled {
  readonly ms: number;
  readonly error: MessagingError | null;
}

/** When and how `promise` settled, counted from `since`. */
function settle(promise: Promise<void>, since: number): Promise<Settled> {
  return promise.then(
    () => ({ ms: Date.now() - since, error: null }),
    (error: unknown) => {
      if (!isMessagingError(error)) throw new Error(`Expected a MessagingError, got ${String(error)}`);
      return { ms: Date.now() - since, error };
    },
  );
}

/** Kinds of async resources that keep kafkajs running: retry and request timers, sockets. */
const TRACKED_TYPES = new Set(['Timeout', 'Immediate', 'TCPWRAP', 'TCPCONNECTWRAP', 'TLSWRAP']);

/**
 * Records, from now until `stop()`, every timer and socket that kafkajs code creates, while it is
 * alive (async_hooks): whatever is left in `alive()` is kafkajs still running.
 */
function trackKafkajsResources(): { alive: () => string[]; stop: () => void } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(asyncId, type) {
      if (!TRACKED_TYPES.has(type)) return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      const frame = stack.split('\n').find((line) => line.includes('/kafkajs/'));
      if (frame !== undefined) live.set(asyncId, `${type} ${frame.trim()}`);
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  });
  hook.enable();
  return { alive: () => [...live.values()], stop: () => void hook.disable() };
}

describe('KafkaAdapter during a broker outage (private broker)', () => {
  const broker = new PrivateBroker();
  const opened: KafkaAdapter[] = [];

  const started = async (options: Partial<KafkaAdapterOptions>): Promise<KafkaAdapter> => {
    const adapter = new KafkaAdapter({
      bootstrapServers: broker.bootstrap,
      clientId: 'msgport-outage-test',
      logger: recordingLogger('none'),
      ...FAST_GROUP_OPTIONS,
      ...options,
    });
    opened.push(adapter);
    await adapter.start();
    return adapter;
  };

  beforeAll(async () => {
    await broker.start();
  }, 120_000);
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((adapter) => adapter.stop()));
    // A test that killed the broker leaves it for the next one running again (a no-op when it runs).
    await broker.restart();
  }, 120_000);
  afterAll(async () => {
    await broker.destroy();
  }, 120_000);

  it('publish keeps trying for publishTimeoutMs, then rejects with PUBLISH_TIMEOUT; after the restart the same adapter publishes again', async () => {
    const publishTimeoutMs = 2_000;
    const adapter = await started({ publishTimeoutMs });
    const topic = uniqueName('kafka-outage');
    await adapter.publish(topic, 'before');

    await broker.kill();
    const began = Date.now();
    const outcomes = await Promise.all([
      ...['a', 'b', 'c'].map((value) => settle(adapter.publish(topic, value, { key: value }), began)),
      // A topic that does not exist yet: its creation is retried within the same bound.
      settle(adapter.publish(uniqueName('kafka-outage-new'), 'new'), began),
    ]);
    for (const { ms, error } of outcomes) {
      expect(error).toBeInstanceOf(PublishError);
      expect(error).toMatchObject({ code: 'PUBLISH_TIMEOUT', retriable: true });
      expect(error!.message).toContain(`within publishTimeoutMs (${publishTimeoutMs} ms)`);
      expect(error!.message).toContain(broker.bootstrap);
      expect(error!.message).not.toMatch(/[\r\n]/);
      // Neither given up early (kafkajs alone gave up after a few seconds, or at once for a new
      // topic) nor much later than the bound.
      expect(ms).toBeGreaterThanOrEqual(publishTimeoutMs - 50);
      expect(ms).toBeLessThan(publishTimeoutMs + 1_000);
    }
    expect((await adapter.health()).details['producer']).toMatchObject({ retrying: false });

    await broker.restart();
    // The producer reconnects by itself (a new producer session after the abandoned batches): a
    // publish resolves again, i.e. every in-sync replica has it.
    await waitFor(
      () =>
        adapter.publish(topic, 'after').then(
          () => true,
          () => false,
        ),
      {
        timeoutMs: 30_000,
        description: 'a publish after the broker restart',
      },
    );
  }, 120_000);

  it('stop() during an outage rejects the publishes waiting for it at once, instead of after publishTimeoutMs', async () => {
    const publishTimeoutMs = 60_000;
    const adapter = await started({ publishTimeoutMs });
    const topic = uniqueName('kafka-outage-stop');
    await adapter.publish(topic, 'before');

    await broker.kill();
    const began = Date.now();
    const waiting = [
      settle(adapter.publish(topic, 'in flight'), began),
      settle(adapter.publish(uniqueName('kafka-outage-stop-new'), 'topic not created yet'), began),
    ];
    await waitFor(async () => ((await adapter.health()).details['producer'] as { retrying: boolean }).retrying, {
      timeoutMs: 10_000,
      description: 'the producer retrying during the outage',
    });
    const stopping = Date.now();
    await adapter.stop();
    const stopMs = Date.now() - stopping;
    const outcomes = await Promise.all(waiting);
    for (const { ms, error } of outcomes) {
      expect(error).toBeInstanceOf(PublishError);
      expect(error).toMatchObject({ code: 'PUBLISH_FAILED', retriable: true });
      expect(error!.message).toContain('the Kafka adapter was stopped before the broker acknowledged the message');
      expect(ms).toBeLessThan(stopping - began + 1_000);
    }
    expect(outcomes[0]!.error!.message).toContain('It may or may not have been stored.');
    expect(outcomes[1]!.error!.message).toContain('It was not sent.');
    // One produce attempt may still be running when stop() begins (kafkajs cannot abort it): it
    // fails within about a second against a dead port.
    expect(stopMs).toBeLessThan(5_000);
  }, 120_000);

  it('stop() during an outage, with consumers of a group on two topics and a broadcast one, finishes within shutdownTimeoutMs; nothing of kafkajs keeps running', async () => {
    const resources = trackKafkajsResources();
    try {
      const shutdownTimeoutMs = 3_000;
      const logger = recordingLogger('none');
      const adapter = await started({ shutdownTimeoutMs, logger, connectionTimeoutMs: 4_000 });
      const group = uniqueName('g');
      for (const topic of [uniqueName('kafka-outage-a'), uniqueName('kafka-outage-b')]) {
        await adapter.subscribe(topic, () => undefined, group);
      }
      await adapter.subscribe(uniqueName('kafka-outage-c'), () => undefined);
      // And a handler that outlives stop(), ignoring its signal, until the test lets it finish.
      const slowTopic = uniqueName('kafka-outage-slow');
      let handling = false;
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      await adapter.subscribe(
        slowTopic,
        async () => {
          handling = true;
          await finished;
        },
        uniqueName('g'),
      );
      await adapter.publish(slowTopic, 'slow');
      await waitFor(() => handling, { timeoutMs: 30_000, description: 'the slow handler to start' });
      expect(resources.alive().length).toBeGreaterThan(0);

      await broker.kill();
      // The consumers notice: their fetches and heartbeats fail, and leaving the group cannot succeed.
      await waitFor(async () => (await adapter.health()).status !== 'up', {
        timeoutMs: 20_000,
        description: 'health to notice the outage',
      });
      const stopping = Date.now();
      await adapter.stop();
      // The bound stop() promises (C7), with room only for timer granularity.
      expect(Date.now() - stopping).toBeLessThanOrEqual(shutdownTimeoutMs + 100);

      // kafkajs cannot cancel the retries of the consumers stop() gave up on (still trying to leave
      // their groups): the adapter closed their connections, so they end within kafkajs' retry
      // budget, and tracks them. The consumer whose handler still runs is left to finish it. A
      // start() right away, the broker still down, first waits for them within
      // connectionTimeoutMs, says they are still closing (the handler still runs), then fails.
      await expect(adapter.start()).rejects.toThrow(ConnectionError);
      expect(logger.lines.filter((line) => line.includes('gave up on are still closing'))).toHaveLength(1);

      // With the broker back, the handler finishes and its consumer commits and leaves; the next
      // start() waits for it (and the others, which could not reconnect) before connecting.
      await broker.restart();
      finish();
      await adapter.start();
      const topic = uniqueName('kafka-outage-after');
      const received: string[] = [];
      await adapter.subscribe(topic, (message) => void received.push(message.value.toString()), uniqueName('g'));
      await adapter.publish(topic, 'after');
      await waitFor(() => received.length === 1, { timeoutMs: 30_000, description: 'delivery after the restart' });
      await adapter.stop();
      // Every timer and socket kafkajs created in this test, the abandoned consumers' included, is
      // gone (async_hooks reports a destroyed resource a little later: polled, then stated).
      await waitFor(() => resources.alive().length === 0, {
        timeoutMs: 20_000,
        description: 'kafkajs timers and sockets to be gone',
      }).catch(() => undefined);
      expect(resources.alive()).toEqual([]);
    } finally {
      resources.stop();
    }
  }, 120_000);
});
