import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { ROOT } from '../../reliability/support/paths.js';
import { until } from '../../reliability/support/until.js';

const run = promisify(execFile);
const CLUSTER_SH = join(ROOT, 'scripts', 'kafka-cluster.sh');
const { Kafka, logLevel } = kafkajs;

/** The cluster under test: scripts/kafka-cluster.sh's three brokers, unless MSGPORT_KAFKA_CLUSTER_BROKERS says otherwise. */
export const CLUSTER_BROKERS = process.env['MSGPORT_KAFKA_CLUSTER_BROKERS'] ?? '127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094';
const BROKER_LIST = CLUSTER_BROKERS.split(',');
/** Node N of scripts/kafka-cluster.sh listens on the N-th address of the list. */
export const NODES = [1, 2, 3] as const;
export type NodeId = (typeof NODES)[number];

async function script(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('bash', [CLUSTER_SH, ...args], { timeout: 240_000 });
    return stdout;
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`scripts/kafka-cluster.sh ${args.join(' ')} failed: ${stderr ?? String(error)}`, { cause: error });
  }
}

/** SIGKILL of node `n` (its data stays). */
export async function killNode(n: NodeId): Promise<void> {
  await script('kill', String(n));
}

/** Starts node `n` again on its data (SIGTERM first if it runs); resolves once it serves requests. */
export async function restartNode(n: NodeId): Promise<void> {
  await script('restart', String(n));
}

/** Starts whatever node is not running (always called in finally: a scenario never leaves one down). */
export async function ensureClusterUp(): Promise<void> {
  const up = await run('bash', [CLUSTER_SH, 'status'], { timeout: 30_000 }).then(
    () => true,
    () => false,
  );
  if (!up) await script('start');
}

function admin() {
  return new Kafka({
    brokers: BROKER_LIST,
    clientId: 'msgport-cluster-inspector',
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
    retry: { retries: 2, initialRetryTime: 200 },
  }).admin();
}

/** Runs `operation` with a fresh admin client (a long-lived one keeps stale metadata after a kill). */
async function withAdmin<T>(operation: (client: ReturnType<typeof admin>) => Promise<T>): Promise<T> {
  const client = admin();
  await client.connect();
  try {
    return await operation(client);
  } finally {
    await client.disconnect().catch(() => undefined);
  }
}

export interface PartitionState {
  readonly partition: number;
  readonly leader: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

/** Leader, replicas and in-sync replicas of every partition of `topic`, as the brokers report them now. */
export async function partitions(topic: string): Promise<PartitionState[]> {
  return withAdmin(async (client) => {
    const { topics } = await client.fetchTopicMetadata({ topics: [topic] });
    return topics[0]!.partitions
      .map(({ partitionId, leader, replicas, isr }) => ({ partition: partitionId, leader, replicas, isr }))
      .sort((a, b) => a.partition - b.partition);
  });
}

/** `min.insync.replicas` of `topic` (its own config or the broker default). */
export async function minInsyncReplicas(topic: string): Promise<string> {
  return withAdmin(async (client) => {
    const { resources } = await client.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] }],
    });
    return resources[0]!.configEntries[0]!.configValue;
  });
}

/** Java's `String.hashCode()` (UTF-16 code units, 32-bit overflow). */
function javaHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}

/**
 * The node that is the group coordinator of `groupId`: the leader of the `__consumer_offsets`
 * partition the broker maps the group to (`Utils.abs(groupId.hashCode()) % partitions`, as in
 * Kafka's GroupMetadataManager / GroupCoordinatorShard).
 */
export async function coordinatorOf(groupId: string): Promise<NodeId> {
  const offsets = await partitions('__consumer_offsets');
  const index = (javaHashCode(groupId) & 0x7fffffff) % offsets.length;
  return offsets.find((state) => state.partition === index)!.leader as NodeId;
}

/**
 * Waits until every partition of `topics` has all its replicas in sync again (a restarted broker
 * caught up), and returns how long that took.
 */
export async function waitForFullIsr(topics: readonly string[], timeoutMs: number): Promise<number> {
  const began = Date.now();
  let last = '';
  await until(
    async () => {
      try {
        const states = (await Promise.all(topics.map(partitions))).flat();
        last = states.map((s) => `${s.partition}:isr=${s.isr.join('/')}`).join(' ');
        return states.every((state) => state.isr.length === state.replicas.length && state.leader >= 0);
      } catch (error) {
        last = (error as Error).message;
        return false;
      }
    },
    { timeoutMs, intervalMs: 500, what: () => `every replica of ${topics.join(', ')} back in sync (${last})` },
  );
  return Date.now() - began;
}
