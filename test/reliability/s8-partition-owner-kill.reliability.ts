import { afterEach, describe, expect, it } from '@jest/globals';
import { killAllApps, type AppEvent, type AppProcess } from './support/app-process.js';
import { recordFigures } from './support/figures.js';
import { Scenario } from './support/scenario.js';
import { until } from './support/until.js';

// Scenario 8 (issue 16): per-key order across the instances of a RabbitMQ group, through a SIGKILL.
// Three consumer processes share the four partition queues of one group (fair share: at most two
// each, so two instances consume two partitions and the third stands by); the first instance, which
// owns partitions, is SIGKILLed mid-stream. Another instance takes its partitions over (its locks died
// with its connection), nothing confirmed is lost, and every key is handled in publish order, one
// message at a time, across all processes (a message the killed process handled but had not
// acknowledged is delivered again: a repeat, allowed by at-least-once, not an order violation).
//
// The producer publishes one message at a time (concurrency 1), so publish order is id order, and
// the key of id n is k<n mod 53>. Consumers stamp their begin/end events with the wall clock (same
// machine), which orders the handlings of different processes.

const SENT = 4_000;
const RATE = 400;
const KEYS = 53;
const KILL_AFTER_HANDLED = 400;
const CONSUMER = { handlerDelayMs: 4, reportBegin: true, reportTime: true } as const;

interface Handling {
  readonly app: string;
  readonly id: number;
  readonly begin: number;
  readonly end: number;
  readonly partition: number | undefined;
  /** False for a handler the kill cut short (it began and never ended). */
  readonly finished: boolean;
}

/** Every handling of every process: begin and end time; a handler cut short by the kill ends at the kill. */
function handlingsOf(apps: readonly AppProcess[], killed: AppProcess, killedAt: number): Handling[] {
  const all: Handling[] = [];
  for (const app of apps) {
    const begun = new Map<number, number>();
    for (const event of app.events) {
      if (event.e === 'b') begun.set(event.id!, time(event));
      if (event.e === 'h') {
        const begin = begun.get(event.id!) ?? time(event);
        all.push({
          app: app.name,
          id: event.id!,
          begin,
          end: time(event),
          partition: event['p'] as number | undefined,
          finished: true,
        });
        begun.delete(event.id!);
      }
    }
    // Begun, never finished: the process was killed in the middle of the handler.
    if (app === killed)
      for (const [id, begin] of begun)
        all.push({ app: app.name, id, begin, end: killedAt, partition: undefined, finished: false });
  }
  return all.sort((x, y) => x.end - y.end);
}

function time(event: AppEvent): number {
  return typeof event['t'] === 'number' ? event['t'] : event.at;
}

/**
 * Order violations (a key's message finished after a later one of that key had, not counting
 * repeats of a message already handled) and overlaps (two handlings of one key running at once).
 */
function checkOrder(handlings: readonly Handling[]): { violations: string[]; overlaps: string[]; repeats: number } {
  const violations: string[] = [];
  const overlaps: string[] = [];
  const done = new Set<number>();
  const lastId = new Map<number, number>();
  let repeats = 0;
  for (const handling of handlings) {
    if (!handling.finished) continue;
    const key = handling.id % KEYS;
    if (done.has(handling.id)) {
      repeats++;
      continue;
    }
    done.add(handling.id);
    const last = lastId.get(key) ?? -1;
    if (handling.id < last) violations.push(`k${key}: ${handling.id} after ${last} (${handling.app})`);
    else lastId.set(key, handling.id);
  }
  const byKey = new Map<number, Handling[]>();
  for (const handling of handlings) byKey.set(handling.id % KEYS, [...(byKey.get(handling.id % KEYS) ?? []), handling]);
  for (const [key, list] of byKey) {
    list.sort((x, y) => x.begin - y.begin);
    for (let i = 1; i < list.length; i++) {
      // Only across processes: within one, core runs a key's messages one at a time by construction.
      if (list[i]!.app !== list[i - 1]!.app && list[i]!.begin < list[i - 1]!.end) {
        overlaps.push(`k${key}: ${list[i - 1]!.app} #${list[i - 1]!.id} and ${list[i]!.app} #${list[i]!.id}`);
      }
    }
  }
  return { violations, overlaps, repeats };
}

