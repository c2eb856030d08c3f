import { describe, expect, it } from '@jest/globals';
import { isMessagingError, silentLogger } from '@msgport/core';
import { RabbitMQAdapter } from '@msgport/rabbitmq';
import { uniqueName } from '@msgport/testkit';
import { uniqueExchange } from './support/broker.js';
import { useSharedBroker } from './support/shared-broker.js';
import { freezableProxy } from './support/freezable-proxy.js';

// publishTimeoutMs for a publish already on the wire whose confirm never comes (the network went
// silent: no FIN, no heartbeat, so the connection looks alive). One timer watches every publish's
// deadline; each publish must still reject on its own deadline, never before it, never resolve.

const exchangeName = uniqueExchange('msgport-publish-timeout-test');
useSharedBroker(exchangeName);

interface Outcome {
  readonly at: number;
  readonly error: unknown;
}

function outcome(operation: Promise<unknown>): Promise<Outcome> {
  return operation.then(
    () => ({ at: Date.now(), error: null }),
    (error: unknown) => ({ at: Date.now(), error }),
  );
}

describe('RabbitMQAdapter publish() without a confirm', () => {
  it('rejects each publish with PUBLISH_TIMEOUT at its own deadline, not before, and never resolves it', async () => {
    const PUBLISH_TIMEOUT_MS = 800;
    const proxy = await freezableProxy();
    const broker = new RabbitMQAdapter({
      url: proxy.url,
      exchangeName,
      logger: silentLogger,
      publishTimeoutMs: PUBLISH_TIMEOUT_MS,
      shutdownTimeoutMs: 200,
    });
    try {
      const topic = uniqueName('no-confirm');
      await broker.start();
      // Confirms come while the network is up.
      await expect(broker.publish(topic, 'before')).resolves.toBeUndefined();
      proxy.freeze();

      const firstAt = Date.now();
      const first = outcome(broker.publish(topic, 'first'));
      await new Promise((resolve) => setTimeout(resolve, 600));
      const secondAt = Date.now();
      const second = outcome(broker.publish(topic, 'second', { key: 'k', headers: { h: 'v' } }));
      expect((await broker.health()).details['pendingPublishes']).toBe(2);

      const [a, b] = await Promise.all([first, second]);
      for (const { error } of [a, b]) {
        expect(isMessagingError(error)).toBe(true);
        expect(error).toMatchObject({ name: 'PublishError', code: 'PUBLISH_TIMEOUT', retriable: true });
        expect((error as Error).message).toMatch(/did not confirm the message within 800 ms/);
      }
      expect(a.at - firstAt).toBeGreaterThanOrEqual(PUBLISH_TIMEOUT_MS);
      expect(b.at - secondAt).toBeGreaterThanOrEqual(PUBLISH_TIMEOUT_MS);
      // Each on its own deadline: the second did not wait for a sweep long after, nor go with the first.
      expect(a.at - firstAt).toBeLessThan(PUBLISH_TIMEOUT_MS + 1_000);
      expect(b.at - secondAt).toBeLessThan(PUBLISH_TIMEOUT_MS + 1_000);
      expect(b.at - a.at).toBeGreaterThanOrEqual(300);
      expect((await broker.health()).details['pendingPublishes']).toBe(0);
    } finally {
      await broker.stop();
      await proxy.close();
    }
  }, 60_000);
});
