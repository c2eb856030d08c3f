import { createConsoleLogger, type RetryPolicyOptions } from '@msgport/core';
import type { MessageBrokerBaseOptions } from '@msgport/core/adapter';
import type { KafkaAdapterOptions } from '@msgport/kafka';
import type { InMemoryMessageBrokerOptions } from '@msgport/memory';
import type { RabbitMQAdapterOptions, RabbitMQReconnectOptions } from '@msgport/rabbitmq';
import type { MsgportConfig, ProviderName } from '../msgport-config-schema.js';

// The one place where configuration keys meet adapter options. Each table maps every key of a
// section of the schema (the mapped types below make leaving one out a compile error) to an option
// of the adapter (a name that is not an option is a compile error too), converting the value where
// its shape differs. The adapters' option types are imported as types only: nothing of an optional
// adapter is loaded at run time. A test checks the other direction: every option an adapter reads
// has a key, or is listed in CODE_ONLY_OPTIONS with the reason.

/** What a conversion may know besides the value. */
interface MappingContext {
  readonly provider: ProviderName;
}

type Defined<T> = Exclude<T, undefined>;

/** How the value of one key becomes the adapter option `option` (as is, or through `convert`). */
type Mapping<Value, Options> = {
  [Option in keyof Options & string]-?: Defined<Value> extends Defined<Options[Option]>
    ? { readonly option: Option; readonly convert?: (value: Defined<Value>, context: MappingContext) => Defined<Options[Option]> }
    : { readonly option: Option; readonly convert: (value: Defined<Value>, context: MappingContext) => Defined<Options[Option]> };
}[keyof Options & string];

/** One {@link Mapping} for every key of the config section `Section`. */
export type OptionTable<Section, Options> = { readonly [Key in keyof Section]-?: Mapping<Section[Key], Options> };

/** The section's keys that hold a value, turned into adapter options through `table`. */
export function applyTable<Section extends object, Options>(
  table: OptionTable<Section, Options>,
  section: Section,
  context: MappingContext,
): Partial<Options> {
  const options: Record<string, unknown> = {};
  for (const [key, mapping] of Object.entries(table) as Array<[keyof Section & string, Mapping<unknown, Options>]>) {
    const value = section[key];
    if (value === undefined) continue;
    options[mapping.option] = mapping.convert === undefined ? value : mapping.convert(value, context);
  }
  return options as Partial<Options>;
}

type Section<Name extends 'kafka' | 'rabbitmq'> = MsgportConfig[Name];

/** `retry.*` → `RetryPolicyOptions`. */
export const RETRY_TABLE: OptionTable<Defined<MsgportConfig['retry']>, RetryPolicyOptions> = {
  'max-attempts': { option: 'maxAttempts' },
  'initial-delay-ms': { option: 'initialDelayMs' },
  multiplier: { option: 'multiplier' },
  'max-delay-ms': { option: 'maxDelayMs' },
  jitter: { option: 'jitter' },
  'dead-letter': { option: 'deadLetter' },
};

/** The keys at the top of `msgport.messaging` → the options every adapter takes (`provider` picks the adapter). */
export const COMMON_TABLE: OptionTable<Omit<MsgportConfig, 'provider' | 'kafka' | 'rabbitmq'>, MessageBrokerBaseOptions> = {
  'shutdown-timeout-ms': { option: 'shutdownTimeoutMs' },
  concurrency: { option: 'concurrency' },
  'log-level': { option: 'logger', convert: (level, { provider }) => createConsoleLogger(level, `msgport:${provider}`) },
  retry: { option: 'retry', convert: (retry, context) => applyTable(RETRY_TABLE, retry, context) },
};

