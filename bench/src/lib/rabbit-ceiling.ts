import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorText, RABBITMQ_URL, REPO_ROOT } from './env.js';
import { runJava } from './java.js';
import type { Measurement } from './types.js';

/**
 * The RabbitMQ publish ceiling. RabbitMQ PerfTest (com.rabbitmq:perf-test) could not be fetched
 * from Maven Central here (tried 2.21.0), so a 90-line stand-in, bench/tools/rabbitmq-ceiling/
 * ConfirmPublisher.java, does what `PerfTest -x 1 -y 0 -s 1024 -c 1000 -f persistent` does with
 * the official Java client (com.rabbitmq:amqp-client), fetched with Maven into a cache.
 */
const AMQP_CLIENT_VERSION = '5.37.1';
const TOOL_DIR = join(REPO_ROOT, 'bench', 'tools', 'rabbitmq-ceiling');
const CACHE = join(
  process.env['MSGPORT_CACHE'] ?? join(homedir(), '.cache', 'msgport'),
  'rabbitmq-ceiling',
  AMQP_CLIENT_VERSION,
  'libs',
);
const INFLIGHT = 1_000;

let download: Promise<void> | null = null;

function ensureLibs(): Promise<void> {
  download ??= (async () => {
    if (existsSync(CACHE) && readdirSync(CACHE).some((f) => f.startsWith('amqp-client-'))) return;
    mkdirSync(CACHE, { recursive: true });
    await promisify(execFile)(
      process.env['MVN'] ?? 'mvn',
      [
        '-B',
        '-q',
        '-f',
        join(TOOL_DIR, 'pom.xml'),
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${CACHE}`,
      ],
      { timeout: 300_000 },
    );
  })();
  return download;
}

/** Whether the ceiling can run here (downloads the Java client on first use). */
export async function rabbitCeilingAvailable(
  log: (line: string) => void,
): Promise<{ available: true; label: string; short: string } | { available: false; reason: string }> {
  try {
    await ensureLibs();
    return {
      available: true,
      label: `Java amqp-client ${AMQP_CLIENT_VERSION}, ${INFLIGHT} in flight (PerfTest stand-in)`,
      short: 'Java amqp-client',
    };
  } catch (error) {
    log(`no RabbitMQ ceiling: ${errorText(error)}`);
    return { available: false, reason: `the Java client could not be fetched (${errorText(error).split('\n')[0]})` };
  }
}

/** Publishes `messages` persistent 1 KiB messages with confirms from Java; the caller deletes `queue` and `exchange`. */
export async function rabbitCeiling(exchange: string, queue: string, routingKey: string, messages: number): Promise<Measurement> {
  await ensureLibs();
  const { output, maxRssKiB } = await runJava([
    '-cp',
    join(CACHE, '*'),
    join(TOOL_DIR, 'ConfirmPublisher.java'),
    RABBITMQ_URL,
    exchange,
    routingKey,
    queue,
    String(messages),
    String(INFLIGHT),
    '1024',
  ]);
  const match = /@@result (\d+) ([\d.]+) ([\d.]+)/.exec(output);
  if (match === null) throw new Error(`cannot read ConfirmPublisher output: ${output.slice(-300)}`);
  return {
    messages: Number(match[1]),
    seconds: Number(match[2]),
    rate: Number(match[3]),
    ...(maxRssKiB === undefined ? {} : { maxRssKiB }),
  };
}
