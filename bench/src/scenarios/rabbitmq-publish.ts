import { randomUUID } from 'node:crypto';
import { msgportPackage, type Build } from '../lib/builds.js';
import {
  amqpConnect,
  deleteRabbitRuns,
  deleteTopology,
  DrainGate,
  publishConfirmed,
  rabbitAdapterOptions,
  rabbitNames,
} from '../lib/amqp.js';
import { drive, now, payload, WARMUP_TEXT, warmupMessages, type Mode } from '../lib/drive.js';
import { portOpen, RABBITMQ_URL } from '../lib/env.js';
import { rabbitCeiling, rabbitCeilingAvailable } from '../lib/rabbit-ceiling.js';
import type { Measurement, RunInput, Scenario, ScenarioPlan, VariantSpec } from '../lib/types.js';

/**
 * Scenario 4: RabbitMQAdapter.publish() (persistent, publisher confirms) against a raw amqplib
 * ConfirmChannel, sequential and with 1,000 in flight, into a durable queue bound to the exchange.
 */
interface Params {
  readonly impl: 'msgport' | 'raw' | 'raw-id' | 'ceiling';
  readonly mode: Mode;
  readonly messages: number;
  readonly seconds: number;
  /** Which msgport runs a msgport variant (the untyped scenario runs both). @default 'this' */
  readonly build?: Build;
}

const WINDOW = 1_000;

