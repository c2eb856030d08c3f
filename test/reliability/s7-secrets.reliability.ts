import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { AppProcess, killAllApps } from './support/app-process.js';
import {
  closeConnectionsOf,
  deleteKafkaResources,
  deleteRabbitTopology,
  rabbitmqctl,
  requireKafka,
  requireRabbit,
  unique,
} from './support/brokers.js';
import { recordFigures } from './support/figures.js';
import { rabbitPartitionQueues } from './support/scenario.js';
import { KAFKA_BROKERS, RABBITMQ_URL } from './support/paths.js';
import { PrivateKafka } from './support/private-kafka.js';

// Scenario 7: secrets. Passwords in the RabbitMQ URL and in Kafka SASL settings appear in no error
// message, log line (a capturing logger injected into the adapters, AND everything the
// application process writes on stdout and stderr, including errors printed with their causes),
// health detail, or printed configuration (autoconfig's formatConfig / redactConfig). Kafka is
// checked against a private broker with a SASL listener (started, killed and restarted by this
// file; the shared broker is not touched) and against the plaintext listener. Every
// password contains a random token, and the whole output is searched for that token, so a
// password leaked whole, URL-encoded or decoded is found.

/** Lines of `text` that contain `token`, for the failure message. */
function leaks(text: string, token: string): string[] {
  return text.split('\n').filter((line) => line.includes(token));
}

/**
 * Searches everything `app` wrote for `token` and records the scenario's figures (before the
 * assertions, so that a failure still shows them). Returns the whole output and the leaking lines.
 */
function recordLeaks(
  app: AppProcess,
  row: { scenario: string; broker: 'rabbitmq' | 'kafka'; began: number; token: string; setting?: string },
): { output: string; found: string[] } {
  const output = app.output.join('');
  const found = leaks(output, row.token);
  const logs = app.events.find((event) => event.e === 'logs');
  const logLines = Array.isArray(logs?.['lines']) ? (logs['lines'] as unknown[]).length : 0;
  recordFigures({
    scenario: row.scenario,
    broker: row.broker,
    sent: null,
    confirmed: null,
    received: null,
    lost: null,
    duplicates: null,
    recoverMs: null,
    durationMs: Date.now() - row.began,
    notes:
      `${app.count('error')} errors (printed with causes), ${logLines} captured log lines, ${app.count('health')} health reports, ` +
      `${app.count('config')} printed configurations, ${output.length} bytes of process output: ${found.length} line(s) with the password` +
      (row.setting === undefined ? '' : ` (${row.setting})`),
  });
  return { output, found };
}

describe('rabbitmq: secrets', () => {
  const token = `Zq7S3CR3T${randomBytes(4).toString('hex')}`;
  // Characters that must be percent-encoded in a URL, so the encoded and decoded forms differ.
  const password = `p@ss:w/rd#${token}`;
  const wrongPassword = `WRONG-${token}`;
  const user = unique('rel-secret');
  const exchange = unique('msgport-rel');
  const topic = unique('rel-secret');
  const url = new URL(RABBITMQ_URL);

  beforeAll(async () => {
    await requireRabbit();
    await rabbitmqctl('add_user', user, password);
    await rabbitmqctl('set_permissions', '-p', decodeURIComponent(url.pathname.slice(1)) || '/', user, '.*', '.*', '.*');
  });
  afterEach(async () => {
    await killAllApps();
  });
  afterAll(async () => {
    await deleteRabbitTopology(exchange, [...rabbitPartitionQueues(topic, 'g'), `${topic}.g.dlq`, `${topic}.dlq`]);
    await rabbitmqctl('delete_user', user).catch(() => undefined);
  });

  it('never shows the URL password in errors, logs, health or printed configuration', async () => {
    const began = Date.now();
    const withCredentials = (secret: string, host = url.host): string => {
      const copy = new URL(url.href);
      copy.username = user;
      copy.password = encodeURIComponent(secret);
      copy.host = host;
      return copy.href;
    };
    const app = new AppProcess('secrets', 'secrets-rabbitmq', {
      broker: 'rabbitmq',
      rabbitmq: {
        url: withCredentials(password),
        wrongUrl: withCredentials(wrongPassword),
        unreachableUrl: withCredentials(password, '127.0.0.1:1'),
        exchange,
        topic,
      },
    });
    await app.waitForEvent('connected', 30_000);
    const dropped = await closeConnectionsOf(user);
    await app.waitForEvent('reconnected', 30_000);
    await app.waitForEvent('done', 120_000);
    const exit = await app.expectCleanExit(15_000);

    const { output, found } = recordLeaks(app, { scenario: '7. secrets (URL password)', broker: 'rabbitmq', began, token });

    expect(found).toEqual([]);
    expect(app.find('crash')).toBeUndefined();
    expect(app.find('unexpected-success')).toBeUndefined();
    expect(dropped).toBeGreaterThan(0);
    expect(output).toContain(`${user}:***@`); // URLs are shown, redacted
    // The checks above are only worth something if the risky paths really ran.
    const logs = app.find('logs')!['lines'] as string[];
    expect(logs.some((line) => line.includes('Lost the connection'))).toBe(true);
    expect(logs.some((line) => line.includes('Reconnected'))).toBe(true);
    const errors = app.events.filter((event) => event.e === 'error');
    expect(errors.find((event) => event['case'] === 'rabbitmq: wrong password')).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    expect(errors.find((event) => event['case'] === 'rabbitmq: unreachable')).toMatchObject({ name: 'ConnectionError' });
    expect(errors.length).toBeGreaterThanOrEqual(9);
    for (const config of app.events.filter((event) => event.e === 'config')) expect(String(config['text'])).toContain(':***@');
    expect(exit).toMatchObject({ code: 0 });
  }, 180_000);
});

