import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../reliability/support/paths.js';
import { until } from '../../reliability/support/until.js';

const run = promisify(execFile);
const CLUSTER_SH = join(ROOT, 'scripts', 'rabbitmq-cluster.sh');

/** The RabbitMQ cluster under test: scripts/rabbitmq-cluster.sh's three nodes, unless MSGPORT_RABBITMQ_CLUSTER_URLS says otherwise. */
export const RABBIT_CLUSTER_URLS: readonly string[] = (
  process.env['MSGPORT_RABBITMQ_CLUSTER_URLS'] ??
  'amqp://guest:guest@127.0.0.1:5673,amqp://guest:guest@127.0.0.1:5674,amqp://guest:guest@127.0.0.1:5675'
).split(',');
export const RABBIT_NODES = [1, 2, 3] as const;
export type RabbitNodeId = (typeof RABBIT_NODES)[number];

/** Node N of scripts/rabbitmq-cluster.sh: its Erlang node name and AMQP URL. */
export function rabbitNodeName(n: RabbitNodeId): string {
  return `rmq${n}@localhost`;
}
export function rabbitNodeUrl(n: RabbitNodeId): string {
  return RABBIT_CLUSTER_URLS[n - 1]!;
}
export function rabbitNodeOf(name: string): RabbitNodeId {
  const match = /^rmq([123])@localhost$/.exec(name);
  if (match === null) throw new Error(`"${name}" is not a node of scripts/rabbitmq-cluster.sh`);
  return Number(match[1]) as RabbitNodeId;
}

async function script(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('bash', [CLUSTER_SH, ...args], { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`scripts/rabbitmq-cluster.sh ${args.join(' ')} failed: ${stderr ?? String(error)}`, { cause: error });
  }
}

/** SIGKILL of node `n`'s Erlang VM (its data stays). */
export async function killRabbitNode(n: RabbitNodeId): Promise<void> {
  await script('kill', String(n));
}

/** Starts node `n` again on its data (stopping it gracefully first if it runs); resolves once it serves AMQP and rejoined the cluster. */
export async function restartRabbitNode(n: RabbitNodeId): Promise<void> {
  await script('restart', String(n));
}

/** Starts whatever node is not running (always called in finally: a scenario never leaves one down). */
export async function ensureRabbitClusterUp(): Promise<void> {
  const up = await run('bash', [CLUSTER_SH, 'status'], { timeout: 60_000 }).then(
    () => true,
    () => false,
  );
  if (!up) await script('start');
}

async function listJson<T>(tool: 'ctl', ...args: string[]): Promise<T[]> {
  const out = await script(tool, ...args, '--formatter', 'json');
  const text = out.trim();
  return text === '' ? [] : (JSON.parse(text) as T[]);
}

export interface QueueState {
  readonly name: string;
  readonly type: string;
  /** The node leading a quorum queue (empty for a classic queue). */
  readonly leader: string;
  readonly members: readonly string[];
  readonly online: readonly string[];
  readonly messages: number;
}

/** Every queue whose name starts with `prefix`, as the cluster reports it now. */
export async function rabbitQueues(prefix: string): Promise<QueueState[]> {
  const rows = await listJson<Record<string, unknown>>(
    'ctl',
    'list_queues',
    'name',
    'type',
    'leader',
    'members',
    'online',
    'messages',
  );
  return rows
    .filter((row) => String(row['name']).startsWith(prefix))
    .map((row) => ({
      name: String(row['name']),
      type: String(row['type']),
      leader: typeof row['leader'] === 'string' ? row['leader'] : '',
      members: Array.isArray(row['members']) ? row['members'].map(String) : [],
      online: Array.isArray(row['online']) ? row['online'].map(String) : [],
      messages: Number(row['messages'] ?? 0),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The nodes (by AMQP port) the client connections of the cluster are open on, counted per node. */
export async function connectionsPerNode(): Promise<Map<RabbitNodeId, number>> {
  const rows = await listJson<Record<string, unknown>>('ctl', 'list_connections', 'port', 'user');
  const counts = new Map<RabbitNodeId, number>();
  for (const row of rows) {
    const index = RABBIT_CLUSTER_URLS.findIndex((url) => new URL(url).port === String(row['port']));
    if (index >= 0) counts.set((index + 1) as RabbitNodeId, (counts.get((index + 1) as RabbitNodeId) ?? 0) + 1);
  }
  return counts;
}

/**
 * Waits until every member of every quorum queue in `queues` is online again (a restarted node
 * caught up), and returns how long that took.
 */
export async function waitForQuorumMembers(prefix: string, timeoutMs: number): Promise<number> {
  const began = Date.now();
  let last = '';
  await until(
    async () => {
      try {
        const states = (await rabbitQueues(prefix)).filter((state) => state.type === 'quorum');
        last = states.map((s) => `${s.name}: leader ${s.leader}, online ${s.online.length}/${s.members.length}`).join('; ');
        return (
          states.length > 0 &&
          states.every((state) => state.members.length === 3 && state.online.length === 3 && state.leader !== '')
        );
      } catch (error) {
        last = (error as Error).message;
        return false;
      }
    },
    { timeoutMs, intervalMs: 1_000, what: () => `every member of the quorum queues ${prefix}* online (${last})` },
  );
  return Date.now() - began;
}

/** Deletes every queue whose name starts with `prefix` (cleanup; the names are unique anyway). */
export async function deleteRabbitQueues(prefix: string): Promise<void> {
  for (const state of await rabbitQueues(prefix)) {
    await script('ctl', 'delete_queue', state.name).catch(() => undefined);
  }
}
