import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { RabbitMQAdapter } from '@msgport/rabbitmq';
import { deleteRabbitRuns, deleteTopology, rabbitAdapterOptions, rabbitNames } from '../lib/amqp.js';
import { now } from '../lib/drive.js';
import { portOpen, RABBITMQ_URL } from '../lib/env.js';
import type { Measurement, RunInput, Scenario, ScenarioPlan } from '../lib/types.js';

/**
 * Scenario 7 (issue 16): a RabbitMQ group scaled out. The same keyed workload is consumed by one
 * instance of a group and by four (each its own adapter and connection; in the variant's process,
 * and, without a target, each in a process of its own: bench/dist/group-instance.js), with the
 * default 4 partitions: per-key order holds across the instances (single active consumer per
 * partition), so what four instances gain over one is what partitioning buys.
 */
interface Params {
  readonly instances: number;
  /** Each instance in a process of its own (else all in the variant's process, each with its own connection). */
  readonly processes: boolean;
}

const GROUP = 'g';
const KEYS = 53;
const TIMEOUT_MS = 120_000;

export const rabbitmqInstancesScenario: Scenario = {
  name: 'rabbitmq-instances',
  title: 'RabbitMQ group throughput: 4 instances vs 1 (keyed, per-key order)',
  runs: { full: 3, quick: 1 },
  async unavailable() {
    return (await portOpen(RABBITMQ_URL)) ? null : 'no RabbitMQ broker at 127.0.0.1:5672';
  },
  async prepare({ quick, prefix, runs }): Promise<ScenarioPlan> {
    const messages = quick ? 2_000 : 5_000;
    return {
      workload:
        `${messages.toLocaleString('en-US')} messages over ${KEYS} keys (key-0…key-52) per run, handlers sleeping 0–5 ms (a fixed pseudo-random ` +
        'sequence), concurrency 1, default 4 partitions and prefetch; each instance has its own adapter and connection, all in the ' +
        "variant's process, or (4 processes) each in a process of its own; they join and share the partitions first, then the messages " +
        'are published (1,000 in flight, from a process of their own) and consumed; timed from the first delivery to the last across the instances; per-key order ' +
        'checked across them (peak RSS: the publishing process)',
      variants: [
        {
          id: 'one',
          label: 'msgport RabbitMQAdapter, 1 instance of the group',
          role: 'baseline',
          where: 'child',
          params: { instances: 1, processes: false },
        },
        {
          id: 'four',
          label: 'msgport RabbitMQAdapter, 4 instances of the group (one process)',
          role: 'msgport',
          where: 'child',
          params: { instances: 4, processes: false },
        },
        {
          id: 'four-processes',
          label: 'msgport RabbitMQAdapter, 4 instances of the group (a process each)',
          role: 'msgport',
          where: 'child',
          params: { instances: 4, processes: true },
        },
      ],
      comparisons: [
        {
          id: 'rabbitmq-instances',
          label: 'RabbitMQ group: 4 instances / 1 instance',
          subject: 'four',
          baseline: 'one',
          metric: 'rate',
          target: { min: 2.5, text: '≥ 2.5×' },
        },
        {
          id: 'rabbitmq-instances-processes',
          label: 'RabbitMQ group: 4 instance processes / 1 instance',
          subject: 'four-processes',
          baseline: 'one',
          metric: 'rate',
        },
      ],
      context: { prefix, messages },
      cleanup: () => deleteRabbitRuns(prefix, ['one', 'four', 'four-processes'], runs),
    };
  },
  async run({ variant, context, run, log }: RunInput): Promise<Measurement> {
    const { instances, processes } = variant.params as unknown as Params;
    const messages = Number(context['messages']);
    const exchange = `${String(context['prefix'])}-${variant.id}-r${run}`;
    const topic = `${exchange}-t`;
    const names = rabbitNames(exchange);

    const base = { exchange, topic, group: GROUP, messages, keys: KEYS };
    const children: Instance[] = Array.from({ length: instances }, (_, index) => {
      const config = { ...base, role: 'instance' as const, seed: 16 + index };
      return processes ? new InstanceProcess(config) : new InProcessInstance(config);
    });
    let publisher: InstanceProcess | null = null;
    let balancedMs: number;
    try {
      // One after the other, as a deployment scales out: the first takes every partition, and
      // gives up its share beyond one per instance at its next review.
      const joined = now();
      for (const child of children) await waitFor(child, () => child.ready, 60_000, 'the instance to start');
      for (const child of children)
        await waitFor(child, () => child.owned === 4 / instances, 30_000, 'the instances to share the partitions');
      balancedMs = now() - joined;

      // From a process of its own, so that publishing does not take the consumers' CPU in theirs.
      publisher = new InstanceProcess({ ...base, role: 'publisher', seed: 0 });
      const deadline = Date.now() + TIMEOUT_MS;
      while (children.reduce((sum, child) => sum + child.handled.length, 0) < messages) {
        if (Date.now() > deadline)
          throw new Error(
            `handled ${children.reduce((sum, child) => sum + child.handled.length, 0)} of ${messages} messages within ${TIMEOUT_MS} ms`,
          );
        await sleep(5);
      }
    } finally {
      await publisher?.stop();
      await Promise.all(children.map((child) => child.stop()));
      await deleteTopology(names.queues, names.exchanges);
    }

    // Across the processes, from the first delivery to the last; per-key order by the wall clock.
    const all = children.flatMap((child) => child.handled).sort((x, y) => x.end - y.end);
    const first = Math.min(...all.map((h) => h.begin));
    const last = all.at(-1)!.end;
    let violations = 0;
    const lastSeq = new Map<string, number>();
    for (const handling of all) {
      if (handling.seq < (lastSeq.get(handling.key) ?? -1)) violations++;
      else lastSeq.set(handling.key, handling.seq);
    }
    if (violations > 0) log(`ORDER BROKEN: ${violations} per-key order violations`);
    // Where an instance's time went: in handlers (the sleep, plus how late its timer fired) or
    // between them (waiting for the next delivery: what the adapter and broker add).
    let inHandlers = 0;
    let between = 0;
    for (const child of children) {
      const own = [...child.handled].sort((x, y) => x.begin - y.begin);
      own.forEach((handling, i) => {
        inHandlers += handling.end - handling.begin;
        if (i > 0) between += Math.max(0, handling.begin - own[i - 1]!.end);
      });
    }
    const seconds = (last - first) / 1000;
    return {
      messages,
      seconds,
      rate: messages / seconds,
      extra: {
        violations,
        balancedMs: Math.round(balancedMs),
        handledPerInstance: children.map((child) => child.handled.length).join('/'),
        handlerMsPerMessage: Number((inHandlers / messages).toFixed(2)),
        idleMsPerMessage: Number((between / messages).toFixed(3)),
      },
    };
  },
};

