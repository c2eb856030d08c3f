import { LOG_LEVELS } from '@msgport/core';
import { SASL_MECHANISMS } from '@msgport/core/adapter';
import { z } from 'zod';

/** Values of `msgport.messaging.provider`. `auto` picks the first installed adapter. */
export const PROVIDERS = ['auto', 'memory', 'kafka', 'rabbitmq'] as const;

/** SASL mechanisms accepted by `msgport.messaging.kafka.sasl.mechanism` (stated once, in core). */
export { SASL_MECHANISMS };

// One host:port entry: a host name, an IPv4 address or a bracketed IPv6 address, and a port.
const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?):(\d{1,5})$/;

const bootstrapServers = z
  .string()
  .superRefine((value, context) => {
    const entries = value.split(',').map((entry) => entry.trim());
    const bad = entries.filter((entry) => {
      const match = HOST_PORT.exec(entry);
      return match === null || Number(match[1]) < 1 || Number(match[1]) > 65535;
    });
    if (bad.length > 0) {
      // Broker addresses are not secret, so the offending entries are quoted.
      context.addIssue({
        code: 'custom',
        message: `expected a comma-separated list of host:port (e.g. localhost:9092 or kafka1:9092,kafka2:9092), got ${bad
          .map((entry) => (entry === '' ? 'an empty entry' : JSON.stringify(entry)))
          .join(', ')}`,
      });
    }
  })
  .describe('Kafka brokers to bootstrap from, comma-separated host:port');

/** Adds an issue when `value` is not one usable amqp:// or amqps:// URL (never quoting it: it may hold a password). */
function checkAmqpUrl(value: string, context: z.RefinementCtx): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    context.addIssue({
      code: 'custom',
      message: 'expected an amqp:// or amqps:// URL such as amqp://guest:guest@localhost/, but it could not be parsed',
    });
    return;
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
    context.addIssue({
      code: 'custom',
      message: `expected an amqp:// or amqps:// URL such as amqp://guest:guest@localhost/, got a ${url.protocol}// URL`,
    });
  } else if (url.hostname === '') {
    context.addIssue({ code: 'custom', message: 'expected an amqp:// or amqps:// URL with a host name' });
  }
}

/** Where a comma-separated string of URLs is split: a comma that starts another URL (a password may contain commas). */
export const AMQP_URL_SEPARATOR = /,(?=\s*amqps?:\/\/)/i;

/**
 * One URL, or several (a cluster's nodes) as a list or a comma-separated string. Not a zod union:
 * each wrong URL is reported on its own line, as for one URL.
 */
const amqpUrls = z
  .custom<string | string[]>(() => true)
  .superRefine((value, context) => {
    const urls: unknown[] | null =
      typeof value === 'string' ? value.split(AMQP_URL_SEPARATOR) : Array.isArray(value) ? value : null;
    if (urls === null || urls.length === 0 || urls.some((url) => typeof url !== 'string')) {
      context.addIssue({
        code: 'custom',
        message: 'expected an amqp:// or amqps:// URL such as amqp://guest:guest@localhost/, or a list of them',
      });
      return;
    }
    for (const url of urls as string[]) checkAmqpUrl(url.trim(), context);
  })
  .describe(
    "RabbitMQ connection URL (amqp:// or amqps://), or the URLs of a cluster's nodes (a list or comma-separated): " +
      'the adapter connects to the first that answers and fails over to the others; passwords are never printed',
  );

const positiveInt = () => z.int().min(1);
const nonNegativeInt = () => z.int().min(0);

const retrySchema = z
  .strictObject({
    'max-attempts': positiveInt().optional().describe('Total attempts including the first; 1 means no retry'),
    'initial-delay-ms': nonNegativeInt().optional().describe('Delay before the second attempt'),
    multiplier: z.number().min(1).optional().describe('Each further delay is the previous one times this factor'),
    'max-delay-ms': nonNegativeInt().optional().describe('Upper bound of any single delay'),
    jitter: z.number().min(0).max(1).optional().describe('Random spread of each delay, as a fraction (0.2 = ±20 %)'),
    'dead-letter': z
      .boolean()
      .optional()
      .describe('After the last attempt, dead-letter the message (true) or drop it (false, logged)'),
  })
  .describe('Default retry policy of every subscription');

