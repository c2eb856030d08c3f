import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { AppProcess, killAllApps, type AppEvent } from '../../reliability/support/app-process.js';
import { unique } from '../../reliability/support/brokers.js';
import { Ledger, rejectionSummary } from '../../reliability/support/ledger.js';
import { until } from '../../reliability/support/until.js';
import { CLUSTER_BROKERS, minInsyncReplicas, partitions } from './cluster.js';

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

  constructor(label: string) {
    this.topic = unique(`cluster-${label}`);
    this.group = unique('g');
  }

  /** Starts a consumer instance in the scenario's group and waits until it consumes. */
  async consumer(name: string, options: Record<string, unknown> = {}): Promise<AppProcess> {
    const app = new AppProcess('consumer', name, {
      broker: 'kafka',
      options: clusterOptions({ concurrency: 3, ...options }),
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
   * Starts the group's two consumer instances (which create the topic) and checks the topic's
   * layout: {@link PARTITIONS} partitions, {@link REPLICATION_FACTOR} replicas each, and
   * `min.insync.replicas` {@link MIN_INSYNC_REPLICAS} (the adapter's minInsyncReplicas).
   */
  async startGroup(): Promise<AppProcess[]> {
    const members = [await this.consumer('consumer-a'), await this.consumer('consumer-b')];
    const layout = await partitions(this.topic);
    const replicas = layout.map((state) => state.replicas.length);
    const minInsync = await minInsyncReplicas(this.topic);
    if (layout.length !== PARTITIONS || replicas.some((count) => count !== REPLICATION_FACTOR) || minInsync !== String(MIN_INSYNC_REPLICAS)) {
      throw new Error(
        `Topic "${this.topic}" has ${layout.length} partitions with ${replicas.join('/')} replicas and min.insync.replicas ${minInsync}; ` +
          `expected ${PARTITIONS} partitions, ${REPLICATION_FACTOR} replicas, ${MIN_INSYNC_REPLICAS}.`,
      );
    }
    return members;
  }

  /** Starts the producer instance; it publishes once connected, `count` ids or until SIGTERM. */
  async producer(config: { count?: number; concurrency: number; ratePerSec: number }, options: Record<string, unknown> = {}): Promise<AppProcess> {
    const app = new AppProcess({ file: PRODUCER }, 'producer', { broker: 'kafka', options: clusterOptions(options), topic: this.topic, ...config });
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
  async finish(producer: AppProcess, options: { stopProducer: boolean }): Promise<{
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
    return this.apps.flatMap((app) => app.events.filter((event) => event.e === 'crash').map((event) => `${app.name}: ${JSON.stringify(event)}`));
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
      console.error(`cluster scenario failed: topic "${this.topic}" and group "${this.group}" kept on the cluster for diagnosis`);
      return;
    }
    const admin = new kafkajs.Kafka({ brokers: CLUSTER_BROKERS.split(','), clientId: 'msgport-cluster-cleanup', logLevel: kafkajs.logLevel.NOTHING }).admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const topics = [this.topic, `${this.topic}.DLT`].filter((topic) => existing.has(topic));
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 }).catch(() => undefined);
      await admin.deleteGroups([this.group]).catch(() => undefined);
    } catch {
      // Cleanup only: the names are unique anyway.
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
