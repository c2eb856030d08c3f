/**
 * Soak run (issue 11): `node bench/dist/soak.js [--brokers memory,kafka,rabbitmq] [--messages N] [--every N]`
 * (or `npm run soak -- [options]`).
 *
 * For each broker, in a fresh child process (`node --expose-gc`): one handler subscribed in a group
 * with the adapter's default options, then `--messages` (default 1,000,000) publishes of ~520-byte
 * messages through publish → handler, at most 200 publishes in flight and at most 5,000 published
 * but not yet handled. Every `--every` (default 100,000) handled messages the pipeline is drained
 * and the child samples, after a full GC: RSS, V8 heap used and total, external and array-buffer
 * memory, and open handles (`process.getActiveResourcesInfo()`). Steady state = the figures stop
 * growing; the table prints the growth from the first to the last sample and over the second half.
 * Writes bench/results/soak.{md,json}.
 *
 * Brokers: the in-memory broker; Kafka at MSGPORT_SOAK_KAFKA_BROKERS (default 127.0.0.1:9092; a
 * topic of its own, read from the beginning so nothing published before the group's assignment is
 * missed); RabbitMQ at MSGPORT_SOAK_RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import kafkajs from 'kafkajs';
import type { MessageBrokerPort } from '@msgport/core';
import { KafkaAdapter } from '@msgport/kafka';
import { InMemoryMessageBroker } from '@msgport/memory';
import { RabbitMQAdapter } from '@msgport/rabbitmq';

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = resolve(here, '..', 'results');
const RESULT_MARKER = 'SOAK-RESULT ';
const BROKERS = ['memory', 'kafka', 'rabbitmq'] as const;
type BrokerKind = (typeof BROKERS)[number];

const KAFKA_BROKERS = process.env['MSGPORT_SOAK_KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const RABBITMQ_URL = process.env['MSGPORT_SOAK_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const IN_FLIGHT = 200;
const WINDOW = 5_000;
const VALUE_BYTES = 520;
const MiB = 1024 * 1024;

interface Sample {
  readonly handled: number;
  readonly elapsedMs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly handles: number;
  /** Open handles by type, e.g. { TCPSocketWrap: 2, Timeout: 3 }. */
  readonly handleTypes: Record<string, number>;
}

interface SoakResult {
  readonly broker: BrokerKind;
  readonly messages: number;
  readonly options: string;
  readonly durationMs: number;
  readonly baseline: Sample;
  readonly samples: readonly Sample[];
  /** Open handles once `stop()` resolved. */
  readonly handlesAfterStop: Record<string, number>;
  readonly error?: string;
}

function sample(handled: number, began: number): Sample {
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  const handleTypes: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) handleTypes[type] = (handleTypes[type] ?? 0) + 1;
  return {
    handled,
    elapsedMs: Date.now() - began,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    handles: Object.values(handleTypes).reduce((a, b) => a + b, 0),
    handleTypes,
  };
}

function createBroker(kind: BrokerKind): { broker: MessageBrokerPort; options: string } {
  switch (kind) {
    case 'memory':
      return { broker: new InMemoryMessageBroker(), options: 'new InMemoryMessageBroker()' };
    case 'kafka':
      return {
        broker: new KafkaAdapter({ bootstrapServers: KAFKA_BROKERS, fromBeginning: true }),
        options: `new KafkaAdapter({ bootstrapServers: '${KAFKA_BROKERS}', fromBeginning: true })`,
      };
    case 'rabbitmq':
      return {
        broker: new RabbitMQAdapter({ url: RABBITMQ_URL }),
        options: `new RabbitMQAdapter({ url: '${RABBITMQ_URL.replace(/:[^:@/]*@/, ':***@')}' })`,
      };
  }
}

