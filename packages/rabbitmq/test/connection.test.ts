import { describe, expect, it } from '@jest/globals';
import { waitFor } from '@msgport/core';
import { Connection, type ConnectionState } from '../src/internal/connection.js';
import type { Link } from '../src/internal/link.js';
import { resolveSettings } from '../src/internal/settings.js';
import { uniqueExchange } from './support/broker.js';
import { capturingLogger } from './support/helpers.js';
import { useSharedBroker } from './support/shared-broker.js';
import { killableProxy, refusingUrl } from './support/tcp-proxy.js';

// The connection module alone, against the real broker (through local proxies standing for the
// nodes of a cluster), with hooks that record what the adapter would be asked to do.

const exchangeName = uniqueExchange('msgport-connection-test');
useSharedBroker(exchangeName);

function recorder(): { hooks: ConstructorParameters<typeof Connection>[2]; events: string[] } {
  const events: string[] = [];
  return {
    events,
    hooks: {
      restore: (link: Link) => {
        events.push(`restore ${link.endpoint.hostPort}`);
        return Promise.resolve(() => {
          events.push(`opened ${link.endpoint.hostPort}`);
        });
      },
      lost: (link: Link) => {
        events.push(`lost ${link.endpoint.hostPort}`);
      },
    },
  };
}

const kind = (connection: Connection): ConnectionState['kind'] => connection.state.kind;

describe('Connection', () => {
  it('goes closed → connecting → open → recovering → open (on the next node) → stopping → closed', async () => {
    const [first, second] = [await killableProxy(), await killableProxy()];
    const settings = resolveSettings({
      url: [first.url, second.url],
      exchangeName,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    const { hooks, events } = recorder();
    const connection = new Connection(settings, capturingLogger(), hooks);
    try {
      expect(kind(connection)).toBe('closed');
      const starting = connection.start();
      expect(kind(connection)).toBe('connecting');
      await starting;
      expect(kind(connection)).toBe('open');
      const firstLink = connection.current!;
      expect(firstLink.endpoint.url).toBe(first.url);
      expect(firstLink.publisher).not.toBeNull();

      await first.kill();
      await waitFor(() => kind(connection) === 'recovering' || undefined, { timeoutMs: 5_000, description: 'recovering' });
      expect(connection.current).toBeNull();
      await waitFor(() => kind(connection) === 'open' || undefined, { timeoutMs: 10_000, description: 'open again' });
      const secondLink = connection.current!;
      expect(secondLink.endpoint.url).toBe(second.url);
      // The owner was told of the loss, restored its consumers on the new connection before it opened.
      const port = (url: string): string => `127.0.0.1:${new URL(url).port}`;
      expect(events).toEqual([`lost ${port(first.url)}`, `restore ${port(second.url)}`, `opened ${port(second.url)}`]);

      connection.beginStop();
      expect(connection.state).toEqual({ kind: 'stopping', link: secondLink });
      expect(connection.current).toBe(secondLink);
      const link = connection.shutDown();
      expect(link).toBe(secondLink);
      expect(kind(connection)).toBe('closed');
      expect(connection.current).toBeNull();
      await connection.close(link!, Date.now() + 1_000);
      expect(secondLink.closed).toBe(true);
    } finally {
      await Promise.all([first.kill(), second.kill()]);
    }
  }, 30_000);

  it('does not reconnect once stop() began: a lost connection leaves it stopping without a link', async () => {
    const node = await killableProxy();
    const settings = resolveSettings({ url: node.url, exchangeName });
    const { hooks, events } = recorder();
    const connection = new Connection(settings, capturingLogger(), hooks);
    try {
      await connection.start();
      connection.beginStop();
      // What waits for the connection (a publish) is woken when it is lost, to fail at once.
      const waiting = connection.wait(Date.now() + 20_000);
      await node.kill();
      await expect(waiting).resolves.toBe(true);
      expect(connection.state).toEqual({ kind: 'stopping', link: null });
      expect(connection.current).toBeNull();
      expect(events).toEqual([`lost 127.0.0.1:${new URL(node.url).port}`]);
      connection.shutDown();
    } finally {
      await node.kill();
    }
  }, 30_000);

  it('ends a reconnection when it shuts down: the state is closed and no attempt is left', async () => {
    const node = await killableProxy();
    const settings = resolveSettings({
      url: [node.url, await refusingUrl()],
      exchangeName,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
    });
    const connection = new Connection(settings, capturingLogger(), recorder().hooks);
    await connection.start();
    await node.kill();
    await waitFor(() => (connection.state.kind === 'recovering' && connection.state.attempt >= 3) || undefined, {
      timeoutMs: 5_000,
      description: 'three failed attempts',
    });
    expect(connection.health()).toMatchObject({ link: null, down: false, details: { connection: 'reconnecting' } });
    expect(connection.shutDown()).toBeNull();
    expect(kind(connection)).toBe('closed');
  }, 30_000);
});
