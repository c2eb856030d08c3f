import { afterEach, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { isMessagingError, silentLogger, waitFor, type Message } from '@msgport/core';
import { RabbitMQAdapter, type RabbitMQAdapterOptions, type RabbitMQLegacyQueue } from '@msgport/rabbitmq';
import { uniqueName } from '@msgport/testkit';
import { RABBITMQ_URL, uniqueExchange } from './support/broker.js';
import { rejectionOf } from './support/helpers.js';
import { useSharedBroker } from './support/shared-broker.js';

// Issue 19: a group taking over the queue of a PyFly service (legacyQueues). The queue is declared
// here as PyFly declares it: durable, no arguments, named by the group, bound to the topic on the
// main exchange. The end-to-end migration with PyFly's own client is in
// packages/autoconfig/test/pyfly-migration.test.ts.

const exchangeName = uniqueExchange('msgport-legacy-test');
const opened: RabbitMQAdapter[] = [];
const legacyQueues: string[] = [];

useSharedBroker(exchangeName);

afterEach(async () => {
  await Promise.all(opened.splice(0).map((broker) => broker.stop()));
  await withChannel(async (channel) => {
    for (const queue of legacyQueues.splice(0)) await channel.deleteQueue(queue);
  });
}, 60_000);

function adapter(options: Partial<RabbitMQAdapterOptions> = {}): RabbitMQAdapter {
  const broker = new RabbitMQAdapter({
    url: RABBITMQ_URL,
    exchangeName,
    logger: silentLogger,
    queueType: 'classic',
    partitions: 2,
    ...options,
  });
  opened.push(broker);
  return broker;
}

async function withChannel<T>(use: (channel: amqplib.ConfirmChannel) => Promise<T>): Promise<T> {
  const connection = await amqplib.connect(RABBITMQ_URL);
  try {
    const channel = await connection.createConfirmChannel();
    const result = await use(channel);
    await channel.waitForConfirms();
    await channel.close();
    return result;
  } finally {
    await connection.close();
  }
}

/**
 * Declares a queue as a PyFly consumer of `topic` does. The test deletes it afterwards, with the
 * marker queue of a switch of the group of that name (the rest goes with the exchange's topology).
 */
async function declarePyFlyQueue(queue: string, topic: string): Promise<void> {
  legacyQueues.push(queue, `${topic}.${queue}.legacy.switched`);
  await withChannel(async (channel) => {
    await channel.assertExchange(exchangeName, 'direct', { durable: true });
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, exchangeName, topic);
  });
}

/** Names from `rabbitmqctl list_queues name` or `list_exchanges name` (killed after 20 s, as the shared broker's rules ask). */
async function namesOf(command: 'list_queues' | 'list_exchanges'): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    'timeout',
    ['-s', 'KILL', '20', 'rabbitmqctl', '-q', '--no-table-headers', command, 'name'],
    { timeout: 30_000 },
  );
  return stdout.split('\n').filter((line) => line !== '');
}

async function messagesIn(queue: string): Promise<number> {
  return withChannel(async (channel) => (await channel.checkQueue(queue)).messageCount);
}

/** Handles `topic` in `group`, recording `<who>/legacy` or `<who>/partitions` per message value. */
async function member(
  who: string,
  legacy: RabbitMQLegacyQueue,
  handled: Map<string, string[]>,
  options: Partial<RabbitMQAdapterOptions> = {},
): Promise<RabbitMQAdapter> {
  const broker = adapter({ legacyQueues: [legacy], ...options });
  await broker.start();
  await broker.subscribe(
    legacy.topic,
    (message: Message) => {
      const source = message.metadata.partition === undefined ? 'legacy' : 'partitions';
      const value = message.value.toString();
      handled.set(value, [...(handled.get(value) ?? []), `${who}/${source}`]);
    },
    legacy.group,
  );
  return broker;
}

