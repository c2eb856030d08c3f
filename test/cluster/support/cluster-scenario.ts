import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { AppProcess, killAllApps, type AppEvent } from '../../reliability/support/app-process.js';
import { unique } from '../../reliability/support/brokers.js';
import { Ledger, rejectionSummary } from '../../reliability/support/ledger.js';
import { until } from '../../reliability/support/until.js';
import { CLUSTER_BROKERS, minInsyncReplicas, partitions } from './cluster.js';
import { deleteRabbitQueues, RABBIT_CLUSTER_URLS, rabbitQueues } from './rabbitmq-cluster.js';

const here = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(here, '..', 'results');
export const ROWS_FILE = join(RESULTS_DIR, 'latest.jsonl');
const PRODUCER = join(here, '..', 'app', 'producer.mjs');

/** The topology every scenario runs on (issue 11): 6 partitions, replication 3, min.insync.replicas 2. */
export const PARTITIONS = 6;
export const REPLICATION_FACTOR = 3;
export const MIN_INSYNC_REPLICAS = 2;
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Adapter options of every application instance: the cluster's three bootstrap brokers, the
 * production topic settings, and group settings that keep rejoins short (6 s is the broker's
 * smallest session timeout). The topic is new, so the group reads it from its beginning.
 */
export function clusterOptions(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    bootstrapServers: CLUSTER_BROKERS,
    clientId: 'msgport-cluster',
    numPartitions: PARTITIONS,
    replicationFactor: REPLICATION_FACTOR,
    minInsyncReplicas: MIN_INSYNC_REPLICAS,
    fromBeginning: true,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    rebalanceTimeoutMs: 10_000,
    fetchMaxWaitMs: 100,
    connectionTimeoutMs: 20_000,
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    ...extra,
  };
}

/**
 * Adapter options of every application instance on the RabbitMQ cluster: the three nodes' URLs
 * (the adapter connects to the first that answers and fails over to the next), the adapter's
 * default queue type (quorum) and partitions (4), reconnection attempts at most 1 s apart.
 */
export function rabbitClusterOptions(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    url: RABBIT_CLUSTER_URLS,
    connectionTimeoutMs: 20_000,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    ...extra,
  };
}

