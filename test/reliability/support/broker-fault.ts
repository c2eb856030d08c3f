import { expect } from '@jest/globals';
import { killAllApps } from './app-process.js';
import { recordFigures } from './figures.js';
import { rejectionSummary } from './ledger.js';
import { CLIENT_RETRY } from '../../../packages/kafka/src/internal/options.js';
import { Scenario, SHUTDOWN_TIMEOUT_MS, type BrokerKind } from './scenario.js';

/**
 * How long a kafkajs connection retry chain can last (CLIENT_RETRY, every wait at its largest jitter).
 * A consumer that `stop()` gives up on during an outage may be in the middle of one (it was
 * reconnecting when SIGTERM came); kafkajs' retry timers cannot be cancelled from outside, so the
 * process (which exits by itself, once nothing keeps it alive) can outlive `stop()` by the rest of
 * that chain, with every socket already closed by msgport. `stop()` itself must still resolve
 * within `shutdownTimeoutMs`, every time (asserted separately).
 */
const KAFKAJS_RETRY_CHAIN_MS = (() => {
  const { initialRetryTime = 300, retries = 5, multiplier = 2, factor = 0.2 } = CLIENT_RETRY;
  let total = 0;
  for (let i = 0, wait = initialRetryTime; i < retries; i++, wait *= multiplier * (1 + factor)) total += wait;
  return Math.ceil(total);
})();
import { until } from './until.js';

export interface BrokerFault {
  readonly scenario: string;
  /** Takes the broker down (kill or stop). */
  readonly inject: () => Promise<void>;
  /** Brings it back; resolves once it serves clients again. */
  readonly restore: () => Promise<void>;
  /** Brings it back if it is still down; called in `finally`, whatever happened. */
  readonly ensureUp: () => Promise<void>;
  /** How the fault was made, for the notes. */
  readonly description: string;
}

const SENT = 5_000;
const RATE = 400;
const FAULT_AFTER_CONFIRMS = 1_000;

/**
 * A broker fault in the middle of a stream: a producer instance publishes 5,000 messages (400/s,
 * 50 in flight), three consumer instances of one group consume them; after 1,000 confirms the
 * broker goes down and comes back. None of the application processes is restarted, except that a
 * third consumer gets SIGTERM while the broker is down (it must exit within its shutdown timeout,
 * C7: stop() never hangs on a broker that is gone). Every publish that resolved must be handled at
 * least once; duplicates are counted.
 */
