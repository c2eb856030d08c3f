// Bad input against one real broker, in an application process of its own, so that a crash (an
// uncaught error from a client library's event emitter) or a hang (a timer or socket that keeps
// the process alive after every broker was stopped) shows up as what it is.
//
// Config (RELIABILITY_APP_CONFIG): { name, broker: 'kafka'|'rabbitmq', options (a working adapter
//   configuration), topic, unreachable: [addresses…] }
//
// Events: {e:'case', broker, case, outcome: 'rejected'|'resolved'|'hang', ms, bound, error?} per case,
//   then {e:'done'}; the process must then exit by itself.
import { emit, loadAdapterClass, loadCore, readConfig, reportCrashes, reportLingeringHandles, stderrLogger } from './lib.mjs';

reportCrashes();
const config = readConfig();
const { isMessagingError } = await loadCore();
const Adapter = await loadAdapterClass(config.broker);
const logger = stderrLogger(config.name, 'warn');
const kind = config.broker;
const topic = config.topic;
const handler = async () => {};
const stops = [];

function adapter(overrides = {}) {
  const broker = new Adapter({ ...config.options, logger, ...overrides });
  stops.push(broker);
  return broker;
}

/** Runs `fn` (sync throws count as rejections) and reports how it ended within `bound` ms. */
async function check(name, bound, fn) {
  const began = Date.now();
  let timer;
  const hang = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'hang' }), bound * 3);
  });
  const attempt = (async () => fn())().then(
    () => ({ outcome: 'resolved' }),
    (error) => ({
      outcome: 'rejected',
      error: {
        messaging: isMessagingError(error),
        name: error?.name,
        code: error?.code,
        retriable: error?.retriable,
        message: error instanceof Error ? error.message : String(error),
      },
    }),
  );
  const result = await Promise.race([attempt, hang]);
  clearTimeout(timer);
  emit({ e: 'case', broker: kind, case: name, bound, ms: Date.now() - began, ...result });
}

// ---- arguments, on a started broker ------------------------------------------------------------

const live = adapter();
await live.start();

await check('publish: empty topic', 1_000, () => live.publish('', 'x'));
await check('publish: topic with a space and "!"', 1_000, () => live.publish('bad topic!', 'x'));
await check('publish: topic of 250 characters', 1_000, () => live.publish('t'.repeat(250), 'x'));
await check('publish: topic ".."', 1_000, () => live.publish('..', 'x'));
await check('publish: topic is a number', 1_000, () => live.publish(42, 'x'));
await check('publish: value is a number', 1_000, () => live.publish(topic, 42));
await check('publish: value is an object', 1_000, () => live.publish(topic, { id: 1 }));
await check('publish: value is null', 1_000, () => live.publish(topic, null));
await check('publish: value is undefined', 1_000, () => live.publish(topic, undefined));
await check('publish: key is a number', 1_000, () => live.publish(topic, 'x', { key: 42 }));
await check('publish: key is an object', 1_000, () => live.publish(topic, 'x', { key: { id: 1 } }));
await check('publish: header value is a number', 1_000, () => live.publish(topic, 'x', { headers: { 'x-n': 1 } }));
await check('publish: header value is null', 1_000, () => live.publish(topic, 'x', { headers: { 'x-n': null } }));
await check('publish: header value is an object', 1_000, () => live.publish(topic, 'x', { headers: { 'x-n': { a: 1 } } }));
await check('publish: headers is a string', 1_000, () => live.publish(topic, 'x', { headers: 'x-n=1' }));
await check('publish: options is a string', 1_000, () => live.publish(topic, 'x', 'key'));
await check('subscribe: handler is a string', 1_000, () => live.subscribe(topic, 'handler'));
await check('subscribe: handler is undefined', 1_000, () => live.subscribe(topic, undefined));
await check('subscribe: handler is an object', 1_000, () => live.subscribe(topic, { handle: handler }));
await check('subscribe: empty topic', 1_000, () => live.subscribe('', handler));
await check('subscribe: group with a space', 1_000, () => live.subscribe(topic, handler, 'bad group!'));
await check('subscribe: group is a number', 1_000, () => live.subscribe(topic, handler, 42));

// ---- size limits ---------------------------------------------------------------------------------

if (kind === 'kafka') {
  // The broker's message.max.bytes is 1048588 by default.
  await check('publish: 2 MiB value, over the broker limit (message.max.bytes)', 30_000, () =>
    live.publish(topic, Buffer.alloc(2 * 1024 * 1024, 1)),
  );
} else {
  const limited = adapter({ maxMessageBytes: 1024 * 1024 });
  await limited.start();
  await check('publish: 2 MiB value, over maxMessageBytes (1 MiB)', 5_000, () =>
    limited.publish(topic, Buffer.alloc(2 * 1024 * 1024, 1)),
  );
  await limited.stop();
  // RabbitMQ 3.10's max_message_size is 128 MiB; the adapter is told a larger limit, so the broker decides.
  const unlimited = adapter({ maxMessageBytes: 512 * 1024 * 1024 });
  await unlimited.start();
  await check('publish: 128 MiB + 1 KiB value, over the broker limit (max_message_size)', 60_000, () =>
    unlimited.publish(topic, Buffer.alloc(134_217_728 + 1024, 1)),
  );
  await check('after a too-large message, the same adapter still publishes', 30_000, () => unlimited.publish(topic, 'small'));
  await unlimited.stop();
}
await check('after a too-large message, the broker still publishes', 30_000, () => live.publish(topic, 'small'));

