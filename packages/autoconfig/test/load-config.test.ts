import { afterEach, describe, expect, it } from '@jest/globals';
import { ConfigurationError } from '@msgport/core';
import { loadConfig } from '@msgport/autoconfig';
import { tempDir, thrown } from './temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function dirWith(files: Record<string, string>): ReturnType<typeof tempDir> {
  const made = tempDir(files);
  cleanups.push(made.cleanup);
  return made;
}

const FULL = `
msgport:
  messaging:
    provider: kafka
    shutdown-timeout-ms: 5000
    concurrency: 4
    log-level: info
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
      sasl:
        mechanism: scram-sha-512
        username: app
        password: s3cret
      num-partitions: 6
      replication-factor: 3
      min-insync-replicas: 2
      from-beginning: true
      connection-timeout-ms: 3000
    rabbitmq:
      url: amqps://app:pw@rabbit.example.com:5671/prod
      exchange-name: events
      prefetch: 20
      connection-timeout-ms: 4000
      publish-timeout-ms: 6000
`;

describe('loadConfig()', () => {
  it('returns the defaults when there is no config file', () => {
    const { dir } = dirWith({});
    expect(loadConfig({ cwd: dir, env: {} })).toEqual({
      provider: 'auto',
      kafka: { 'bootstrap-servers': 'localhost:9092' },
      rabbitmq: { url: 'amqp://guest:guest@localhost/', 'exchange-name': 'msgport' },
    });
  });

  it('reads every key of msgport.yaml in the working directory', () => {
    const { dir } = dirWith({ 'msgport.yaml': FULL });
    const config = loadConfig({ cwd: dir, env: {} });
    expect(config).toEqual({
      provider: 'kafka',
      'shutdown-timeout-ms': 5000,
      concurrency: 4,
      'log-level': 'info',
      retry: {
        'max-attempts': 5,
        'initial-delay-ms': 50,
        multiplier: 3,
        'max-delay-ms': 2000,
        jitter: 0.1,
        'dead-letter': false,
      },
      kafka: {
        'bootstrap-servers': 'kafka1:9092,kafka2:9093',
        'client-id': 'orders-app',
        ssl: true,
        sasl: { mechanism: 'scram-sha-512', username: 'app', password: 's3cret' },
        'num-partitions': 6,
        'replication-factor': 3,
        'min-insync-replicas': 2,
        'from-beginning': true,
        'connection-timeout-ms': 3000,
      },
      rabbitmq: {
        url: 'amqps://app:pw@rabbit.example.com:5671/prod',
        'exchange-name': 'events',
        prefetch: 20,
        'connection-timeout-ms': 4000,
        'publish-timeout-ms': 6000,
      },
    });
  });

  it('returns a deeply frozen config', () => {
    const { dir } = dirWith({ 'msgport.yaml': FULL });
    const config = loadConfig({ cwd: dir, env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.kafka.sasl)).toBe(true);
  });

  it('reads msgport.yml too', () => {
    const { dir } = dirWith({ 'msgport.yml': 'msgport:\n  messaging:\n    provider: memory\n' });
    expect(loadConfig({ cwd: dir, env: {} }).provider).toBe('memory');
  });

  it('refuses to choose between msgport.yaml and msgport.yml', () => {
    const { dir } = dirWith({ 'msgport.yaml': '', 'msgport.yml': '' });
    const error = thrown(() => loadConfig({ cwd: dir, env: {} }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).message).toMatch(/both msgport\.yaml and msgport\.yml/);
  });

  it('treats an empty file, or empty sections, as unset', () => {
    const { dir } = dirWith({ 'msgport.yaml': '# nothing yet\n' });
    expect(loadConfig({ cwd: dir, env: {} }).provider).toBe('auto');
    const other = dirWith({ 'msgport.yaml': 'msgport:\n  messaging:\n    provider: memory\n    kafka:\n    retry:\n' });
    expect(loadConfig({ cwd: other.dir, env: {} })).toMatchObject({
      provider: 'memory',
      kafka: { 'bootstrap-servers': 'localhost:9092' },
    });
  });

  it('reads the file named by MSGPORT_CONFIG, relative to the working directory', () => {
    const { dir } = dirWith({
      'msgport.yaml': 'msgport:\n  messaging:\n    provider: kafka\n',
      'config/staging.yaml': 'msgport:\n  messaging:\n    provider: rabbitmq\n',
    });
    expect(loadConfig({ cwd: dir, env: { MSGPORT_CONFIG: 'config/staging.yaml' } }).provider).toBe('rabbitmq');
  });

  it('reads a path passed in code, which wins over MSGPORT_CONFIG', () => {
    const { dir, path } = dirWith({
      'a.yaml': 'msgport:\n  messaging:\n    provider: rabbitmq\n',
      'b.yaml': 'msgport:\n  messaging:\n    provider: memory\n',
    });
    expect(loadConfig({ cwd: dir, env: {}, path: path('b.yaml') }).provider).toBe('memory');
    expect(loadConfig({ cwd: dir, env: { MSGPORT_CONFIG: 'a.yaml' }, path: 'b.yaml' }).provider).toBe('memory');
  });

  it('fails with CONFIG_FILE_NOT_FOUND when a named file is missing', () => {
    const { dir } = dirWith({});
    const byEnv = thrown(() => loadConfig({ cwd: dir, env: { MSGPORT_CONFIG: 'missing.yaml' } })) as ConfigurationError;
    expect(byEnv).toBeInstanceOf(ConfigurationError);
    expect(byEnv.code).toBe('CONFIG_FILE_NOT_FOUND');
    expect(byEnv.message).toContain('missing.yaml');
    expect(byEnv.message).toContain('MSGPORT_CONFIG');
    const inCode = thrown(() => loadConfig({ cwd: dir, env: {}, path: 'nope.yaml' })) as ConfigurationError;
    expect(inCode.code).toBe('CONFIG_FILE_NOT_FOUND');
    expect(inCode.message).toContain('passed in code');
  });

  it('reads a PyFly pyfly.yaml as is, ignoring its other sections', () => {
    const { dir } = dirWith({
      'pyfly.yaml': `
pyfly:
  app:
    name: order-service
  data:
    url: postgresql://localhost/orders
  messaging:
    provider: rabbitmq
    rabbitmq:
      url: amqp://guest:guest@rabbit:5672/
      exchange-name: pyfly
logging:
  level: INFO
`,
    });
    expect(loadConfig({ cwd: dir, env: {} })).toMatchObject({
      provider: 'rabbitmq',
      rabbitmq: { url: 'amqp://guest:guest@rabbit:5672/', 'exchange-name': 'pyfly' },
    });
  });

  it("takes PyFly's defaults for a pyfly.yaml: exchange pyfly, as every PyFly service publishes to", () => {
    const { dir } = dirWith({ 'pyfly.yaml': 'pyfly:\n  messaging:\n    provider: rabbitmq\n' });
    expect(loadConfig({ cwd: dir, env: {} }).rabbitmq['exchange-name']).toBe('pyfly');
    // An msgport.yaml keeps msgport's own default; the environment still overrides a PyFly default.
    const { dir: own } = dirWith({ 'msgport.yaml': 'msgport:\n  messaging:\n    provider: rabbitmq\n' });
    expect(loadConfig({ cwd: own, env: {} }).rabbitmq['exchange-name']).toBe('msgport');
    const env = { MSGPORT_MESSAGING_RABBITMQ_EXCHANGE_NAME: 'events' };
    expect(loadConfig({ cwd: dir, env }).rabbitmq['exchange-name']).toBe('events');
  });

  it('prefers msgport.yaml over pyfly.yaml', () => {
    const { dir } = dirWith({
      'msgport.yaml': 'msgport:\n  messaging:\n    provider: memory\n',
      'pyfly.yaml': 'pyfly:\n  messaging:\n    provider: kafka\n',
    });
    expect(loadConfig({ cwd: dir, env: {} }).provider).toBe('memory');
  });

  it('recognises a PyFly file by its content whatever its name', () => {
    const { dir } = dirWith({ 'app-config.yaml': 'pyfly:\n  messaging:\n    provider: kafka\n' });
    expect(loadConfig({ cwd: dir, env: { MSGPORT_CONFIG: 'app-config.yaml' } }).provider).toBe('kafka');
  });

  it('reports problems in a PyFly file under pyfly.messaging', () => {
    const { dir } = dirWith({ 'pyfly.yaml': 'pyfly:\n  messaging:\n    provider: activemq\n' });
    const error = thrown(() => loadConfig({ cwd: dir, env: {} })) as ConfigurationError;
    expect(error.issues).toEqual([
      `pyfly.messaging.provider: expected one of auto, memory, kafka, rabbitmq, got "activemq" (in ${dir}/pyfly.yaml)`,
    ]);
  });
});

