// Reproduction (plain amqplib, no msgport) of what scenario 5 showed on RabbitMQ 3.10.8: a
// confirm channel opened on a surviving node right after the node leading some quorum queues was
// SIGKILLed can get EVERY later publish to some of those queues nacked, for as long as the
// channel lives (minutes), while a channel opened a few seconds later gets them all acked. Which
// queues are affected varies from run to run, whatever their arguments (reject-publish overflow,
// at-least-once dead-lettering, single active consumer, or none).
//
//   node test/cluster/repro/qq-nack-after-failover.mjs      (the cluster of scripts/rabbitmq-cluster.sh running)
//
// It declares 8 quorum queues from node 1 (so node 1 leads them), SIGKILLs node 1, publishes to
// each queue for 6 s on a confirm channel of a fresh connection to node 2, then once on a new
// channel, and restarts node 1. Exit code 1 when some queue nacked every publish on the first
// channel and acked on the new one (the defect), 0 otherwise.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const amqp = require('amqplib');
const cluster = fileURLToPath(new URL('../../../scripts/rabbitmq-cluster.sh', import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const script = (...args) => execFileSync('bash', [cluster, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }).toString();

const tag = `qq-nack-${Date.now().toString(36)}`;
const queues = Array.from({ length: 8 }, (_, i) => `${tag}-${i}`);
const args = [
  { 'x-queue-type': 'quorum' },
  { 'x-queue-type': 'quorum', 'x-overflow': 'reject-publish' },
  { 'x-queue-type': 'quorum', 'x-single-active-consumer': true },
  {
    'x-queue-type': 'quorum',
    'x-overflow': 'reject-publish',
    'x-dead-letter-exchange': 'msgport.dlx',
    'x-dead-letter-strategy': 'at-least-once',
  },
];

const declaring = await amqp.connect('amqp://guest:guest@127.0.0.1:5673');
declaring.on('error', () => undefined);
const declare = await declaring.createConfirmChannel();
declare.on('error', () => undefined);
for (const [i, queue] of queues.entries()) {
  await declare.assertQueue(queue, { durable: true, arguments: args[i % args.length] });
  declare.sendToQueue(queue, Buffer.from('before'));
}
await declare.waitForConfirms();

let defect = false;
try {
  script('kill', '1');
  const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5674');
  const channel = await connection.createConfirmChannel();
  const stats = Object.fromEntries(queues.map((queue) => [queue, { ack: 0, nack: 0 }]));
  let stop = false;
  const publishing = queues.map(async (queue) => {
    while (!stop) {
      await new Promise((resolve) =>
        channel.sendToQueue(queue, Buffer.from('x'), { persistent: true }, (error) => {
          stats[queue][error ? 'nack' : 'ack']++;
          resolve();
        }),
      );
      await sleep(5);
    }
  });
  await sleep(6_000);
  stop = true;
  await Promise.all(publishing);
  const fresh = await connection.createConfirmChannel();
  for (const [i, queue] of queues.entries()) {
    const later = await new Promise((resolve) =>
      fresh.sendToQueue(queue, Buffer.from('y'), { persistent: true }, (error) => resolve(error ? 'nack' : 'ack')),
    );
    const { ack, nack } = stats[queue];
    const stuck = ack === 0 && nack > 0 && later === 'ack';
    defect ||= stuck;
    console.log(
      `${queue} ${JSON.stringify(args[i % args.length])}: first channel ${ack} acked, ${nack} nacked; new channel: ${later}${stuck ? '  <- stuck' : ''}`,
    );
  }
  await connection.close();
} finally {
  script('restart', '1');
  const again = await amqp.connect('amqp://guest:guest@127.0.0.1:5674');
  const channel = await again.createChannel();
  for (const queue of queues) await channel.deleteQueue(queue).catch(() => undefined);
  await again.close();
}
console.log(defect ? 'DEFECT: a channel opened during the failover stayed nacking some queues' : 'no stuck channel this time');
process.exit(defect ? 1 : 0);