// ---- lifecycle -------------------------------------------------------------------------------------

const fresh = adapter();
await check('publish before start()', 1_000, () => fresh.publish(topic, 'x'));
await fresh.start();
await fresh.stop();
await check('publish after stop()', 1_000, () => fresh.publish(topic, 'x'));
await live.stop();

// ---- options and connections ------------------------------------------------------------------

if (kind === 'kafka') {
  await check('constructor: no options', 1_000, async () => new Adapter());
  await check('constructor: bootstrapServers missing', 1_000, async () => new Adapter({ logger }));
  await check('constructor: bootstrapServers empty', 1_000, async () => new Adapter({ bootstrapServers: '', logger }));
  await check('constructor: numPartitions 0', 1_000, async () => new Adapter({ ...config.options, numPartitions: 0, logger }));
  await check(
    'constructor: heartbeatIntervalMs >= sessionTimeoutMs',
    1_000,
    async () => new Adapter({ ...config.options, heartbeatIntervalMs: 10_000, sessionTimeoutMs: 6_000, logger }),
  );
  await check(
    'constructor: connectionTimeoutMs is a string',
    1_000,
    async () => new Adapter({ ...config.options, connectionTimeoutMs: '2000', logger }),
  );
  await check(
    'constructor: sasl mechanism unknown',
    1_000,
    async () => new Adapter({ ...config.options, sasl: { mechanism: 'gssapi', username: 'u', password: 'p' }, logger }),
  );
  for (const address of config.unreachable) {
    await check(`start(): unreachable broker ${address} (connectionTimeoutMs 2000)`, 5_000, () =>
      adapter({ bootstrapServers: address, connectionTimeoutMs: 2_000 }).start(),
    );
  }
  await check('start(): ssl true against the plaintext listener (connectionTimeoutMs 2000)', 5_000, () =>
    adapter({ ssl: true, connectionTimeoutMs: 2_000 }).start(),
  );
  await check('start(): SASL against a listener without SASL (connectionTimeoutMs 2000)', 5_000, () =>
    adapter({
      sasl: { mechanism: 'plain', username: 'alice', password: 'not-the-password' },
      connectionTimeoutMs: 2_000,
    }).start(),
  );
} else {
  const url = new URL(config.options.url);
  const withUrl = (change) => {
    const copy = new URL(url.href);
    change(copy);
    return copy.href;
  };
  await check('constructor: no options', 1_000, async () => new Adapter());
  await check('constructor: url missing', 1_000, async () => new Adapter({ logger }));
  await check('constructor: url not parseable', 1_000, async () => new Adapter({ url: 'not a url', logger }));
  await check(
    'constructor: url with http://',
    1_000,
    async () => new Adapter({ url: 'http://guest:guest@127.0.0.1:5672/', logger }),
  );
  await check(
    'constructor: exchangeName "amq.reserved"',
    1_000,
    async () => new Adapter({ ...config.options, exchangeName: 'amq.reserved', logger }),
  );
  await check('constructor: prefetch 0', 1_000, async () => new Adapter({ ...config.options, prefetch: 0, logger }));
  await check(
    'constructor: publishTimeoutMs -1',
    1_000,
    async () => new Adapter({ ...config.options, publishTimeoutMs: -1, logger }),
  );
  await check('constructor: concurrency 0', 1_000, async () => new Adapter({ ...config.options, concurrency: 0, logger }));
  for (const address of config.unreachable) {
    await check(`start(): unreachable broker ${address} (connectionTimeoutMs 2000)`, 5_000, () =>
      adapter({ url: withUrl((u) => (u.host = address)), connectionTimeoutMs: 2_000 }).start(),
    );
  }
  await check('start(): wrong password', 5_000, () =>
    adapter({ url: withUrl((u) => (u.password = 'not-the-password')), connectionTimeoutMs: 2_000 }).start(),
  );
  await check('start(): unknown user', 5_000, () =>
    adapter({ url: withUrl((u) => (u.username = 'no-such-user-msgport')), connectionTimeoutMs: 2_000 }).start(),
  );
  await check('start(): virtual host that does not exist', 5_000, () =>
    adapter({ url: withUrl((u) => (u.pathname = '/no-such-vhost-msgport')), connectionTimeoutMs: 2_000 }).start(),
  );
  await check('start(): amqps:// against the plain AMQP port (connectionTimeoutMs 2000)', 5_000, () =>
    adapter({ url: withUrl((u) => (u.protocol = 'amqps:')), connectionTimeoutMs: 2_000 }).start(),
  );
}
await check(
  'constructor: shutdownTimeoutMs -1',
  1_000,
  async () => new Adapter({ ...config.options, shutdownTimeoutMs: -1, logger }),
);
await check(
  'constructor: retry maxAttempts 0',
  1_000,
  async () => new Adapter({ ...config.options, retry: { maxAttempts: 0 }, logger }),
);

for (const broker of stops) await broker.stop().catch(() => undefined);
emit({ e: 'done' });
reportLingeringHandles();
