import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from '@msgport/core';
import { KafkaAdapter, type KafkaAdapterOptions } from '@msgport/kafka';

const run = promisify(execFile);

/** The broker under test: scripts/kafka.sh starts one on 127.0.0.1:9092. */
export const KAFKA_BROKERS = process.env['MSGPORT_KAFKA_BROKERS'] ?? '127.0.0.1:9092';

function positiveIntegerFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be an integer >= 1, got "${raw}"`);
  return value;
}

/**
 * Replication of the topics the test adapters create: 1 on the single broker; the cluster leg
 * (scripts/cluster.sh) sets MSGPORT_KAFKA_REPLICATION_FACTOR=3 and MSGPORT_KAFKA_MIN_INSYNC_REPLICAS=2.
 */
export const TOPIC_REPLICATION_OPTIONS: Pick<KafkaAdapterOptions, 'replicationFactor' | 'minInsyncReplicas'> = (() => {
  const replicationFactor = positiveIntegerFromEnv('MSGPORT_KAFKA_REPLICATION_FACTOR');
  const minInsyncReplicas = positiveIntegerFromEnv('MSGPORT_KAFKA_MIN_INSYNC_REPLICAS');
  return {
    ...(replicationFactor === undefined ? {} : { replicationFactor }),
    ...(minInsyncReplicas === undefined ? {} : { minInsyncReplicas }),
  };
})();

/**
 * Settings that keep group joins, rebalances and stops fast on a local single-node broker:
 * 6 s is the broker's smallest session timeout (group.min.session.timeout.ms), and idle
 * consumers poll every 100 ms so that they notice rebalances and stop quickly.
 */
export const FAST_GROUP_OPTIONS = {
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 300,
  rebalanceTimeoutMs: 10_000,
  fetchMaxWaitMs: 100,
  shutdownTimeoutMs: 15_000,
} as const satisfies Partial<KafkaAdapterOptions>;

/** A logger that records every line and prints errors (kafkajs problems stay visible). */
export interface RecordingLogger extends Logger {
  readonly lines: string[];
}

export function recordingLogger(print: 'error' | 'none' = 'error'): RecordingLogger {
  const lines: string[] = [];
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const line = `${level}: ${message}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`;
    lines.push(line);
    if (print === 'error' && level === 'error') console.error(`[kafka test] ${line}`);
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A fresh, not started adapter on the test broker. */
export function createTestAdapter(options: Partial<KafkaAdapterOptions> = {}): KafkaAdapter {
  return new KafkaAdapter({
    bootstrapServers: KAFKA_BROKERS,
    clientId: 'msgport-test',
    logger: recordingLogger(),
    ...FAST_GROUP_OPTIONS,
    ...TOPIC_REPLICATION_OPTIONS,
    ...options,
  });
}

/**
 * The conformance suite's broker-restart hook: `scripts/kafka.sh restart` (data kept) for the
 * broker of scripts/kafka.sh on 127.0.0.1:9092, or the shell command in
 * MSGPORT_KAFKA_RESTART_COMMAND (another broker: the Kafka 4 leg, a cluster node). A broker at
 * another address without that command is an error, not a skipped case.
 */
export function kafkaRestartHook(): () => Promise<void> {
  const command = process.env['MSGPORT_KAFKA_RESTART_COMMAND'];
  const custom = command !== undefined && command !== '';
  if (!custom && KAFKA_BROKERS !== '127.0.0.1:9092') {
    throw new Error(
      `MSGPORT_KAFKA_BROKERS is ${KAFKA_BROKERS}; set MSGPORT_KAFKA_RESTART_COMMAND to a shell command that restarts that broker ` +
        '(the conformance suite restarts the broker under test).',
    );
  }
  const script = fileURLToPath(new URL('../../../scripts/kafka.sh', import.meta.url));
  return async () => {
    await run('bash', custom ? ['-c', command] : [script, 'restart'], { timeout: 180_000 });
  };
}