interface Handled {
  readonly key: string;
  readonly seq: number;
  readonly begin: number;
  readonly end: number;
}

/** One instance of the group, and what it reported. */
interface Instance {
  readonly handled: readonly Handled[];
  /** Started and consuming. */
  readonly ready: boolean;
  /** Partitions it consumes now. */
  readonly owned: number;
  /** Why it can no longer report (it exited), or null. */
  readonly failure: string | null;
  stop(): Promise<void>;
}

async function waitFor(instance: Instance, predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (instance.failure !== null || Date.now() > deadline)
      throw new Error(`Gave up waiting for ${what}: ${instance.failure ?? 'timed out'}`);
    await sleep(10);
  }
}

interface InstanceConfig {
  readonly role: 'instance' | 'publisher';
  readonly exchange: string;
  readonly topic: string;
  readonly group: string;
  readonly seed: number;
  readonly messages: number;
  readonly keys: number;
}

/** A group instance in this process: its own adapter and connection, handlers as group-instance.ts's. */
class InProcessInstance implements Instance {
  readonly handled: Handled[] = [];
  ready = false;
  owned = 0;
  failure: string | null = null;
  readonly #broker: RabbitMQAdapter;
  readonly #watch: NodeJS.Timeout;

  constructor(config: InstanceConfig) {
    this.#broker = new RabbitMQAdapter(rabbitAdapterOptions(config.exchange));
    let seed = config.seed >>> 0;
    const clock = (): number => performance.timeOrigin + performance.now();
    void this.#broker
      .subscribe(
        config.topic,
        async (message) => {
          const begin = clock();
          const [key, seq] = message.value.toString('latin1').split('|') as [string, string];
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          const delay = (seed >>> 16) % 6;
          if (delay > 0) await sleep(delay);
          this.handled.push({ key, seq: Number(seq), begin, end: clock() });
        },
        config.group,
      )
      .then(() => this.#broker.start())
      .then(
        () => (this.ready = true),
        (error: unknown) => (this.failure = String(error)),
      );
    this.#watch = setInterval(() => {
      void this.#broker.health().then((health) => {
        this.owned = (
          (health.details['ownedPartitions'] as Record<string, number[]> | undefined)?.[`${config.topic}.${config.group}`] ?? []
        ).length;
      });
    }, 50);
  }

  async stop(): Promise<void> {
    clearInterval(this.#watch);
    await this.#broker.stop();
  }
}

/** A group instance in its own process (bench/dist/group-instance.js), and what it reported. */
class InstanceProcess implements Instance {
  readonly #child: ChildProcess;
  readonly handled: Handled[] = [];
  ready = false;
  owned = 0;
  #exited = false;
  readonly #stderr: string[] = [];

  get failure(): string | null {
    return this.#exited ? `the instance exited: ${this.#stderr.join('').slice(-2_000)}` : null;
  }

  constructor(config: InstanceConfig) {
    this.#child = spawn(process.execPath, [fileURLToPath(new URL('../group-instance.js', import.meta.url))], {
      env: { ...process.env, MSGPORT_BENCH_INSTANCE: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    this.#child.stdout!.setEncoding('utf8');
    this.#child.stdout!.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) this.#onLine(line);
    });
    this.#child.stderr!.setEncoding('utf8');
    this.#child.stderr!.on('data', (chunk: string) => this.#stderr.push(chunk));
    this.#child.once('exit', () => {
      this.#exited = true;
    });
  }

  #onLine(line: string): void {
    const [kind, a, b, c, d] = line.split(' ');
    if (kind === 'h') this.handled.push({ key: a!, seq: Number(b), begin: Number(c), end: Number(d) });
    else if (kind === 'owned') this.owned = Number(a);
    else if (kind === 'ready') this.ready = true;
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}
