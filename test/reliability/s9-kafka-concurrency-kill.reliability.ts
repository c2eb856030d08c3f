import { afterEach, describe, expect, it } from '@jest/globals';
import { killAllApps } from './support/app-process.js';
import { recordFigures } from './support/figures.js';
import { rejectionSummary } from './support/ledger.js';
import { Scenario } from './support/scenario.js';
import { until } from './support/until.js';

// Scenario 9 (issue 13 item 3): a Kafka consumer with `concurrency: 50` (key-level parallelism
// within one partition) is SIGKILLed mid-stream. It handles messages of different keys of one
// partition at once and finishes them out of offset order, so at the kill it has finished messages
// above others still running: committing past those would lose them. A restarted consumer takes
// the partition over from the committed offset, and no confirmed message is lost. Duplicates
// (finished but not committed at the kill) are allowed by at-least-once and counted.

const SENT = 4_000;
const RATE = 400;
const KEYS = 200;
const KILL_AFTER_HANDLED = 600;
/**
 * 100 ms handlers, 50 at once: at most ~500 messages/s, while 400/s arrive, so that at the kill
 * up to 50 messages are running with finished messages of higher offsets around them.
 */
const CONSUMER = { handlerDelayMs: 100, concurrency: 50 } as const;
/** One partition: the parallelism is within it, not across partitions. */
const ONE_PARTITION = { numPartitions: 1 } as const;

describe('kafka: consumer process SIGKILL mid-stream with concurrency 50 in one partition', () => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await killAllApps();
    await scenario?.cleanup();
  });

  it('the restarted process handles everything not committed; no confirmed message is lost', async () => {
    scenario = new Scenario('kafka', 'cpar');
    const s = scenario;
    await s.requireBroker();
    const { ledger } = s;
    const a = await s.consumer('consumer-a', CONSUMER, ONE_PARTITION);
    const producer = s.producer('producer', { count: SENT, concurrency: 20, ratePerSec: RATE, keys: KEYS }, ONE_PARTITION);
    await producer.waitForEvent('ready', 30_000);

    await until(() => a.count('h') >= KILL_AFTER_HANDLED, {
      timeoutMs: 60_000,
      what: () => `consumer-a to handle ${KILL_AFTER_HANDLED} messages (handled ${a.count('h')})\n${s.logs()}`,
    });
    expect(producer.find('done')).toBeUndefined(); // the kill really is mid-stream
    const handledByABeforeKill = a.count('h');
    const killedAt = a.signal('SIGKILL');
    await a.exited;

    const a2 = await s.consumer('consumer-a2', CONSUMER, ONE_PARTITION);
    await producer.waitForEvent('done', 90_000);
    await until(() => ledger.lost().length === 0, {
      timeoutMs: 90_000,
      what: () => `every confirmed message to be handled (${ledger.lost().length} missing)\n${s.logs()}`,
    }).catch(() => undefined); // asserted below, after the figures are recorded
    const firstAfterKill = ledger.handlings.find((h) => h.app === 'consumer-a2')?.at ?? null;

    a2.signal('SIGTERM');
    const exit = await a2.waitForExit(30_000);

    const lost = ledger.lost();
    recordFigures({
      scenario: '9. consumer SIGKILL, concurrency 50 in one partition',
      broker: 'kafka',
      sent: SENT,
      confirmed: ledger.confirmed.size,
      received: ledger.received,
      lost: lost.length,
      duplicates: ledger.duplicates,
      recoverMs: firstAfterKill === null ? null : firstAfterKill - killedAt,
      durationMs: Date.now() - s.startedAt,
      notes:
        `recover = SIGKILL of consumer-a → restarted consumer-a2 handles its first message (after the session timeout); ` +
        `${KEYS} keys in 1 partition, ${CONSUMER.handlerDelayMs} ms handlers, concurrency ${CONSUMER.concurrency}; ` +
        `consumer-a handled ${handledByABeforeKill} before the kill, consumer-a2 ${a2.count('h')} after it` +
        (ledger.rejected.size > 0 ? `; rejected publishes: ${rejectionSummary(ledger)}` : ''),
    });

    expect(s.crashes()).toEqual([]);
    expect(firstAfterKill).not.toBeNull();
    expect(ledger.confirmed.size).toBe(SENT);
    expect(lost).toEqual([]);
    expect(exit).toMatchObject({ code: 0 });
  }, 240_000);
});