describe('rabbitmq: the owner of partitions is SIGKILLed mid-stream (per-key order across instances)', () => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await killAllApps();
    await scenario?.cleanup();
  });

  it('another instance takes its partitions over; nothing is lost and every key stays in publish order', async () => {
    scenario = new Scenario('rabbitmq', 'pkill');
    const s = scenario;
    await s.requireBroker();
    const { ledger } = s;
    const a = await s.consumer('consumer-a', CONSUMER);
    const b = await s.consumer('consumer-b', CONSUMER);
    const c = await s.consumer('consumer-c', CONSUMER);
    const producer = s.producer('producer', { count: SENT, concurrency: 1, ratePerSec: RATE, keys: KEYS });
    await producer.waitForEvent('ready', 30_000);

    // a took every partition when it started alone, then gave its share beyond two to another instance.
    await until(() => a.count('h') >= KILL_AFTER_HANDLED && b.count('h') + c.count('h') > 0, {
      timeoutMs: 60_000,
      what: () =>
        `consumer-a to handle ${KILL_AFTER_HANDLED} messages and another instance some (a ${a.count('h')}, b ${b.count('h')}, c ${c.count('h')})\n${s.logs()}`,
    });
    expect(producer.find('done')).toBeUndefined(); // the kill really is mid-stream
    const recent = a.events.filter((event) => event.e === 'h').slice(-50);
    const heldByA = new Set(recent.map((event) => event['p'] as number));
    const killedAt = a.signal('SIGKILL');
    await a.exited;

    const survivors = [b, c];
    const tookOver = (): AppEvent | undefined =>
      survivors
        .flatMap((app) => app.events)
        .find((event) => event.e === 'h' && event.at >= killedAt && heldByA.has(event['p'] as number));
    await until(() => tookOver() !== undefined, {
      timeoutMs: 30_000,
      what: () => `a survivor to handle a message of partition(s) ${[...heldByA].join(', ')}, consumer-a's\n${s.logs()}`,
    }).catch(() => undefined); // asserted below, after the figures are recorded
    const takeoverMs = tookOver() === undefined ? null : tookOver()!.at - killedAt;

    await producer.waitForEvent('done', 60_000);
    await until(() => ledger.lost().length === 0, {
      timeoutMs: 60_000,
      what: () => `every confirmed message to be handled (${ledger.lost().length} missing)\n${s.logs()}`,
    }).catch(() => undefined);
    for (const app of survivors) app.signal('SIGTERM');
    const exits = await Promise.all(survivors.map((app) => app.waitForExit(30_000)));

    const order = checkOrder(handlingsOf([a, b, c], a, killedAt));
    const lost = ledger.lost();
    recordFigures({
      scenario: '8. partition owner SIGKILL (3 instances, 4 partitions, 53 keys)',
      broker: 'rabbitmq',
      sent: SENT,
      confirmed: ledger.confirmed.size,
      received: ledger.received,
      lost: lost.length,
      duplicates: ledger.duplicates,
      recoverMs: takeoverMs,
      durationMs: Date.now() - s.startedAt,
      notes:
        `recover = SIGKILL → a survivor handles a message of a partition the killed instance held (${[...heldByA].sort().join(', ')}); ` +
        `order violations ${order.violations.length}, same-key overlaps across processes ${order.overlaps.length}, ` +
        `repeats ${order.repeats}; handled by a ${a.count('h')}, b ${b.count('h')}, c ${c.count('h')}`,
    });

    expect(s.crashes()).toEqual([]);
    expect(heldByA.size).toBeGreaterThan(0);
    expect(takeoverMs).not.toBeNull();
    expect(lost).toEqual([]);
    expect(order.violations).toEqual([]);
    expect(order.overlaps).toEqual([]);
    for (const exit of exits) expect(exit).toMatchObject({ code: 0 });
  }, 180_000);
});
