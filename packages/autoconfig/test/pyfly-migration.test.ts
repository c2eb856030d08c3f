import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { messageListener, waitFor } from '@msgport/core';
import { startMessaging, type MessagingHandle } from '@msgport/autoconfig';
import { tempDir } from './temp-dir.js';

/**
 * Issue 19: the RabbitMQ migration of a PyFly consumer group to msgport (docs/migration-from-pyfly.md),
 * end to end on the real broker with PyFly's own client (aio-pika, support/pyfly_rabbitmq_peer.py)
 * publishing on "pyfly" the whole time: phase `share` (a PyFly consumer and a msgport instance on
 * PyFly's queue), the PyFly consumer stopped, phase `switch` mid-stream (one instance switches and
 * drains, the other is restarted in that phase), then only msgport's queues. Every message is
 * counted by its id: none handled twice, none lost.
 */
const run = promisify(execFile);
const PYTHON = process.env['MSGPORT_PYTHON'] ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const PEER = fileURLToPath(new URL('./support/pyfly_rabbitmq_peer.py', import.meta.url));
const URL_ = process.env['MSGPORT_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672/';
const suffix = randomBytes(4).toString('hex');
const topic = `migrate-${suffix}`;
/** The PyFly service's group: PyFly's queue is named by it; the msgport group keeps the name. */
const group = `shipping-${suffix}`;

/** A pyfly.yaml (PyFly's exchange "pyfly" by default) with the group's legacy queue in `phase`. */
function project(phase: 'share' | 'switch'): ReturnType<typeof tempDir> {
  return tempDir({
    'pyfly.yaml': [
      'pyfly:',
      '  messaging:',
      '    provider: rabbitmq',
      '    rabbitmq:',
      `      url: ${URL_}`,
      '      queue-type: classic',
      '      partitions: 2',
      '      legacy-queues:',
      `        - topic: ${topic}`,
      `          group: ${group}`,
      `          queue: ${group}`,
      `          phase: ${phase}`,
      ...(phase === 'switch' ? ['          delete-when-drained: true'] : []),
      '',
    ].join('\n'),
  });
}
const sharing = project('share');
const switching = project('switch');
const handles: MessagingHandle[] = [];
const peers: ChildProcessWithoutNullStreams[] = [];

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

afterAll(async () => {
  for (const peer of peers) peer.kill('SIGKILL');
  await Promise.all(handles.map((handle) => handle.stop()));
  sharing.cleanup();
  switching.cleanup();
  await deleteQueues((name) => name === group || name.startsWith(`${topic}.`));
}, 60_000);

/** One PyFly process (the peer script) and the lines it printed. */
interface Peer {
  readonly lines: string[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  send(line: string): void;
  stderr(): string;
}

function startPeer(args: readonly string[]): Peer {
  const child = spawn(PYTHON, [PEER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  peers.push(child);
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return {
    lines,
    exited: new Promise((resolve) => child.on('exit', resolve)),
    send: (line) => child.stdin.write(`${line}\n`),
    stderr: () => stderr,
  };
}

async function whenPrinted(peer: Peer, line: string, what: string): Promise<void> {
  await waitFor(() => peer.lines.includes(line), { timeoutMs: 30_000, description: `${what} (stderr: ${peer.stderr()})` });
}

describe('moving a PyFly consumer group to msgport on RabbitMQ (legacy-queues)', () => {
  it('shares the PyFly queue, then switches mid-stream and drains it: no message handled twice, none lost', async () => {
    /** Who handled each message, by the id in its value (`m-<i>`), in order. */
    const handled = new Map<string, string[]>();
    const byWhom = new Map<string, number>();
    const record = (who: string, value: string): void => {
      handled.set(value, [...(handled.get(value) ?? []), who]);
      byWhom.set(who, (byWhom.get(who) ?? 0) + 1);
    };
    const count = (who: string): number => byWhom.get(who) ?? 0;
    const service = async (dir: string, who: string): Promise<MessagingHandle> => {
      const handle = await startMessaging({
        cwd: dir,
        env: {},
        signals: false,
        listeners: [
          messageListener({ topic, group }, (message) => {
            // Partition queues set metadata.partition; the legacy queue does not.
            record(message.metadata.partition === undefined ? `${who}/legacy` : `${who}/partitions`, message.value.toString());
          }),
        ],
      });
      handles.push(handle);
      return handle;
    };
    const pyflyHandled = (consumer: Peer): void => {
      for (const line of consumer.lines.splice(0)) if (line.startsWith('m-')) record('pyfly', line);
    };

    // The PyFly service as it runs today: its consumer (queue named by the group) and a publisher.
    const consumer = startPeer(['serve', URL_, 'pyfly', topic, group]);
    await whenPrinted(consumer, 'ready', 'the PyFly consumer to be ready');
    const producer = startPeer(['produce', URL_, 'pyfly', topic, 'm']);
    await whenPrinted(producer, 'ready', 'the PyFly publisher to be ready');

    // Phase share: a msgport instance competes with the PyFly consumer on PyFly's queue.
    const first = await service(sharing.dir, 'a');
    await waitFor(
      () => {
        pyflyHandled(consumer);
        return count('a/legacy') >= 30 && count('pyfly') >= 30;
      },
      { timeoutMs: 30_000, description: 'the PyFly consumer and the msgport instance to share the queue' },
    );
    consumer.send('stop');
    expect(await consumer.exited).toBe(0);
    pyflyHandled(consumer);
    const sharedBeforeSwitch = count('a/legacy');
    await waitFor(() => count('a/legacy') >= sharedBeforeSwitch + 30, {
      timeoutMs: 30_000,
      description: 'the msgport instance alone on the queue',
    });

    // Phase switch, with messages flowing: a second instance switches the topic and drains.
    await service(switching.dir, 'b');
    await waitFor(() => count('b/partitions') >= 30, { timeoutMs: 30_000, description: 'msgport partition queues in use' });
    // The first instance is restarted in the switch phase (a rolling restart).
    await first.stop();
    await service(switching.dir, 'c');
    const afterRestart = count('b/partitions') + count('c/partitions');
    await waitFor(() => count('b/partitions') + count('c/partitions') >= afterRestart + 30, {
      timeoutMs: 30_000,
      description: 'messages after the restart',
    });

    producer.send('stop');
    expect(await producer.exited).toBe(0);
    const summary = producer.lines.find((line) => line.startsWith('published '));
    const published = Number(summary?.slice('published '.length));
    expect(published).toBeGreaterThan(0);
    await waitFor(() => handled.size >= published, {
      timeoutMs: 30_000,
      description: `all ${published} messages handled (${handled.size} so far)`,
    });

    expect([...handled.keys()].sort()).toEqual(Array.from({ length: published }, (_, i) => `m-${i}`).sort());
    const twice = [...handled.entries()].filter(([, who]) => who.length > 1);
    expect(twice).toEqual([]);
    // Every leg took part.
    for (const who of ['pyfly', 'a/legacy', 'b/partitions']) expect(count(who)).toBeGreaterThan(0);
    // After the switch, nothing new reaches the legacy queue: the last instance deleted it once
    // drained; the marker of the switch stays, and the router is gone.
    const queues = await queueNames();
    expect(queues).not.toContain(group);
    expect(queues).toContain(`${topic}.${group}.legacy.switched`);
    expect(await exchangeNames()).not.toContain(`pyfly.${topic}.${group}.legacy`);
  }, 180_000);
});

async function rabbitmqctl(args: readonly string[]): Promise<string[]> {
  const { stdout } = await run('timeout', ['-s', 'KILL', '20', 'rabbitmqctl', '-q', ...args, '--no-table-headers'], {
    timeout: 30_000,
  });
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

const queueNames = (): Promise<string[]> => rabbitmqctl(['list_queues', 'name']);
const exchangeNames = (): Promise<string[]> => rabbitmqctl(['list_exchanges', 'name']);

async function deleteQueues(select: (name: string) => boolean): Promise<void> {
  const queues = (await queueNames()).filter(select);
  const connection = await amqplib.connect(URL_);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
  } finally {
    await connection.close();
  }
}