export async function runBrokerFault(kind: BrokerKind, fault: BrokerFault): Promise<void> {
  const s = new Scenario(kind, 'fault');
  try {
    await s.requireBroker();
    const { ledger } = s;
    const a = await s.consumer('consumer-a', {}, { concurrency: 2 });
    const b = await s.consumer('consumer-b', {}, { concurrency: 2 });
    // A third member gets SIGTERM while the broker is down: it must still exit within its shutdown timeout.
    const c = await s.consumer('consumer-c', {}, { concurrency: 2 });
    const producer = s.producer('producer', { count: SENT, concurrency: 50, ratePerSec: RATE });
    await producer.waitForEvent('ready', 30_000);
    await until(() => ledger.confirmed.size >= FAULT_AFTER_CONFIRMS, {
      timeoutMs: 60_000,
      what: () => `${FAULT_AFTER_CONFIRMS} confirms (have ${ledger.confirmed.size})\n${s.logs()}`,
    });

    const downAt = Date.now();
    let backAt: number;
    let termAt: number;
    try {
      await fault.inject();
      termAt = c.signal('SIGTERM');
      await fault.restore();
      backAt = Date.now();
    } finally {
      await fault.ensureUp();
    }
    const cExit = await c.waitForExit(SHUTDOWN_TIMEOUT_MS + 60_000);
    const cExitMs = cExit === null ? null : cExit.at - termAt;
    const stoppedMs = (c.find('stopped') as { ms?: number } | undefined)?.ms;
    expect(producer.find('done')).toBeUndefined(); // the fault really was mid-stream

    // Recovered: the producer gets a confirm and the consumers handle a message again, without
    // any of them being restarted.
    await until(
      () => ledger.lastConfirmAt !== null && ledger.lastConfirmAt >= backAt && ledger.handlings.some((h) => h.at >= backAt),
      { timeoutMs: 120_000, what: () => `producer and consumers to flow again after the broker came back\n${s.logs()}` },
    ).catch(() => undefined);
    const firstConfirmAfter = producer.events.find((event) => event.e === 'c' && event.at >= backAt)?.at ?? null;
    const firstHandleAfter = ledger.handlings.find((h) => h.at >= backAt)?.at ?? null;
    const recoveredAt =
      firstConfirmAfter === null || firstHandleAfter === null ? null : Math.max(firstConfirmAfter, firstHandleAfter);

    await producer.waitForEvent('done', 180_000);
    await until(() => ledger.lost().length === 0, {
      timeoutMs: 120_000,
      what: () => `every confirmed message to be handled (${ledger.lost().length} missing)\n${s.logs()}`,
    }).catch(() => undefined); // asserted below, after the figures are recorded
    const drainedAt = Date.now();
    for (const app of [a, b]) app.signal('SIGTERM');
    const exits = await Promise.all([a, b].map((app) => app.waitForExit(SHUTDOWN_TIMEOUT_MS + 20_000)));

    const lost = ledger.lost();
    recordFigures({
      scenario: fault.scenario,
      broker: kind,
      sent: SENT,
      confirmed: ledger.confirmed.size,
      received: ledger.received,
      lost: lost.length,
      duplicates: ledger.duplicates,
      recoverMs: recoveredAt === null ? null : recoveredAt - backAt,
      durationMs: drainedAt - s.startedAt,
      notes:
        `${fault.description} after ${FAULT_AFTER_CONFIRMS} confirms; broker down ${backAt - downAt} ms (fault → serving again); ` +
        `recover = broker back → both a new confirm and a handled message (first confirm +${firstConfirmAfter === null ? '–' : firstConfirmAfter - backAt} ms, ` +
        `first handled +${firstHandleAfter === null ? '–' : firstHandleAfter - backAt} ms); ` +
        `rejected publishes ${ledger.rejected.size}${ledger.rejected.size > 0 ? ` (${rejectionSummary(ledger)}; ${ledger.rejectedButDelivered} of them delivered anyway)` : ''}; ` +
        `consumer-c got SIGTERM with the broker down, stop() resolved after ${stoppedMs ?? '–'} ms (limit ${SHUTDOWN_TIMEOUT_MS} ms) and it exited after ${cExitMs ?? 'more than 70000'} ms (code ${cExit?.code ?? '–'}); ` +
        `no process restarted` +
        (ledger.rejected.size > 0 ? `; e.g. "${String([...ledger.rejected.values()][0]!['message']).slice(0, 240)}"` : ''),
    });

    expect(s.crashes()).toEqual([]);
    expect(ledger.confirmed.size + ledger.rejected.size).toBe(SENT); // every publish settled
    // Rejections during an outage are retriable MessagingErrors.
    expect([...ledger.rejected.values()].filter((event) => event['messaging'] !== true || event['retriable'] !== true)).toEqual(
      [],
    );
    expect(lost).toEqual([]);
    expect(recoveredAt).not.toBeNull();
    expect(cExit).toMatchObject({ code: 0, signal: null });
    // C7: stop() resolves within shutdownTimeoutMs even with the broker gone, every time.
    expect(stoppedMs).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
    // The process then exits by itself: on RabbitMQ at once; on Kafka at the latest when a kafkajs
    // connection retry chain under way at SIGTERM has run out (see KAFKAJS_RETRY_CHAIN_MS).
    expect(cExitMs!).toBeLessThanOrEqual(
      kind === 'kafka' ? Math.max(SHUTDOWN_TIMEOUT_MS, KAFKAJS_RETRY_CHAIN_MS) : SHUTDOWN_TIMEOUT_MS,
    );
    for (const exit of exits) expect(exit).toMatchObject({ code: 0 });
  } finally {
    await killAllApps();
    await s.cleanup();
  }
}
