import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RETRY_POLICY } from '@msgport/core';
import { SASL_MECHANISMS } from '@msgport/core/adapter';
import { KafkaAdapter, type KafkaAdapterOptions } from '@msgport/kafka';
import { InMemoryMessageBroker } from '@msgport/memory';
import { RabbitMQAdapter, type RabbitMQAdapterOptions } from '@msgport/rabbitmq';
import {
  describeConfigKeys,
  msgportConfigSchema,
  SASL_MECHANISMS as AUTOCONFIG_SASL_MECHANISMS,
  type MsgportConfigInput,
} from '@msgport/autoconfig';
import {
  adapterOptionsFor,
  CODE_ONLY_OPTIONS,
  COMMON_TABLE,
  KAFKA_TABLE,
  RABBITMQ_RECONNECT_TABLE,
  RABBITMQ_TABLE,
  RETRY_TABLE,
  type OptionTable,
} from '../src/internal/adapter-options.js';

/** A configuration that sets every key of the schema (to a value the adapters accept). */
const EVERY_KEY: MsgportConfigInput = {
  provider: 'auto',
  'shutdown-timeout-ms': 1_234,
  concurrency: 3,
  'log-level': 'silent',
  retry: { 'max-attempts': 4, 'initial-delay-ms': 5, multiplier: 3, 'max-delay-ms': 50, jitter: 0.1, 'dead-letter': false },
  kafka: {
    'bootstrap-servers': '127.0.0.1:1',
    'client-id': 'c',
    ssl: false,
    sasl: { mechanism: 'plain', username: 'u', password: 'p' },
    'num-partitions': 2,
    'replication-factor': 3,
    'min-insync-replicas': 2,
    'from-beginning': true,
    'connection-timeout-ms': 11,
    'publish-timeout-ms': 12,
    'partition-assigners': 'range, roundrobin',
    'request-timeout-ms': 13,
    'session-timeout-ms': 14_000,
    'heartbeat-interval-ms': 1_500,
    'rebalance-timeout-ms': 16,
    'fetch-max-wait-ms': 17,
    'max-batch-size': 18,
    'max-batch-bytes': 19,
    'linger-ms': 20,
  },
  rabbitmq: {
    url: 'amqp://u:p@127.0.0.1:1/',
    'exchange-name': 'x',
    prefetch: 21,
    partitions: 2,
    'connection-timeout-ms': 22,
    'publish-timeout-ms': 23,
    'max-message-bytes': 24,
    reconnect: { 'initial-delay-ms': 25, 'max-delay-ms': 26 },
    'legacy-queues': [
      { topic: 'orders', group: 'billing', queue: 'billing', phase: 'share' },
      { topic: 'invoices', group: 'billing', queue: 'pyfly.invoices', phase: 'switch', 'delete-when-drained': true },
    ],
  },
};

const config = msgportConfigSchema.parse(EVERY_KEY);

