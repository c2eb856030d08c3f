import { afterAll, describe, expect, it } from '@jest/globals';
import { ConfigurationError, isMessagingError } from '@msgport/core';
import { loadConfig } from '@msgport/autoconfig';
import { tempDir, thrown } from './temp-dir.js';

const dirs: Array<ReturnType<typeof tempDir>> = [];
afterAll(() => dirs.forEach((dir) => dir.cleanup()));

/** Loads `yaml` as msgport.yaml and returns the ConfigurationError it causes, with the file path. */
function failWith(yaml: string, env: Record<string, string> = {}): { error: ConfigurationError; file: string } {
  const made = tempDir({ 'msgport.yaml': yaml });
  dirs.push(made);
  const error = thrown(() => loadConfig({ cwd: made.dir, env }));
  expect(error).toBeInstanceOf(ConfigurationError);
  return { error: error as ConfigurationError, file: made.path('msgport.yaml') };
}

const messaging = (body: string): string => `msgport:\n  messaging:\n${body.replace(/^/gm, '    ')}\n`;

describe('invalid configuration', () => {
  it('is a ConfigurationError (a MessagingError) with code INVALID_CONFIG, not retriable', () => {
    const { error } = failWith(messaging('provider: nats'));
    expect(isMessagingError(error)).toBe(true);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.retriable).toBe(false);
  });

  it('names an unknown key by its path, with a suggestion and the expected keys', () => {
    const { error, file } = failWith(messaging('kafka:\n  bootstrap-server: localhost:9092'));
    expect(error.issues).toEqual([
      'msgport.messaging.kafka.bootstrap-server: unknown key, did you mean "bootstrap-servers"? Expected one of: ' +
        `bootstrap-servers, client-id, ssl, sasl, num-partitions, replication-factor, min-insync-replicas, from-beginning, connection-timeout-ms, publish-timeout-ms, partition-assigners, request-timeout-ms, session-timeout-ms, heartbeat-interval-ms, rebalance-timeout-ms, fetch-max-wait-ms, max-batch-size, max-batch-bytes, linger-ms (in ${file})`,
    ]);
  });

  it('suggests the kebab-case spelling of a camelCase key', () => {
    const { error } = failWith(messaging('rabbitmq:\n  exchangeName: orders'));
    expect(error.issues[0]).toMatch(/^msgport\.messaging\.rabbitmq\.exchangeName: unknown key, did you mean "exchange-name"\?/);
  });

  it('rejects unknown top-level keys, and says where a misplaced section belongs', () => {
    const { error, file } = failWith('messaging:\n  provider: memory\nmsgport:\n  kafka:\n    ssl: true\n');
    expect(error.issues).toEqual([
      `messaging: unknown key, did you mean "msgport.messaging"? Put it under msgport:. Expected one of: msgport (in ${file})`,
      `msgport.kafka: unknown key, did you mean "msgport.messaging.kafka"? Put it under messaging:. Expected one of: messaging (in ${file})`,
    ]);
  });

  it('names a wrong type with what was expected and what was found', () => {
    const { error, file } = failWith(messaging('concurrency: "4"\nkafka:\n  ssl: yes\nretry: 3'));
    expect(error.issues).toEqual([
      `msgport.messaging.concurrency: expected a number, got a string (in ${file})`,
      `msgport.messaging.retry: expected a mapping of keys, got a number (in ${file})`,
      `msgport.messaging.kafka.ssl: expected a boolean (true or false), got a string (in ${file})`,
    ]);
  });

  it('rejects a fractional number where an integer is expected', () => {
    const { error } = failWith(messaging('concurrency: 1.5'));
    expect(error.issues[0]).toMatch(/^msgport\.messaging\.concurrency: expected an integer, got a number/);
  });

  it('names a bad enum value with the allowed values and a suggestion', () => {
    const { error, file } = failWith(messaging('provider: rabit\nlog-level: verbose'));
    expect(error.issues).toEqual([
      `msgport.messaging.provider: expected one of auto, memory, kafka, rabbitmq, got "rabit"; did you mean "rabbitmq"? (in ${file})`,
      `msgport.messaging.log-level: expected one of debug, info, warn, error, silent, got "verbose" (in ${file})`,
    ]);
  });

  it('rejects numbers out of range', () => {
    const { error } = failWith(messaging('retry:\n  max-attempts: 0\n  jitter: 1.5\n  multiplier: 0.5'));
    expect(error.issues).toEqual([
      expect.stringMatching(/^msgport\.messaging\.retry\.max-attempts: expected a number >= 1, got 0 /),
      expect.stringMatching(/^msgport\.messaging\.retry\.multiplier: expected a number >= 1, got 0\.5 /),
      expect.stringMatching(/^msgport\.messaging\.retry\.jitter: expected a number <= 1, got 1\.5 /),
    ]);
  });

  it('rejects a RabbitMQ URL that is not amqp:// or amqps://', () => {
    const http = failWith(messaging('rabbitmq:\n  url: http://guest:guest@localhost/'));
    expect(http.error.issues).toEqual([
      `msgport.messaging.rabbitmq.url: expected an amqp:// or amqps:// URL such as amqp://guest:guest@localhost/, got a http:// URL (in ${http.file})`,
    ]);
    const garbage = failWith(messaging('rabbitmq:\n  url: localhost'));
    expect(garbage.error.issues[0]).toMatch(
      /^msgport\.messaging\.rabbitmq\.url: expected an amqp:\/\/ or amqps:\/\/ URL .*could not be parsed/,
    );
  });

  it('rejects bootstrap servers that are not a host:port list, quoting the bad entries', () => {
    const { error, file } = failWith(messaging('kafka:\n  bootstrap-servers: "kafka1:9092,kafka2,kafka3:70000"'));
    expect(error.issues).toEqual([
      'msgport.messaging.kafka.bootstrap-servers: expected a comma-separated list of host:port (e.g. localhost:9092 or ' +
        `kafka1:9092,kafka2:9092), got "kafka2", "kafka3:70000" (in ${file})`,
    ]);
  });

  it('rejects kafka.min-insync-replicas above kafka.replication-factor, saying what to change', () => {
    const { error, file } = failWith(messaging('kafka:\n  replication-factor: 2\n  min-insync-replicas: 3'));
    expect(error.issues).toEqual([
      'msgport.messaging.kafka.min-insync-replicas: must not exceed replication-factor (2): a topic with fewer replicas than must ' +
        `be in sync refuses every publish. Raise replication-factor (3 with min-insync-replicas 2 is usual) (in ${file})`,
    ]);
    const unset = failWith(messaging('kafka:\n  min-insync-replicas: 2'));
    expect(unset.error.issues[0]).toMatch(
      /^msgport\.messaging\.kafka\.min-insync-replicas: must not exceed replication-factor \(1, the default\)/,
    );
  });

  it('accepts IPv4, IPv6 and host names with ports, with spaces after commas', () => {
    const made = tempDir({
      'msgport.yaml': messaging('kafka:\n  bootstrap-servers: "10.0.0.1:9092, [::1]:9093, kafka-0.kafka.svc:9094"'),
    });
    dirs.push(made);
    expect(loadConfig({ cwd: made.dir, env: {} }).kafka['bootstrap-servers']).toBe(
      '10.0.0.1:9092, [::1]:9093, kafka-0.kafka.svc:9094',
    );
  });

  it('requires every key of a sasl section', () => {
    const { error } = failWith(messaging('kafka:\n  sasl:\n    mechanism: plain\n    username: app'));
    expect(error.issues).toEqual([
      expect.stringMatching(/^msgport\.messaging\.kafka\.sasl\.password: required, expected a string/),
    ]);
  });

  it('reports a YAML syntax error with the file, line and column', () => {
    const { error, file } = failWith('msgport:\n  messaging:\n    provider: memory\n   kafka: {\n');
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/YAML syntax error at line 4, column \d+/);
    expect(error.issues).toEqual([expect.stringMatching(new RegExp(`^${escape(file)}:4:\\d+: `))]);
  });

  it('rejects a file that is not a mapping, or holds several documents', () => {
    expect(failWith('- provider: memory\n').error.issues[0]).toMatch(
      /expected a mapping with a "msgport:" section at the top, got a list/,
    );
    expect(failWith('msgport: {}\n---\nmsgport: {}\n').error.issues[0]).toMatch(/expected one YAML document, found 2/);
  });

  it('lists every issue at once, from the file and the environment', () => {
    const { error, file } = failWith(
      messaging(`provider: kafak
concurrency: -1
kafka:
  bootstrap-servers: nohost
  sasl:
    mechanism: gssapi
    username: app
    password: pw
rabbitmq:
  url: ftp://x
  prefetch: many
unknown-key: 1`),
      { MSGPORT_MESSAGING_RETRY_JITTER: 'lots' },
    );
    expect(error.issues).toHaveLength(8);
    expect(error.message).toMatch(/^Invalid msgport configuration \(8 problems\):\n/);
    for (const issue of error.issues) expect(error.message).toContain(`  - ${issue}`);
    const paths = error.issues.map((issue) => issue.split(':')[0]);
    expect(paths.sort()).toEqual(
      [
        'msgport.messaging.provider',
        'msgport.messaging.concurrency',
        'msgport.messaging.retry.jitter',
        'msgport.messaging.kafka.bootstrap-servers',
        'msgport.messaging.kafka.sasl.mechanism',
        'msgport.messaging.rabbitmq.url',
        'msgport.messaging.rabbitmq.prefetch',
        'msgport.messaging.unknown-key',
      ].sort(),
    );
    expect(error.issues.find((issue) => issue.startsWith('msgport.messaging.provider'))).toContain('did you mean "kafka"?');
    expect(error.issues.find((issue) => issue.startsWith('msgport.messaging.retry.jitter'))).toContain(
      '(from MSGPORT_MESSAGING_RETRY_JITTER)',
    );
    expect(error.issues.find((issue) => issue.startsWith('msgport.messaging.concurrency'))).toContain(`(in ${file})`);
  });
});

