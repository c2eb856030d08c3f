import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { RABBITMQ_URL } from './broker.js';

/**
 * A TCP proxy to the test RabbitMQ that can die like a node does: `kill()` resets every connection
 * through it and stops listening (new connections are refused). Stands in for one node of a
 * cluster: a URL list of several proxies is a "cluster" whose nodes can be killed one by one.
 */
export interface KillableProxy {
  /** The test broker's URL with this proxy's host and port (credentials kept). */
  readonly url: string;
  /** Connections accepted so far. */
  accepted(): number;
  /** Resets every connection and stops listening. */
  kill(): Promise<void>;
}

export async function killableProxy(): Promise<KillableProxy> {
  const target = new URL(RABBITMQ_URL);
  const sockets = new Set<Socket>();
  let accepted = 0;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = createConnection(Number(target.port || 5672), target.hostname);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(RABBITMQ_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    accepted: () => accepted,
    kill: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.resetAndDestroy();
      }),
  };
}

/** A URL of the test broker on a local port where nothing listens (connections are refused). */
export async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const url = new URL(RABBITMQ_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}
