import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import amqplib from 'amqplib';
import { isMessagingError, silentLogger, waitFor, type HealthStatus } from '@msgport/core';
import { RabbitMQAdapter, type RabbitMQAdapterOptions } from '@msgport/rabbitmq';
import { collect, uniqueName } from '@msgport/testkit';
import {
  deleteTopology,
  RABBITMQ_URL,
  rabbitmqApp,
  requireBroker,
  uniqueExchange,
  waitForOtherClientsToLeave,
} from './support/broker.js';
import { lockBrokerExclusive, type BrokerLock } from './support/broker-lock.js';
import { freezableProxy } from './support/freezable-proxy.js';

// stop() while RabbitMQ is away (rabbitmqctl stop_app): it must not wait for a reconnection that
// will not come, nor depend on publishTimeoutMs, and must still drain running handlers (C7).
// Both timeouts stay at their 30 s defaults, so any such wait would show in the figures.

const exchangeName = uniqueExchange('msgport-stop-outage-test');

interface Outcome {
  readonly at: number;
  readonly error: unknown;
}

/** Settles `operation` into when it settled and how (never rejects). */
function outcome(operation: Promise<unknown>): Promise<Outcome> {
  return operation.then(
    () => ({ at: Date.now(), error: null }),
    (error: unknown) => ({ at: Date.now(), error }),
  );
}

