// A publishing application instance for the cluster scenarios: like the reliability suite's
// producer (value = the decimal id, key = `k<id mod keys>`, header x-id, `concurrency` publishes in
// flight, paced to `ratePerSec`), but it also reports how long each publish took, and it can run
// until told to stop: SIGTERM ends the stream (no new publish starts; those in flight settle),
// then the broker is stopped. A publish that rejects is reported and the stream goes on with the
// next id: the application is never restarted.
//
// Config (RELIABILITY_APP_CONFIG): { name, broker, options, logLevel?, topic, count?, concurrency?,
//   ratePerSec?, keys? }  (count: stop after that many ids; without it, run until SIGTERM)
//
// Events: {e:'ready'}; {e:'c',id,ms} confirmed (publish resolved after ms); {e:'f',id,ms,name,code,
//   retriable,message,messaging} rejected; {e:'done',confirmed,failed,sent,ms}; {e:'stopped'}; {e:'crash',...}.
import {
  describeError,
  emit,
  loadAdapterClass,
  loadCore,
  readConfig,
  reportCrashes,
  reportLingeringHandles,
  sleep,
  stderrLogger,
} from '../../reliability/app/lib.mjs';

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

let stopping = false;
process.once('SIGTERM', () => {
  stopping = true;
  emit({ e: 'sigterm' });
});
emit({ e: 'ready', pid: process.pid });

const end = config.count ?? Number.POSITIVE_INFINITY;
const keys = config.keys ?? 16;
const rate = config.ratePerSec ?? 0;
const began = Date.now();
let next = 0;
let confirmed = 0;
let failed = 0;

async function worker() {
  while (next < end && !stopping) {
    const id = next++;
    if (rate > 0) {
      const wait = began + (id * 1000) / rate - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const issuedAt = Date.now();
    try {
      await broker.publish(config.topic, String(id), { key: `k${id % keys}`, headers: { 'x-id': String(id) } });
      confirmed++;
      emit({ e: 'c', id, ms: Date.now() - issuedAt });
    } catch (error) {
      failed++;
      emit({ e: 'f', id, ms: Date.now() - issuedAt, ...describeError(error), messaging: isMessagingError(error) });
    }
  }
}

await Promise.all(Array.from({ length: config.concurrency ?? 1 }, worker));
emit({ e: 'done', confirmed, failed, sent: next, ms: Date.now() - began });
await broker.stop();
emit({ e: 'stopped' });
reportLingeringHandles();
