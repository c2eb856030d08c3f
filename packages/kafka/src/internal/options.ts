import type { ConnectionOptions } from 'node:tls';
import { InvalidArgumentError } from '@msgport/core';
import { backoffDelay, describeValue, SASL_MECHANISMS, type Backoff } from '@msgport/core/adapter';
import kafkajs, { type KafkaConfig, type RetryOptions, type SASLOptions } from 'kafkajs';
import type { KafkaAdapterOptions, KafkaSaslOptions } from '../kafka-adapter-options.js';
import { parseBootstrapServers } from './mapping.js';
import { ASSIGNMENT_STRATEGIES, type AssignmentStrategy } from './partition-assigners.js';

/** {@link KafkaAdapterOptions} checked, with their defaults applied. */
export interface ResolvedOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean | ConnectionOptions | undefined;
  readonly sasl: KafkaSaslOptions | undefined;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number | undefined;
  readonly fromBeginning: boolean;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly fetchMaxWaitMs: number;
  readonly maxBatchSize: number;
  readonly maxBatchBytes: number;
  readonly lingerMs: number;
  readonly concurrency: number;
  readonly partitionAssigners: readonly AssignmentStrategy[];
}

/**
 * Retries of kafkajs' own operations (metadata, joins, commits, admin). Explicit, because kafkajs
 * switches to different defaults when NODE_ENV is 'test'.
 */
export const CLIENT_RETRY: RetryOptions = { initialRetryTime: 300, retries: 5, maxRetryTime: 30_000, factor: 0.2, multiplier: 2 };
/**
 * Retries of the producer's client (connecting, metadata), of one produce attempt and of the admin
 * that creates topics: short, so that an attempt fails within about a second when no broker
 * answers. The adapter itself tries again until `publishTimeoutMs` (PublishBatcher, TopicAdmin.ready).
 * Left to kafkajs, the bound would be neither a retry count nor a time: a produce attempt gives up
 * as soon as one metadata refresh exhausts the client's retries (6 to 20 s into an outage with
 * CLIENT_RETRY), and kafkajs' default for idempotent producers (retry forever) would hang
 * `publish()`.
 */
export const PRODUCER_RETRY: RetryOptions = {
  initialRetryTime: 100,
  retries: 3,
  maxRetryTime: 1_000,
  factor: 0.2,
  multiplier: 2,
};
/** Pauses before sending a batch (or creating a topic) again, and between attempts to reach the brokers. */
export const RETRY_BACKOFF: Backoff = { initialDelayMs: 100, multiplier: 2, maxDelayMs: 1_000, jitter: 0 };
/** Pause before sending a batch (or creating a topic) again after its `attempt`-th failure. */
export const publishRetryDelayMs = (attempt: number): number => backoffDelay(RETRY_BACKOFF, attempt);
/** Longest single socket connect attempt (kafkajs `connectionTimeout`); `start()` retries until its bound. */
export const MAX_SOCKET_CONNECT_MS = 5_000;
/** Bound of the broker round trip `health()` makes. */
export const HEALTH_PROBE_TIMEOUT_MS = 5_000;

// kafkajs is CommonJS and Node cannot see all of its named exports: take them off the default export.
const { logLevel } = kafkajs;

/** The kafkajs client configuration for `options`, with `extra` (retries, logging, sockets). */
export function kafkaConfig(
  options: ResolvedOptions,
  extra: Pick<KafkaConfig, 'retry' | 'logCreator' | 'logLevel' | 'socketFactory'>,
): KafkaConfig {
  const { brokers, clientId, ssl, sasl, connectionTimeoutMs, requestTimeoutMs } = options;
  const config: KafkaConfig = {
    brokers: [...brokers],
    clientId,
    connectionTimeout: Math.min(connectionTimeoutMs, MAX_SOCKET_CONNECT_MS),
    authenticationTimeout: connectionTimeoutMs,
    requestTimeout: requestTimeoutMs,
    enforceRequestTimeout: true,
    logLevel: logLevel.WARN,
    ...extra,
  };
  if (ssl !== undefined) config.ssl = ssl;
  if (sasl !== undefined) config.sasl = toKafkajsSasl(sasl);
  return config;
}

export function toKafkajsSasl(sasl: KafkaSaslOptions): SASLOptions {
  const { username, password } = sasl;
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username, password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password };
  }
}

