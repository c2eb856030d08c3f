import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isMessagingError, silentLogger, waitFor, type HealthStatus } from '@msgport/core';
import { RabbitMQAdapter, type RabbitMQAdapterOptions } from '@msgport/rabbitmq';
import { collect, uniqueName } from '@msgport/testkit';
import {
  deleteTopology,
  RABBITMQ_URL,
  rabbitmqApp,
  requireBroker,
  uniqueExchange,
  waitForOtherClientsToLeave,
} from './support/broker.js';
import { lockBrokerExclusive, type BrokerLock } from './support/broker-lock.js';

const exchangeName = uniqueExchange('msgport-reconnect-test');
const TOTAL = 2_000;
/**
 * Concurrent publishers. Confirms of persistent messages wait for the disk, so 1,800 publishes take
 * longer than rabbitmqctl takes to stop the broker: some are in flight when the connection drops.
 */
const WORKERS = 4;
/**
 * The restart begins with the first confirm, so that the broker goes down (rabbitmqctl takes a
 * moment) while publishing is in full swing...
 */
const RESTART_AFTER_CONFIRMS = 1;
/** ...and every publish from this index on is held until the outage is visible, so those are issued during it. */
const HOLD_FROM_INDEX = 1_800;

interface Observations {
  sent: number;
  confirmed: Set<number>;
  rejected: Map<number, string>;
  received: Map<number, number>;
  inFlightAtDrop: number;
  confirmedAtDrop: number;
  healthDuringOutage: { consumer: HealthStatus; publisher: HealthStatus };
  shortTimeoutError: unknown;
  shortTimeoutHealth: HealthStatus;
  stopDuringOutageMs: number;
  stopDuringOutageHealth: HealthStatus;
  stopIssuedAt: number;
  brokerDownAt: number;
  startIssuedAt: number;
  brokerBackAt: number;
  recoveredAt: number;
  firstConfirmAfterOutage: number | null;
  broadcastAfterRestart: readonly string[];
}

const opened: RabbitMQAdapter[] = [];
function adapter(options: Partial<RabbitMQAdapterOptions> = {}): RabbitMQAdapter {
  const broker = new RabbitMQAdapter({ url: RABBITMQ_URL, exchangeName, logger: silentLogger, ...options });
  opened.push(broker);
  return broker;
}

async function healthOf(broker: RabbitMQAdapter): Promise<HealthStatus> {
  return (await broker.health()).status;
}

async function ensureBrokerRunning(): Promise<void> {
  await rabbitmqApp('start_app');
  await waitFor(
    () =>
      requireBroker().then(
        () => true,
        () => false,
      ),
    {
      timeoutMs: 60_000,
      intervalMs: 200,
      description: 'RabbitMQ to accept connections again',
    },
  );
}

let observed: Observations;
let lock: BrokerLock | undefined;

