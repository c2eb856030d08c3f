// An application that holds credentials and does everything that could leak them: connects with
// them (and loses the connection, so the adapter logs a reconnection), fails to connect with them,
// reports health, prints its configuration, loads invalid configuration that contains them, and
// prints every error it gets the way applications do (console.error(error), which shows the cause
// chain). Logs go to a capturing logger that also writes to stderr, and the adapters' default
// console logger writes to stderr too. The parent scans ALL of this process's output.
//
// Config (RELIABILITY_APP_CONFIG): { name, broker: 'kafka'|'rabbitmq', rabbitmq?: { url, wrongUrl,
//   unreachableUrl, exchange, topic }, kafka?: { bootstrapServers (a plaintext listener), password,
//   topic, live: { bootstrap (a SASL PLAIN listener), user, wrongPassword } } }
//
// Events: {e:'error', case, name, code, message} per failure; {e:'health', case, report};
//   {e:'config', case, text}; {e:'connected'} (the parent then drops the connection, or kills the
//   Kafka broker); {e:'outage-seen'} (Kafka: the parent restarts the broker); {e:'reconnected'};
//   {e:'logs', lines}; {e:'done'}.
import { inspect } from 'node:util';
import {
  describeError,
  emit,
  loadAdapterClass,
  loadAutoconfig,
  loadCore,
  readConfig,
  reportCrashes,
  reportLingeringHandles,
} from './lib.mjs';

reportCrashes();
const config = readConfig();
const { waitFor } = await loadCore();
const autoconfig = await loadAutoconfig();
const Adapter = await loadAdapterClass(config.broker);

/** Records every log entry (any level) and writes it to stderr, as an application logger would. */
const captured = [];
const logger = Object.fromEntries(
  ['debug', 'info', 'warn', 'error'].map((level) => [
    level,
    (message, fields) => {
      const line = `${level}: ${message}${fields === undefined ? '' : ` ${inspect(fields, { depth: 6, breakLength: Infinity })}`}`;
      captured.push(line);
      process.stderr.write(`[secrets-app] ${line}\n`);
    },
  ]),
);

/** Reports a failure the way an application prints it: the message as an event, the whole error on stderr. */
function reportError(name, error) {
  emit({ e: 'error', case: name, ...describeError(error) });
  console.error(`[secrets-app] ${name} failed:`, error);
  process.stderr.write(`${inspect(error, { depth: 10, showHidden: true })}\n`);
}

async function expectFailure(name, fn) {
  try {
    await fn();
    emit({ e: 'unexpected-success', case: name });
  } catch (error) {
    reportError(name, error);
  }
}

async function health(name, broker) {
  const report = await broker.health();
  emit({ e: 'health', case: name, report });
  console.log(`[secrets-app] health ${name}:`, inspect(report, { depth: 6 }));
}

function printConfig(name, overrides, env = {}) {
  const loaded = autoconfig.loadConfig({ cwd: process.cwd(), env, overrides });
  const text = autoconfig.formatConfig(loaded);
  // What an application prints at startup.
  console.log(text);
  console.log(JSON.stringify(autoconfig.redactConfig(loaded)));
  emit({ e: 'config', case: name, text, redacted: autoconfig.redactConfig(loaded) });
}