describe('environment overrides', () => {
  it('apply the documented variables', () => {
    const { dir } = dirWith({});
    const config = loadConfig({
      cwd: dir,
      env: {
        MSGPORT_MESSAGING_PROVIDER: 'rabbitmq',
        MSGPORT_MESSAGING_KAFKA_BOOTSTRAP_SERVERS: 'k1:9092,k2:9092',
        MSGPORT_MESSAGING_RABBITMQ_URL: 'amqp://user:pw@mq:5672/',
        MSGPORT_MESSAGING_RABBITMQ_EXCHANGE_NAME: 'orders-exchange',
      },
    });
    expect(config).toMatchObject({
      provider: 'rabbitmq',
      kafka: { 'bootstrap-servers': 'k1:9092,k2:9092' },
      rabbitmq: { url: 'amqp://user:pw@mq:5672/', 'exchange-name': 'orders-exchange' },
    });
  });

  it('exist for every scalar key, with numbers and booleans converted', () => {
    const { dir } = dirWith({});
    const config = loadConfig({
      cwd: dir,
      env: {
        MSGPORT_MESSAGING_SHUTDOWN_TIMEOUT_MS: '1500',
        MSGPORT_MESSAGING_CONCURRENCY: '8',
        MSGPORT_MESSAGING_LOG_LEVEL: 'debug',
        MSGPORT_MESSAGING_RETRY_MAX_ATTEMPTS: '7',
        MSGPORT_MESSAGING_RETRY_JITTER: '0.5',
        MSGPORT_MESSAGING_RETRY_DEAD_LETTER: 'FALSE',
        MSGPORT_MESSAGING_KAFKA_SSL: 'true',
        MSGPORT_MESSAGING_KAFKA_SASL_MECHANISM: 'plain',
        MSGPORT_MESSAGING_KAFKA_SASL_USERNAME: 'u',
        MSGPORT_MESSAGING_KAFKA_SASL_PASSWORD: 'p',
        MSGPORT_MESSAGING_KAFKA_FROM_BEGINNING: '1',
        MSGPORT_MESSAGING_RABBITMQ_PREFETCH: '50',
      },
    });
    expect(config).toMatchObject({
      'shutdown-timeout-ms': 1500,
      concurrency: 8,
      'log-level': 'debug',
      retry: { 'max-attempts': 7, jitter: 0.5, 'dead-letter': false },
      kafka: { ssl: true, sasl: { mechanism: 'plain', username: 'u', password: 'p' }, 'from-beginning': true },
      rabbitmq: { prefetch: 50 },
    });
  });

  it('take rabbitmq.legacy-queues as JSON, and report JSON that is not a list of legacy queues by its key', () => {
    const { dir } = dirWith({});
    const queues = [{ topic: 'orders', group: 'billing', queue: 'billing', phase: 'switch', 'delete-when-drained': true }];
    const config = loadConfig({ cwd: dir, env: { MSGPORT_MESSAGING_RABBITMQ_LEGACY_QUEUES: JSON.stringify(queues) } });
    expect(config.rabbitmq['legacy-queues']).toEqual(queues);
    for (const value of ['[{"topic": "orders"', '[{"topic":"orders","group":"billing","queue":"billing","phase":"later"}]']) {
      const error = thrown(() => loadConfig({ cwd: dir, env: { MSGPORT_MESSAGING_RABBITMQ_LEGACY_QUEUES: value } }));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain('rabbitmq.legacy-queues');
    }
  });

  it('take a list of RabbitMQ URLs comma-separated, and queue-type as one of its values', () => {
    const { dir } = dirWith({});
    const config = loadConfig({
      cwd: dir,
      env: {
        MSGPORT_MESSAGING_RABBITMQ_URL: 'amqp://u:p@rabbit1:5672/, amqp://u:p@rabbit2:5672/',
        MSGPORT_MESSAGING_RABBITMQ_QUEUE_TYPE: 'classic',
      },
    });
    expect(config.rabbitmq).toMatchObject({ url: 'amqp://u:p@rabbit1:5672/, amqp://u:p@rabbit2:5672/', 'queue-type': 'classic' });
    const wrong = thrown(() =>
      loadConfig({ cwd: dir, env: { MSGPORT_MESSAGING_RABBITMQ_QUEUE_TYPE: 'mirrored' } }),
    ) as ConfigurationError;
    expect(wrong.issues).toEqual([
      'msgport.messaging.rabbitmq.queue-type: expected one of quorum, classic, got "mirrored" (from MSGPORT_MESSAGING_RABBITMQ_QUEUE_TYPE)',
    ]);
  });

  it('check every URL of a RabbitMQ list, without quoting any', () => {
    const { dir } = dirWith({
      'msgport.yaml':
        'msgport:\n  messaging:\n    rabbitmq:\n      url:\n        - amqp://u:secret1@rabbit1/\n        - http://u:secret2@rabbit2/\n',
    });
    const error = thrown(() => loadConfig({ cwd: dir, env: {} })) as ConfigurationError;
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(
      /^msgport\.messaging\.rabbitmq\.url(\.1)?: expected an amqp:\/\/ or amqps:\/\/ URL .*got a http:\/\/ URL/,
    );
    expect(error.message).not.toMatch(/secret/);
    const listed = loadConfig({
      cwd: dirWith({ 'msgport.yaml': 'msgport:\n  messaging:\n    rabbitmq:\n      url: [amqp://a/, amqp://b/]\n' }).dir,
      env: {},
    });
    expect(listed.rabbitmq.url).toEqual(['amqp://a/', 'amqp://b/']);
  });

  it('ignore empty values and unrelated variables', () => {
    const { dir } = dirWith({});
    const config = loadConfig({ cwd: dir, env: { MSGPORT_MESSAGING_PROVIDER: '', PATH: '/usr/bin', MSGPORT_OTHER: 'x' } });
    expect(config.provider).toBe('auto');
  });

  it('are validated like the file, naming the variable', () => {
    const { dir } = dirWith({});
    const error = thrown(() =>
      loadConfig({ cwd: dir, env: { MSGPORT_MESSAGING_CONCURRENCY: 'many', MSGPORT_MESSAGING_KAFKA_SSL: 'yes' } }),
    ) as ConfigurationError;
    expect(error.issues).toEqual([
      'msgport.messaging.concurrency: expected a number, got a string (from MSGPORT_MESSAGING_CONCURRENCY)',
      'msgport.messaging.kafka.ssl: expected a boolean (true or false), got a string (from MSGPORT_MESSAGING_KAFKA_SSL)',
    ]);
  });

  it('reject an unknown MSGPORT_MESSAGING_ variable, suggesting the right one', () => {
    const { dir } = dirWith({});
    const error = thrown(() =>
      loadConfig({ cwd: dir, env: { MSGPORT_MESSAGING_KAFKA_BOOTSTRAP_SERVER: 'k:9092' } }),
    ) as ConfigurationError;
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(
      /^MSGPORT_MESSAGING_KAFKA_BOOTSTRAP_SERVER: unknown environment variable, did you mean MSGPORT_MESSAGING_KAFKA_BOOTSTRAP_SERVERS\?/,
    );
  });
});

