import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import amqplib from 'amqplib';

const run = promisify(execFile);

/**
 * The broker the tests use: `MSGPORT_RABBITMQ_URL`, default the local RabbitMQ. It may list the
 * nodes of a cluster, comma-separated (scripts/cluster.sh): the adapter takes the list as it is;
 * the helpers below that use amqplib directly connect to the first node.
 */
export const RABBITMQ_URL = process.env.MSGPORT_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const FIRST_URL = RABBITMQ_URL.split(',')[0]!.trim();
/** `rabbitmqctl -n` target: `MSGPORT_RABBITMQCTL_NODE` (a cluster node, e.g. rmq1@localhost), default the local node. */
const CTL_NODE = process.env.MSGPORT_RABBITMQCTL_NODE === undefined ? [] : ['-n', process.env.MSGPORT_RABBITMQCTL_NODE];

/** A fresh exchange name per test file, so that its topology can be found and removed afterwards. */
export function uniqueExchange(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/**
 * Fails loudly (never skips) when RabbitMQ is not reachable: the tests need the real broker.
 */
export async function requireBroker(): Promise<void> {
  let connection: amqplib.ChannelModel;
  try {
    connection = await amqplib.connect(FIRST_URL, { timeout: 5_000 });
  } catch (error) {
    throw new Error(
      `RabbitMQ is not reachable at ${FIRST_URL.replace(/:[^:@/]*@/, ':***@')} (${(error as Error).message}). ` +
        'Start it (rabbitmq-server -detached, or rabbitmqctl start_app) or set MSGPORT_RABBITMQ_URL.',
      { cause: error },
    );
  }
  await connection.close();
}

/** Runs a `rabbitmqctl list_…` command and returns its rows, split on tabs, without the header row. */
export async function rabbitmqctl(command: `list_${string}`, ...columns: string[]): Promise<string[][]> {
  const { stdout } = await run('rabbitmqctl', [...CTL_NODE, '-q', '--no-table-headers', command, ...columns], {
    timeout: 60_000,
  });
  return stdout
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t'));
}

/** Runs `rabbitmqctl stop_app` or `start_app` (start_app on a running broker does nothing). */
export async function rabbitmqApp(command: 'stop_app' | 'start_app'): Promise<void> {
  await run('rabbitmqctl', ['-q', command], { timeout: 120_000 });
}

/**
 * Names of the queues bound to `exchange`, to its dead-letter exchange and to the exchanges named
 * after it (the partition and fallback exchanges `<exchange>.<topic>.partitions.<n>[.fallback]`),
 * plus the members queues of the groups whose partition queues are among them.
 */
export async function queuesBoundTo(exchange: string): Promise<string[]> {
  const bindings = await rabbitmqctl('list_bindings', 'source_name', 'destination_name', 'destination_kind');
  const ours = (source: string): boolean => source === exchange || source.startsWith(`${exchange}.`);
  const queues = new Set(bindings.filter(([source, , kind]) => ours(source ?? '') && kind === 'queue').map(([, name]) => name!));
  for (const queue of [...queues]) {
    const partition = /^(.*)\.p\d+$/.exec(queue);
    if (partition !== null) queues.add(`${partition[1]}.members`);
  }
  return [...queues];
}

/**
 * Deletes the exchanges of `exchange` (main and dead-letter), every queue bound to them (the
 * partition and fallback exchanges go away with their last queue: they are auto-delete), and
 * `extraQueues`. Queues that are already gone are skipped.
 */
export async function deleteTopology(exchange: string, extraQueues: readonly string[] = []): Promise<void> {
  const queues = new Set([...(await queuesBoundTo(exchange)), ...extraQueues]);
  const connection = await amqplib.connect(FIRST_URL);
  try {
    const open = async (): Promise<amqplib.Channel> => {
      const opened = await connection.createChannel();
      opened.on('error', () => undefined);
      return opened;
    };
    let channel = await open();
    for (const queue of queues) {
      try {
        await channel.deleteQueue(queue);
      } catch {
        channel = await open();
      }
    }
    await channel.deleteExchange(`${exchange}.dlx`);
    await channel.deleteExchange(exchange);
    await channel.close();
  } finally {
    await connection.close();
  }
}

/**
 * Waits until every client connection on the broker belongs to this process (adapters name their
 * connections `msgport@<host>:<pid>`), so that a broker restart does not pull the rug from under
 * other test files running in parallel. Gives up after `timeoutMs` and reports who is still
 * connected: the restart then goes ahead, and those clients must reconnect.
 */
export async function waitForOtherClientsToLeave(timeoutMs: number): Promise<string[]> {
  const mine = `"connection_name","msgport@${hostname()}:${process.pid}"`;
  const deadline = Date.now() + timeoutMs;
  // Two idle looks in a row: one could fall between two tests of another file.
  let idleLooks = 0;
  for (;;) {
    const others = (await rabbitmqctl('list_connections', 'name', 'client_properties'))
      .filter(([, properties]) => !(properties ?? '').includes(mine))
      .map(([name]) => name ?? '?');
    idleLooks = others.length === 0 ? idleLooks + 1 : 0;
    if (idleLooks >= 2 || Date.now() >= deadline) return others;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
