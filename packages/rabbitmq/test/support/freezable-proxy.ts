import { createConnection, createServer, type Socket } from 'node:net';
import { RABBITMQ_URL } from './broker.js';

/**
 * A TCP proxy to RabbitMQ that can go silent: `freeze()` stops forwarding in both directions
 * without closing anything, as a network that drops packets does (no FIN, no RST).
 */
export async function freezableProxy(): Promise<{
  url: string;
  freeze(): void;
  clientClosed(): boolean;
  close(): Promise<void>;
}> {
  const target = new URL(RABBITMQ_URL);
  let frozen = false;
  let clientsOpen = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    clientsOpen++;
    client.on('close', () => clientsOpen--);
    const upstream = createConnection(Number(target.port || 5672), target.hostname);
    track(client);
    track(upstream);
    client.on('data', (data: Buffer) => (frozen ? undefined : upstream.write(data)));
    upstream.on('data', (data: Buffer) => (frozen ? undefined : client.write(data)));
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(RABBITMQ_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  // No heartbeats: nothing but the adapter itself may notice the silence.
  url.searchParams.set('heartbeat', '0');
  return {
    url: url.toString(),
    freeze: () => {
      frozen = true;
    },
    clientClosed: () => clientsOpen === 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