const saslSchema = z
  .strictObject({
    mechanism: z.enum(SASL_MECHANISMS).describe('SASL mechanism'),
    username: z.string().min(1).describe('SASL user name'),
    password: z.string().min(1).describe('SASL password; never printed'),
  })
  .describe('SASL authentication; all three keys are required when the section is present');

const kafkaSchema = z
  .strictObject({
    'bootstrap-servers': bootstrapServers.default('localhost:9092'),
    'client-id': z.string().min(1).optional().describe('Kafka client id'),
    ssl: z.boolean().optional().describe('Connect with TLS'),
    sasl: saslSchema.optional(),
    'num-partitions': positiveInt().optional().describe('Partitions of topics the adapter creates'),
    'replication-factor': positiveInt().optional().describe('Replication factor of topics the adapter creates'),
    'min-insync-replicas': positiveInt()
      .optional()
      .describe('min.insync.replicas of topics the adapter creates: replicas that must have a message before publish() resolves'),
    'from-beginning': z.boolean().optional().describe('A new consumer group starts at the earliest offset instead of the latest'),
    'connection-timeout-ms': positiveInt().optional().describe('How long to wait for a broker connection'),
    'publish-timeout-ms': positiveInt().optional().describe('How long publish() waits during a broker outage before rejecting'),
    'partition-assigners': z
      .string()
      .regex(
        /^\s*(roundrobin|range)\s*(,\s*(roundrobin|range)\s*)?$/,
        'must be "roundrobin", "range", "roundrobin,range" or "range,roundrobin"',
      )
      .optional()
      .describe('How a group shares partitions, in order of preference: roundrobin and/or range (comma-separated)'),
    'request-timeout-ms': positiveInt()
      .optional()
      .describe('Bound of one request to a broker (a produce request waits this long for all in-sync replicas)'),
    'session-timeout-ms': positiveInt().optional().describe('A consumer that sends no heartbeat for this long leaves its group'),
    'heartbeat-interval-ms': positiveInt()
      .optional()
      .describe('Heartbeat period of consumers; lower than session-timeout-ms (a third is usual)'),
    'rebalance-timeout-ms': positiveInt()
      .optional()
      .describe('How long the group waits for members to rejoin during a rebalance'),
    'fetch-max-wait-ms': nonNegativeInt()
      .optional()
      .describe('Longest wait of a fetch with no new message (also how quickly an idle consumer notices a rebalance)'),
    'max-batch-size': positiveInt().optional().describe('Most messages per produce request'),
    'max-batch-bytes': positiveInt()
      .optional()
      .describe('Most bytes of records per produce request (a single larger message is still sent, alone)'),
    'linger-ms': nonNegativeInt()
      .optional()
      .describe('How long an idle producer waits for more messages before sending; 0 sends after one event-loop turn'),
  })
  .superRefine((kafka, context) => {
    const replication = kafka['replication-factor'] ?? 1;
    const minInsync = kafka['min-insync-replicas'];
    if (minInsync !== undefined && minInsync > replication) {
      context.addIssue({
        code: 'custom',
        path: ['min-insync-replicas'],
        message:
          `must not exceed replication-factor (${replication}${kafka['replication-factor'] === undefined ? ', the default' : ''}): ` +
          'a topic with fewer replicas than must be in sync refuses every publish. Raise replication-factor (3 with min-insync-replicas 2 is usual)',
      });
    }
  })
  .describe('Kafka adapter settings (@msgport/kafka)');

