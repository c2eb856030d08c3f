import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { waitFor } from '@msgport/core';
import type { KafkaAdapter } from '@msgport/kafka';
import { collect, uniqueName } from '@msgport/testkit';
import { createTestAdapter, KAFKA_BROKERS } from './kafka-test-config.js';

// A msgport member and a member written with another Kafka client in one group (issue 19): the
// group agrees on a standard assignment protocol (msgport announces roundrobin and range), each
// member gets part of the partitions, and together they get every message once.

const TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 180_000;
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PARTITIONS = 4;

const opened: KafkaAdapter[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  await Promise.all(opened.splice(0).map((adapter) => adapter.stop()));
}, TEST_TIMEOUT_MS);

/** A foreign consumer process whose stdout lines are the values it consumed. */
function foreignConsumer(command: string, args: string[]): { readonly values: string[]; readonly output: () => string } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const values: string[] = [];
  let pending = '';
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    values.push(...lines.filter((line) => line.startsWith('v')));
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    log = (log + chunk).slice(-4_000);
  });
  child.on('error', (error) => {
    log += `\n${String(error)}`;
  });
  return { values, output: () => log };
}

function requireTool(command: string, install: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${command} is not installed: this test needs it (${install}).`);
  }
}

async function msgportMember(
  topic: string,
  group: string,
): Promise<{ adapter: KafkaAdapter; received: ReturnType<typeof collect> }> {
  const adapter = createTestAdapter({ numPartitions: PARTITIONS });
  opened.push(adapter);
  await adapter.start();
  const received = collect({ timeoutMs: TIMEOUT_MS });
  await adapter.subscribe(topic, received.handler, group);
  return { adapter, received };
}

/** The partitions of `topic` the msgport member holds, once it has `count` of them. */
async function untilHolding(adapter: KafkaAdapter, topic: string, count: number, foreign: () => string): Promise<void> {
  await waitFor(
    async () => {
      const consumers = (await adapter.health()).details['kafkaConsumers'] as {
        state: string;
        assignment: Record<string, number[]>;
      }[];
      return consumers.some((c) => c.state === 'up' && (c.assignment[topic]?.length ?? 0) === count);
    },
    {
      timeoutMs: TIMEOUT_MS,
      description: `the msgport member to hold ${count} of ${PARTITIONS} partitions (foreign member's log: ${foreign()})`,
    },
  );
}

async function shareOneGroup(
  foreign: { values: string[]; output: () => string },
  adapter: KafkaAdapter,
  received: ReturnType<typeof collect>,
  topic: string,
): Promise<void> {
  // The foreign member joined: the group rebalanced and msgport kept half of the partitions.
  await untilHolding(adapter, topic, PARTITIONS / 2, foreign.output);
  const sent = Array.from({ length: 60 }, (_, i) => `v${i}`);
  // Without a key, messages are spread over every partition in turn.
  await Promise.all(sent.map((value) => adapter.publish(topic, value)));
  await waitFor(() => received.count + foreign.values.length >= sent.length, {
    timeoutMs: TIMEOUT_MS,
    description: `${sent.length} messages over both members (foreign member's log: ${foreign.output()})`,
  });
  expect([...received.values(), ...foreign.values].sort()).toEqual([...sent].sort());
  expect(received.count).toBeGreaterThan(0);
  expect(foreign.values.length).toBeGreaterThan(0);
}

describe('KafkaAdapter: groups shared with members of other Kafka clients', () => {
  it(
    'a msgport member and a librdkafka member (kcat -G) in one group each get part of the messages, together all of them once',
    async () => {
      requireTool('kcat', 'apt-get install -y kcat');
      const topic = uniqueName('interop-kcat');
      const group = uniqueName('g');
      const { adapter, received } = await msgportMember(topic, group);
      // librdkafka's default strategies: range,roundrobin.
      const kcat = foreignConsumer('kcat', [
        '-b',
        KAFKA_BROKERS,
        '-G',
        group,
        '-u',
        '-q',
        '-f',
        '%s\n',
        '-X',
        'session.timeout.ms=6000',
        topic,
      ]);
      await shareOneGroup(kcat, adapter, received, topic);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a msgport member and a Java member (kafka-console-consumer, range and cooperative-sticky) share one group',
    async () => {
      const topic = uniqueName('interop-java');
      const group = uniqueName('g');
      const classpath = execFileSync('bash', [join(REPO, 'scripts', 'kafka.sh'), 'tools-classpath'], { encoding: 'utf8' }).trim();
      const { adapter, received } = await msgportMember(topic, group);
      const java = foreignConsumer('java', [
        '-Xmx256m',
        '-cp',
        classpath,
        'org.apache.kafka.tools.consumer.ConsoleConsumer',
        '--bootstrap-server',
        KAFKA_BROKERS,
        '--topic',
        topic,
        '--group',
        group,
        '--consumer-property',
        'session.timeout.ms=6000',
      ]);
      await shareOneGroup(java, adapter, received, topic);
    },
    TEST_TIMEOUT_MS,
  );
});
