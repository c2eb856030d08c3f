import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import kafkajs from 'kafkajs';
import { KAFKA_BROKERS, RABBITMQ_URL, ROOT } from './paths.js';
import { until } from './until.js';

const run = promisify(execFile);
const KAFKA_SH = join(ROOT, 'scripts', 'kafka.sh');
const { Kafka, logLevel } = kafkajs;

/**
 * Broker settings used when the suite brings Kafka back after a SIGKILL: a shorter broker session,
 * so that the restarted node does not wait ~15 s for its previous incarnation's registration to
 * expire (see `scripts/kafka.sh help`), and parallel log recovery (after an unclean shutdown the
 * broker checks every partition; a broker that served the whole test suite has over a thousand).
 * They do not change what clients see.
 */
const KAFKA_RESTART_PROPS =
  'broker.session.timeout.ms=4000 broker.heartbeat.interval.ms=1000 num.recovery.threads.per.data.dir=4';

/** A name no other run uses (topics, groups, exchanges, users). */
export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

// ---- Kafka -------------------------------------------------------------------------------------

async function kafkaScript(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('bash', [KAFKA_SH, ...args], { env: { ...process.env, ...env }, timeout: 180_000 });
  return stdout;
}

export async function kafkaRunning(): Promise<boolean> {
  try {
    await kafkaScript(['status']);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the local broker (scripts/kafka.sh kill): no clean shutdown, data stays on disk. */
export async function killKafka(): Promise<void> {
  await kafkaScript(['kill']);
}

/** Starts the local broker again on the data it had (KAFKA_KEEP_DATA=1); resolves once it serves requests. */
export async function startKafkaKeepingData(): Promise<void> {
  await kafkaScript(['start'], { KAFKA_KEEP_DATA: '1', KAFKA_EXTRA_PROPS: KAFKA_RESTART_PROPS });
}

/** Brings Kafka back if a test left it down (always called in finally / afterAll). */
export async function ensureKafkaRunning(): Promise<void> {
  if (!(await kafkaRunning())) await startKafkaKeepingData();
}

function kafkaAdminClient() {
  return new Kafka({
    brokers: KAFKA_BROKERS.split(','),
    clientId: 'msgport-reliability-admin',
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
}

/** Fails loudly (never skips) when Kafka cannot be reached. */
export async function requireKafka(): Promise<void> {
  const admin = kafkaAdminClient().admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (error) {
    throw new Error(
      `Kafka is not reachable at ${KAFKA_BROKERS} (${(error as Error).message}). Start it with scripts/kafka.sh start ` +
        'or set MSGPORT_KAFKA_BROKERS.',
      { cause: error },
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Deletes topics and groups a scenario created (best effort: the names are unique anyway). */
export async function deleteKafkaResources(topics: readonly string[], groups: readonly string[] = []): Promise<void> {
  const admin = kafkaAdminClient().admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((topic) => existing.has(topic));
    if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 10_000 }).catch(() => undefined);
    if (groups.length > 0) await admin.deleteGroups([...groups]).catch(() => undefined);
  } catch {
    // Cleanup only.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

// ---- RabbitMQ ----------------------------------------------------------------------------------

/** Commands that print tables (the others reject --no-table-headers). */
const TABLE_COMMANDS = new Set(['list_connections', 'list_queues', 'list_bindings', 'list_exchanges', 'list_users']);

/** Runs `rabbitmqctl -q [--no-table-headers] <args>`; returns its output rows, split on tabs. */
export async function rabbitmqctl(...args: string[]): Promise<string[][]> {
  const flags = TABLE_COMMANDS.has(args[0] ?? '') ? ['-q', '--no-table-headers'] : ['-q'];
  const { stdout } = await run('rabbitmqctl', [...flags, ...args], { timeout: 120_000 });
  return stdout
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t'));
}

export async function rabbitReachable(url = RABBITMQ_URL): Promise<boolean> {
  try {
    const connection = await amqplib.connect(url, { timeout: 3_000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

/** Fails loudly (never skips) when RabbitMQ cannot be reached. */
export async function requireRabbit(): Promise<void> {
  if (!(await rabbitReachable())) {
    throw new Error(
      `RabbitMQ is not reachable at ${RABBITMQ_URL.replace(/:[^:@/]*@/, ':***@')}. Start it (rabbitmq-server -detached, ` +
        'or rabbitmqctl start_app) or set MSGPORT_RABBITMQ_URL.',
    );
  }
}

/** Stops the RabbitMQ application (the Erlang node keeps running; durable data stays). */
export async function stopRabbit(): Promise<void> {
  await rabbitmqctl('stop_app');
}

/** Starts the RabbitMQ application and resolves once it accepts connections. */
export async function startRabbit(): Promise<void> {
  await rabbitmqctl('start_app');
  await until(() => rabbitReachable(), {
    timeoutMs: 60_000,
    intervalMs: 200,
    what: () => 'RabbitMQ to accept connections again',
  });
}

/** Brings RabbitMQ back if a test left it down (always called in finally / afterAll). */
export async function ensureRabbitRunning(): Promise<void> {
  if (!(await rabbitReachable())) await startRabbit();
}

/** Deletes queues and exchanges a scenario created. */
export async function deleteRabbitTopology(exchange: string | null, queues: readonly string[]): Promise<void> {
  let connection: amqplib.ChannelModel;
  try {
    connection = await amqplib.connect(RABBITMQ_URL, { timeout: 5_000 });
  } catch {
    return;
  }
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    if (exchange !== null) {
      await channel.deleteExchange(`${exchange}.dlx`);
      await channel.deleteExchange(exchange);
    }
    await channel.close();
  } catch {
    // Cleanup only.
  } finally {
    await connection.close().catch(() => undefined);
  }
}

export interface QueuedMessage {
  readonly value: string;
  readonly headers: Record<string, unknown>;
}

/**
 * Reads (and acknowledges) messages from `queue` until `expected` arrived or `timeoutMs` passed;
 * returns what was read. Used to look into a dead-letter queue as it is on the broker.
 */
export async function readRabbitQueue(queue: string, expected: number, timeoutMs: number): Promise<QueuedMessage[]> {
  const connection = await amqplib.connect(RABBITMQ_URL, { timeout: 5_000 });
  try {
    const channel = await connection.createChannel();
    await channel.prefetch(500);
    const messages: QueuedMessage[] = [];
    await channel.consume(queue, (delivery) => {
      if (delivery === null) return;
      messages.push({ value: delivery.content.toString('utf8'), headers: { ...(delivery.properties.headers ?? {}) } });
      channel.ack(delivery);
    });
    await until(() => messages.length >= expected, {
      timeoutMs,
      intervalMs: 50,
      what: () => `${expected} messages in queue "${queue}" (read ${messages.length})`,
    }).catch(() => undefined);
    await channel.close();
    return messages;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Closes (server side) every connection of `user`: a network drop as the application sees it. */
export async function closeConnectionsOf(user: string): Promise<number> {
  const rows = await rabbitmqctl('list_connections', 'pid', 'user');
  const pids = rows.filter(([, name]) => name === user).map(([pid]) => pid!);
  for (const pid of pids) await rabbitmqctl('close_connection', pid, 'reliability suite: simulated network drop');
  return pids.length;
}