/** Deletes what the run declared on the broker (best effort). */
async function cleanup(kind: BrokerKind, topic: string, group: string): Promise<void> {
  try {
    if (kind === 'kafka') {
      const admin = new kafkajs.Kafka({ brokers: KAFKA_BROKERS.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.deleteGroups([group]).catch(() => undefined);
      await admin.disconnect();
    } else if (kind === 'rabbitmq') {
      const connection = await amqp.connect(RABBITMQ_URL);
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      for (const suffix of ['p0', 'p1', 'p2', 'p3', 'members', 'dlq'])
        await channel.deleteQueue(`${topic}.${group}.${suffix}`).catch(() => undefined);
      await connection.close().catch(() => undefined);
    }
  } catch {
    // Unique names: a leftover disturbs nobody.
  }
}

async function runChild(kind: BrokerKind, messages: number, every: number): Promise<SoakResult> {
  const topic = `soak-${kind}-${randomBytes(4).toString('hex')}`;
  const group = 'soak';
  const { broker, options } = createBroker(kind);
  let handled = 0;
  const waiters: Array<{ target: number; resolve: () => void }> = [];
  const handledAtLeast = (target: number): Promise<void> | undefined => {
    if (handled >= target) return undefined;
    return new Promise((resolveWait) => waiters.push({ target, resolve: resolveWait }));
  };
  await broker.subscribe(
    topic,
    // async, as the README's handlers are (on the in-memory broker that is the tracked path).
    async () => {
      handled++;
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (handled >= waiters[i]!.target) waiters.splice(i, 1)[0]!.resolve();
      }
    },
    group,
  );
  await broker.start();
  const began = Date.now();
  const baseline = sample(0, began);
  const samples: Sample[] = [];
  const padding = 'x'.repeat(VALUE_BYTES - 60);
  let published = 0;

  for (let checkpoint = every; checkpoint <= messages; checkpoint += every) {
    const worker = async (): Promise<void> => {
      while (published < checkpoint) {
        const backlog = handledAtLeast(published - WINDOW);
        if (backlog !== undefined) {
          await backlog;
          continue;
        }
        const id = published++;
        const value = JSON.stringify({ id, at: Date.now(), padding });
        await broker.publish(topic, value, { key: `k${id % 64}`, headers: { 'x-soak': String(id) } });
      }
    };
    await Promise.all(Array.from({ length: kind === 'memory' ? 1 : IN_FLIGHT }, worker));
    await handledAtLeast(checkpoint);
    samples.push(sample(handled, began));
    process.stderr.write(
      `soak ${kind}: ${handled.toLocaleString('en-US')} handled after ${((Date.now() - began) / 1000).toFixed(1)} s\n`,
    );
  }
  const durationMs = Date.now() - began;
  await broker.stop();
  const handlesAfterStop: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) handlesAfterStop[type] = (handlesAfterStop[type] ?? 0) + 1;
  await cleanup(kind, topic, group);
  return { broker: kind, messages, options, durationMs, baseline, samples, handlesAfterStop };
}

// ---------------------------------------------------------------- parent --

const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
const signedMib = (bytes: number): string => `${bytes >= 0 ? '+' : ''}${(bytes / MiB).toFixed(1)}`;
const describeHandles = (types: Record<string, number>): string =>
  Object.entries(types)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, count]) => `${type}×${count}`)
    .join(' ') || 'none';