function gate(): { readonly opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

interface Observations {
  stopBegan: number;
  stopMs: number;
  stopError: unknown;
  appPublish: Outcome;
  handlerPublish: Outcome;
  /** True when stop() had not resolved yet once the handler's publish failed (handler B still running). */
  stopPendingWhileHandlerRan: boolean;
  slowHandlerFinishedAt: number;
  publishingHandlerFinishedAt: number;
  stoppedAt: number;
  healthAfterStop: HealthStatus;
  /** Messages in each group queue once the broker is back: none was acknowledged on a dead channel, none dropped. */
  queueDepths: { publishing: number; slow: number; deadLettering: number; deadLetterQueue: number };
}

const opened: RabbitMQAdapter[] = [];
function adapter(options: Partial<RabbitMQAdapterOptions> = {}): RabbitMQAdapter {
  const broker = new RabbitMQAdapter({ url: RABBITMQ_URL, exchangeName, logger: silentLogger, ...options });
  opened.push(broker);
  return broker;
}

async function ensureBrokerRunning(): Promise<void> {
  await rabbitmqApp('start_app');
  await waitFor(
    () =>
      requireBroker().then(
        () => true,
        () => false,
      ),
    {
      timeoutMs: 60_000,
      intervalMs: 200,
      description: 'RabbitMQ to accept connections again',
    },
  );
}

/** Messages in each of `queues`; a group's queues are its partition queues (the default 4), summed. */
async function messagesIn(queues: ReadonlyArray<string | { readonly topic: string; readonly group: string }>): Promise<number[]> {
  const connection = await amqplib.connect(RABBITMQ_URL);
  try {
    const channel = await connection.createChannel();
    const counts: number[] = [];
    for (const queue of queues) {
      const names =
        typeof queue === 'string' ? [queue] : [0, 1, 2, 3].map((partition) => `${queue.topic}.${queue.group}.p${partition}`);
      let count = 0;
      for (const name of names) count += (await channel.checkQueue(name)).messageCount;
      counts.push(count);
    }
    await channel.close();
    return counts;
  } finally {
    await connection.close();
  }
}

let observed: Observations;
let lock: BrokerLock | undefined;

beforeAll(async () => {
  // This file stops the broker: never under another test file of this package (they hold the lock shared).
  lock = await lockBrokerExclusive(120_000);
  await requireBroker();

  const publishingTopic = uniqueName('stop-outage-pub');
  const slowTopic = uniqueName('stop-outage-slow');
  const deadLetterTopic = uniqueName('stop-outage-dl');
  const group = uniqueName('g');
  const broker = adapter();

  // Handler A publishes once the broker is away: its publish waits for the reconnection.
  const releasePublishing = gate();
  const enteredPublishing = gate();
  let handlerPublish!: Promise<Outcome>;
  let publishingHandlerFinishedAt = 0;
  await broker.subscribe(
    publishingTopic,
    async () => {
      enteredPublishing.open();
      await releasePublishing.opened;
      handlerPublish = outcome(broker.publish(`${publishingTopic}.out`, 'from the handler'));
      await handlerPublish;
      publishingHandlerFinishedAt = Date.now();
    },
    group,
  );
  // Handler B just takes long: stop() must wait for it (C7), outage or not.
  const releaseSlow = gate();
  const enteredSlow = gate();
  let slowHandlerFinishedAt = 0;
  await broker.subscribe(
    slowTopic,
    async () => {
      enteredSlow.open();
      await releaseSlow.opened;
      slowHandlerFinishedAt = Date.now();
    },
    group,
  );
  // Handler C fails once the broker is away: core dead-letters at once, and that publish waits for the reconnection.
  const releaseFailing = gate();
  const enteredFailing = gate();
  await broker.subscribe(
    deadLetterTopic,
    async () => {
      enteredFailing.open();
      await releaseFailing.opened;
      throw new Error('fails during the outage');
    },
    { group, retry: { maxAttempts: 1 } },
  );
  await broker.start();
  await broker.publish(publishingTopic, 'a');
  await broker.publish(slowTopic, 'b');
  await broker.publish(deadLetterTopic, 'c');
  await Promise.all([enteredPublishing.opened, enteredSlow.opened, enteredFailing.opened]);

  const stillConnected = await waitForOtherClientsToLeave(30_000);
  if (stillConnected.length > 0) {
    console.log(`Stopping RabbitMQ although other clients are connected: ${stillConnected.join(', ')}`);
  }

  let partial: Omit<Observations, 'queueDepths'>;
  try {
    await rabbitmqApp('stop_app');
    await waitFor(async () => (await broker.health()).status !== 'up', {
      timeoutMs: 10_000,
      description: 'the outage to show in health',
    });

    // An application publish, the handler's publish and the dead letter all wait for the reconnection.
    const appPublish = outcome(broker.publish(publishingTopic, 'during the outage'));
    releasePublishing.open();
    releaseFailing.open();
    await waitFor(async () => (await broker.health()).details['pendingPublishes'] === 3, {
      timeoutMs: 10_000,
      description: 'three publishes waiting for the reconnection',
    });

    let stoppedAt = 0;
    let stopError: unknown = null;
    const stopBegan = Date.now();
    const stopping = broker.stop().then(
      () => {
        stoppedAt = Date.now();
      },
      (error: unknown) => {
        stoppedAt = Date.now();
        stopError = error;
      },
    );
    const handlerOutcome = await handlerPublish;
    const stopPendingWhileHandlerRan = stoppedAt === 0;
    releaseSlow.open();
    await stopping;
    partial = {
      stopBegan,
      stopMs: stoppedAt - stopBegan,
      stopError,
      appPublish: await appPublish,
      handlerPublish: handlerOutcome,
      stopPendingWhileHandlerRan,
      slowHandlerFinishedAt,
      publishingHandlerFinishedAt,
      stoppedAt,
      healthAfterStop: (await broker.health()).status,
    };
  } finally {
    releasePublishing.open();
    releaseFailing.open();
    releaseSlow.open();
    await ensureBrokerRunning();
  }
  const [publishing, slow, deadLettering, deadLetterQueue] = await messagesIn([
    { topic: publishingTopic, group },
    { topic: slowTopic, group },
    { topic: deadLetterTopic, group },
    `${deadLetterTopic}.${group}.dlq`,
  ]);
  observed = {
    ...partial,
    queueDepths: { publishing: publishing!, slow: slow!, deadLettering: deadLettering!, deadLetterQueue: deadLetterQueue! },
  };
  console.log(
    `stop() during a RabbitMQ outage: ${observed.stopMs} ms (publishTimeoutMs and shutdownTimeoutMs 30000), ` +
      `publishes waiting for the connection rejected after ${observed.appPublish.at - observed.stopBegan} ms ` +
      `(application) and ${observed.handlerPublish.at - observed.stopBegan} ms (in a handler)`,
  );
}, 240_000);

afterAll(async () => {
  try {
    await ensureBrokerRunning();
    await Promise.allSettled(opened.splice(0).map((broker) => broker.stop()));
    await deleteTopology(exchangeName);
  } finally {
    lock?.release();
  }
}, 120_000);

describe('RabbitMQAdapter.stop() while the broker is away (rabbitmqctl stop_app)', () => {
  it('completes promptly and resolves: no wait for the reconnection, none for publishTimeoutMs', () => {
    expect(observed.stopError).toBeNull();
    expect(observed.stopMs).toBeLessThan(1_000);
    expect(observed.healthAfterStop).toBe('stopped');
  });

  it('rejects the publishes that waited for the connection as not sent, never resolves them', () => {
    for (const { error } of [observed.appPublish, observed.handlerPublish]) {
      expect(isMessagingError(error)).toBe(true);
      expect(error).toMatchObject({ name: 'BrokerStateError', code: 'BROKER_NOT_RUNNING', retriable: false });
      expect((error as Error).message).toMatch(/stopped while the publish waited for the connection.*not sent/);
    }
  });

  it('still drains the running handlers (C7): stop() resolves only after they finished', () => {
    expect(observed.stopPendingWhileHandlerRan).toBe(true);
    expect(observed.slowHandlerFinishedAt).toBeGreaterThan(0);
    expect(observed.slowHandlerFinishedAt).toBeLessThanOrEqual(observed.stoppedAt);
    expect(observed.publishingHandlerFinishedAt).toBeGreaterThan(0);
    expect(observed.publishingHandlerFinishedAt).toBeLessThanOrEqual(observed.stoppedAt);
  });

  it('drops nothing: messages that could not be acknowledged (or dead-lettered) are back in their queues', () => {
    expect(observed.queueDepths).toEqual({ publishing: 1, slow: 1, deadLettering: 1, deadLetterQueue: 0 });
  });
});

describe('RabbitMQAdapter.stop() on a live connection', () => {
  it('waits for the confirms of publishes already sent: each resolves on its confirm, and arrives', async () => {
    const topic = uniqueName('stop-confirms');
    const group = uniqueName('g');
    const received = collect({ timeoutMs: 20_000 });
    const consumer = adapter();
    await consumer.subscribe(topic, received.handler, group);
    await consumer.start();
    const publisher = adapter();
    await publisher.start();

    const values = Array.from({ length: 200 }, (_, i) => `m${i}`);
    // Every publish is written to the channel within the next microtasks, before stop() reaches
    // disconnect(); their confirms (persistent messages, durable queue) come later.
    const publishes = values.map((value) => outcome(publisher.publish(topic, value)));
    await publisher.stop();
    const settled = await Promise.all(publishes);

    expect(settled.filter(({ error }) => error !== null).map(({ error }) => String(error))).toEqual([]);
    await received.waitForCount(values.length);
    expect([...received.values()].sort()).toEqual([...values].sort());
  }, 60_000);
});

describe('RabbitMQAdapter.stop() when the network went silent (no FIN, no heartbeat)', () => {
  it('is bounded by shutdownTimeoutMs and a short close grace, resolves, and drops the connection', async () => {
    const proxy = await freezableProxy();
    try {
      const broker = adapter({ url: proxy.url, shutdownTimeoutMs: 500 });
      await broker.subscribe(uniqueName('stop-silent'), () => undefined, uniqueName('g'));
      await broker.start();
      proxy.freeze();

      const began = Date.now();
      // Capped only so that a regression reports a figure instead of hanging the file.
      const result = await Promise.race([
        outcome(broker.stop()),
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000).unref()),
      ]);
      const stopMs = Date.now() - began;
      console.log(`stop() on a silent network: ${stopMs} ms (shutdownTimeoutMs 500, heartbeat off)`);

      expect(result).not.toBe('hung');
      expect((result as Outcome).error).toBeNull();
      // 500 ms waiting for RabbitMQ to confirm the consumer cancel (the drain budget), then 1 s for the close-ok.
      expect(stopMs).toBeLessThan(5_000);
      expect((await broker.health()).status).toBe('stopped');
      await waitFor(() => proxy.clientClosed(), { timeoutMs: 5_000, description: 'the adapter to drop its connection' });
    } finally {
      await proxy.close();
    }
  }, 60_000);
});