if (config.broker === 'rabbitmq') {
  const { url, wrongUrl, unreachableUrl, exchange, topic } = config.rabbitmq;
  const options = {
    exchangeName: exchange,
    connectionTimeoutMs: 2_000,
    publishTimeoutMs: 10_000,
    shutdownTimeoutMs: 2_000,
    logger,
  };

  // Working credentials, then a connection drop (the parent closes it on the broker) and recovery.
  const broker = new Adapter({ url, ...options, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
  await health('rabbitmq: before start', broker);
  await broker.subscribe(topic, () => {}, 'g');
  await broker.subscribe(topic, () => {});
  await broker.start();
  await broker.publish(topic, 'hello');
  await health('rabbitmq: connected', broker);
  emit({ e: 'connected' });
  await waitFor(async () => (await broker.health()).status !== 'up', { timeoutMs: 20_000, description: 'the connection drop' });
  await health('rabbitmq: during the outage', broker);
  await waitFor(async () => (await broker.health()).status === 'up', { timeoutMs: 20_000, description: 'the reconnection' });
  await broker.publish(topic, 'again');
  await health('rabbitmq: reconnected', broker);
  emit({ e: 'reconnected' });
  await broker.stop();
  await health('rabbitmq: stopped', broker);

  // Wrong password, unreachable broker, TLS to the plain port: every message, log and health.
  const wrong = new Adapter({ url: wrongUrl, ...options });
  await expectFailure('rabbitmq: wrong password', () => wrong.start());
  await health('rabbitmq: after the refused start', wrong);
  await expectFailure('rabbitmq: unreachable', () => new Adapter({ url: unreachableUrl, ...options }).start());
  const tlsUrl = new URL(url);
  tlsUrl.protocol = 'amqps:';
  await expectFailure('rabbitmq: amqps to the plain port', () => new Adapter({ url: tlsUrl.href, ...options }).start());
  await expectFailure('rabbitmq: not an amqp url', async () => new Adapter({ url: url.replace('amqp:', 'http:'), ...options }));
  await expectFailure('rabbitmq: publish when stopped', () => broker.publish(topic, 'late'));

  // autoconfig: the printed configuration, a debug console logger, invalid configuration that holds the secret.
  printConfig('rabbitmq: formatConfig (options)', { provider: 'rabbitmq', rabbitmq: { url } });
  printConfig('rabbitmq: formatConfig (environment)', undefined, {
    MSGPORT_MESSAGING_RABBITMQ_URL: url,
    MSGPORT_MESSAGING_PROVIDER: 'rabbitmq',
  });
  const created = await autoconfig.createBroker({
    cwd: process.cwd(),
    env: {},
    config: {
      provider: 'rabbitmq',
      'log-level': 'debug',
      rabbitmq: { url: wrongUrl, 'exchange-name': exchange, 'connection-timeout-ms': 2_000 },
    },
  });
  await expectFailure('autoconfig: createBroker + start with the wrong password', () => created.broker.start());
  await expectFailure('autoconfig: startMessaging with the wrong password', () =>
    autoconfig.startMessaging({
      cwd: process.cwd(),
      env: {},
      signals: false,
      config: {
        provider: 'rabbitmq',
        'log-level': 'debug',
        rabbitmq: { url: wrongUrl, 'exchange-name': exchange, 'connection-timeout-ms': 2_000 },
      },
    }),
  );
  await expectFailure('autoconfig: invalid url port with the password', async () =>
    autoconfig.loadConfig({ cwd: process.cwd(), env: {}, overrides: { rabbitmq: { url: url.replace(':5672', ':99999') } } }),
  );
  await expectFailure('autoconfig: invalid url scheme with the password (environment)', async () =>
    autoconfig.loadConfig({ cwd: process.cwd(), env: { MSGPORT_MESSAGING_RABBITMQ_URL: url.replace('amqp:', 'https:') } }),
  );
  await expectFailure('autoconfig: password in the wrong key', async () =>
    autoconfig.loadConfig({
      cwd: process.cwd(),
      env: {},
      overrides: { rabbitmq: { 'exchange-name': new URL(url).password, prefetch: new URL(url).password } },
    }),
  );
} else {
  const { bootstrapServers, password, topic } = config.kafka;
  const options = { bootstrapServers, connectionTimeoutMs: 2_000, shutdownTimeoutMs: 2_000, logger };

  // A broker with a SASL listener: working credentials, then the broker dies and comes back
  // (kafkajs logs connection errors, the consumers crash and restart), then wrong credentials.
  const live = config.kafka.live;
  const liveOptions = {
    bootstrapServers: live.bootstrap,
    sasl: { mechanism: 'plain', username: live.user, password },
    connectionTimeoutMs: 10_000,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    fetchMaxWaitMs: 100,
    shutdownTimeoutMs: 2_000,
    logger,
  };
  const received = [];
  const broker = new Adapter(liveOptions);
  await health('kafka: SASL before start', broker);
  await broker.subscribe(topic, (message) => void received.push(message.value.toString()), 'g');
  await broker.subscribe(topic, () => {});
  await broker.start();
  await broker.publish(topic, 'hello');
  await waitFor(() => received.includes('hello'), { timeoutMs: 30_000, description: 'the first message' });
  await health('kafka: SASL connected', broker);
  emit({ e: 'connected' });
  await waitFor(async () => (await broker.health()).status !== 'up', {
    timeoutMs: 30_000,
    intervalMs: 100,
    description: 'the broker to go',
  });
  await health('kafka: SASL broker down', broker);
  // Settles during or after the outage; either way is fine here (the figures of scenario 1 count them).
  const during = broker.publish(topic, 'during').then(
    () => null,
    (error) => error,
  );
  emit({ e: 'outage-seen' });
  await waitFor(async () => (await broker.health()).status === 'up', {
    timeoutMs: 90_000,
    intervalMs: 200,
    description: 'the broker to return',
  });
  const duringError = await during;
  if (duringError !== null) reportError('kafka: publish during the outage', duringError);
  await broker.publish(topic, 'again');
  await waitFor(() => received.includes('again'), { timeoutMs: 60_000, description: 'a message after the restart' });
  await health('kafka: SASL reconnected', broker);
  emit({ e: 'reconnected' });
  await broker.stop();
  await health('kafka: SASL stopped', broker);
  await expectFailure('kafka: wrong SASL password', () =>
    new Adapter({ ...liveOptions, sasl: { ...liveOptions.sasl, password: live.wrongPassword } }).start(),
  );
  await expectFailure('kafka: SCRAM against a PLAIN-only listener', () =>
    new Adapter({ ...liveOptions, sasl: { ...liveOptions.sasl, mechanism: 'scram-sha-512' } }).start(),
  );
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
    const sasl = { mechanism, username: 'alice', password };
    const broker = new Adapter({ ...options, sasl });
    await health(`kafka: ${mechanism} before start`, broker);
    await broker.subscribe(topic, () => {}, 'g');
    await expectFailure(`kafka: SASL ${mechanism} against a listener without SASL`, () => broker.start());
    await health(`kafka: ${mechanism} after the refused start`, broker);
    await expectFailure(`kafka: publish after the refused start (${mechanism})`, () => broker.publish(topic, 'x'));
  }
  const sasl = { mechanism: 'plain', username: 'alice', password };
  await expectFailure('kafka: SASL + ssl against the plaintext listener', () =>
    new Adapter({ ...options, sasl, ssl: true }).start(),
  );
  await expectFailure('kafka: SASL against an unreachable broker', () =>
    new Adapter({ ...options, sasl, bootstrapServers: '127.0.0.1:1' }).start(),
  );
  await expectFailure(
    'kafka: SASL with a bad mechanism',
    async () => new Adapter({ ...options, sasl: { ...sasl, mechanism: 'gssapi' } }),
  );

  printConfig('kafka: formatConfig (options)', { provider: 'kafka', kafka: { 'bootstrap-servers': bootstrapServers, sasl } });
  printConfig('kafka: formatConfig (environment)', undefined, {
    MSGPORT_MESSAGING_PROVIDER: 'kafka',
    MSGPORT_MESSAGING_KAFKA_SASL_MECHANISM: 'plain',
    MSGPORT_MESSAGING_KAFKA_SASL_USERNAME: 'alice',
    MSGPORT_MESSAGING_KAFKA_SASL_PASSWORD: password,
  });
  const created = await autoconfig.createBroker({
    cwd: process.cwd(),
    env: {},
    config: {
      provider: 'kafka',
      'log-level': 'debug',
      kafka: { 'bootstrap-servers': bootstrapServers, sasl, 'connection-timeout-ms': 2_000 },
    },
  });
  await expectFailure('autoconfig: createBroker + start with SASL', () => created.broker.start());
  await expectFailure('autoconfig: startMessaging with SASL', () =>
    autoconfig.startMessaging({
      cwd: process.cwd(),
      env: {},
      signals: false,
      config: {
        provider: 'kafka',
        'log-level': 'debug',
        kafka: { 'bootstrap-servers': bootstrapServers, sasl, 'connection-timeout-ms': 2_000 },
      },
    }),
  );
  await expectFailure('autoconfig: SASL section with a bad mechanism and the password', async () =>
    autoconfig.loadConfig({ cwd: process.cwd(), env: {}, overrides: { kafka: { sasl: { ...sasl, mechanism: 'gssapi' } } } }),
  );
  await expectFailure('autoconfig: invalid SASL section and an invalid environment value holding the password', async () =>
    autoconfig.loadConfig({
      cwd: process.cwd(),
      env: { MSGPORT_MESSAGING_KAFKA_NUM_PARTITIONS: password },
      overrides: { kafka: { 'client-id': 7, sasl: { ...sasl, username: 5 } } },
    }),
  );
  await expectFailure('autoconfig: password as an unknown key value and an unknown env variable', async () =>
    autoconfig.loadConfig({
      cwd: process.cwd(),
      env: { MSGPORT_MESSAGING_KAFKA_SASL_PASSWROD: password },
      overrides: { kafka: { pasword: password } },
    }),
  );
}

emit({ e: 'logs', lines: captured });
emit({ e: 'done' });
reportLingeringHandles();