/** `kafka.*` → `KafkaAdapterOptions`. */
export const KAFKA_TABLE: OptionTable<Section<'kafka'>, KafkaAdapterOptions> = {
  'bootstrap-servers': { option: 'bootstrapServers' },
  'client-id': { option: 'clientId' },
  ssl: { option: 'ssl' },
  sasl: { option: 'sasl', convert: (sasl) => ({ ...sasl }) },
  'num-partitions': { option: 'numPartitions' },
  'replication-factor': { option: 'replicationFactor' },
  'min-insync-replicas': { option: 'minInsyncReplicas' },
  'from-beginning': { option: 'fromBeginning' },
  'connection-timeout-ms': { option: 'connectionTimeoutMs' },
  'publish-timeout-ms': { option: 'publishTimeoutMs' },
  'partition-assigners': {
    option: 'partitionAssigners',
    convert: (names) => names.split(',').map((name) => name.trim() as 'roundrobin' | 'range'),
  },
  'request-timeout-ms': { option: 'requestTimeoutMs' },
  'session-timeout-ms': { option: 'sessionTimeoutMs' },
  'heartbeat-interval-ms': { option: 'heartbeatIntervalMs' },
  'rebalance-timeout-ms': { option: 'rebalanceTimeoutMs' },
  'fetch-max-wait-ms': { option: 'fetchMaxWaitMs' },
  'max-batch-size': { option: 'maxBatchSize' },
  'max-batch-bytes': { option: 'maxBatchBytes' },
  'linger-ms': { option: 'lingerMs' },
};

/** `rabbitmq.reconnect.*` → `RabbitMQReconnectOptions`. */
export const RABBITMQ_RECONNECT_TABLE: OptionTable<Defined<Section<'rabbitmq'>['reconnect']>, RabbitMQReconnectOptions> = {
  'initial-delay-ms': { option: 'initialDelayMs' },
  'max-delay-ms': { option: 'maxDelayMs' },
};

/** `rabbitmq.*` → `RabbitMQAdapterOptions`. */
export const RABBITMQ_TABLE: OptionTable<Section<'rabbitmq'>, RabbitMQAdapterOptions> = {
  url: { option: 'url' },
  'exchange-name': { option: 'exchangeName' },
  'queue-type': { option: 'queueType' },
  prefetch: { option: 'prefetch' },
  partitions: { option: 'partitions' },
  'connection-timeout-ms': { option: 'connectionTimeoutMs' },
  'publish-timeout-ms': { option: 'publishTimeoutMs' },
  'max-message-bytes': { option: 'maxMessageBytes' },
  reconnect: { option: 'reconnect', convert: (reconnect, context) => applyTable(RABBITMQ_RECONNECT_TABLE, reconnect, context) },
  'legacy-queues': {
    option: 'legacyQueues',
    convert: (queues) =>
      queues.map(({ 'delete-when-drained': deleteWhenDrained, ...queue }) =>
        deleteWhenDrained === undefined ? queue : { ...queue, deleteWhenDrained },
      ),
  },
};

/**
 * Adapter options that have no configuration key on purpose, with the reason. Everything else an
 * adapter reads has a key (checked by a test).
 */
export const CODE_ONLY_OPTIONS = {
  common: { logger: 'a logger object is code; `log-level` picks the console logger' },
  kafka: {},
  rabbitmq: { tls: 'certificates and keys are read by the application and passed in code' },
  memory: {
    recordPublished: 'a test helper of the in-memory broker, set in code',
    recordLimit: 'a test helper of the in-memory broker (how much of the record to keep), set in code',
  },
} as const satisfies {
  readonly common: Partial<Record<keyof MessageBrokerBaseOptions, string>>;
  readonly kafka: Partial<Record<keyof KafkaAdapterOptions, string>>;
  readonly rabbitmq: Partial<Record<keyof RabbitMQAdapterOptions, string>>;
  readonly memory: Partial<Record<keyof InMemoryMessageBrokerOptions, string>>;
};

/** The options of the `provider` adapter for `config`: the common keys plus its own section. */
export function adapterOptionsFor(provider: ProviderName, config: MsgportConfig): Record<string, unknown> {
  const context = { provider };
  const common = applyTable(COMMON_TABLE, config, context);
  switch (provider) {
    case 'kafka':
      return { ...applyTable(KAFKA_TABLE, config.kafka, context), ...common };
    case 'rabbitmq':
      return { ...applyTable(RABBITMQ_TABLE, config.rabbitmq, context), ...common };
    case 'memory':
      return common;
  }
}