/** The option names `create` reads off the options object it is given (the adapter's real options). */
function optionsRead(create: (options: never) => unknown, options: Record<string, unknown>): Set<string> {
  const read = new Set<string>();
  const proxy = new Proxy(options, {
    get(target, key, receiver) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  create(proxy as never);
  return read;
}

/** Option names the tables produce, nested ones as `reconnect.initialDelayMs`. */
function optionNames(table: OptionTable<object, unknown>): string[] {
  return Object.values(table as Record<string, { option: string }>).map((mapping) => mapping.option);
}

const adapters = {
  kafka: {
    create: (options: KafkaAdapterOptions) => new KafkaAdapter(options),
    table: KAFKA_TABLE,
    codeOnly: CODE_ONLY_OPTIONS.kafka,
  },
  rabbitmq: {
    create: (options: RabbitMQAdapterOptions) => new RabbitMQAdapter(options),
    table: RABBITMQ_TABLE,
    codeOnly: CODE_ONLY_OPTIONS.rabbitmq,
  },
  memory: { create: (options: object) => new InMemoryMessageBroker(options), table: {}, codeOnly: CODE_ONLY_OPTIONS.memory },
} as const;

describe('the mapping from configuration keys to adapter options', () => {
  it('has a mapping for every key of the schema (every leaf key described by describeConfigKeys)', () => {
    const mapped = new Set<string>(['provider']);
    const add = (prefix: string, table: object): void => {
      for (const key of Object.keys(table)) mapped.add(`${prefix}${key}`);
    };
    add('', COMMON_TABLE);
    add('retry.', RETRY_TABLE);
    add('kafka.', KAFKA_TABLE);
    add('rabbitmq.', RABBITMQ_TABLE);
    add('rabbitmq.reconnect.', RABBITMQ_RECONNECT_TABLE);
    for (const key of ['kafka.sasl.mechanism', 'kafka.sasl.username', 'kafka.sasl.password']) mapped.add(key);
    const keys = describeConfigKeys().map((key) => key.path.join('.'));
    expect(keys.filter((key) => !mapped.has(key) && !mapped.has(key.split('.').slice(0, -1).join('.')))).toEqual([]);
  });

  for (const [provider, adapter] of Object.entries(adapters)) {
    it(`${provider}: every key reaches an option the adapter reads, with the configured value`, () => {
      const options = adapterOptionsFor(provider as keyof typeof adapters, config);
      const read = optionsRead(adapter.create, { ...options, notAnOption: 1 });
      expect(read.has('notAnOption')).toBe(false); // the adapter reads its options one by one, not by spreading them
      expect(Object.keys(options).filter((name) => !read.has(name))).toEqual([]);
      expect(options).toMatchObject({ shutdownTimeoutMs: 1_234, concurrency: 3 });
      expect(options['retry']).toEqual({
        maxAttempts: 4,
        initialDelayMs: 5,
        multiplier: 3,
        maxDelayMs: 50,
        jitter: 0.1,
        deadLetter: false,
      });
    });

    it(`${provider}: every option the adapter reads has a key, or is code-only with a reason`, () => {
      const read = optionsRead(adapter.create, {
        ...(provider === 'kafka' ? { bootstrapServers: '127.0.0.1:1' } : {}),
        ...(provider === 'rabbitmq' ? { url: 'amqp://127.0.0.1:1/' } : {}),
      });
      const covered = new Set([
        ...optionNames(COMMON_TABLE),
        ...optionNames(adapter.table),
        ...Object.keys(CODE_ONLY_OPTIONS.common),
        ...Object.keys(adapter.codeOnly),
      ]);
      expect([...read].filter((name) => !covered.has(name))).toEqual([]);
      for (const reason of Object.values({ ...CODE_ONLY_OPTIONS.common, ...adapter.codeOnly }))
        expect(reason.length).toBeGreaterThan(10);
    });
  }

  it('maps the values that change shape', () => {
    const kafka = adapterOptionsFor('kafka', config);
    expect(kafka).toMatchObject({
      bootstrapServers: '127.0.0.1:1',
      sasl: { mechanism: 'plain', username: 'u', password: 'p' },
      partitionAssigners: ['range', 'roundrobin'],
      lingerMs: 20,
    });
    expect(adapterOptionsFor('rabbitmq', config)).toMatchObject({
      reconnect: { initialDelayMs: 25, maxDelayMs: 26 },
      maxMessageBytes: 24,
      legacyQueues: [
        { topic: 'orders', group: 'billing', queue: 'billing', phase: 'share' },
        { topic: 'invoices', group: 'billing', queue: 'pyfly.invoices', phase: 'switch', deleteWhenDrained: true },
      ],
    });
    expect(Object.keys(adapterOptionsFor('memory', config)).sort()).toEqual([
      'concurrency',
      'logger',
      'retry',
      'shutdownTimeoutMs',
    ]);
  });

  it('maps every field of the retry policy', () => {
    expect(optionNames(RETRY_TABLE as OptionTable<object, unknown>).sort()).toEqual(Object.keys(DEFAULT_RETRY_POLICY).sort());
  });

  it('states the SASL mechanisms once (core), for the Kafka adapter and the schema', () => {
    expect(AUTOCONFIG_SASL_MECHANISMS).toBe(SASL_MECHANISMS);
  });

  it('does not compile a mapping to an option the adapter does not have', () => {
    // @ts-expect-error `bootstrapServer` is not an option of KafkaAdapter
    const wrong: OptionTable<{ a?: string }, KafkaAdapterOptions> = { a: { option: 'bootstrapServer' } };
    // @ts-expect-error a key of the section without a mapping
    const missing: OptionTable<{ a?: string; b?: number }, KafkaAdapterOptions> = { a: { option: 'clientId' } };
    // @ts-expect-error a string key cannot feed a number option without a conversion
    const unconverted: OptionTable<{ a?: string }, KafkaAdapterOptions> = { a: { option: 'lingerMs' } };
    expect([wrong, missing, unconverted]).toHaveLength(3);
  });
});