describe('credentials in errors', () => {
  const SECRET = 'Sup3r-S3cret-Pa55';

  it('never echo a password: not from a bad URL, a wrong type or a misplaced key', () => {
    const yaml = messaging(`kafka:
  sasl:
    mechanism: plain
    username: app
    password: [${SECRET}]
  password: ${SECRET}
rabbitmq:
  url: http://app:${SECRET}@rabbit/
`);
    const { error } = failWith(yaml);
    expect(error.issues.length).toBe(3);
    expect(error.message).not.toContain(SECRET);
    expect(error.issues.join('\n')).not.toContain(SECRET);
  });

  it('never echo a password that is a number or an unparsable URL', () => {
    const { error } = failWith(
      messaging(
        'kafka:\n  sasl:\n    mechanism: plain\n    username: app\n    password: 8675309\nrabbitmq:\n  url: "amqp://app:8675309@"',
      ),
    );
    expect(error.message).not.toContain('8675309');
  });

  it('never echo a password from the environment', () => {
    const made = tempDir({});
    dirs.push(made);
    const error = thrown(() =>
      loadConfig({ cwd: made.dir, env: { MSGPORT_MESSAGING_RABBITMQ_URL: `https://app:${SECRET}@rabbit/` } }),
    ) as ConfigurationError;
    expect(error.issues[0]).toMatch(/\(from MSGPORT_MESSAGING_RABBITMQ_URL\)$/);
    expect(error.message).not.toContain(SECRET);
  });

  it('never echo the source line of a YAML syntax error, which may hold a password', () => {
    const { error } = failWith(`msgport:\n  messaging:\n    rabbitmq:\n      url: "amqp://app:${SECRET}@rabbit/\n    kafka: [\n`);
    expect(error.message).not.toContain(SECRET);
    expect(error.cause).toBeUndefined();
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
