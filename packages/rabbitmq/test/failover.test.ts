import { afterAll, describe, expect, it } from '@jest/globals';
import { isMessagingError, waitFor } from '@msgport/core';
import { RabbitMQAdapter, type RabbitMQAdapterOptions } from '@msgport/rabbitmq';
import { collect, uniqueName } from '@msgport/testkit';
import { uniqueExchange } from './support/broker.js';
import { capturingLogger } from './support/helpers.js';
import { useSharedBroker } from './support/shared-broker.js';
import { killableProxy, refusingUrl, type KillableProxy } from './support/tcp-proxy.js';

// Several URLs stand for the nodes of a cluster: local TCP proxies to the test broker, one of which
// dies (every connection reset, no longer listening) as a node does when it is killed.

const exchangeName = uniqueExchange('msgport-failover-test');
useSharedBroker(exchangeName);

const opened: RabbitMQAdapter[] = [];
const proxies: KillableProxy[] = [];
afterAll(async () => {
  await Promise.all(opened.map((broker) => broker.stop()));
  await Promise.all(proxies.map((proxy) => proxy.kill()));
});

/** `url` with the password replaced by `secret`, which the broker refuses... so only used where no login happens. */
function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

function adapter(options: Partial<RabbitMQAdapterOptions> & Pick<RabbitMQAdapterOptions, 'url'>): RabbitMQAdapter {
  const broker = new RabbitMQAdapter({ exchangeName, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, ...options });
  opened.push(broker);
  return broker;
}

async function proxy(): Promise<KillableProxy> {
  const created = await killableProxy();
  proxies.push(created);
  return created;
}

describe('RabbitMQAdapter with several URLs', () => {
  it('connects to the first URL that answers', async () => {
    const refused = await refusingUrl();
    const node = await proxy();
    const logger = capturingLogger();
    const broker = adapter({ url: [refused, node.url], logger });
    await broker.start();
    const health = await broker.health();
    expect(health.status).toBe('up');
    expect(health.details['url']).toBe(node.url.replace(/:guest@/, ':***@'));
    expect(node.accepted()).toBe(1);
    expect(logger.lines.join('\n')).not.toMatch(/:guest@/);
    await broker.stop();
  }, 30_000);

  it('takes the URLs as one comma-separated string too', async () => {
    const node = await proxy();
    const broker = adapter({ url: `${await refusingUrl()}, ${node.url}` });
    await broker.start();
    expect((await broker.health()).status).toBe('up');
    await broker.stop();
  }, 30_000);

  it('fails to start naming every URL, passwords masked, when none answers', async () => {
    const secret = 'not-the-real-password';
    const urls = [withPassword(await refusingUrl(), secret), withPassword(await refusingUrl(), secret)];
    const broker = adapter({ url: urls, connectionTimeoutMs: 500 });
    const error = await broker.start().then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(isMessagingError(error) && error.code).toBe('CONNECTION_FAILED');
    const message = (error as Error).message;
    for (const url of urls) expect(message).toContain(url.replace(`:${secret}@`, ':***@'));
    expect(message).not.toContain(secret);
  }, 30_000);

  it('fails over to another node when its node dies: consumers resume, no confirmed publish is lost', async () => {
    const [first, second] = [await proxy(), await proxy()];
    const topic = uniqueName('failover');
    const logger = capturingLogger();
    const broker = adapter({ url: [first.url, second.url], logger, publishTimeoutMs: 20_000 });
    const group = collect({ timeoutMs: 30_000 });
    const broadcast = collect({ timeoutMs: 30_000 });
    await broker.subscribe(topic, group.handler, 'workers');
    await broker.subscribe(topic, broadcast.handler);
    await broker.start();
    expect(first.accepted()).toBeGreaterThan(0);
    expect(second.accepted()).toBe(0);

    const total = 400;
    const publishes: Array<Promise<void>> = [];
    for (let i = 0; i < total; i++) {
      publishes.push(broker.publish(topic, String(i), { key: `k${i % 7}` }));
      // The node dies with publishes on the wire and more to come.
      if (i === total / 2) await first.kill();
    }
    await Promise.all(publishes);
    expect(second.accepted()).toBeGreaterThan(0);

    const expected = Array.from({ length: total }, (_, i) => String(i));
    await waitFor(() => expected.every((value) => group.values().includes(value)), {
      timeoutMs: 30_000,
      description: 'every confirmed message in the group',
    });
    await waitFor(() => broker.health().then((health) => health.status === 'up'), {
      timeoutMs: 10_000,
      description: 'health up',
    });
    // Broadcast: what was published once the consumer was resumed on the second node arrives there too.
    await broker.publish(topic, 'after');
    await waitFor(() => broadcast.values().includes('after'), { timeoutMs: 10_000, description: 'the broadcast after failover' });
    const health = await broker.health();
    expect(health.details['url']).toBe(second.url.replace(/:guest@/, ':***@'));
    const lines = logger.lines.join('\n');
    expect(lines).toContain('failed over from');
    expect(lines).not.toMatch(/:guest@/);
  }, 90_000);
});
