import { afterAll, describe, expect, it } from '@jest/globals';
import { ConfigurationError, isMessagingError, type MessageBrokerPort } from '@msgport/core';
import { InMemoryMessageBroker } from '@msgport/memory';
import { createBroker, loadConfig, type AdapterImporter, type AdapterModuleName } from '@msgport/autoconfig';
import { tempDir } from './temp-dir.js';

// Inside the workspace every adapter is linked, so "not installed" is simulated with an injected
// importer that fails the way Node's import() does.

/** A fake adapter: a real in-memory broker that remembers the options it was created with. */
function fakeAdapter(
  name: string,
): new (options: Record<string, unknown>) => MessageBrokerPort & { options: Record<string, unknown> } {
  return class extends InMemoryMessageBroker {
    static readonly adapter = name;
    readonly options: Record<string, unknown>;
    constructor(options: Record<string, unknown>) {
      super(options);
      this.options = options;
    }
  };
}

const FAKE_MODULES: Record<AdapterModuleName, Record<string, unknown>> = {
  '@msgport/kafka': { KafkaAdapter: fakeAdapter('kafka') },
  '@msgport/rabbitmq': { RabbitMQAdapter: fakeAdapter('rabbitmq') },
  '@msgport/memory': { InMemoryMessageBroker },
};

function notFound(name: string, code = 'ERR_MODULE_NOT_FOUND'): Error {
  return Object.assign(
    new Error(`Cannot find package '${name}' imported from /app/node_modules/@msgport/autoconfig/dist/create-broker.js`),
    {
      code,
    },
  );
}

/** An importer for which only `installed` exist; `broken` maps a package to the error importing it throws. */
function importer(installed: readonly AdapterModuleName[], broken: Partial<Record<AdapterModuleName, unknown>> = {}) {
  const attempts: AdapterModuleName[] = [];
  const load: AdapterImporter = async (name) => {
    attempts.push(name);
    if (name in broken) throw broken[name];
    if (!installed.includes(name)) throw notFound(name);
    return FAKE_MODULES[name];
  };
  return { load, attempts };
}

const empty = tempDir({});
afterAll(() => empty.cleanup());
const base = { cwd: empty.dir, env: {} };

async function rejection(promise: Promise<unknown>): Promise<ConfigurationError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConfigurationError);
  return error as ConfigurationError;
}

describe('provider: auto', () => {
  it('uses memory when nothing but memory is installed', async () => {
    const { load, attempts } = importer(['@msgport/memory']);
    const created = await createBroker({ ...base, importer: load });
    expect(created.provider).toBe('memory');
    expect(created.detected).toBe(true);
    expect(created.broker).toBeInstanceOf(InMemoryMessageBroker);
    expect(attempts).toEqual(['@msgport/kafka', '@msgport/rabbitmq', '@msgport/memory']);
  });

  it('uses kafka when kafka is installed, without looking further', async () => {
    const { load, attempts } = importer(['@msgport/kafka', '@msgport/rabbitmq', '@msgport/memory']);
    const created = await createBroker({ ...base, importer: load });
    expect(created.provider).toBe('kafka');
    expect((created.broker.constructor as unknown as { adapter: string }).adapter).toBe('kafka');
    expect(attempts).toEqual(['@msgport/kafka']);
  });

  it('uses rabbitmq when rabbitmq is installed but not kafka', async () => {
    const { load } = importer(['@msgport/rabbitmq', '@msgport/memory']);
    expect((await createBroker({ ...base, importer: load })).provider).toBe('rabbitmq');
  });

  it('treats the require() and Jest form of "module not found" as not installed too', async () => {
    const load: AdapterImporter = async (name) => {
      if (name === '@msgport/kafka')
        throw Object.assign(new Error(`Cannot find module '${name}'\nRequire stack: …`), { code: 'MODULE_NOT_FOUND' });
      if (name === '@msgport/rabbitmq')
        throw Object.assign(new Error(`Cannot find module "${name}" from 'src/x.ts'`), { code: 'MODULE_NOT_FOUND' });
      return FAKE_MODULES[name];
    };
    expect((await createBroker({ ...base, importer: load })).provider).toBe('memory');
  });

  it('rethrows a broken adapter error (a SyntaxError) instead of skipping the adapter', async () => {
    const syntax = new SyntaxError('Unexpected token }');
    const { load, attempts } = importer(['@msgport/memory'], { '@msgport/kafka': syntax });
    const error = await rejection(createBroker({ ...base, importer: load }));
    expect(error.code).toBe('PROVIDER_LOAD_FAILED');
    expect(error.cause).toBe(syntax);
    expect(error.message).toContain('@msgport/kafka is installed but could not be loaded: SyntaxError: Unexpected token }');
    expect(attempts).toEqual(['@msgport/kafka']);
  });

  it('rethrows "module not found" for a different package (a missing kafkajs), not skipping kafka', async () => {
    const missingClient = Object.assign(
      new Error("Cannot find package 'kafkajs' imported from /app/node_modules/@msgport/kafka/dist/kafka-adapter.js"),
      { code: 'ERR_MODULE_NOT_FOUND' },
    );
    const { load } = importer(['@msgport/memory'], { '@msgport/kafka': missingClient });
    const error = await rejection(createBroker({ ...base, importer: load }));
    expect(error.code).toBe('PROVIDER_LOAD_FAILED');
    expect(error.cause).toBe(missingClient);
    expect(error.message).toContain("Cannot find package 'kafkajs'");
  });

  it('rethrows "module not found" for a file inside the adapter (a broken install)', async () => {
    const missingFile = Object.assign(
      new Error("Cannot find module '/app/node_modules/@msgport/rabbitmq/dist/index.js' imported from /app/x.js"),
      { code: 'ERR_MODULE_NOT_FOUND' },
    );
    const { load } = importer(['@msgport/memory'], { '@msgport/rabbitmq': missingFile });
    expect((await rejection(createBroker({ ...base, importer: load }))).code).toBe('PROVIDER_LOAD_FAILED');
  });

  it('fails with PROVIDER_NOT_INSTALLED, listing what was tried, when no adapter is installed', async () => {
    const { load } = importer([]);
    const error = await rejection(createBroker({ ...base, importer: load }));
    expect(error.code).toBe('PROVIDER_NOT_INSTALLED');
    expect(error.message).toContain('tried @msgport/kafka, @msgport/rabbitmq, @msgport/memory');
    expect(error.message).toContain('npm install @msgport/memory');
  });
});