export const rabbitmqPublishScenario: Scenario = {
  name: 'rabbitmq-publish',
  title: 'RabbitMQ publish (persistent, confirms) vs raw amqplib ConfirmChannel',
  async unavailable() {
    return (await portOpen(RABBITMQ_URL)) ? null : 'no RabbitMQ broker at 127.0.0.1:5672';
  },
  async prepare({ quick, prefix, log, runs }): Promise<ScenarioPlan> {
    const messages = 100_000;
    const seconds = quick ? 0.75 : 2;
    const seq: Mode = { kind: 'sequential' };
    const window: Mode = { kind: 'window', size: WINDOW };
    const variants: VariantSpec[] = [
      {
        id: 'msgport-seq',
        label: 'msgport RabbitMQAdapter, sequential awaited',
        role: 'msgport',
        where: 'child',
        params: { impl: 'msgport', mode: seq, messages, seconds },
      },
      {
        id: 'raw-seq',
        label: 'amqplib ConfirmChannel, sequential awaited',
        role: 'baseline',
        where: 'child',
        params: { impl: 'raw', mode: seq, messages, seconds },
      },
      {
        id: 'msgport-conc',
        label: `msgport RabbitMQAdapter, ${WINDOW} in flight`,
        role: 'msgport',
        where: 'child',
        params: { impl: 'msgport', mode: window, messages, seconds },
      },
      {
        id: 'raw-conc',
        label: `amqplib ConfirmChannel, ${WINDOW} in flight`,
        role: 'baseline',
        where: 'child',
        params: { impl: 'raw', mode: window, messages, seconds },
      },
      {
        // The same messages as the adapter sends: since issue 12 every message carries a
        // msgport-message-id header, which amqplib encodes as a header table per message.
        id: 'raw-conc-id',
        label: `amqplib ConfirmChannel, ${WINDOW} in flight, each with a message-id header`,
        role: 'baseline',
        where: 'child',
        params: { impl: 'raw-id', mode: window, messages, seconds },
      },
    ];
    // The Java ceiling needs a JVM start (and a download on first use): not in --quick.
    const ceiling = quick ? ({ available: false, reason: 'not run with --quick' } as const) : await rabbitCeilingAvailable(log);
    if (ceiling.available) {
      variants.push({
        id: 'ceiling',
        label: ceiling.label,
        role: 'ceiling',
        where: 'parent',
        params: { impl: 'ceiling', mode: window, messages: 20_000, seconds: 0 },
      });
    }
    return {
      workload: `1 KiB persistent messages to a durable direct exchange with one bound durable queue (fresh per run), publisher confirms; each variant publishes for ${seconds} s (at most ${messages.toLocaleString('en-US')} messages) ${WARMUP_TEXT}${ceiling.available ? '' : `; ceiling: ${ceiling.reason}`}`,
      variants,
      comparisons: [
        {
          id: 'rabbitmq-publish-seq',
          label: 'RabbitMQ publish sequential: msgport / amqplib',
          subject: 'msgport-seq',
          baseline: 'raw-seq',
          metric: 'rate',
          target: { min: 0.9, text: '≥ 0.9×' },
        },
        {
          id: 'rabbitmq-publish-conc',
          label: `RabbitMQ publish ${WINDOW} in flight: msgport / amqplib`,
          subject: 'msgport-conc',
          baseline: 'raw-conc',
          metric: 'rate',
          target: { min: 0.9, text: '≥ 0.9×' },
        },
        {
          id: 'rabbitmq-publish-conc-id',
          label: `RabbitMQ publish ${WINDOW} in flight: msgport / amqplib, same messages (message-id header)`,
          subject: 'msgport-conc',
          baseline: 'raw-conc-id',
          metric: 'rate',
          target: { min: 0.9, text: '≥ 0.9×' },
        },
        {
          id: 'rabbitmq-publish-id-header-cost',
          label: 'RabbitMQ publish: amqplib with a message-id header / without',
          subject: 'raw-conc-id',
          baseline: 'raw-conc',
          metric: 'rate',
        },
        {
          id: 'rabbitmq-publish-conc-vs-seq',
          label: 'RabbitMQ publish: msgport concurrent / msgport sequential',
          subject: 'msgport-conc',
          baseline: 'msgport-seq',
          metric: 'rate',
        },
        ...(ceiling.available
          ? [
              {
                id: 'rabbitmq-publish-ceiling',
                label: `RabbitMQ publish: msgport concurrent / ${ceiling.short}`,
                subject: 'msgport-conc',
                baseline: 'ceiling',
                metric: 'rate' as const,
              },
            ]
          : []),
      ],
      context: { prefix },
      cleanup: () =>
        deleteRabbitRuns(
          prefix,
          variants.map((v) => v.id),
          runs,
        ),
    };
  },
  async run({ variant, context, run }: RunInput): Promise<Measurement> {
    const { impl, mode, messages, seconds, build } = variant.params as unknown as Params;
    const exchange = `${String(context['prefix'])}-${variant.id}-r${run}`;
    const names = rabbitNames(exchange);
    const queue = `${exchange}.q`;
    const topic = 'bench';
    if (impl === 'ceiling') {
      try {
        return await rabbitCeiling(exchange, queue, topic, messages);
      } finally {
        await deleteTopology(names.queues, names.exchanges);
      }
    }
    const value = payload();
    const warmup = warmupMessages(mode);
    const connection = await amqpConnect();
    try {
      const setup = await connection.createChannel();
      await setup.assertExchange(exchange, 'direct', { durable: true });
      await setup.assertQueue(queue, { durable: true });
      await setup.bindQueue(queue, exchange, topic);
      if (impl === 'msgport') {
        const { RabbitMQAdapter } = await msgportPackage('rabbitmq', build);
        const broker = new RabbitMQAdapter(rabbitAdapterOptions(exchange));
        await broker.start();
        try {
          const publish = (): Promise<void> => broker.publish(topic, value);
          await drive(warmup, mode, publish);
          const start = now();
          return measured(await drive(messages, mode, publish, start + seconds * 1000), start);
        } finally {
          await broker.stop();
        }
      }
      const channel = await connection.createConfirmChannel();
      const gate = new DrainGate();
      const publish =
        impl === 'raw-id'
          ? (): Promise<void> => publishConfirmed(channel, gate, exchange, topic, value, { 'msgport-message-id': randomUUID() })
          : (): Promise<void> => publishConfirmed(channel, gate, exchange, topic, value);
      await drive(warmup, mode, publish);
      const start = now();
      return measured(await drive(messages, mode, publish, start + seconds * 1000), start);
    } finally {
      await connection.close().catch(() => undefined);
      await deleteTopology(names.queues, names.exchanges);
    }
  },
};

function measured(messages: number, start: number): Measurement {
  const seconds = (now() - start) / 1000;
  return { messages, seconds, rate: messages / seconds };
}
