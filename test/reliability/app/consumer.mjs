// A consuming application instance: subscribes one handler to a topic (in a group), starts, and
// reports every message it handles. SIGTERM stops the broker gracefully, like startMessaging()
// does; the process then exits by itself once nothing keeps it alive (no process.exit()).
//
// Config (RELIABILITY_APP_CONFIG): { name, broker: 'kafka'|'rabbitmq', options, logLevel?,
//   topic, group?, concurrency?, handlerDelayMs?, poison?: { every, remainder }, retry?, reportBegin?, reportHeaders?, reportTime? }
//
// Events: {e:'ready'} once started; {e:'b',id,t?} when a handler begins (reportBegin);
//   {e:'h',id,p?,r?,a?,hd?,k?,t?} when a handler succeeds, BEFORE it resolves (so before the ack/commit);
//   t (reportTime): when, in ms since the epoch with sub-millisecond precision, to order the events of
//   several processes;
//   {e:'x',id,a} when it throws on purpose (poison); {e:'sigterm'}; {e:'stopped',ms}; {e:'crash',...}.
import { performance } from 'node:perf_hooks';
import { describeError, emit, loadAdapterClass, readConfig, reportCrashes, sleep, stderrLogger } from './lib.mjs';

reportCrashes();
const config = readConfig();
const Adapter = await loadAdapterClass(config.broker);
const broker = new Adapter({ ...config.options, logger: stderrLogger(config.name, config.logLevel ?? 'info') });
const poison = config.poison ?? null;
const now = () => performance.timeOrigin + performance.now();

async function handle(message) {
  const id = Number(message.value.toString('utf8'));
  const attempt = message.metadata.attempt ?? 1;
  if (config.reportBegin) emit(config.reportTime ? { e: 'b', id, t: now() } : { e: 'b', id });
  if (config.handlerDelayMs > 0) await sleep(config.handlerDelayMs);
  if (poison !== null && id % poison.every === poison.remainder) {
    emit({ e: 'x', id, a: attempt });
    throw new Error(`poison message ${id} refused on purpose (attempt ${attempt})`);
  }
  const event = { e: 'h', id };
  if (message.metadata.partition !== undefined) event.p = message.metadata.partition;
  if (message.metadata.redelivered) event.r = 1;
  if (attempt > 1) event.a = attempt;
  if (config.reportHeaders) {
    event.hd = message.headers;
    event.k = message.key === null ? null : message.key.toString('utf8');
  }
  if (config.reportTime) event.t = now();
  emit(event);
}

const subscribeOptions = {};
if (config.group !== undefined) subscribeOptions.group = config.group;
if (config.retry !== undefined) subscribeOptions.retry = config.retry;
if (config.concurrency !== undefined) subscribeOptions.concurrency = config.concurrency;
try {
  await broker.subscribe(config.topic, handle, subscribeOptions);
  await broker.start();
} catch (error) {
  emit({ e: 'start-failed', ...describeError(error) });
  await broker.stop().catch(() => undefined);
  process.exitCode = 2;
}

if (process.exitCode !== 2) {
  const onSigterm = () => {
    process.off('SIGTERM', onSigterm);
    const began = Date.now();
    emit({ e: 'sigterm' });
    broker.stop().then(
      () => emit({ e: 'stopped', ms: Date.now() - began }),
      (error) => {
        emit({ e: 'stop-failed', ...describeError(error) });
        process.exitCode = 3;
      },
    );
  };
  process.on('SIGTERM', onSigterm);
  emit({ e: 'ready', pid: process.pid });
}
