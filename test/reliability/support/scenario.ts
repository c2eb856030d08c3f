import { AppProcess } from './app-process.js';
import { deleteKafkaResources, deleteRabbitTopology, requireKafka, requireRabbit, unique } from './brokers.js';
import { Ledger } from './ledger.js';
import { KAFKA_BROKERS, RABBITMQ_URL } from './paths.js';

export type BrokerKind = 'kafka' | 'rabbitmq';

/** Partitions of every Kafka topic the scenarios create, so that two members share the work. */
export const KAFKA_PARTITIONS = 4;
/** Partitions of every RabbitMQ topic (the adapter's default): a group consumes <topic>.<group>.p0 … p3. */
export const RABBITMQ_PARTITIONS = 4;

/** The partition queues of `group` on `topic` (RabbitMQ). */
export function rabbitPartitionQueues(topic: string, group: string): string[] {
  return Array.from({ length: RABBITMQ_PARTITIONS }, (_, partition) => `${topic}.${group}.p${partition}`);
}

/** shutdownTimeoutMs of every application instance. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Adapter options of the application instances. Kafka: group settings that keep joins and
 * rebalances short on a single local broker (6 s is the broker's smallest session timeout). The
 * topic is new, so the group starts at its beginning.
 */
export function adapterOptions(
  kind: BrokerKind,
  exchangeName: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const common = { shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS };
  if (kind === 'kafka') {
    return {
      bootstrapServers: KAFKA_BROKERS,
      clientId: 'msgport-reliability',
      numPartitions: KAFKA_PARTITIONS,
      fromBeginning: true,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      rebalanceTimeoutMs: 10_000,
      fetchMaxWaitMs: 100,
      connectionTimeoutMs: 10_000,
      ...common,
      ...extra,
    };
  }
  return { url: RABBITMQ_URL, exchangeName, connectionTimeoutMs: 10_000, publishTimeoutMs: 30_000, ...common, ...extra };
}

/** One scenario on one broker: unique names, its application instances, their ledger, and cleanup. */
export class Scenario {
  readonly kind: BrokerKind;
  readonly topic: string;
  readonly group: string;
  readonly exchange: string;
  readonly ledger = new Ledger();
  readonly apps: AppProcess[] = [];
  readonly startedAt = Date.now();

  constructor(kind: BrokerKind, label: string) {
    this.kind = kind;
    this.topic = unique(`rel-${label}`);
    this.group = unique('g');
    this.exchange = unique('msgport-rel');
  }

  async requireBroker(): Promise<void> {
    await (this.kind === 'kafka' ? requireKafka() : requireRabbit());
  }

  /** Starts a consumer instance in the scenario's group and waits until it is consuming. */
  async consumer(name: string, config: Record<string, unknown> = {}, options: Record<string, unknown> = {}): Promise<AppProcess> {
    const app = this.spawnConsumer(name, config, options);
    await app.waitForEvent('ready', 60_000);
    return app;
  }

  spawnConsumer(name: string, config: Record<string, unknown> = {}, options: Record<string, unknown> = {}): AppProcess {
    const app = new AppProcess('consumer', name, {
      broker: this.kind,
      options: adapterOptions(this.kind, this.exchange, options),
      topic: this.topic,
      group: this.group,
      ...config,
    });
    this.apps.push(app);
    this.ledger.attach(app);
    return app;
  }

  /** Starts a producer instance; it publishes as soon as it is connected. */
  producer(
    name: string,
    config: { count: number; concurrency: number; ratePerSec?: number; keys?: number },
    options: Record<string, unknown> = {},
  ): AppProcess {
    const app = new AppProcess('producer', name, {
      broker: this.kind,
      options: adapterOptions(this.kind, this.exchange, options),
      topic: this.topic,
      ...config,
    });
    this.apps.push(app);
    this.ledger.attach(app);
    return app;
  }

  /** Crash reports of every instance (must be none). */
  crashes(): string[] {
    return this.apps.flatMap((app) =>
      app.events.filter((event) => event.e === 'crash').map((event) => `${app.name}: ${JSON.stringify(event)}`),
    );
  }

  /** The log tails of every instance, for a failure message. */
  logs(): string {
    return this.apps.map((app) => app.logTail(15)).join('\n');
  }

  /** Deletes what the scenario created on the broker. */
  async cleanup(extraTopics: readonly string[] = [], extraQueues: readonly string[] = []): Promise<void> {
    if (this.kind === 'kafka') {
      await deleteKafkaResources([this.topic, `${this.topic}.DLT`, ...extraTopics], [this.group]);
    } else {
      await deleteRabbitTopology(this.exchange, [
        ...rabbitPartitionQueues(this.topic, this.group),
        `${this.topic}.${this.group}.dlq`,
        ...extraQueues,
      ]);
    }
  }
}