export function requireObject(options: KafkaAdapterOptions): KafkaAdapterOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      'KafkaAdapter needs options with at least bootstrapServers, e.g. { bootstrapServers: "localhost:9092" }.',
    );
  }
  return options;
}

export function resolveOptions(options: KafkaAdapterOptions): ResolvedOptions {
  const problems: string[] = [];
  const brokers = options.bootstrapServers === undefined ? [] : parseBootstrapServers(options.bootstrapServers);
  if (brokers.length === 0) problems.push('bootstrapServers must name at least one broker, e.g. "localhost:9092"');
  const integer = (name: keyof KafkaAdapterOptions, fallback: number, min: number): number => {
    const value = options[name] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      problems.push(`${name} must be an integer >= ${min}, got ${describeValue(value)}`);
      return fallback;
    }
    return value;
  };
  const resolved: ResolvedOptions = {
    brokers,
    clientId: options.clientId ?? 'msgport',
    ssl: options.ssl,
    sasl: options.sasl,
    numPartitions: integer('numPartitions', 1, 1),
    replicationFactor: integer('replicationFactor', 1, 1),
    minInsyncReplicas: options.minInsyncReplicas === undefined ? undefined : integer('minInsyncReplicas', 1, 1),
    fromBeginning: options.fromBeginning ?? false,
    connectionTimeoutMs: integer('connectionTimeoutMs', 10_000, 1),
    requestTimeoutMs: integer('requestTimeoutMs', 30_000, 1),
    publishTimeoutMs: integer('publishTimeoutMs', 30_000, 1),
    sessionTimeoutMs: integer('sessionTimeoutMs', 30_000, 1),
    heartbeatIntervalMs: integer('heartbeatIntervalMs', 3_000, 1),
    rebalanceTimeoutMs: integer('rebalanceTimeoutMs', 60_000, 1),
    fetchMaxWaitMs: integer('fetchMaxWaitMs', 500, 0),
    maxBatchSize: integer('maxBatchSize', 1_000, 1),
    maxBatchBytes: integer('maxBatchBytes', 1_048_000, 1),
    lingerMs: integer('lingerMs', 0, 0),
    concurrency: options.concurrency ?? 1,
    partitionAssigners: options.partitionAssigners ?? ['roundrobin', 'range'],
  };
  const assigners: unknown = resolved.partitionAssigners;
  if (
    !Array.isArray(assigners) ||
    assigners.length === 0 ||
    !assigners.every((name) => (ASSIGNMENT_STRATEGIES as readonly unknown[]).includes(name)) ||
    new Set(assigners).size !== assigners.length
  ) {
    problems.push(
      `partitionAssigners must be a non-empty list of distinct names among ${ASSIGNMENT_STRATEGIES.join(', ')}, got ${JSON.stringify(assigners)}`,
    );
  }
  if (resolved.minInsyncReplicas !== undefined && resolved.minInsyncReplicas > resolved.replicationFactor) {
    problems.push(
      `minInsyncReplicas (${resolved.minInsyncReplicas}) must not exceed replicationFactor (${resolved.replicationFactor}): ` +
        'a topic with fewer replicas than must be in sync refuses every publish. Raise replicationFactor (3 with minInsyncReplicas 2 is usual) or lower minInsyncReplicas',
    );
  }
  if (typeof resolved.clientId !== 'string' || resolved.clientId.length === 0)
    problems.push('clientId must be a non-empty string');
  if (typeof resolved.fromBeginning !== 'boolean') problems.push('fromBeginning must be a boolean');
  if (resolved.heartbeatIntervalMs >= resolved.sessionTimeoutMs) {
    problems.push(
      `heartbeatIntervalMs (${resolved.heartbeatIntervalMs}) must be lower than sessionTimeoutMs (${resolved.sessionTimeoutMs})`,
    );
  }
  const sasl = options.sasl;
  if (sasl !== undefined) {
    if (typeof sasl !== 'object' || sasl === null || !SASL_MECHANISMS.includes(sasl.mechanism)) {
      problems.push(`sasl.mechanism must be one of ${SASL_MECHANISMS.join(', ')}`);
    } else if (typeof sasl.username !== 'string' || typeof sasl.password !== 'string') {
      problems.push('sasl.username and sasl.password must be strings');
    }
  }
  if (problems.length > 0) throw new InvalidArgumentError(`Invalid KafkaAdapter options: ${problems.join('; ')}.`);
  return resolved;
}
