import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { RABBITMQ_URL } from './env.js';

export { amqp };

export async function amqpConnect(): Promise<ChannelModel> {
  return amqp.connect(RABBITMQ_URL);
}

/**
 * Publishes one persistent message on a confirm channel and resolves on the broker's confirm;
 * waits for 'drain' first when the channel's buffer is full (as a careful raw user would).
 */
export function publishConfirmed(
  channel: ConfirmChannel,
  gate: DrainGate,
  exchange: string,
  routingKey: string,
  content: Buffer,
  headers?: Record<string, string>,
): Promise<void> {
  const options = headers === undefined ? { persistent: true } : { persistent: true, headers };
  const send = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const writable = channel.publish(exchange, routingKey, content, options, (error: unknown) =>
        error === null || error === undefined
          ? resolve()
          : reject(error instanceof Error ? error : new Error('RabbitMQ nacked the message', { cause: error })),
      );
      if (!writable) gate.block(channel);
    });
  return gate.waiting === null ? send() : gate.waiting.then(send);
}

/** Shared "the channel said stop, wait for drain" state of one confirm channel. */
export class DrainGate {
  waiting: Promise<void> | null = null;

  block(channel: ConfirmChannel): void {
    if (this.waiting !== null) return;
    this.waiting = new Promise<void>((resolve) =>
      channel.once('drain', () => {
        this.waiting = null;
        resolve();
      }),
    );
  }
}

/** Partitions of every topic in the bench: the adapter's default. */
export const PARTITIONS = 4;

/**
 * Every queue and exchange a bench run may declare for the exchange `exchange` (with topic
 * `<exchange>-t` or `bench`): the adapter's group partition, members and dead-letter queues, the
 * raw queues, the adapter's dead-letter exchange and the topic's partition exchanges (those go
 * away with their last queue anyway).
 */
export function rabbitNames(exchange: string): { queues: string[]; exchanges: string[] } {
  const topic = `${exchange}-t`;
  const partitionQueues = Array.from({ length: PARTITIONS }, (_, partition) => `${topic}.g.p${partition}`);
  const partitionExchange = `${exchange}.${topic}.partitions.${PARTITIONS}`;
  return {
    queues: [`${exchange}.q`, ...partitionQueues, `${topic}.g.members`, `${topic}.g.dlq`, `${topic}.raw`],
    exchanges: [exchange, `${exchange}.dlx`, partitionExchange, `${partitionExchange}.fallback`],
  };
}

/** Deletes what {@link rabbitNames} lists for each run of each variant (best effort). */
export async function deleteRabbitRuns(prefix: string, variantIds: readonly string[], runs: number): Promise<void> {
  const queues: string[] = [];
  const exchanges: string[] = [];
  for (const id of variantIds) {
    for (let run = 0; run < runs; run++) {
      const names = rabbitNames(`${prefix}-${id}-r${run}`);
      queues.push(...names.queues);
      exchanges.push(...names.exchanges);
    }
  }
  await deleteTopology(queues, exchanges);
}

/** Deletes queues and exchanges (best effort; never throws). */
export async function deleteTopology(queues: string[], exchanges: string[]): Promise<void> {
  let connection: ChannelModel | null = null;
  try {
    connection = await amqpConnect();
    connection.on('error', () => undefined);
    let channel: Channel | null = null;
    // A failed delete closes the channel: open another one and go on.
    const on = async (action: (c: Channel) => Promise<unknown>): Promise<void> => {
      if (channel === null) {
        const opened = await connection!.createChannel();
        opened.on('error', () => undefined);
        opened.on('close', () => {
          if (channel === opened) channel = null;
        });
        channel = opened;
      }
      await action(channel).catch(() => undefined);
    };
    for (const queue of queues) await on((c) => c.deleteQueue(queue));
    for (const exchange of exchanges) await on((c) => c.deleteExchange(exchange));
  } catch {
    // best effort
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/**
 * Fills `queue` (bound to `exchange` with `routingKey`) with `count` persistent messages, up to
 * 1,000 unconfirmed at a time, and waits until the queue holds them all.
 */
export async function fillQueue(
  exchange: string,
  routingKey: string,
  queue: string,
  count: number,
  value: Buffer,
): Promise<void> {
  const connection = await amqpConnect();
  try {
    const channel = await connection.createConfirmChannel();
    const gate = new DrainGate();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        next++;
        await publishConfirmed(channel, gate, exchange, routingKey, value);
      }
    };
    await Promise.all(Array.from({ length: 1_000 }, worker));
    for (let i = 0; i < 200; i++) {
      const { messageCount } = await channel.checkQueue(queue);
      if (messageCount >= count) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`queue ${queue} did not reach ${count} messages`);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** The adapter's options for this broker (plus `extra`). */
export function rabbitAdapterOptions(exchangeName: string, extra: Record<string, unknown> = {}) {
  return { url: RABBITMQ_URL, exchangeName, prefetch: PREFETCH, logger: quietLogger, ...extra };
}

/** Prefetch of both the adapter and the raw consumer (the adapter's default). */
export const PREFETCH = 100;

const quietLogger = {
  debug: (): void => {},
  info: (): void => {},
  warn: (message: string): void => void process.stderr.write(`msgport warn: ${message}\n`),
  error: (message: string): void => void process.stderr.write(`msgport error: ${message}\n`),
};
