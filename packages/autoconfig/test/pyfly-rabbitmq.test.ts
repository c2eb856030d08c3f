import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { messageListener, waitFor, type Message } from '@msgport/core';
import { startMessaging, type MessagingHandle } from '@msgport/autoconfig';
import { tempDir } from './temp-dir.js';

/**
 * Issue 19: a msgport service configured only by a PyFly `pyfly.yaml` and a PyFly service (its
 * RabbitMQ side on aio-pika, Debian's python3-aio-pika, as PyFly uses it: see
 * support/pyfly_rabbitmq_peer.py) exchange messages both ways on the real broker.
 */
const run = promisify(execFile);
/** Debian's python3 (where apt installs python3-aio-pika), unless MSGPORT_PYTHON names another. */
const PYTHON = process.env['MSGPORT_PYTHON'] ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const PEER = fileURLToPath(new URL('./support/pyfly_rabbitmq_peer.py', import.meta.url));
const URL_ = process.env['MSGPORT_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672/';
const suffix = randomBytes(4).toString('hex');

// Only what a PyFly service's file holds: no exchange name, so both sides use PyFly's default "pyfly".
const project = tempDir({
  'pyfly.yaml': [
    'pyfly:',
    '  app:',
    '    name: billing',
    '  messaging:',
    '    provider: rabbitmq',
    '    rabbitmq:',
    `      url: ${URL_}`,
    '',
  ].join('\n'),
});
const handles: MessagingHandle[] = [];
const topics: string[] = [];

beforeAll(async () => {
  try {
    await run(PYTHON, ['-c', 'import aio_pika'], { timeout: 30_000 });
  } catch (error) {
    throw new Error(
      `${PYTHON} cannot import aio_pika (PyFly's RabbitMQ client): install it (apt-get install -y python3-aio-pika) ` +
        `or point MSGPORT_PYTHON at a python that has it. ${(error as Error).message}`,
      { cause: error },
    );
  }
}, 60_000);

afterEach(async () => {
  await Promise.all(handles.splice(0).map((handle) => handle.stop()));
});
afterAll(async () => {
  project.cleanup();
  await deleteQueuesOf(topics);
}, 60_000);

async function msgportService(topic: string, group: string, handled: Message[]): Promise<MessagingHandle> {
  const handle = await startMessaging({
    cwd: project.dir,
    env: {},
    signals: false,
    listeners: [messageListener({ topic, group }, (message) => void handled.push(message))],
  });
  handles.push(handle);
  return handle;
}

describe('a msgport service beside a PyFly service (RabbitMQ, one pyfly.yaml)', () => {
  it("takes PyFly's exchange from the file's dialect and handles what a PyFly service publishes, headers included", async () => {
    const topic = `orders-${suffix}`;
    topics.push(topic);
    const handled: Message[] = [];
    const messaging = await msgportService(topic, 'billing', handled);
    expect(messaging.provider).toBe('rabbitmq');

    await run(PYTHON, [PEER, 'publish', URL_, 'pyfly', topic, '20', 'from-pyfly'], { timeout: 60_000 });

    await waitFor(() => handled.length >= 20, { timeoutMs: 20_000, description: '20 messages from the PyFly publisher' });
    expect(handled.map((message) => message.value.toString()).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `from-pyfly-${i}`).sort(),
    );
    for (const message of handled) {
      expect(message.topic).toBe(topic);
      expect(message.key).toBeNull(); // PyFly does not send keys
      expect(message.headers['x-from']).toBe('pyfly');
      expect(message.headers['x-seq']).toBe(message.value.toString().slice('from-pyfly-'.length));
    }
  }, 60_000);

  it('publishes what a PyFly consumer group handles, once each, with value and headers as sent', async () => {
    const topic = `payments-${suffix}`;
    topics.push(topic);
    const group = `pyfly-shipping-${suffix}`;
    const consumer = spawn(PYTHON, [PEER, 'consume', URL_, 'pyfly', topic, group, '20', '30'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let stderr = '';
    consumer.stdout
      .setEncoding('utf8')
      .on('data', (chunk: string) => lines.push(...chunk.split('\n').filter((line) => line !== '')));
    consumer.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => consumer.on('exit', resolve));
    try {
      await waitFor(() => lines.includes('ready'), {
        timeoutMs: 20_000,
        description: `the PyFly consumer to be ready (stderr: ${stderr})`,
      });
      topics.push(`unused-${suffix}`);
      const messaging = await msgportService(`unused-${suffix}`, 'billing', []);
      for (let i = 0; i < 20; i++) {
        await messaging.broker.publish(topic, `from-msgport-${i}`, {
          key: `customer-${i % 3}`,
          headers: { 'x-from': 'msgport', 'x-unicode': 'Grüße 🚀' },
        });
      }
      expect(await exited).toBe(0);
    } finally {
      consumer.kill();
    }
    const received = lines
      .filter((line) => line !== 'ready')
      .map((line) => JSON.parse(line) as { value: string; headers: Record<string, string> });
    expect(received.map((message) => message.value)).toEqual(Array.from({ length: 20 }, (_, i) => `from-msgport-${i}`));
    for (const message of received) {
      expect(message.headers['x-from']).toBe('msgport');
      expect(message.headers['x-unicode']).toBe('Grüße 🚀');
    }
    topics.push(group);
  }, 60_000);
});

/** Deletes the queues these tests declared: PyFly's group queue and msgport's queues of the topics. */
async function deleteQueuesOf(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', 'name', '--no-table-headers'], { timeout: 60_000 });
  const queues = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => names.some((topic) => name === topic || name.startsWith(`${topic}.`)));
  const connection = await amqplib.connect(URL_);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
  } finally {
    await connection.close();
  }
}
