import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SOCKET_CLOSED_BY_MSGPORT, SocketRegistry } from '../src/internal/socket-registry.js';

// A plain TCP server on this machine stands in for a broker: the registry only opens and closes sockets.
let server: net.Server;
let port: number;
const accepted: net.Socket[] = [];

beforeAll(async () => {
  server = net.createServer((socket) => void accepted.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const socket of accepted) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

/** Opens a socket the way kafkajs does: the factory, then its own listeners. */
async function open(registry: Pick<SocketRegistry, 'factory'>): Promise<{ socket: net.Socket; errors: Error[] }> {
  let connected!: () => void;
  const connecting = new Promise<void>((resolve) => (connected = resolve));
  const socket = registry.factory({ host: '127.0.0.1', port, ssl: undefined as never, onConnect: () => connected() });
  const errors: Error[] = [];
  socket.on('error', (error) => errors.push(error));
  await connecting;
  return { socket, errors };
}

describe('SocketRegistry', () => {
  it('tracks the sockets it opens until they close', async () => {
    const registry = new SocketRegistry();
    const a = await open(registry);
    const b = await open(registry);
    expect(registry.openCount).toBe(2);
    a.socket.end();
    await once(a.socket, 'close');
    expect(registry.openCount).toBe(1);
    b.socket.destroy();
    await once(b.socket, 'close');
    expect(registry.openCount).toBe(0);
  });

  it('close() destroys every socket still open with an error kafkajs reports, and says how many', async () => {
    const registry = new SocketRegistry();
    const { socket, errors } = await open(registry);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    expect(registry.close()).toBe(1);
    await closed;
    expect(socket.destroyed).toBe(true);
    expect(errors.map((error) => error.message)).toEqual([SOCKET_CLOSED_BY_MSGPORT]);
    expect(registry.openCount).toBe(0);
    expect(registry.close()).toBe(0);
  });

  it('close() does not count a socket kafkajs already ended (waiting for the broker to close its side), but destroys it', async () => {
    const registry = new SocketRegistry();
    const { socket } = await open(registry);
    socket.end(); // what kafkajs' Connection.disconnect() does; the server here never closes its side
    expect(registry.openCount).toBe(1);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    expect(registry.close()).toBe(0);
    await closed;
    expect(socket.destroyed).toBe(true);
  });

  it('after close(), a socket opened anyway (a lazy reconnect) fails at once instead of staying open', async () => {
    const registry = new SocketRegistry();
    registry.close();
    const socket = registry.factory({ host: '127.0.0.1', port, ssl: undefined as never, onConnect: () => undefined });
    // Listeners attached after the factory returned, as kafkajs does, still see the error.
    const [error] = (await once(socket, 'error')) as [Error];
    expect(error.message).toBe(SOCKET_CLOSED_BY_MSGPORT);
    expect(socket.destroyed).toBe(true);
    expect(registry.openCount).toBe(0);
  });

  it('wrap() tracks the sockets of another factory: close() closes them, and those opened later at once', async () => {
    const inner = new SocketRegistry();
    const outer = new SocketRegistry();
    const wrapped = { factory: outer.wrap(inner.factory) };
    const { socket, errors } = await open(wrapped);
    expect(inner.openCount).toBe(1);
    expect(outer.openCount).toBe(1);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    expect(outer.close()).toBe(1);
    await closed;
    expect(errors.map((error) => error.message)).toEqual([SOCKET_CLOSED_BY_MSGPORT]);
    expect(inner.openCount).toBe(0);
    // The inner registry is still open; the outer one refuses for it.
    const later = wrapped.factory({ host: '127.0.0.1', port, ssl: undefined as never, onConnect: () => undefined });
    const [error] = (await once(later, 'error')) as [Error];
    expect(error.message).toBe(SOCKET_CLOSED_BY_MSGPORT);
    expect(later.destroyed).toBe(true);
    expect(outer.openCount).toBe(0);
  });
});