/** What a scenario runs on: the broker kind of its applications, their options, layout checks and cleanup. */
export interface ClusterTarget {
  readonly broker: 'kafka' | 'rabbitmq';
  options(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Throws when the group's topology is not the production one. */
  verifyLayout(topic: string, group: string): Promise<void>;
  /** Deletes the scenario's topics, queues and group. */
  cleanup(topic: string, group: string): Promise<void>;
}

/** The Kafka cluster of scripts/kafka-cluster.sh: topic with 6 partitions, replication 3, min.insync.replicas 2. */
export const KAFKA_CLUSTER: ClusterTarget = {
  broker: 'kafka',
  options: clusterOptions,
  async verifyLayout(topic) {
    const layout = await partitions(topic);
    const replicas = layout.map((state) => state.replicas.length);
    const minInsync = await minInsyncReplicas(topic);
    if (
      layout.length !== PARTITIONS ||
      replicas.some((count) => count !== REPLICATION_FACTOR) ||
      minInsync !== String(MIN_INSYNC_REPLICAS)
    ) {
      throw new Error(
        `Topic "${topic}" has ${layout.length} partitions with ${replicas.join('/')} replicas and min.insync.replicas ${minInsync}; ` +
          `expected ${PARTITIONS} partitions, ${REPLICATION_FACTOR} replicas, ${MIN_INSYNC_REPLICAS}.`,
      );
    }
  },
  async cleanup(topic, group) {
    const admin = new kafkajs.Kafka({
      brokers: CLUSTER_BROKERS.split(','),
      clientId: 'msgport-cluster-cleanup',
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const topics = [topic, `${topic}.DLT`].filter((name) => existing.has(name));
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 }).catch(() => undefined);
      await admin.deleteGroups([group]).catch(() => undefined);
    } catch {
      // Cleanup only: the names are unique anyway.
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  },
};

/** The adapter's default number of partitions of a RabbitMQ group (one queue each). */
export const RABBIT_PARTITIONS = 4;

/** The group's partition queues `<topic>.<group>.p<i>` as the cluster reports them. */
export async function rabbitPartitionQueues(topic: string, group: string) {
  const prefix = `${topic}.${group}.p`;
  return (await rabbitQueues(prefix)).filter((state) => /^\d+$/.test(state.name.slice(prefix.length)));
}

/** The RabbitMQ cluster of scripts/rabbitmq-cluster.sh: the group's partition queues are quorum queues with three members. */
export const RABBIT_CLUSTER: ClusterTarget = {
  broker: 'rabbitmq',
  options: rabbitClusterOptions,
  async verifyLayout(topic, group) {
    const queues = await rabbitPartitionQueues(topic, group);
    if (queues.length !== RABBIT_PARTITIONS || queues.some((state) => state.type !== 'quorum' || state.members.length !== 3)) {
      throw new Error(
        `The group's partition queues are ${JSON.stringify(queues.map((q) => ({ name: q.name, type: q.type, members: q.members.length })))}; ` +
          `expected ${RABBIT_PARTITIONS} quorum queues with 3 members each.`,
      );
    }
  },
  async cleanup(topic) {
    await deleteRabbitQueues(`${topic}.`).catch(() => undefined);
  },
};

/** One row of results/latest.md. */
export interface ClusterFigures {
  readonly scenario: string;
  readonly sent: number;
  readonly confirmed: number;
  /** Publishes that rejected (with their codes in `notes`). */
  readonly rejected: number;
  /** Distinct ids handled at least once. */
  readonly received: number;
  /** Confirmed but never handled: must be 0. */
  readonly lost: number;
  readonly duplicates: number;
  /** Defined per scenario in `notes`. */
  readonly recoverMs: number | null;
  /** Longest time one publish took to resolve (or reject). */
  readonly maxPublishMs: number;
  /** Application processes that crashed, exited early or had to be started again: must be 0. */
  readonly appRestarts: number;
  readonly durationMs: number;
  readonly notes: string;
}

/** Prints the row and appends it to results/latest.jsonl, BEFORE the assertions. */
export function recordFigures(row: ClusterFigures): void {
  console.log(`cluster ${JSON.stringify(row)}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  appendFileSync(ROWS_FILE, `${JSON.stringify({ ...row, recordedAt: new Date().toISOString() })}\n`);
}

/** One scenario on the cluster: unique names, its application instances, their ledger, cleanup. */
export class ClusterScenario {
  readonly topic: string;
  readonly group: string;
  readonly ledger = new Ledger();
  readonly apps: AppProcess[] = [];
  readonly consumers: AppProcess[] = [];
  readonly startedAt = Date.now();
  /** Latency of every settled publish, in arrival order. */
  readonly publishMs: Array<{ id: number; ms: number; at: number; ok: boolean }> = [];

  readonly target: ClusterTarget;

  constructor(label: string, target: ClusterTarget = KAFKA_CLUSTER) {
    this.target = target;
    this.topic = unique(`cluster-${label}`);
    this.group = unique('g');
  }

  /**
   * Runs one instance of the group with `options` until it consumes, then stops it (SIGTERM, exit
   * code 0): it declares the group's topology, e.g. from a chosen node. Not one of the scenario's
   * applications (its exit is no restart).
   */
  async prepareGroup(options: Record<string, unknown>): Promise<void> {
    const app = new AppProcess('consumer', 'declarer', {
      broker: this.target.broker,
      options: this.target.options({ concurrency: 1, ...options }),
      topic: this.topic,
      group: this.group,
    });
    await app.waitForEvent('ready', 90_000);
    app.signal('SIGTERM');
    const exit = await app.waitForExit(SHUTDOWN_TIMEOUT_MS + 30_000);
    if (exit?.code !== 0) throw new Error(`the declaring instance exited with ${JSON.stringify(exit)}\n${app.logTail()}`);
  }

  /** Starts a consumer instance in the scenario's group and waits until it consumes. */
  async consumer(name: string, options: Record<string, unknown> = {}): Promise<AppProcess> {
    const app = new AppProcess('consumer', name, {
      broker: this.target.broker,
      options: this.target.options({ concurrency: 3, ...options }),
      topic: this.topic,
      group: this.group,
    });
    this.apps.push(app);
    this.consumers.push(app);
    this.ledger.attach(app);
    await app.waitForEvent('ready', 90_000);
    return app;
  }

  /**
   * Starts the group's two consumer instances (which create the topic or queues) and checks the
   * layout (the target's verifyLayout): on Kafka {@link PARTITIONS} partitions, {@link
   * REPLICATION_FACTOR} replicas each and `min.insync.replicas` {@link MIN_INSYNC_REPLICAS}; on
   * RabbitMQ quorum queues with three members.
   */
  async startGroup(options: Record<string, unknown> = {}): Promise<AppProcess[]> {
    const members = [await this.consumer('consumer-a', options), await this.consumer('consumer-b', options)];
    await this.target.verifyLayout(this.topic, this.group);
    return members;
  }

  /** Starts the producer instance; it publishes once connected, `count` ids or until SIGTERM. */
  async producer(
    config: { count?: number; concurrency: number; ratePerSec: number },
    options: Record<string, unknown> = {},
  ): Promise<AppProcess> {
    const app = new AppProcess({ file: PRODUCER }, 'producer', {
      broker: this.target.broker,
      options: this.target.options(options),
      topic: this.topic,
      ...config,
    });
    this.apps.push(app);
    this.ledger.attach(app);
    app.onEvent((event: AppEvent) => {
      if ((event.e === 'c' || event.e === 'f') && typeof event['ms'] === 'number') {
        this.publishMs.push({ id: event.id!, ms: event['ms'], at: event.at, ok: event.e === 'c' });
      }
    });
    await app.waitForEvent('ready', 90_000);
    return app;
  }

  async untilConfirmed(count: number, timeoutMs = 120_000): Promise<void> {
    await until(() => this.ledger.confirmed.size >= count, {
      timeoutMs,
      what: () => `${count} confirmed publishes (have ${this.ledger.confirmed.size})\n${this.logs()}`,
    });
  }

  /** Longest time a publish took, among those issued in [from, to] (all by default). */
  maxPublishMs(from = 0, to = Number.POSITIVE_INFINITY): number {
    return Math.max(0, ...this.publishMs.filter((p) => p.at - p.ms >= from && p.at - p.ms <= to).map((p) => p.ms));
  }

  /** Longest pause between two handlings of one of `partitions` (all when omitted) after `from`. */
  maxConsumeGapMs(from: number, partitions?: readonly number[]): number {
    let gap = 0;
    const byPartition = new Map<number, number[]>();
    for (const handling of this.ledger.handlings) {
      if (handling.partition === undefined || (partitions !== undefined && !partitions.includes(handling.partition))) continue;
      const times = byPartition.get(handling.partition) ?? [];
      times.push(handling.at);
      byPartition.set(handling.partition, times);
    }
    for (const times of byPartition.values()) {
      times.sort((a, b) => a - b);
      const start = times.findIndex((at) => at >= from);
      if (start < 0) continue;
      // Includes the pause from the last handling before `from` to the first after it.
      for (let i = Math.max(1, start); i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
    }
    return gap;
  }

  /** Handlings per partition so far. */
  handledPerPartition(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const handling of this.ledger.handlings) {
      if (handling.partition !== undefined) counts.set(handling.partition, (counts.get(handling.partition) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Ends the stream: waits for the producer to finish (SIGTERM first when it runs until told),
   * then until every confirmed id was handled (bounded), then SIGTERMs the consumers. Returns
   * the shared figures; the caller adds its own and records them.
   */
  async finish(
    producer: AppProcess,
    options: { stopProducer: boolean },
  ): Promise<{
    sent: number;
    lost: number[];
    appRestarts: number;
    exits: Array<{ name: string; code: number | null; signal: string | null }>;
    drainedAt: number;
  }> {
    if (options.stopProducer) producer.signal('SIGTERM');
    const done = await producer.waitForEvent('done', 240_000);
    await until(() => this.ledger.lost().length === 0, {
      timeoutMs: 120_000,
      what: () => `every confirmed message to be handled (${this.ledger.lost().length} missing)\n${this.logs()}`,
    }).catch(() => undefined); // asserted by the caller, after the figures are recorded
    const drainedAt = Date.now();
    // Every instance ran from start to end: none crashed or exited before we told it to.
    const early = this.apps.filter((app) => app !== producer && app.exit !== null).length + this.crashes().length;
    for (const app of this.consumers) app.signal('SIGTERM');
    const exits = await Promise.all(
      this.apps.map(async (app) => {
        const exit = await app.waitForExit(SHUTDOWN_TIMEOUT_MS + 30_000);
        return { name: app.name, code: exit?.code ?? null, signal: exit?.signal ?? null };
      }),
    );
    return { sent: Number(done['sent']), lost: this.ledger.lost(), appRestarts: early, exits, drainedAt };
  }

  rejectionSummary(): string {
    return this.ledger.rejected.size === 0 ? 'none' : rejectionSummary(this.ledger);
  }

  crashes(): string[] {
    return this.apps.flatMap((app) =>
      app.events.filter((event) => event.e === 'crash').map((event) => `${app.name}: ${JSON.stringify(event)}`),
    );
  }

  logs(): string {
    return this.apps.map((app) => app.logTail(15)).join('\n');
  }

  /**
   * Kills what is still running and deletes the scenario's topics and group; after a failure
   * (`passed` false) the topics stay on the cluster for diagnosis, while it runs.
   */
  async cleanup(passed: boolean): Promise<void> {
    await killAllApps();
    if (!passed) {
      console.error(
        `cluster scenario failed: topic "${this.topic}" and group "${this.group}" (and their queues) kept on the cluster for diagnosis`,
      );
      return;
    }
    await this.target.cleanup(this.topic, this.group);
  }
}
