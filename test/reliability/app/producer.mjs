// A publishing application instance: publishes `count` messages (value = the decimal id, key =
// `k<id mod keys>`, header x-id) with `concurrency` publishes in flight, optionally paced to
// `ratePerSec`, and reports the outcome of each publish. A publish that rejects is reported and the
// application goes on with the next id: it is never restarted.
//
// Config (RELIABILITY_APP_CONFIG): { name, broker, options, logLevel?, topic, count, startId?,
//   concurrency?, ratePerSec?, keys? }
//
// Events: {e:'ready'}; {e:'c',id} confirmed (publish resolved); {e:'f',id,name,code,retriable,message,
//   messaging} rejected; {e:'done',confirmed,failed,ms}; {e:'stopped'}; {e:'crash',...}.
import { describeError, emit, loadAdapterClass, loadCore, readConfig, reportCrashes, sleep, stderrLogger } from './lib.mjs';

reportCrashes();
const config = readConfig();
const { isMessagingError } = await loadCore();
const Adapter = await loadAdapterClass(config.broker);
const broker = new Adapter({ ...config.options, logger: stderrLogger(config.name, config.logLevel ?? 'info') });

try {
  await broker.start();
} catch (error) {
  emit({ e: 'start-failed', ...describeError(error) });
  await broker.stop().catch(() => undefined);
  process.exit(2);
}
emit({ e: 'ready', pid: process.pid });

const startId = config.startId ?? 0;
const end = startId + config.count;
const keys = config.keys ?? 16;
const rate = config.ratePerSec ?? 0;
const began = Date.now();
let next = startId;
let confirmed = 0;
let failed = 0;

async function worker() {
  while (next < end) {
    const id = next++;
    if (rate > 0) {
      const due = began + ((id - startId) * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
    }
    try {
      await broker.publish(config.topic, String(id), { key: `k${id % keys}`, headers: { 'x-id': String(id) } });
      confirmed++;
      emit({ e: 'c', id });
    } catch (error) {
      failed++;
      emit({ e: 'f', id, ...describeError(error), messaging: isMessagingError(error) });
    }
  }
}

await Promise.all(Array.from({ length: config.concurrency ?? 1 }, worker));
emit({ e: 'done', confirmed, failed, ms: Date.now() - began });
await broker.stop();
emit({ e: 'stopped' });