describe('a configured provider', () => {
  it('is used even when another adapter comes first in the detection order', async () => {
    const { load, attempts } = importer(['@msgport/kafka', '@msgport/rabbitmq', '@msgport/memory']);
    const created = await createBroker({ ...base, importer: load, config: { provider: 'rabbitmq' } });
    expect(created.provider).toBe('rabbitmq');
    expect(created.detected).toBe(false);
    expect(attempts).toEqual(['@msgport/rabbitmq']);
  });

  it('that is not installed fails with PROVIDER_NOT_INSTALLED and the install command', async () => {
    const { load } = importer(['@msgport/memory']);
    const error = await rejection(createBroker({ ...base, importer: load, config: { provider: 'kafka' } }));
    expect(error.code).toBe('PROVIDER_NOT_INSTALLED');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain('npm install @msgport/kafka');
  });

  it('that fails to load is rethrown with its cause', async () => {
    const boom = new TypeError('kafkajs exploded');
    const { load } = importer(['@msgport/memory'], { '@msgport/kafka': boom });
    const error = await rejection(createBroker({ ...base, importer: load, config: { provider: 'kafka' } }));
    expect(error.code).toBe('PROVIDER_LOAD_FAILED');
    expect(error.cause).toBe(boom);
  });

  it('whose package does not export the adapter class fails with PROVIDER_LOAD_FAILED', async () => {
    const load: AdapterImporter = async () => ({ SomethingElse: 1 });
    const error = await rejection(createBroker({ ...base, importer: load, config: { provider: 'kafka' } }));
    expect(error.code).toBe('PROVIDER_LOAD_FAILED');
    expect(error.message).toContain('does not export KafkaAdapter');
  });

  it('can come from the environment', async () => {
    const { load } = importer(['@msgport/kafka', '@msgport/memory']);
    const created = await createBroker({ cwd: empty.dir, env: { MSGPORT_MESSAGING_PROVIDER: 'memory' }, importer: load });
    expect(created.provider).toBe('memory');
  });
});

