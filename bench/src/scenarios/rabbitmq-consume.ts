import { msgportPackage, type Build } from '../lib/builds.js';
import {
  amqpConnect,
  deleteRabbitRuns,
  deleteTopology,
  fillQueue,
  PREFETCH,
  rabbitAdapterOptions,
  rabbitNames,
} from '../lib/amqp.js';
import { now, payload } from '../lib/drive.js';
import { portOpen, RABBITMQ_URL } from '../lib/env.js';
import type { Measurement, RunInput, Scenario, ScenarioPlan } from '../lib/types.js';

/**
 * Scenario 5: the adapter's group consumer against a raw amqplib consumer with the same prefetch,
 * each draining a durable queue pre-filled for it.
 */
interface Params {
  readonly impl: 'msgport' | 'raw';
  /** Which msgport runs a msgport variant (the untyped scenario runs both). @default 'this' */
  readonly build?: Build;
}

const TIMEOUT_MS = 120_000;
const GROUP = 'g';

export const rabbitmqConsumeScenario: Scenario = {
  name: 'rabbitmq-consume',
  title: `RabbitMQ consume vs raw amqplib (prefetch ${PREFETCH})`,
  async unavailable() {
    return (await portOpen(RABBITMQ_URL)) ? null : 'no RabbitMQ broker at 127.0.0.1:5672';
  },
  async prepare({ quick, prefix, runs }): Promise<ScenarioPlan> {
    const messages = quick ? 5_000 : 20_000;
    return {
      workload: `${messages.toLocaleString('en-US')} persistent 1 KiB messages pre-filled (untimed) into a durable queue per run, then drained; timed from the first delivery to the last; handlers only count; ack per message after the handler; prefetch ${PREFETCH} for both`,
      variants: [
        {
          id: 'msgport',
          label: `msgport RabbitMQAdapter (group queue, prefetch ${PREFETCH})`,
          role: 'msgport',
          where: 'child',
          params: { impl: 'msgport' },
        },
        {
          id: 'raw',
          label: `amqplib consume + ack (prefetch ${PREFETCH})`,
          role: 'baseline',
          where: 'child',
          params: { impl: 'raw' },
        },
      ],
      comparisons: [
        {
          id: 'rabbitmq-consume',
          label: 'RabbitMQ consume: msgport / amqplib',
          subject: 'msgport',
          baseline: 'raw',
          metric: 'rate',
          target: { min: 0.9, text: '≥ 0.9×' },
        },
      ],
      context: { prefix, messages },
      cleanup: () => deleteRabbitRuns(prefix, ['msgport', 'raw'], runs),
    };
  },
  async run({ variant, context, run }: RunInput): Promise<Measurement> {
    const { impl, build } = variant.params as unknown as Params;
    const messages = Number(context['messages']);
    const exchange = `${String(context['prefix'])}-${variant.id}-r${run}`;
    const topic = `${exchange}-t`;
    const names = rabbitNames(exchange);
    const value = payload();

    let count = 0;
    let first = 0;
    let last = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const received = (): void => {
      if (count === 0) first = now();
      if (++count === messages) {
        last = now();
        done();
      }
    };
    // The adapter's handler: an async function, the shape the README shows.
    const handler = async (): Promise<void> => received();
    const noop = async (): Promise<void> => {};
    const timeout = setTimeout(() => done(), TIMEOUT_MS);
    try {
      if (impl === 'msgport') {
        // Filled without a partition header (a plain amqplib publisher), so every message takes
        // the fallback route to partition 0: one queue, as for the raw consumer.
        const queue = `${topic}.${GROUP}.p0`;
        const { RabbitMQAdapter } = await msgportPackage('rabbitmq', build);
        const broker = new RabbitMQAdapter(rabbitAdapterOptions(exchange));
        try {
          await broker.start();
          // Let the adapter declare its own topology, stop consuming, fill the queue, consume again.
          const declared = await broker.subscribe(topic, () => {}, GROUP);
          await declared.unsubscribe();
          await fillQueue(exchange, topic, queue, messages, value);
          await broker.subscribe(topic, handler, GROUP);
          await finished;
        } finally {
          await broker.stop();
          await deleteTopology(names.queues, names.exchanges);
        }
      } else {
        const queue = `${topic}.raw`;
        const connection = await amqpConnect();
        try {
          const channel = await connection.createChannel();
          await channel.assertExchange(exchange, 'direct', { durable: true });
          // A quorum queue, like the adapter's partition queues (its default queueType).
          await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
          await channel.bindQueue(queue, exchange, topic);
          await fillQueue(exchange, topic, queue, messages, value);
          await channel.prefetch(PREFETCH);
          await channel.consume(
            queue,
            (delivery) => {
              if (delivery === null) return;
              // An async handler, acknowledged once it resolved, as the adapter does; counted after the
              // ack, so that the last ack is sent before the run ends and the connection closes.
              void noop().then(() => {
                channel.ack(delivery);
                received();
              });
            },
            { noAck: false },
          );
          await finished;
        } finally {
          await connection.close().catch(() => undefined);
          await deleteTopology(names.queues, names.exchanges);
        }
      }
    } finally {
      clearTimeout(timeout);
    }
    if (count < messages) throw new Error(`received ${count} of ${messages} messages within ${TIMEOUT_MS} ms`);
    const seconds = (last - first) / 1000;
    return { messages, seconds, rate: messages / seconds };
  },
};
