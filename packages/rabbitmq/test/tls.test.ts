import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { silentLogger, waitFor } from '@msgport/core';
import { RabbitMQAdapter, type RabbitMQAdapterOptions } from '@msgport/rabbitmq';
import { collect, uniqueName } from '@msgport/testkit';
import { RABBITMQ_URL, uniqueExchange } from './support/broker.js';
import { capturingLogger, rejectionOf } from './support/helpers.js';
import { useSharedBroker } from './support/shared-broker.js';
import { selfSignedCertificate, tlsProxy, type TestCertificate, type TlsProxy } from './support/tls-proxy.js';

// TLS settings that cannot work fail start() at once with TLS_FAILED (not retriable), and during a
// reconnection they make health() `down` with the reason while the adapter keeps retrying. The TLS
// listener is a proxy in front of the plain test broker, with a throwaway self-signed certificate.

const exchangeName = uniqueExchange('msgport-tls-test');
const password = 'Tls-S3cret-Pa55';
const opened: RabbitMQAdapter[] = [];

function adapter(options: Partial<RabbitMQAdapterOptions> & { url: string }): RabbitMQAdapter {
  const broker = new RabbitMQAdapter({ exchangeName, logger: silentLogger, ...options });
  opened.push(broker);
  return broker;
}

/** RABBITMQ_URL with `amqps:`, and with another host, port or password where given. */
function amqpsUrl(changes: { host?: string; port?: number; password?: string } = {}): string {
  const url = new URL(RABBITMQ_URL);
  url.protocol = 'amqps:';
  if (changes.host !== undefined) url.hostname = changes.host;
  if (changes.port !== undefined) url.port = String(changes.port);
  if (changes.password !== undefined) url.password = changes.password;
  // The plain port, spelled out: amqps:// would otherwise default to 5671.
  if (url.port === '') url.port = '5672';
  return url.toString();
}

function everything(error: unknown): string {
  return `${String(error)}\n${inspect(error, { depth: 10 })}\n${(error as Error).stack ?? ''}`;
}

let certificate: TestCertificate;
let proxy: TlsProxy;

useSharedBroker(exchangeName);

beforeAll(async () => {
  certificate = await selfSignedCertificate();
  const target = new URL(RABBITMQ_URL);
  proxy = await tlsProxy({ host: target.hostname, port: target.port === '' ? 5672 : Number(target.port) }, certificate);
}, 120_000);

afterEach(async () => {
  await Promise.all(opened.splice(0).map((broker) => broker.stop()));
  proxy.setMode('tls');
});

afterAll(async () => {
  await proxy?.close();
}, 60_000);

describe('RabbitMQAdapter over TLS', () => {
  it('start() with amqps:// to the plain AMQP port fails at once with TLS_FAILED, not retriable, on one line, without the password', async () => {
    const logger = capturingLogger();
    const url = amqpsUrl({ password });
    const broker = adapter({ url, logger, connectionTimeoutMs: 10_000 });
    const began = Date.now();
    const error = await rejectionOf(broker.start());
    const elapsed = Date.now() - began;

    expect(error).toMatchObject({ name: 'ConnectionError', code: 'TLS_FAILED', retriable: false });
    expect(elapsed).toBeLessThan(2_000);
    const { message } = error as Error;
    expect(message).not.toMatch(/[\r\n]/);
    expect(message).toContain('wrong version number');
    const { hostname, port } = new URL(url);
    expect(message.toLowerCase()).toContain(
      `the broker's listener at ${hostname}:${port} may not speak TLS (use amqp://) or its certificate is not trusted (pass CA/cert options`.toLowerCase(),
    );
    expect(message).not.toContain('Check that the broker is running');
    expect(everything(error)).not.toContain(password);
    expect(logger.lines.join('\n')).not.toContain(password);
    expect(logger.lines.filter((line) => line.includes('retrying'))).toEqual([]);
    expect((await broker.health()).status).toBe('stopped');
  });

  it('start() against a TLS listener whose certificate is not trusted fails at once with TLS_FAILED', async () => {
    const broker = adapter({ url: amqpsUrl({ host: '127.0.0.1', port: proxy.port }) });
    const began = Date.now();
    const error = await rejectionOf(broker.start());
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(error).toMatchObject({ name: 'ConnectionError', code: 'TLS_FAILED', retriable: false });
    expect((error as Error).message).toContain('self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)');
  });

  it('tls options need an amqps:// URL', () => {
    expect(() => new RabbitMQAdapter({ url: RABBITMQ_URL, tls: { ca: [certificate.cert] } })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('with the CA in `tls` it works over TLS; a listener that stops speaking TLS makes health down with the reason while it keeps retrying', async () => {
    const logger = capturingLogger();
    const broker = adapter({
      url: amqpsUrl({ host: '127.0.0.1', port: proxy.port }),
      tls: { ca: [certificate.cert] },
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      publishTimeoutMs: 60_000,
      logger,
    });
    const topic = uniqueName('tls');
    const received = collect();
    await broker.subscribe(topic, received.handler, uniqueName('g'));
    await broker.start();
    await broker.publish(topic, 'over TLS');
    await received.waitForCount(1);
    expect((await broker.health()).status).toBe('up');

    // The listener is reconfigured without TLS, and the connection drops.
    proxy.setMode('plain');
    proxy.dropConnections();
    const down = await waitFor(
      async () => {
        const report = await broker.health();
        return report.status === 'down' ? report : null;
      },
      { timeoutMs: 10_000, intervalMs: 20, description: 'health down over the TLS failure' },
    );
    // `down` at once, not only after publishTimeoutMs (60 s) of outage.
    expect(String(down.details.lastError)).toContain('TLS handshake failed: wrong version number');
    await waitFor(() => logger.lines.some((line) => line.startsWith('error: ') && line.includes('may not speak TLS')), {
      timeoutMs: 5_000,
      description: 'an error log with the TLS hint',
    });
    const attempts = Number(down.details.reconnectAttempts);
    await waitFor(async () => Number((await broker.health()).details.reconnectAttempts) > attempts + 1, {
      timeoutMs: 5_000,
      description: 'further reconnection attempts',
    });

    // TLS is back: the adapter reconnects by itself and messages flow again.
    proxy.setMode('tls');
    await waitFor(async () => (await broker.health()).status === 'up', { timeoutMs: 10_000, description: 'health up again' });
    await broker.publish(topic, 'after the TLS outage');
    await received.waitForCount(2);
  }, 30_000);
});
