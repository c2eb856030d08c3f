import { afterEach, describe, expect, it } from '@jest/globals';
import { killAllApps, type AppEvent } from './support/app-process.js';
import { recordFigures } from './support/figures.js';
import { Scenario, SHUTDOWN_TIMEOUT_MS, type BrokerKind } from './support/scenario.js';
import { until } from './support/until.js';

// Scenario 4: SIGTERM under load. The member that gets SIGTERM stops gracefully (C7): the handlers
// it is running finish, what it finished is committed or acknowledged, it exits by itself within
// its shutdown timeout; then a restarted member joins. In this steady state (no crash, no broker
// fault) nothing may be handled twice: neither the other member nor the restarted one re-handles
// what the stopped member acknowledged.

const SENT = 3_000;
const RATE = 300;
const HANDLER_MS = 10;
const SIGTERM_AFTER_HANDLED = 300;

describe.each<BrokerKind>(['kafka', 'rabbitmq'])('%s: SIGTERM under load', (kind) => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await killAllApps();
    await scenario?.cleanup();
  });

  it('finishes in-flight handlers, commits, exits within the shutdown timeout, and nothing is handled twice', async () => {
    scenario = new Scenario(kind, 'sigterm');
    const s = scenario;
    await s.requireBroker();
    const { ledger } = s;
    const consumerConfig = { reportBegin: true, handlerDelayMs: HANDLER_MS };
    const a = await s.consumer('consumer-a', consumerConfig, { concurrency: 2 });
    const b = await s.consumer('consumer-b', consumerConfig, { concurrency: 2 });
    const producer = s.producer('producer', { count: SENT, concurrency: 20, ratePerSec: RATE });
    await producer.waitForEvent('ready', 30_000);

    await until(() => a.count('h') >= SIGTERM_AFTER_HANDLED, {
      timeoutMs: 60_000,
      what: () => `consumer-a to handle ${SIGTERM_AFTER_HANDLED} messages (handled ${a.count('h')})\n${s.logs()}`,
    });
    expect(producer.find('done')).toBeUndefined(); // under load
    const termAt = a.signal('SIGTERM');
    const exit = await a.waitForExit(SHUTDOWN_TIMEOUT_MS + 20_000);
    const exitMs = exit === null ? null : exit.at - termAt;

    // What consumer-a did around the SIGTERM, from its own reports.
    const aEvents = a.events;
    const sigterm = a.find('sigterm');
    const stopped = a.find('stopped');
    const begun = (events: readonly AppEvent[]): Map<number, number> => {
      const open = new Map<number, number>();
      for (const event of events) {
        if (event.e === 'b') open.set(event.id!, (open.get(event.id!) ?? 0) + 1);
        if (event.e === 'h') {
          const left = (open.get(event.id!) ?? 0) - 1;
          if (left <= 0) open.delete(event.id!);
          else open.set(event.id!, left);
        }
      }
      return open;
    };
    const sigtermIndex = sigterm === undefined ? aEvents.length : aEvents.indexOf(sigterm);
    const stoppedIndex = stopped === undefined ? aEvents.length : aEvents.indexOf(stopped);
    const inFlightAtSigterm = begun(aEvents.slice(0, sigtermIndex)).size;
    const unfinished = [...begun(aEvents).keys()];
    const begunAfterSigterm = aEvents.slice(sigtermIndex).filter((event) => event.e === 'b').length;
    const begunAfterStopped = aEvents.slice(stoppedIndex).filter((event) => event.e === 'b').length;

    const a2 = await s.consumer('consumer-a2', consumerConfig, { concurrency: 2 });
    await producer.waitForEvent('done', 60_000);
    await until(() => ledger.lost().length === 0, {
      timeoutMs: 60_000,
      what: () => `every confirmed message to be handled (${ledger.lost().length} missing)\n${s.logs()}`,
    }).catch(() => undefined); // asserted below, after the figures are recorded
    for (const app of [b, a2]) app.signal('SIGTERM');
    const otherExits = await Promise.all([b, a2].map((app) => app.waitForExit(SHUTDOWN_TIMEOUT_MS + 20_000)));

    const lost = ledger.lost();
    const duplicated = ledger.duplicated();
    recordFigures({
      scenario: '4. SIGTERM under load',
      broker: kind,
      sent: SENT,
      confirmed: ledger.confirmed.size,
      received: ledger.received,
      lost: lost.length,
      duplicates: ledger.duplicates,
      recoverMs: exitMs,
      durationMs: Date.now() - s.startedAt,
      notes:
        `recover = SIGTERM → process exit (limit ${SHUTDOWN_TIMEOUT_MS} ms); handlers in flight at SIGTERM ${inFlightAtSigterm}, ` +
        `unfinished at exit ${unfinished.length}, begun after SIGTERM ${begunAfterSigterm}, after stop() resolved ${begunAfterStopped}; ` +
        `consumer-a handled ${a.count('h')}, consumer-b ${b.count('h')}, restarted consumer-a2 ${a2.count('h')}`,
    });

    expect(s.crashes()).toEqual([]);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exitMs!).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
    expect(stopped).toBeDefined();
    expect(unfinished).toEqual([]); // every handler consumer-a began, finished
    expect(begunAfterStopped).toBe(0);
    expect(ledger.confirmed.size).toBe(SENT);
    expect(lost).toEqual([]);
    expect(duplicated).toEqual([]);
    for (const other of otherExits) expect(other).toMatchObject({ code: 0 });
  }, 240_000);
});