describe('legacyQueues', () => {
  it('share: a legacy queue that does not exist fails subscribe with a SubscribeError naming it', async () => {
    const topic = uniqueName('legacy-missing');
    const broker = adapter({ legacyQueues: [{ topic, group: 'billing', queue: `${topic}-nope`, phase: 'share' }] });
    await broker.start();
    const error = await rejectionOf(broker.subscribe(topic, () => undefined, 'billing'));
    expect(isMessagingError(error) && error.code).toBe('SUBSCRIBE_FAILED');
    expect((error as Error).message).toContain(`"${topic}-nope"`);
    expect(isMessagingError(error) && error.retriable).toBe(false);
  }, 30_000);

  it('share: consumes the legacy queue and declares no partition queue of the group', async () => {
    const topic = uniqueName('legacy-share');
    const group = uniqueName('billing');
    await declarePyFlyQueue(group, topic);
    const handled = new Map<string, string[]>();
    await member('a', { topic, group, queue: group, phase: 'share' }, handled);
    const publisher = adapter();
    await publisher.start();
    for (let i = 0; i < 20; i++) await publisher.publish(topic, `m-${i}`, { key: `k-${i % 3}` });
    await waitFor(() => handled.size === 20, { timeoutMs: 20_000, description: '20 messages' });
    expect([...handled.values()].flat()).toEqual(Array.from({ length: 20 }, () => 'a/legacy'));
    const queues = await namesOf('list_queues');
    expect(queues.filter((name) => name.startsWith(`${topic}.`))).toEqual([`${topic}.${group}.dlq`]);
  }, 60_000);

  it('switch: instances starting together switch once, each drains before it consumes partitions; every message once', async () => {
    const topic = uniqueName('legacy-switch');
    const group = uniqueName('billing');
    await declarePyFlyQueue(group, topic);
    const publisher = adapter();
    await publisher.start();
    // A backlog in the legacy queue (nobody consumes it: the PyFly instances are stopped).
    for (let i = 0; i < 200; i++) await publisher.publish(topic, `m-${i}`, { key: `k-${i % 7}` });
    expect(await messagesIn(group)).toBe(200);

    let published = 200;
    let publishing = true;
    const stream = (async () => {
      while (publishing) await publisher.publish(topic, `m-${published++}`, { key: `k-${published % 7}` });
    })();
    const handled = new Map<string, string[]>();
    const legacy: RabbitMQLegacyQueue = { topic, group, queue: group, phase: 'switch', deleteWhenDrained: true };
    await Promise.all([member('a', legacy, handled), member('b', legacy, handled)]);
    await waitFor(() => [...handled.values()].flat().filter((who) => who.endsWith('/partitions')).length >= 50, {
      timeoutMs: 30_000,
      description: 'messages from the partition queues',
    });
    publishing = false;
    await stream;
    await waitFor(() => handled.size >= published, { timeoutMs: 30_000, description: `${published} messages` });

    expect([...handled.keys()].sort()).toEqual(Array.from({ length: published }, (_, i) => `m-${i}`).sort());
    expect([...handled.entries()].filter(([, who]) => who.length > 1)).toEqual([]);
    // Each instance handled everything it took from the legacy queue before anything from a partition.
    const order = [...handled.entries()].map(([value, [who]]) => ({ index: Number(value.slice(2)), who: who! }));
    for (const name of ['a', 'b']) {
      const own = order.filter(({ who }) => who.startsWith(`${name}/`)).map(({ who }) => who);
      const firstPartition = own.indexOf(`${name}/partitions`);
      if (firstPartition >= 0) expect(own.slice(firstPartition)).not.toContain(`${name}/legacy`);
    }
    // The backlog went through the legacy queue; the legacy queue is gone (drained, unused), the
    // switch is recorded, and the router and switch exchanges are removed.
    const fromLegacy = order.filter(({ who }) => who.endsWith('/legacy')).map(({ index }) => index);
    expect(fromLegacy.filter((index) => index < 200)).toHaveLength(200);
    const queues = await namesOf('list_queues');
    expect(queues).not.toContain(group);
    expect(queues).toContain(`${topic}.${group}.legacy.switched`);
    const exchanges = await namesOf('list_exchanges');
    expect(exchanges.filter((name) => name.startsWith(`${exchangeName}.${topic}.${group}.legacy`))).toEqual([]);
  }, 120_000);

  it('switch: once switched, a legacy queue bound to the topic again (a PyFly instance restarted) is unbound, never routed to', async () => {
    const topic = uniqueName('legacy-rebound');
    const group = uniqueName('billing');
    await declarePyFlyQueue(group, topic);
    const legacy: RabbitMQLegacyQueue = { topic, group, queue: group, phase: 'switch' };
    const handled = new Map<string, string[]>();
    const first = await member('a', legacy, handled);
    await first.stop();
    // A PyFly instance started by mistake binds its queue again, and stops.
    await declarePyFlyQueue(group, topic);
    legacyQueues.splice(-2);
    await member('b', legacy, handled);
    const publisher = adapter();
    await publisher.start();
    for (let i = 0; i < 20; i++) await publisher.publish(topic, `m-${i}`);
    await waitFor(() => handled.size === 20, { timeoutMs: 20_000, description: '20 messages' });
    expect(await messagesIn(group)).toBe(0);
    expect([...handled.values()].flat()).toEqual(Array.from({ length: 20 }, () => 'b/partitions'));
  }, 60_000);
});
