import { setTimeout as sleep } from 'node:timers/promises';
import { RabbitMQAdapter } from '@msgport/rabbitmq';
import { deleteRabbitRuns, deleteTopology, PREFETCH, rabbitAdapterOptions, rabbitNames } from '../lib/amqp.js';
import { now, payload } from '../lib/drive.js';
import { portOpen, RABBITMQ_URL } from '../lib/env.js';
import type { Measurement, RunInput, Scenario, ScenarioPlan } from '../lib/types.js';

/**
 * The RabbitMQ counterpart of kafka-key-parallel (issue 13 item 3): a group's messages of 200 keys,
 * handlers awaiting 5 ms, consumed by one instance with `concurrency: 50` and with `concurrency: 1`.
 * The adapter's prefetch (100 per partition queue) is above 50, so it allows the parallelism.
 */
interface Params {
  readonly concurrency: number;
  readonly messages: number;
}

const TIMEOUT_MS = 120_000;
const KEYS = 200;
const IO_MS = 5;
const GROUP = 'g';

export const rabbitmqKeyParallelScenario: Scenario = {
  name: 'rabbitmq-key-parallel',
  title: `RabbitMQ group, ${KEYS} keys, ${IO_MS} ms handlers: concurrency 50 vs 1`,
  runs: { full: 3, quick: 1 },
  async unavailable() {
    return (await portOpen(RABBITMQ_URL)) ? null : 'no RabbitMQ broker at 127.0.0.1:5672';
  },
  async prepare({ quick, prefix, runs }): Promise<ScenarioPlan> {
    const parallel = quick ? 2_000 : 10_000;
    const sequential = quick ? 200 : 500;
    return {
      workload:
        `persistent 1 KiB messages of ${KEYS} keys (round robin) published by the adapter into a group's 4 partition queues ` +
        `(untimed), then consumed by one instance, prefetch ${PREFETCH}; every handler awaits ${IO_MS} ms (setTimeout); ` +
        `timed from the first delivery to the last: ${parallel.toLocaleString('en-US')} messages with concurrency 50, ` +
        `${sequential.toLocaleString('en-US')} with concurrency 1`,
      variants: [
        {
          id: 'msgport-50',
          label: 'msgport RabbitMQAdapter, concurrency 50',
          role: 'msgport',
          where: 'child',
          params: { concurrency: 50, messages: parallel },
        },
        {
          id: 'msgport-1',
          label: 'msgport RabbitMQAdapter, concurrency 1',
          role: 'baseline',
          where: 'child',
          params: { concurrency: 1, messages: sequential },
        },
      ],
      comparisons: [
        {
          id: 'rabbitmq-key-parallel-vs-1',
          label: 'RabbitMQ group, 5 ms handlers: concurrency 50 / concurrency 1',
          subject: 'msgport-50',
          baseline: 'msgport-1',
          metric: 'rate',
        },
      ],
      context: { prefix },
      cleanup: () => deleteRabbitRuns(prefix, ['msgport-50', 'msgport-1'], runs),
    };
  },
  async run({ variant, context, run }: RunInput): Promise<Measurement> {
    const { concurrency, messages } = variant.params as unknown as Params;
    const exchange = `${String(context['prefix'])}-${variant.id}-r${run}`;
    const topic = `${exchange}-t`;
    const names = rabbitNames(exchange);
    const value = payload();

    let count = 0;
    let first = 0;
    let last = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const handle = async (): Promise<void> => {
      if (count === 0) first = now();
      await sleep(IO_MS);
      if (++count === messages) {
        last = now();
        done();
      }
    };
    const timeout = setTimeout(() => done(), TIMEOUT_MS);
    // A short shutdown: concurrency 1 stops with a prefetch of messages unhandled.
    const broker = new RabbitMQAdapter(rabbitAdapterOptions(exchange, { shutdownTimeoutMs: 2_000 }));
    try {
      await broker.start();
      // Declare the group's queues, stop consuming, fill them through the adapter, consume again.
      const declared = await broker.subscribe(topic, () => {}, GROUP);
      await declared.unsubscribe();
      for (let sent = 0; sent < messages; sent += 1_000) {
        const n = Math.min(1_000, messages - sent);
        await Promise.all(Array.from({ length: n }, (_, i) => broker.publish(topic, value, { key: `key-${(sent + i) % KEYS}` })));
      }
      await broker.subscribe(topic, handle, { group: GROUP, concurrency });
      await finished;
    } finally {
      clearTimeout(timeout);
      await broker.stop();
      await deleteTopology(names.queues, names.exchanges);
    }
    if (count < messages) throw new Error(`handled ${count} of ${messages} messages within ${TIMEOUT_MS} ms`);
    const seconds = (last - first) / 1000;
    return { messages, seconds, rate: messages / seconds };
  },
};