// Focused reproduction for RabbitMQ: with prefetch, core queues every delivered-but-not-begun
// message in its KeyedExecutor, and stop() neither releases them nor keeps them from starting. So a
// stopping member keeps starting new handlers (it "takes new messages" after stop, against C7), and
// when the prefetched backlog outlasts shutdownTimeoutMs, handlers still start after stop() resolved
// — their acks go to a closed channel, the broker redelivers them, and they are handled twice.
describe('rabbitmq: SIGTERM with a prefetched backlog longer than the shutdown timeout', () => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await killAllApps();
    await scenario?.cleanup();
  });

  it('does not start prefetched messages after SIGTERM, exits in time, and another member handles them once', async () => {
    scenario = new Scenario('rabbitmq', 'backlog');
    const s = scenario;
    await s.requireBroker();
    const { ledger } = s;
    const shutdownTimeoutMs = 2_000;
    const config = { reportBegin: true, handlerDelayMs: 200 };
    const options = { concurrency: 1, prefetch: 50, shutdownTimeoutMs };
    const a = await s.consumer('consumer-a', config, options);
    const producer = s.producer('producer', { count: 200, concurrency: 50 });
    await producer.waitForEvent('done', 30_000);
    await until(() => a.count('h') >= 3, { timeoutMs: 10_000, what: () => `consumer-a to handle 3 messages\n${s.logs()}` });

    const termAt = a.signal('SIGTERM');
    const exit = await a.waitForExit(60_000);
    const exitMs = exit === null ? null : exit.at - termAt;
    const events = a.events;
    const sigtermIndex = events.findIndex((event) => event.e === 'sigterm');
    const stoppedIndex = events.findIndex((event) => event.e === 'stopped');
    const begunAfterSigterm = events.slice(sigtermIndex).filter((event) => event.e === 'b').length;
    const begunAfterStopped = stoppedIndex < 0 ? 0 : events.slice(stoppedIndex).filter((event) => event.e === 'b').length;

    const b = await s.consumer('consumer-b', { handlerDelayMs: 0 }, { concurrency: 1 });
    await until(() => ledger.lost().length === 0, {
      timeoutMs: 30_000,
      what: () => `every message to be handled (${ledger.lost().length} missing)\n${s.logs()}`,
    }).catch(() => undefined);
    b.signal('SIGTERM');
    await b.waitForExit(20_000);

    recordFigures({
      scenario: '4b. SIGTERM with a prefetched backlog (prefetch 50, 200 ms handlers, shutdownTimeoutMs 2000)',
      broker: 'rabbitmq',
      sent: 200,
      confirmed: ledger.confirmed.size,
      received: ledger.received,
      lost: ledger.lost().length,
      duplicates: ledger.duplicates,
      recoverMs: exitMs,
      durationMs: Date.now() - s.startedAt,
      notes:
        `recover = SIGTERM → process exit (limit ${shutdownTimeoutMs} ms); handlers begun after SIGTERM ${begunAfterSigterm}, ` +
        `after stop() resolved ${begunAfterStopped}; consumer-a handled ${a.count('h')}, consumer-b ${b.count('h')}`,
    });

    expect(s.crashes()).toEqual([]);
    expect(ledger.lost()).toEqual([]);
    // At most the handler running at SIGTERM (concurrency 1) finishes; nothing new begins.
    expect(begunAfterSigterm).toBe(0);
    expect(begunAfterStopped).toBe(0);
    expect(exitMs!).toBeLessThanOrEqual(shutdownTimeoutMs);
    expect(ledger.duplicated()).toEqual([]);
  }, 120_000);
});
