import { msgportPackage, type Build } from '../lib/builds.js';
import { DispatchLoop } from '../baselines/dispatch-loop.js';
import { LeanLoop } from '../baselines/lean-loop.js';
import { describeMode, drive, now, payload, type Mode } from '../lib/drive.js';
import type { AbsoluteTarget, Comparison, Measurement, RunInput, Scenario, ScenarioPlan, VariantSpec } from '../lib/types.js';

/**
 * Scenario 1: InMemoryMessageBroker in two publishing modes (each publish awaited; batches of
 * concurrent publishes) and with two handler shapes: `async` handlers (what every README example
 * writes), with default options, against the lean async loop of issue 13 (baselines/lean-loop.ts);
 * synchronous handlers, with `recordPublished: false`, against the dispatch loop of the same shape
 * as the broker (baselines/dispatch-loop.ts).
 */
interface Params {
  readonly impl: 'msgport' | 'loop' | 'lean';
  readonly shape: 'async' | 'sync';
  readonly mode: Mode;
  readonly messages: number;
  readonly warmup: number;
  /** The broker's `recordPublished` option, when not the shape's (defaults for async, off for sync). */
  readonly recordPublished?: boolean;
  /** Which msgport runs a msgport variant (the untyped scenario runs both). @default 'this' */
  readonly build?: Build;
}

const BATCH = 1_000;

export const memoryScenario: Scenario = {
  name: 'memory',
  title: 'In-memory broker vs hand-written loops, async and sync handlers',
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
  const absoluteTargets: AbsoluteTarget[] = [];
  for (const [tag, mode] of modes) {
    const how = describeMode(mode);
    variants.push(
      {
        id: `msgport-async-${tag}`,
        label: `msgport memory, async handlers, ${how}`,
        role: 'msgport',
        where: 'child',
        params: { impl: 'msgport', shape: 'async', mode, messages, warmup },
      },
      {
        id: `lean-async-${tag}`,
        label: `lean loop, async handlers, ${how}`,
        role: 'baseline',
        where: 'child',
        params: { impl: 'lean', shape: 'async', mode, messages, warmup },
      },
      {
        id: `msgport-${tag}`,
        label: `msgport memory, sync handlers, ${how}`,
        role: 'msgport',
        where: 'child',
        params: { impl: 'msgport', shape: 'sync', mode, messages, warmup },
      },
      {
        id: `loop-${tag}`,
        label: `dispatch loop, sync handlers, ${how}`,
        role: 'baseline',
        where: 'child',
        params: { impl: 'loop', shape: 'sync', mode, messages, warmup },
      },
    );
    comparisons.push(
      {
        id: `memory-async-${tag}`,
        label: `memory async handlers ${how}: msgport / lean loop`,
        subject: `msgport-async-${tag}`,
        baseline: `lean-async-${tag}`,
        metric: 'rate',
        target: { min: 0.5, text: '≥ 0.5×' },
      },
      {
        id: `memory-${tag}`,
        label: `memory sync handlers ${how}: msgport / dispatch loop`,
        subject: `msgport-${tag}`,
        baseline: `loop-${tag}`,
        metric: 'rate',
        target: { min: 0.5, text: '≥ 0.5×' },
      },
    );
    absoluteTargets.push(
      {
        label: `memory async handlers ${how}: msgport throughput`,
        variant: `msgport-async-${tag}`,
        metric: 'rate',
        min: 1_500_000,
        text: '≥ 1,500,000 msg/s',
      },
      {
        label: `memory sync handlers ${how}: msgport throughput`,
        variant: `msgport-${tag}`,
        metric: 'rate',
        min: 1_000_000,
        text: '≥ 1,000,000 msg/s',
      },
    );
  }
  return {
    workload:
      `${messages.toLocaleString('en-US')} messages of 1 KiB; one broadcast subscriber + a two-member group (2 handler calls ` +
      `per message; handlers only count); ${warmup.toLocaleString('en-US')} warm-up messages first; async handlers: ` +
      'default options, against the lean loop (each handler awaited in turn); sync handlers: recordPublished: false, ' +
      'against the dispatch loop (Promise.all per publish)',
    variants,
    comparisons,
    absoluteTargets,
    context: {},
    cleanup: async () => {},
  };
}

async function run({ variant }: RunInput): Promise<Measurement> {
  const { impl, shape, mode, messages, warmup, build, recordPublished } = variant.params as unknown as Params;
  const topic = 'bench';
  const value = payload();
  let broadcast = 0;
  let groupA = 0;
  let groupB = 0;
  const [onBroadcast, onA, onB] =
    shape === 'async'
      ? [
          async (): Promise<void> => void broadcast++,
          async (): Promise<void> => void groupA++,
          async (): Promise<void> => void groupB++,
        ]
      : [(): void => void broadcast++, (): void => void groupA++, (): void => void groupB++];

  let publish: () => Promise<void>;
  let close: () => Promise<void>;
  if (impl === 'loop' || impl === 'lean') {
    const loop = impl === 'loop' ? new DispatchLoop() : new LeanLoop();
    loop.subscribe(topic, onBroadcast);
    loop.subscribe(topic, onA, 'g');
    loop.subscribe(topic, onB, 'g');
    publish = () => loop.publish(topic, value);
    close = async () => {};
  } else {
    // Async handlers: default options (issue 13), so the record of published messages is on
    // (bounded to its last 1,000 by default); sync handlers: as measured before, without the record.
    const { InMemoryMessageBroker } = await msgportPackage('memory', build);
    const broker = new InMemoryMessageBroker(
      recordPublished !== undefined ? { recordPublished } : shape === 'async' ? {} : { recordPublished: false },
    );
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
