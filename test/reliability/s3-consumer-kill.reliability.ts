import { afterEach, describe, expect, it } from '@jest/globals';
import { killAllApps, type AppProcess } from './support/app-process.js';
import { recordFigures } from './support/figures.js';
import { rejectionSummary } from './support/ledger.js';
import { Scenario, type BrokerKind } from './support/scenario.js';
import { until } from './support/until.js';

// Scenario 3: a consumer process is SIGKILLed in the middle of a stream. The other member of its
// group takes over what it held (Kafka: its partitions after the session timeout; RabbitMQ: its
// unacknowledged messages, requeued when its connection dies), a restarted process joins again,
// and no confirmed message is lost. Duplicates (handled but not yet committed or acknowledged by
// the killed process) are allowed by at-least-once and counted.

const SENT = 3_000;
const RATE = 300;
const KILL_AFTER_HANDLED = 300;
/**
 * Each member handles at most ~100 messages/s (10 ms handlers, one at a time) while 300/s arrive,
 * so at the kill consumer-a holds messages it has not finished: RabbitMQ has delivered it a full
 * prefetch, Kafka has fetched ahead on its partitions.
 */
const CONSUMER = { handlerDelayMs: 10 } as const;

describe.each<BrokerKind>(['kafka', 'rabbitmq'])('%s: consumer process SIGKILL mid-stream', (kind) => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await killAllApps();
    await scenario?.cleanup();
  });

  it('the other member and the restarted process handle the rest; no confirmed message is lost', async () => {
    scenario = new Scenario(kind, 'ckill');
    const s = scenario;
    await s.requireBroker();
    const { ledger } = s;
    const a = await s.consumer('consumer-a', CONSUMER);
    const b = await s.consumer('consumer-b', CONSUMER);
    const producer = s.producer('producer', { count: SENT, concurrency: 20, ratePerSec: RATE });
    await producer.waitForEvent('ready', 30_000);

    await until(() => a.count('h') >= KILL_AFTER_HANDLED, {
      timeoutMs: 60_000,
      what: () => `consumer-a to handle ${KILL_AFTER_HANDLED} messages (handled ${a.count('h')}, b ${b.count('h')})\n${s.logs()}`,
    });
    expect(producer.find('done')).toBeUndefined(); // the kill really is mid-stream
    const heldByA = new Set(
      ledger.handlings.filter((h) => h.app === 'consumer-a' && h.partition !== undefined).map((h) => h.partition!),
    );
    const handledByABeforeKill = a.count('h');
    const killedAt = a.signal('SIGKILL');
    await a.exited;

    // Takeover: Kafka — a survivor handles a message of a partition consumer-a had; RabbitMQ — a
    // survivor handles a message the broker redelivered (consumer-a's unacknowledged ones).
    const tookOver = (h: { app: string; at: number; partition?: number; redelivered: boolean }): boolean =>
      h.app !== 'consumer-a' && h.at >= killedAt && (kind === 'kafka' ? heldByA.has(h.partition!) : h.redelivered);
    await until(() => ledger.handlings.some(tookOver), {
      timeoutMs: 45_000,
      what: () => `a survivor to take over consumer-a's work (b handled ${b.count('h')})\n${s.logs()}`,
    }).catch(() => undefined); // asserted below, after the figures are recorded
    const takeoverAt = ledger.handlings.find(tookOver)?.at ?? null;

    const a2 = await s.consumer('consumer-a2', CONSUMER);
    await producer.waitForEvent('done', 60_000);
    await until(() => ledger.lost().length === 0, {
      timeoutMs: 90_000,
      what: () => `every confirmed message to be handled (${ledger.lost().length} missing)\n${s.logs()}`,
    }).catch(() => undefined); // asserted below, after the figures are recorded

    const survivors: AppProcess[] = [b, a2];
    for (const app of survivors) app.signal('SIGTERM');
    const exits = await Promise.all(survivors.map((app) => app.waitForExit(30_000)));

    const lost = ledger.lost();
    recordFigures({
      scenario: '3. consumer process SIGKILL',
      broker: kind,
      sent: SENT,
      confirmed: ledger.confirmed.size,
      received: ledger.received,
      lost: lost.length,
      duplicates: ledger.duplicates,
      recoverMs: takeoverAt === null ? null : takeoverAt - killedAt,
      durationMs: Date.now() - s.startedAt,
      notes:
        `recover = SIGKILL of consumer-a → a survivor handles ${kind === 'kafka' ? "a message of consumer-a's partitions" : 'a redelivered message'}; ` +
        `consumer-a handled ${handledByABeforeKill} before the kill; after it consumer-b ${ledger.handlings.filter((h) => h.app === 'consumer-b' && h.at >= killedAt).length}, ` +
        `restarted consumer-a2 ${a2.count('h')}` +
        (ledger.rejected.size > 0 ? `; rejected publishes: ${rejectionSummary(ledger)}` : ''),
    });

    expect(s.crashes()).toEqual([]);
    expect(takeoverAt).not.toBeNull();
    expect(ledger.confirmed.size).toBe(SENT);
    expect(lost).toEqual([]);
    for (const exit of exits) expect(exit).toMatchObject({ code: 0 });
  }, 240_000);
});
