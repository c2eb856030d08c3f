/**
 * A process of the rabbitmq-instances scenario (started by scenarios/rabbitmq-instances.ts; not
 * meant to be run by hand), in one of two roles:
 *
 * - `instance`: one instance of a RabbitMQ group: subscribes to the topic in the group, handles
 *   each `<key>|<seq>` message by sleeping 0–5 ms, and reports on stdout, one line each: `ready`;
 *   `owned <n>` whenever the number of partitions it consumes changes; `h <key> <seq> <begin>
 *   <end>` per handled message (wall-clock milliseconds, sub-millisecond precision, comparable
 *   across processes). SIGTERM stops it.
 * - `publisher`: publishes `messages` messages `<key>|<seq>` over `keys` keys (key-0 …), 1,000 in
 *   flight, in order per key, reports `published` and exits: so that publishing does not take the
 *   consumers' CPU in their process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RabbitMQAdapter } from '@msgport/rabbitmq';
import { rabbitAdapterOptions } from './lib/amqp.js';
import { drive } from './lib/drive.js';

interface Config {
  readonly role: 'instance' | 'publisher';
  readonly exchange: string;
  readonly topic: string;
  readonly group: string;
  readonly seed: number;
  readonly messages: number;
  readonly keys: number;
}

const config = JSON.parse(process.env['MSGPORT_BENCH_INSTANCE'] ?? '{}') as Config;
if (config.role === 'publisher') {
  const publisher = new RabbitMQAdapter(rabbitAdapterOptions(config.exchange));
  await publisher.start();
  const seqs = new Map<string, number>();
  const bodies = Array.from({ length: config.messages }, (_, i) => {
    const key = `key-${i % config.keys}`;
    const seq = seqs.get(key) ?? 0;
    seqs.set(key, seq + 1);
    return { key, value: `${key}|${seq}` };
  });
  await drive(config.messages, { kind: 'window', size: 1_000 }, (i) =>
    publisher.publish(config.topic, bodies[i]!.value, { key: bodies[i]!.key }),
  );
  await publisher.stop();
  process.stdout.write('published\n');
  process.exit(0);
}
const clock = (): number => performance.timeOrigin + performance.now();
let seed = config.seed >>> 0;
/** A linear congruential sequence: the same handler times in every run. */
const nextDelay = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 16) % 6;
};

const lines: string[] = [];
let flushScheduled = false;
function report(line: string): void {
  lines.push(line);
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(() => {
    flushScheduled = false;
    process.stdout.write(`${lines.join('\n')}\n`);
    lines.length = 0;
  });
}

const broker = new RabbitMQAdapter(rabbitAdapterOptions(config.exchange));
await broker.subscribe(
  config.topic,
  async (message) => {
    const begin = clock();
    const [key, seq] = message.value.toString('latin1').split('|') as [string, string];
    const delay = nextDelay();
    if (delay > 0) await sleep(delay);
    report(`h ${key} ${seq} ${begin.toFixed(3)} ${clock().toFixed(3)}`);
  },
  config.group,
);
await broker.start();
report('ready');

let owned = -1;
const watch = setInterval(() => {
  void broker.health().then((health) => {
    const partitions =
      (health.details['ownedPartitions'] as Record<string, number[]> | undefined)?.[`${config.topic}.${config.group}`] ?? [];
    if (partitions.length !== owned) {
      owned = partitions.length;
      report(`owned ${owned}`);
    }
  });
}, 50);

process.once('SIGTERM', () => {
  clearInterval(watch);
  void broker.stop().then(() => process.exit(0));
});