describe('kafka: secrets', () => {
  const token = `Zq7S3CR3T${randomBytes(4).toString('hex')}`;
  const password = `K4fka-${token}`;
  const wrongPassword = `WRONG-${token}`;
  const topic = unique('rel-secret');
  const user = 'alice';
  let saslBroker: PrivateKafka | undefined;

  beforeAll(async () => {
    await requireKafka();
    saslBroker = new PrivateKafka({ basePort: 19392, sasl: { user, password } });
    await saslBroker.start();
  }, 180_000);
  afterEach(async () => {
    await killAllApps();
  });
  afterAll(async () => {
    await saslBroker?.destroy();
    await deleteKafkaResources([topic, `${topic}.DLT`], ['g']);
  }, 120_000);

  it('never shows the SASL password in errors, logs, health or printed configuration', async () => {
    const sasl = saslBroker!;
    const began = Date.now();
    const app = new AppProcess('secrets', 'secrets-kafka', {
      broker: 'kafka',
      kafka: { bootstrapServers: KAFKA_BROKERS, password, topic, live: { bootstrap: sasl.saslBootstrap, user, wrongPassword } },
    });
    await app.waitForEvent('connected', 60_000);
    // The SASL broker dies under the connected application and comes back.
    try {
      await sasl.kill();
      await app.waitForEvent('outage-seen', 60_000);
    } finally {
      await sasl.restart();
    }
    await app.waitForEvent('reconnected', 120_000);
    await app.waitForEvent('done', 120_000);
    const exit = await app.expectCleanExit(15_000);

    const { output, found } = recordLeaks(app, {
      scenario: '7. secrets (SASL password)',
      broker: 'kafka',
      began,
      token,
      setting: 'a private SASL_PLAINTEXT broker, SIGKILLed and restarted under the connected application',
    });

    expect(found).toEqual([]);
    expect(app.find('crash')).toBeUndefined();
    expect(app.find('unexpected-success')).toBeUndefined();
    // The checks above are only worth something if the risky paths really ran.
    const logs = app.find('logs')!['lines'] as string[];
    expect(logs.filter((line) => /^(warn|error):/.test(line)).length).toBeGreaterThan(0); // the outage was logged
    const errors = app.events.filter((event) => event.e === 'error');
    expect(errors.find((event) => event['case'] === 'kafka: wrong SASL password')).toMatchObject({
      code: 'AUTHENTICATION_FAILED',
    });
    expect(errors.find((event) => event['case'] === 'kafka: SASL plain against a listener without SASL')).toMatchObject({
      code: 'AUTHENTICATION_FAILED',
    });
    expect(errors.length).toBeGreaterThanOrEqual(14);
    for (const config of app.events.filter((event) => event.e === 'config'))
      expect(String(config['text'])).toContain("password: '***'");
    expect(output).toContain('username: alice'); // the SASL settings are printed, the password masked
    expect(exit).toMatchObject({ code: 0 });
  }, 300_000);
});