describe('precedence', () => {
  it('is options in code > environment > file > defaults', () => {
    const { dir } = dirWith({
      'msgport.yaml': `
msgport:
  messaging:
    provider: kafka
    concurrency: 2
    shutdown-timeout-ms: 1000
    rabbitmq:
      exchange-name: from-file
`,
    });
    const env = {
      MSGPORT_MESSAGING_PROVIDER: 'rabbitmq',
      MSGPORT_MESSAGING_CONCURRENCY: '3',
    };
    const config = loadConfig({ cwd: dir, env, overrides: { provider: 'memory' } });
    expect(config.provider).toBe('memory'); // code over env over file
    expect(config.concurrency).toBe(3); // env over file
    expect(config['shutdown-timeout-ms']).toBe(1000); // file over defaults
    expect(config.rabbitmq['exchange-name']).toBe('from-file'); // file over default
    expect(config.rabbitmq.url).toBe('amqp://guest:guest@localhost/'); // default
  });

  it('merges nested sections key by key', () => {
    const { dir } = dirWith({
      'msgport.yaml': 'msgport:\n  messaging:\n    retry:\n      max-attempts: 5\n      initial-delay-ms: 10\n',
    });
    const config = loadConfig({
      cwd: dir,
      env: { MSGPORT_MESSAGING_RETRY_INITIAL_DELAY_MS: '20' },
      overrides: { retry: { jitter: 0 } },
    });
    expect(config.retry).toEqual({ 'max-attempts': 5, 'initial-delay-ms': 20, jitter: 0 });
  });

  it('validates options in code too, naming them as the source', () => {
    const { dir } = dirWith({});
    const error = thrown(() => loadConfig({ cwd: dir, env: {}, overrides: { concurrency: 0 } })) as ConfigurationError;
    expect(error.issues).toEqual(['msgport.messaging.concurrency: expected a number >= 1, got 0 (in options)']);
  });
});

describe('a section set only partly', () => {
  it('names the missing keys, and where the section came from', () => {
    const { dir } = dirWith({});
    const error = thrown(() =>
      loadConfig({ cwd: dir, env: { MSGPORT_MESSAGING_KAFKA_SASL_PASSWORD: 'pw' } }),
    ) as ConfigurationError;
    expect(error.issues).toEqual([
      'msgport.messaging.kafka.sasl.mechanism: required, expected one of plain, scram-sha-256, scram-sha-512 (from MSGPORT_MESSAGING_KAFKA_SASL_PASSWORD)',
      'msgport.messaging.kafka.sasl.username: required, expected a string (from MSGPORT_MESSAGING_KAFKA_SASL_PASSWORD)',
    ]);
  });

  it('is completed by the other layers', () => {
    const { dir } = dirWith({
      'msgport.yaml': 'msgport:\n  messaging:\n    kafka:\n      sasl:\n        mechanism: plain\n        username: app\n',
    });
    const config = loadConfig({ cwd: dir, env: { MSGPORT_MESSAGING_KAFKA_SASL_PASSWORD: 'pw' } });
    expect(config.kafka.sasl).toEqual({ mechanism: 'plain', username: 'app', password: 'pw' });
  });
});