const rabbitmqSchema = z
  .strictObject({
    url: amqpUrls.default('amqp://guest:guest@localhost/'),
    'exchange-name': z.string().min(1).default('msgport').describe('Durable direct exchange messages are published to'),
    'queue-type': z
      .enum(['quorum', 'classic'])
      .optional()
      .describe('Type of group (partition) and dead-letter queues: quorum (replicated on a cluster) or classic'),
    prefetch: positiveInt().optional().describe('Unacknowledged messages a consumer may hold'),
    partitions: positiveInt()
      .optional()
      .describe('Partitions of every topic (one queue each per group; the same for every publisher and instance)'),
    'connection-timeout-ms': positiveInt().optional().describe('How long to wait for the connection'),
    'publish-timeout-ms': positiveInt().optional().describe('How long publish() waits for the publisher confirm'),
    'max-message-bytes': positiveInt()
      .optional()
      .describe('Largest value publish() sends; larger ones reject with MESSAGE_TOO_LARGE before anything is sent'),
    reconnect: z
      .strictObject({
        'initial-delay-ms': positiveInt()
          .optional()
          .describe('Delay before the first reconnection attempt after the connection dropped'),
        'max-delay-ms': positiveInt().optional().describe('Upper bound of the delay between two reconnection attempts'),
      })
      .optional()
      .describe('Backoff between reconnection attempts (exponential, factor 2, ±20 % jitter)'),
    'legacy-queues': z
      .array(
        z.strictObject({
          topic: z.string().min(1).describe('Topic (routing key) the legacy queue is bound with'),
          group: z.string().min(1).describe('msgport group that takes the queue over'),
          queue: z.string().min(1).describe("The legacy queue: PyFly's group name, or pyfly.<topic>"),
          phase: z
            .enum(['share', 'switch'])
            .describe('share: consume it beside the PyFly instances; switch: move the topic to the partition queues, drain it'),
          'delete-when-drained': z
            .boolean()
            .optional()
            .describe('switch phase: delete the legacy queue once drained, if empty and unused'),
        }),
      )
      .optional()
      .describe("Groups taking over a PyFly service's queue (migration from PyFly, see docs/migration-from-pyfly.md)"),
  })
  .describe('RabbitMQ adapter settings (@msgport/rabbitmq)');

/**
 * The zod schema of the `msgport.messaging` section (also read from `pyfly.messaging` in a PyFly
 * `pyfly.yaml`). It is the one source of the configuration types: {@link MsgportConfig} is its
 * output, {@link MsgportConfigInput} its input. Objects are strict: unknown keys fail.
 */
export const msgportConfigSchema = z
  .strictObject({
    provider: z
      .enum(PROVIDERS)
      .default('auto')
      .describe('Adapter to use; auto picks the first installed of kafka, rabbitmq, memory'),
    'shutdown-timeout-ms': nonNegativeInt().optional().describe('How long stop() waits for in-flight handlers'),
    concurrency: positiveInt().optional().describe('Messages of one consumer handled at once (same key: never concurrently)'),
    'log-level': z.enum(LOG_LEVELS).optional().describe('Level of the console logger given to the adapter'),
    retry: retrySchema.optional(),
    kafka: kafkaSchema.prefault({}),
    rabbitmq: rabbitmqSchema.prefault({}),
  })
  .describe('msgport messaging configuration');

/**
 * The zod schema of a whole `msgport.yaml` file: `msgport.messaging` holds the
 * {@link msgportConfigSchema} section. Strict: a key other than `msgport` at the top, or other than
 * `messaging` under it, fails.
 */
export const msgportFileSchema = z.strictObject({
  msgport: z.strictObject({ messaging: msgportConfigSchema.prefault({}) }).prefault({}),
});

/** The validated `msgport.messaging` section, with defaults applied (kebab-case keys, as in YAML). */
export type MsgportConfig = z.output<typeof msgportConfigSchema>;

/** What may be written in the `msgport.messaging` section or passed in code: every key optional. */
export type MsgportConfigInput = z.input<typeof msgportConfigSchema>;

/** A whole `msgport.yaml` file, validated. */
export type MsgportFile = z.output<typeof msgportFileSchema>;

/** A value of `msgport.messaging.provider`. */
export type ProviderSetting = (typeof PROVIDERS)[number];

/** An adapter autoconfig can create. */
export type ProviderName = Exclude<ProviderSetting, 'auto'>;
