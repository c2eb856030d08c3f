import { InMemoryMessageBroker } from '@msgport/memory';
import { DispatchLoop } from '../baselines/dispatch-loop.js';
import { describeMode, drive, now, payload, type Mode } from '../lib/drive.js';
import type { Comparison, Measurement, RunInput, Scenario, ScenarioPlan, VariantSpec } from '../lib/types.js';

/**
 * Scenario 1: InMemoryMessageBroker against a hand-written dispatch loop of the same shape, in
 * two publishing modes (each publish awaited; batches of concurrent publishes).
 */
interface Params {
  readonly impl: 'msgport' | 'loop';
  readonly mode: Mode;
  readonly messages: number;
  readonly warmup: number;
}

const BATCH = 1_000;

export const memoryScenario: Scenario = {
  name: 'memory',
  title: 'In-memory broker vs a hand-written dispatch loop',
  runs: { full: 5, quick: 3 },
  async unavailable() {
    return null;
  },
  prepare: ({ quick }) => plan(quick),
  run,
};

async function plan(quick: boolean): Promise<ScenarioPlan> {
  const messages = quick ? 100_000 : 1_000_000;
  const warmup = quick ? 10_000 : 50_000;
  const modes: Array<[string, Mode]> = [
    ['seq', { kind: 'sequential' }],
    ['batch', { kind: 'batches', size: BATCH }],
  ];
  const variants: VariantSpec[] = [];
  const comparisons: Comparison[] = [];
  for (const [tag, mode] of modes) {
    const how = describeMode(mode);
    variants.push(
      {
        id: `msgport-${tag}`,
        label: `msgport memory, ${how}`,
        role: 'msgport',
        where: 'child',
        params: { impl: 'msgport', mode, messages, warmup },
      },
      {
        id: `loop-${tag}`,
        label: `hand loop, ${how}`,
        role: 'baseline',
        where: 'child',
        params: { impl: 'loop', mode, messages, warmup },
      },
    );
    comparisons.push({
      id: `memory-${tag}`,
      label: `memory ${how}: msgport / hand loop`,
      subject: `msgport-${tag}`,
      baseline: `loop-${tag}`,
      metric: 'rate',
      target: { min: 0.5, text: '≥ 0.5×' },
    });
  }
  return {
    workload: `${messages.toLocaleString('en-US')} messages of 1 KiB; one broadcast subscriber + a two-member group (2 handler calls per message; handlers only count); ${warmup.toLocaleString('en-US')} warm-up messages first; recordPublished: false`,
    variants,
    comparisons,
    absoluteTargets: modes.map(([tag, mode]) => ({
      label: `memory ${describeMode(mode)}: msgport throughput`,
      variant: `msgport-${tag}`,
      metric: 'rate' as const,
      min: 1_000_000,
      text: '≥ 1,000,000 msg/s',
    })),
    context: {},
    cleanup: async () => {},
  };
}

async function run({ variant }: RunInput): Promise<Measurement> {
  const { impl, mode, messages, warmup } = variant.params as unknown as Params;
  const topic = 'bench';
  const value = payload();
  let broadcast = 0;
  let groupA = 0;
  let groupB = 0;
  const onBroadcast = (): void => void broadcast++;
  const onA = (): void => void groupA++;
  const onB = (): void => void groupB++;

  let publish: () => Promise<void>;
  let close: () => Promise<void>;
  if (impl === 'loop') {
    const loop = new DispatchLoop();
    loop.subscribe(topic, onBroadcast);
    loop.subscribe(topic, onA, 'g');
    loop.subscribe(topic, onB, 'g');
    publish = () => loop.publish(topic, value);
    close = async () => {};
  } else {
    const broker = new InMemoryMessageBroker({ recordPublished: false });
    await broker.subscribe(topic, onBroadcast);
    await broker.subscribe(topic, onA, 'g');
    await broker.subscribe(topic, onB, 'g');
    await broker.start();
    publish = () => broker.publish(topic, value);
    close = () => broker.stop();
  }

  await drive(warmup, mode, publish);
  broadcast = groupA = groupB = 0;
  const start = now();
  await drive(messages, mode, publish);
  const seconds = (now() - start) / 1000;
  await close();
  if (broadcast !== messages || groupA + groupB !== messages || Math.abs(groupA - groupB) > 1) {
    throw new Error(`wrong delivery counts: broadcast ${broadcast}, group ${groupA}+${groupB}, expected ${messages} each`);
  }
  return { messages, seconds, rate: messages / seconds };
}
