import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, TLSSocket } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * A fresh self-signed certificate for `localhost` and 127.0.0.1, made with the `openssl` command
 * (so that no private key lives in the repository). Fails loudly when `openssl` is missing.
 */
export async function selfSignedCertificate(): Promise<TestCertificate> {
  const directory = await mkdtemp(join(tmpdir(), 'msgport-tls-'));
  try {
    const key = join(directory, 'key.pem');
    const cert = join(directory, 'cert.pem');
    try {
      await run(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '2',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=DNS:localhost,IP:127.0.0.1',
        ],
        { timeout: 30_000 },
      );
    } catch (error) {
      throw new Error(
        `The TLS tests need the openssl command on the PATH to make a test certificate: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return { cert: await readFile(cert), key: await readFile(key) };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of the plain AMQP broker. In mode `tls` it terminates TLS with
 * `certificate` (a TLS listener, as RabbitMQ's on 5671); in mode `plain` it passes bytes through
 * (a listener that does not speak TLS). `setMode()` applies to new connections;
 * `dropConnections()` cuts the current ones, as a broker restart would.
 */
export interface TlsProxy {
  readonly port: number;
  setMode(mode: 'tls' | 'plain'): void;
  dropConnections(): void;
  close(): Promise<void>;
}

export async function tlsProxy(target: { host: string; port: number }, certificate: TestCertificate): Promise<TlsProxy> {
  const secureContext = createSecureContext({ cert: certificate.cert, key: certificate.key });
  let mode: 'tls' | 'plain' = 'tls';
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    track(client);
    const front: Socket = mode === 'tls' ? new TLSSocket(client, { isServer: true, secureContext }) : client;
    if (front !== client) track(front);
    const upstream = createConnection(target);
    track(upstream);
    const end = (): void => {
      front.destroy();
      client.destroy();
      upstream.destroy();
    };
    front.on('error', end);
    client.on('error', end);
    upstream.on('error', end);
    front.on('close', end);
    upstream.on('close', end);
    front.pipe(upstream);
    upstream.pipe(front);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the TLS proxy has no port');
  return {
    port: address.port,
    setMode: (next) => {
      mode = next;
    },
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