beforeAll(async () => {
  // Never restart the broker under another test file of this package (they hold the lock shared)...
  lock = await lockBrokerExclusive(120_000);
  await requireBroker();
  const topic = uniqueName('restart');
  const group = uniqueName('g');
  const broadcastTopic = uniqueName('restart-bc');

  const received = new Map<number, number>();
  const consumer = adapter({ concurrency: 8, prefetch: 100 });
  await consumer.subscribe(
    topic,
    (message) => {
      const id = Number(message.value.toString());
      received.set(id, (received.get(id) ?? 0) + 1);
    },
    group,
  );
  const broadcast = collect({ timeoutMs: 20_000 });
  await consumer.subscribe(broadcastTopic, broadcast.handler);
  const publisher = adapter();
  const shortTimeout = adapter({ publishTimeoutMs: 300 });
  const stoppedDuringOutage = adapter();
  await stoppedDuringOutage.subscribe(topic, () => undefined, uniqueName('other'));
  await Promise.all([consumer.start(), publisher.start(), shortTimeout.start(), stoppedDuringOutage.start()]);

  // ...nor, as far as can be seen, under other clients (other packages' tests): bounded wait.
  const stillConnected = await waitForOtherClientsToLeave(30_000);
  if (stillConnected.length > 0) {
    console.log(`Restarting RabbitMQ although other clients are connected: ${stillConnected.join(', ')}`);
  }

  const confirmed = new Set<number>();
  const rejected = new Map<number, string>();
  let sent = 0;
  let next = 0;
  let inFlight = 0;
  let inFlightAtDrop = -1;
  let confirmedAtDrop = -1;
  let firstConfirmAfterOutage: number | null = null;
  let stopIssuedAt = 0;
  let brokerDownAt = 0;
  let startIssuedAt = 0;
  let brokerBackAt = 0;
  let restartRequested = false;
  let releaseHeld!: () => void;
  const outageVisible = new Promise<void>((resolve) => {
    releaseHeld = resolve;
  });
  let restarting: Promise<void> = Promise.resolve();
  let stopIssued = false;
  let observations:
    | Pick<
        Observations,
        'healthDuringOutage' | 'shortTimeoutError' | 'shortTimeoutHealth' | 'stopDuringOutageMs' | 'stopDuringOutageHealth'
      >
    | undefined;
  let recoveredAt = 0;

  const restart = (): Promise<void> => restartBroker().finally(releaseHeld);
  const restartBroker = async (): Promise<void> => {
    stopIssued = true;
    stopIssuedAt = Date.now();
    await rabbitmqApp('stop_app');
    brokerDownAt = Date.now();
    // The adapters notice the dropped connection: publishes from now on wait for the reconnection.
    await waitFor(async () => (await healthOf(publisher)) !== 'up', {
      timeoutMs: 10_000,
      description: 'the outage to show in health',
    });
    inFlightAtDrop = inFlight;
    confirmedAtDrop = confirmed.size;
    releaseHeld();
    const consumerHealth = await healthOf(consumer);
    const publisherHealth = await healthOf(publisher);
    let shortTimeoutError: unknown;
    try {
      await shortTimeout.publish(topic, 'never confirmed');
    } catch (error) {
      shortTimeoutError = error;
    }
    // Longer than publishTimeoutMs without a connection: the short-timeout adapter reports down.
    await waitFor(async () => (await healthOf(shortTimeout)) === 'down', { timeoutMs: 5_000, description: 'health down' });
    const stopBegan = Date.now();
    await stoppedDuringOutage.stop();
    observations = {
      healthDuringOutage: { consumer: consumerHealth, publisher: publisherHealth },
      shortTimeoutError,
      shortTimeoutHealth: 'down',
      stopDuringOutageMs: Date.now() - stopBegan,
      stopDuringOutageHealth: await healthOf(stoppedDuringOutage),
    };
    startIssuedAt = Date.now();
    await rabbitmqApp('start_app');
    brokerBackAt = Date.now();
    await waitFor(
      async () => (await Promise.all([consumer, publisher, shortTimeout].map(healthOf))).every((status) => status === 'up'),
      { timeoutMs: 60_000, intervalMs: 20, description: 'every adapter up again' },
    );
    recoveredAt = Date.now();
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      const id = next++;
      if (id >= TOTAL) return;
      if (id >= HOLD_FROM_INDEX) await outageVisible;
      sent++;
      inFlight++;
      try {
        await publisher.publish(topic, String(id), { key: `k${id % 16}` });
        confirmed.add(id);
        if (brokerDownAt !== 0 && firstConfirmAfterOutage === null) firstConfirmAfterOutage = Date.now();
      } catch (error) {
        rejected.set(id, isMessagingError(error) ? error.code : String(error));
      } finally {
        inFlight--;
      }
      if (!restartRequested && confirmed.size >= RESTART_AFTER_CONFIRMS) {
        restartRequested = true;
        restarting = restart();
      }
    }
  };

  try {
    await Promise.all([...Array.from({ length: WORKERS }, worker), outageVisible.then(() => restarting)]);
    await restarting;
    await waitFor(() => [...confirmed].every((id) => received.has(id)), {
      timeoutMs: 60_000,
      intervalMs: 50,
      description: 'every confirmed message to arrive',
    }).catch(() => undefined);

    await publisher.publish(broadcastTopic, 'after restart');
    await broadcast.waitForCount(1).catch(() => undefined);
  } finally {
    if (stopIssued) await ensureBrokerRunning();
  }

  observed = {
    sent,
    confirmed,
    rejected,
    received,
    inFlightAtDrop,
    confirmedAtDrop,
    ...observations!,
    stopIssuedAt,
    brokerDownAt,
    startIssuedAt,
    brokerBackAt,
    recoveredAt,
    firstConfirmAfterOutage,
    broadcastAfterRestart: broadcast.values(),
  };
  const lost = [...confirmed].filter((id) => !received.has(id));
  const deliveries = [...received.values()].reduce((sum, count) => sum + count, 0);
  console.log(
    `RabbitMQ restart: sent=${sent} confirmed=${confirmed.size} rejected=${rejected.size} ` +
      `received=${received.size} (deliveries=${deliveries}) lost=${lost.length} duplicates=${deliveries - received.size} ` +
      `confirmedAtDrop=${confirmedAtDrop} inFlightAtDrop=${inFlightAtDrop} brokerDown=${brokerBackAt - brokerDownAt}ms ` +
      `timeToRecover=${recoveredAt - brokerBackAt}ms (start_app done -> every adapter up) ` +
      `appOutage=${recoveredAt - stopIssuedAt}ms (stop_app issued -> every adapter up)`,
  );
}, 360_000);

