import { InMemoryMessageBroker } from '@msgport/memory';
import { DispatchLoop } from '../baselines/dispatch-loop.js';
import { describeMode, drive, now, payload, type Mode } from '../lib/drive.js';
import type { Comparison, Measurement, RunInput, Scenario, ScenarioPlan, VariantSpec } from '../lib/types.js';
import { FastInMemoryMessageBroker } from '../proto/fast-in-memory-message-broker.js';

/**
 * Scenario 1: InMemoryMessageBroker against a hand-written dispatch loop of the same shape, in
 * two publishing modes (each publish awaited; batches of concurrent publishes).
 */
interface Params {
  readonly impl: 'msgport' | 'loop' | 'proto';
  readonly mode: Mode;
  readonly messages: number;
  readonly warmup: number;
  /** `async`: handlers are async functions (each returns a promise). @default 'sync' */
  readonly handlers?: 'sync' | 'async';
}

const BATCH = 1_000;

export const memoryScenario: Scenario = {
  name: 'memory',
  title: 'In-memory broker vs a hand-written dispatch loop',
  runs: { full: 5, quick: 3 },
  async unavailable() {
    return null;
  },
  prepare: ({ quick }) => plan(quick, false),
  run,
};

/**
 * Not in the default run: the same workload with the prototype of the proposed core change
 * (bench/src/proto) beside the current broker and the loop.
 */
export const memoryProtoScenario: Scenario = {
  name: 'memory-proto',
  runs: { full: 5, quick: 3 },
  title: 'In-memory: current core vs the proposed dispatch change (prototype in bench/src/proto) vs the loop',
  optIn: true,
  async unavailable() {
    return null;
  },
  prepare: ({ quick }) => plan(quick, true),
  run,
};

async function plan(quick: boolean, proto: boolean): Promise<ScenarioPlan> {
  const messages = quick ? 100_000 : 1_000_000;
  const warmup = quick ? 10_000 : 50_000;
  const modes: Array<[string, Mode, 'sync' | 'async']> = [
    ['seq', { kind: 'sequential' }, 'sync'],
    ['batch', { kind: 'batches', size: BATCH }, 'sync'],
  ];
  // The prototype's fast path is for synchronous handlers: show what it does for async ones too.
  if (proto) modes.push(['batch-async', { kind: 'batches', size: BATCH }, 'async']);
  const variants: VariantSpec[] = [];
  const comparisons: Comparison[] = [];
  for (const [tag, mode, handlers] of modes) {
    const how = `${describeMode(mode)}${handlers === 'async' ? ', async handlers' : ''}`;
    variants.push(
      { id: `msgport-${tag}`, label: `msgport memory, ${how}`, role: 'msgport', where: 'child', params: { impl: 'msgport', mode, messages, warmup, handlers } },
      { id: `loop-${tag}`, label: `hand loop, ${how}`, role: 'baseline', where: 'child', params: { impl: 'loop', mode, messages, warmup, handlers } },
    );
    comparisons.push({
      id: `memory-${tag}`,
      label: `memory ${how}: msgport / hand loop`,
      subject: `msgport-${tag}`,
      baseline: `loop-${tag}`,
      metric: 'rate',
      target: { min: 0.5, text: '≥ 0.5×' },
    });
    if (proto) {
      variants.push({ id: `proto-${tag}`, label: `prototype core change, ${how}`, role: 'msgport', where: 'child', params: { impl: 'proto', mode, messages, warmup, handlers } });
      comparisons.push(
        { id: `memory-proto-${tag}`, label: `memory ${how}: prototype / hand loop`, subject: `proto-${tag}`, baseline: `loop-${tag}`, metric: 'rate', target: { min: 0.5, text: '≥ 0.5×' } },
        { id: `memory-proto-gain-${tag}`, label: `memory ${how}: prototype / current msgport`, subject: `proto-${tag}`, baseline: `msgport-${tag}`, metric: 'rate' },
      );
    }
  }
  const subjects = proto ? ['msgport', 'proto'] : ['msgport'];
  return {
    workload: `${messages.toLocaleString('en-US')} messages of 1 KiB; one broadcast subscriber + a two-member group (2 handler calls per message; handlers only count, synchronously unless marked async); ${warmup.toLocaleString('en-US')} warm-up messages first; recordPublished: false`,
    variants,
    comparisons,
    absoluteTargets: modes.flatMap(([tag, mode, handlers]) =>
      subjects.map((subject) => ({
        label: `memory ${describeMode(mode)}${handlers === 'async' ? ', async handlers' : ''}: ${subject === 'proto' ? 'prototype' : 'msgport'} throughput`,
        variant: `${subject}-${tag}`,
        metric: 'rate' as const,
        min: 1_000_000,
        text: '≥ 1,000,000 msg/s',
      })),
    ),
    context: {},
    cleanup: async () => {},
  };
}

async function run({ variant }: RunInput): Promise<Measurement> {
  const { impl, mode, messages, warmup, handlers } = variant.params as unknown as Params;
  const topic = 'bench';
  const value = payload();
  let broadcast = 0;
  let groupA = 0;
  let groupB = 0;
  const sync = handlers !== 'async';
  const onBroadcast = sync ? (): void => void broadcast++ : async (): Promise<void> => void broadcast++;
  const onA = sync ? (): void => void groupA++ : async (): Promise<void> => void groupA++;
  const onB = sync ? (): void => void groupB++ : async (): Promise<void> => void groupB++;

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
    const broker = impl === 'msgport' ? new InMemoryMessageBroker({ recordPublished: false }) : new FastInMemoryMessageBroker({ recordPublished: false });
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
