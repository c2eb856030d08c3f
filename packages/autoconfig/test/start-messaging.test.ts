import { afterAll, describe, expect, it } from '@jest/globals';
import { ConnectionError, InvalidArgumentError, MessageListener, messageListener, type Message } from '@msgport/core';
import { InMemoryMessageBroker } from '@msgport/memory';
import { startMessaging, type AdapterImporter } from '@msgport/autoconfig';
import { tempDir } from './temp-dir.js';

const empty = tempDir({});
afterAll(() => empty.cleanup());
const memory = { cwd: empty.dir, env: {}, config: { provider: 'memory' as const } };

class NotificationService {
  readonly sent: string[] = [];

  @MessageListener({ topic: 'orders', group: 'notifications' })
  async onOrder(message: Message): Promise<void> {
    this.sent.push(`${message.key?.toString()}: ${message.value.toString()}`);
  }
}

const signalCounts = (): number[] => ['SIGINT', 'SIGTERM'].map((signal) => process.listenerCount(signal));

describe('startMessaging()', () => {
  it('creates the broker from config, registers the listeners and starts it', async () => {
    const notifications = new NotificationService();
    const audit: string[] = [];
    const auditor = messageListener({ topic: 'orders' }, (message) => {
      audit.push(message.value.toString());
    });
    const messaging = await startMessaging({ ...memory, listeners: [notifications, auditor], signals: false });
    try {
      expect(messaging.provider).toBe('memory');
      expect(messaging.broker).toBeInstanceOf(InMemoryMessageBroker);
      expect(messaging.subscriptions.map((s) => [s.topic, s.group])).toEqual([
        ['orders', 'notifications'],
        ['orders', null],
      ]);
      expect((await messaging.broker.health()).status).toBe('up');
      await messaging.broker.publish('orders', 'order 1', { key: 'customer-7' });
      expect(notifications.sent).toEqual(['customer-7: order 1']);
      expect(audit).toEqual(['order 1']);
    } finally {
      await messaging.stop();
    }
    expect((await messaging.broker.health()).status).toBe('stopped');
  });

  it('stops gracefully on SIGTERM, once, and removes its signal handlers', async () => {
    const before = signalCounts();
    const messaging = await startMessaging({ ...memory, listeners: [new NotificationService()] });
    expect(signalCounts()).toEqual(before.map((count) => count + 1));

    process.emit('SIGTERM');
    await messaging.stopped;
    expect((await messaging.broker.health()).status).toBe('stopped');
    expect(signalCounts()).toEqual(before);

    // A later stop() shares the same, finished stop.
    await expect(messaging.stop()).resolves.toBeUndefined();
  });

  it('stops on SIGINT too', async () => {
    const messaging = await startMessaging({ ...memory, listeners: [] });
    process.emit('SIGINT');
    await messaging.stopped;
    expect((await messaging.broker.health()).status).toBe('stopped');
  });

  it('waits for an in-flight handler before reporting stopped', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finished = false;
    const slow = messageListener({ topic: 'slow' }, async () => {
      await gate;
      finished = true;
    });
    const messaging = await startMessaging({ ...memory, listeners: [slow] });
    const published = messaging.broker.publish('slow', 'x');
    process.emit('SIGTERM');
    let stopped = false;
    void messaging.stopped.then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    await published;
    await messaging.stopped;
    expect(finished).toBe(true);
  });

  it('removes its signal handlers when stopped in code', async () => {
    const before = signalCounts();
    const messaging = await startMessaging({ ...memory, listeners: [] });
    await Promise.all([messaging.stop(), messaging.stop()]);
    expect(signalCounts()).toEqual(before);
    await messaging.stopped;
  });

  it('listens to the signals it is given, and to none with signals: false', async () => {
    const before = process.listenerCount('SIGUSR2');
    const messaging = await startMessaging({ ...memory, listeners: [], signals: ['SIGUSR2'] });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    process.emit('SIGUSR2');
    await messaging.stopped;
    expect(process.listenerCount('SIGUSR2')).toBe(before);

    const counts = signalCounts();
    const quiet = await startMessaging({ ...memory, listeners: [], signals: false });
    expect(signalCounts()).toEqual(counts);
    await quiet.stop();
  });

  it('rejects a listener object without @MessageListener and leaves nothing running', async () => {
    const before = signalCounts();
    await expect(startMessaging({ ...memory, listeners: [{ notAListener: true }] })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(signalCounts()).toEqual(before);
  });

  it('rethrows a failed start and leaves no signal handler behind', async () => {
    class Unreachable extends InMemoryMessageBroker {
      protected override async connect(): Promise<void> {
        throw new ConnectionError('Cannot connect to kafka at localhost:9092.');
      }
    }
    const importer: AdapterImporter = async () => ({ KafkaAdapter: Unreachable });
    const before = signalCounts();
    await expect(
      startMessaging({ cwd: empty.dir, env: {}, config: { provider: 'kafka' }, importer, listeners: [] }),
    ).rejects.toBeInstanceOf(ConnectionError);
    expect(signalCounts()).toEqual(before);
  });
});