describe('adapter options', () => {
  const everything = tempDir({
    'msgport.yaml': `
msgport:
  messaging:
    shutdown-timeout-ms: 5000
    concurrency: 4
    retry:
      max-attempts: 5
      initial-delay-ms: 50
      multiplier: 3
      max-delay-ms: 2000
      jitter: 0.1
      dead-letter: false
    kafka:
      bootstrap-servers: kafka1:9092,kafka2:9093
      client-id: orders-app
      ssl: true
      sasl: { mechanism: scram-sha-256, username: app, password: pw }
      num-partitions: 6
      replication-factor: 3
      min-insync-replicas: 2
      from-beginning: true
      connection-timeout-ms: 3000
      partition-assigners: range, roundrobin
    rabbitmq:
      url: amqps://app:pw@rabbit:5671/
      exchange-name: events
      queue-type: classic
      prefetch: 20
      partitions: 8
      connection-timeout-ms: 4000
      publish-timeout-ms: 6000
`,
  });
  afterAll(() => everything.cleanup());
  const common = {
    retry: { maxAttempts: 5, initialDelayMs: 50, multiplier: 3, maxDelayMs: 2000, jitter: 0.1, deadLetter: false },
    shutdownTimeoutMs: 5000,
    concurrency: 4,
  };

  it('map every kafka key to KafkaAdapter options', async () => {
    const { load } = importer(['@msgport/kafka']);
    const { broker } = await createBroker({ cwd: everything.dir, env: {}, importer: load, config: { provider: 'kafka' } });
    expect((broker as unknown as { options: unknown }).options).toEqual({
      bootstrapServers: 'kafka1:9092,kafka2:9093',
      clientId: 'orders-app',
      ssl: true,
      sasl: { mechanism: 'scram-sha-256', username: 'app', password: 'pw' },
      numPartitions: 6,
      replicationFactor: 3,
      minInsyncReplicas: 2,
      fromBeginning: true,
      connectionTimeoutMs: 3000,
      partitionAssigners: ['range', 'roundrobin'],
      ...common,
    });
  });

  it('map every rabbitmq key to RabbitMQAdapter options', async () => {
    const { load } = importer(['@msgport/rabbitmq']);
    const { broker } = await createBroker({ cwd: everything.dir, env: {}, importer: load, config: { provider: 'rabbitmq' } });
    expect((broker as unknown as { options: unknown }).options).toEqual({
      url: 'amqps://app:pw@rabbit:5671/',
      exchangeName: 'events',
      queueType: 'classic',
      prefetch: 20,
      partitions: 8,
      connectionTimeoutMs: 4000,
      publishTimeoutMs: 6000,
      ...common,
    });
  });

  it("hand a list of RabbitMQ URLs (a cluster's nodes) to the adapter as written", async () => {
    const { load } = importer(['@msgport/rabbitmq']);
    const urls = ['amqp://app:pw@rabbit1:5672/', 'amqp://app:pw@rabbit2:5672/'];
    const list = await createBroker({ ...base, importer: load, config: { provider: 'rabbitmq', rabbitmq: { url: urls } } });
    expect((list.broker as unknown as { options: { url: unknown } }).options.url).toEqual(urls);
    const env = { MSGPORT_MESSAGING_RABBITMQ_URL: urls.join(',') };
    const joined = await createBroker({ ...base, env, importer: load, config: { provider: 'rabbitmq' } });
    expect((joined.broker as unknown as { options: { url: unknown } }).options.url).toBe(urls.join(','));
  });

  it('omit every unset option, so the adapter defaults apply', async () => {
    const { load } = importer(['@msgport/kafka', '@msgport/rabbitmq']);
    const kafka = await createBroker({ ...base, importer: load, config: { provider: 'kafka' } });
    expect((kafka.broker as unknown as { options: unknown }).options).toEqual({ bootstrapServers: 'localhost:9092' });
    const rabbitmq = await createBroker({ ...base, importer: load, config: { provider: 'rabbitmq' } });
    expect((rabbitmq.broker as unknown as { options: unknown }).options).toEqual({
      url: 'amqp://guest:guest@localhost/',
      exchangeName: 'msgport',
    });
  });

  it('pass a logger given in code, or one at log-level', async () => {
    const { load } = importer(['@msgport/kafka']);
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const withLogger = await createBroker({ ...base, importer: load, logger });
    expect((withLogger.broker as unknown as { options: { logger: unknown } }).options.logger).toBe(logger);
    const withLevel = await createBroker({ ...base, importer: load, config: { 'log-level': 'silent' } });
    expect(typeof (withLevel.broker as unknown as { options: { logger: { info: unknown } } }).options.logger.info).toBe(
      'function',
    );
  });
});

describe('createBroker()', () => {
  it('loads the real in-memory adapter with the default importer', async () => {
    const created = await createBroker({ ...base, config: { provider: 'memory' } });
    expect(created.broker).toBeInstanceOf(InMemoryMessageBroker);
    await created.broker.start();
    await created.broker.stop();
  });

  it('returns the config and the file it was read from', async () => {
    const made = tempDir({ 'msgport.yaml': 'msgport:\n  messaging:\n    provider: memory\n' });
    try {
      const created = await createBroker({ cwd: made.dir, env: {} });
      expect(created.configFile).toBe(made.path('msgport.yaml'));
      expect(created.config.provider).toBe('memory');
    } finally {
      made.cleanup();
    }
  });

  it('uses a config returned by loadConfig() as is, without reading the file again', async () => {
    const made = tempDir({ 'msgport.yaml': 'msgport:\n  messaging:\n    provider: memory\n    concurrency: 2\n' });
    try {
      const config = loadConfig({ cwd: made.dir, env: {} });
      made.cleanup();
      const created = await createBroker({ config, env: { MSGPORT_MESSAGING_PROVIDER: 'kafka' } });
      expect(created.config).toBe(config);
      expect(created.provider).toBe('memory');
      expect(created.configFile).toBe(made.path('msgport.yaml'));
    } finally {
      made.cleanup();
    }
  });

  it('lets configuration errors through as ConfigurationError', async () => {
    const error = await rejection(createBroker({ ...base, config: { provider: 'nats' as never } }));
    expect(isMessagingError(error)).toBe(true);
    expect(error.code).toBe('INVALID_CONFIG');
  });
});