afterAll(async () => {
  try {
    await ensureBrokerRunning();
    await Promise.allSettled(opened.splice(0).map((broker) => broker.stop()));
    await deleteTopology(exchangeName);
  } finally {
    lock?.release();
  }
}, 120_000);

describe('RabbitMQAdapter across a broker restart (rabbitmqctl stop_app / start_app)', () => {
  it('loses none of the confirmed messages of 2,000 publishes with a consumer running', () => {
    const lost = [...observed.confirmed].filter((id) => !observed.received.has(id));
    expect(observed.sent).toBe(TOTAL);
    expect(observed.confirmed.size + observed.rejected.size).toBe(TOTAL);
    expect(lost).toEqual([]);
    // Rejections are allowed, but only as PublishErrors that say why.
    expect([...new Set(observed.rejected.values())].every((code) => code === 'PUBLISH_TIMEOUT')).toBe(true);
  });

  it('lets publishes issued during the outage wait and complete after the reconnection', () => {
    const issuedDuringOutage = [...observed.confirmed].filter((id) => id >= HOLD_FROM_INDEX);
    expect(issuedDuringOutage.length).toBeGreaterThan(0);
    expect(observed.firstConfirmAfterOutage).not.toBeNull();
    // No confirm can come while the broker is stopped: they came once it was started again.
    expect(observed.firstConfirmAfterOutage!).toBeGreaterThanOrEqual(observed.startIssuedAt);
  });

  it('rejects a publish with PUBLISH_TIMEOUT when the outage outlasts publishTimeoutMs', () => {
    expect(isMessagingError(observed.shortTimeoutError)).toBe(true);
    expect(observed.shortTimeoutError).toMatchObject({ name: 'PublishError', code: 'PUBLISH_TIMEOUT', retriable: true });
    expect(observed.shortTimeoutHealth).toBe('down');
  });

  it('reports degraded while reconnecting and up once the topology and consumers are restored', () => {
    expect(observed.healthDuringOutage).toEqual({ consumer: 'degraded', publisher: 'degraded' });
    expect(observed.recoveredAt).toBeGreaterThanOrEqual(observed.startIssuedAt);
  });

  it('stops promptly while the broker is away', () => {
    expect(observed.stopDuringOutageMs).toBeLessThan(1_000);
    expect(observed.stopDuringOutageHealth).toBe('stopped');
  });

  it('resumes a broadcast subscription on a new server-named queue', () => {
    expect(observed.broadcastAfterRestart).toEqual(['after restart']);
  });
});