function report(results: readonly SoakResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    lines.push(`### ${result.broker}`, '');
    if (result.error !== undefined) {
      lines.push(`Failed: ${result.error}`, '');
      continue;
    }
    const rate = Math.round((result.messages / result.durationMs) * 1000);
    lines.push(
      `\`${result.options}\`, one handler in group "soak"; ${result.messages.toLocaleString('en-US')} messages of ~${VALUE_BYTES} bytes in ` +
        `${(result.durationMs / 1000).toFixed(1)} s (${rate.toLocaleString('en-US')} msg/s). Samples after a full GC, the pipeline drained.`,
      '',
      '| handled | elapsed (s) | RSS (MiB) | heap used (MiB) | heap total (MiB) | external (MiB) | array buffers (MiB) | open handles |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const s of [result.baseline, ...result.samples]) {
      lines.push(
        `| ${s.handled === 0 ? '0 (started)' : s.handled.toLocaleString('en-US')} | ${(s.elapsedMs / 1000).toFixed(1)} | ${mib(s.rss)} | ${mib(s.heapUsed)} | ` +
          `${mib(s.heapTotal)} | ${mib(s.external)} | ${mib(s.arrayBuffers)} | ${s.handles} (${describeHandles(s.handleTypes)}) |`,
      );
    }
    const first = result.samples[0]!;
    const last = result.samples.at(-1)!;
    const middle = result.samples[Math.floor((result.samples.length - 1) / 2)]!;
    lines.push(
      '',
      `From the first sample (${first.handled.toLocaleString('en-US')}) to the last (${last.handled.toLocaleString('en-US')}): RSS ${signedMib(last.rss - first.rss)} MiB, ` +
        `heap used ${signedMib(last.heapUsed - first.heapUsed)} MiB, open handles ${last.handles - first.handles >= 0 ? '+' : ''}${last.handles - first.handles}; ` +
        `second half (from ${middle.handled.toLocaleString('en-US')}): RSS ${signedMib(last.rss - middle.rss)} MiB, heap used ${signedMib(last.heapUsed - middle.heapUsed)} MiB. ` +
        `Open handles after stop(): ${describeHandles(result.handlesAfterStop)}.`,
      '',
    );
  }
  return lines.join('\n');
}

function runInChild(kind: BrokerKind, messages: number, every: number): Promise<SoakResult> {
  return new Promise((resolveResult) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), `--child=${kind}`, `--messages=${messages}`, `--every=${every}`],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.on('exit', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (line !== undefined) {
        resolveResult(JSON.parse(line.slice(RESULT_MARKER.length)) as SoakResult);
        return;
      }
      const empty = sample(0, Date.now());
      resolveResult({
        broker: kind,
        messages,
        options: '',
        durationMs: 0,
        baseline: empty,
        samples: [],
        handlesAfterStop: {},
        error: `child exited with ${signal ?? code} without a result; ${out.trim().slice(-500)}`,
      });
    });
  });
}

function option(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i]!.startsWith(`--${name}=`)) return argv[i]!.slice(name.length + 3);
  }
  return undefined;
}

function positiveInteger(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text.replaceAll('_', ''));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be an integer >= 1, got ${text}`);
  return value;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const messages = positiveInteger(option(argv, 'messages'), 1_000_000, 'messages');
  const every = positiveInteger(option(argv, 'every'), 100_000, 'every');
  if (messages % every !== 0) throw new Error(`--messages (${messages}) must be a multiple of --every (${every})`);
  const child = option(argv, 'child');
  if (child !== undefined) {
    if (!(BROKERS as readonly string[]).includes(child)) throw new Error(`unknown broker ${child}`);
    let result: SoakResult;
    try {
      result = await runChild(child as BrokerKind, messages, every);
    } catch (error) {
      process.stderr.write(`soak ${child}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    }
    process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
    return;
  }
  const brokers = (option(argv, 'brokers') ?? BROKERS.join(',')).split(',').map((name) => name.trim());
  for (const name of brokers)
    if (!(BROKERS as readonly string[]).includes(name))
      throw new Error(`--brokers: unknown broker ${name} (${BROKERS.join(', ')})`);
  const results: SoakResult[] = [];
  for (const kind of brokers as BrokerKind[]) results.push(await runInChild(kind, messages, every));

  const text = [
    '# msgport soak run',
    '',
    `Run ${new Date().toISOString()}; Node ${process.version}; ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM. ` +
      'Generated by `npm run soak` (bench/src/soak.ts); do not edit by hand.',
    '',
    report(results),
  ].join('\n');
  console.log(text);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'soak.md'), `${text}\n`);
  writeFileSync(
    join(RESULTS_DIR, 'soak.json'),
    `${JSON.stringify({ node: process.version, at: new Date().toISOString(), results }, null, 2)}\n`,
  );
  if (results.some((result) => result.error !== undefined)) process.exitCode = 1;
}

await main();
