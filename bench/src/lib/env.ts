import { connect as connectTcp } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';

/** The repository root (bench/dist/lib → ../../..). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Kafka bootstrap servers. */
export const KAFKA_BROKERS = process.env['MSGPORT_BENCH_KAFKA_BROKERS'] ?? '127.0.0.1:9092';
/** RabbitMQ URL (guest/guest on loopback by default). */
export const RABBITMQ_URL = process.env['MSGPORT_BENCH_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

/** True when a TCP connection to `address` (host:port) opens within `timeoutMs`. */
export function portOpen(address: string, timeoutMs = 2_000): Promise<boolean> {
  const [host, port] = address.includes('://')
    ? hostPort(new URL(address))
    : [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolvePromise) => {
    const socket = connectTcp({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function hostPort(url: URL): [string, number] {
  return [url.hostname, Number(url.port || 5672)];
}

/** The first Kafka bootstrap server, for a port check. */
export const firstKafkaBroker = (): string => KAFKA_BROKERS.split(',')[0]!.trim();

/** RabbitMQ's version as reported by the server, or undefined when it does not answer. */
export async function rabbitVersion(): Promise<string | undefined> {
  if (!(await portOpen(RABBITMQ_URL))) return undefined;
  try {
    const connection = await amqp.connect(RABBITMQ_URL);
    const version = connection.connection.serverProperties.version;
    await connection.close();
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

/** `Error: message` of anything thrown. */
export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
