import { afterEach, describe, expect, it } from '@jest/globals';
import { AppProcess, killAllApps } from './support/app-process.js';
import { deleteKafkaResources, readRabbitQueue, unique } from './support/brokers.js';
import { recordFigures } from './support/figures.js';
import { Ledger } from './support/ledger.js';
import { adapterOptions, Scenario, SHUTDOWN_TIMEOUT_MS, type BrokerKind } from './support/scenario.js';
import { until } from './support/until.js';

// Scenario 5: poison messages. The handler throws for 1 message in 100 (ids ending in 42) of
// 10,000. Every good message is handled, every bad one reaches the dead-letter destination (Kafka
// `<topic>.DLT`, RabbitMQ queue `<topic>.<group>.dlq`) with its key, value and headers plus the
// msgport-error-* headers, after exactly maxAttempts attempts, and the flow never stalls.

const SENT = 10_000;
const POISON = { every: 100, remainder: 42 } as const;
const RETRY = { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50, multiplier: 2, jitter: 0.2 } as const;
/** The longest pause between two handled messages that still counts as "flowing". */
const MAX_STALL_MS = 2_000;

const isPoison = (id: number): boolean => id % POISON.every === POISON.remainder;

interface DeadLetter {
  readonly id: number;
  readonly key: string | null;
  readonly headers: Record<string, string>;
}

describe.each<BrokerKind>(['kafka', 'rabbitmq'])('%s: poison messages', (kind) => {
  let scenario: Scenario | undefined;
  let readerGroup = '';

  afterEach(async () => {
    await killAllApps();
    await scenario?.cleanup();
    if (readerGroup !== '') await deleteKafkaResources([], [readerGroup]);
  });

  it('handles every good message, dead-letters every bad one with the error headers, and never stalls', async () => {
    scenario = new Scenario(kind, 'poison');
    const s = scenario;
    await s.requireBroker();
    const { ledger } = s;
    const consumerConfig = { poison: POISON, retry: RETRY };
    const a = await s.consumer('consumer-a', consumerConfig, { concurrency: 4 });
    const b = await s.consumer('consumer-b', consumerConfig, { concurrency: 4 });
    const producer = s.producer('producer', { count: SENT, concurrency: 200 });
    await producer.waitForEvent('done', 120_000);
    const good = [...ledger.confirmed].filter((id) => !isPoison(id));
    const bad = [...ledger.confirmed].filter(isPoison);

    await until(() => good.every((id) => ledger.handled.has(id)), {
      timeoutMs: 120_000,
      what: () =>
        `every good message to be handled (${good.filter((id) => !ledger.handled.has(id)).length} missing)\n${s.logs()}`,
    }).catch(() => undefined); // asserted below, after the figures are recorded
    const flowEnd = Math.max(...ledger.handlings.map((h) => h.at));
    const flowMs = flowEnd - (ledger.firstConfirmAt ?? s.startedAt);
    const maxGap = ledger.maxGapMs();

    // Read the dead-letter destination as it is on the broker.
    let deadLetters: DeadLetter[];
    if (kind === 'kafka') {
      readerGroup = unique('dlt-reader');
      const reader = new AppProcess('consumer', 'dlt-reader', {
        broker: 'kafka',
        options: adapterOptions('kafka', s.exchange),
        topic: `${s.topic}.DLT`,
        group: readerGroup,
        reportHeaders: true,
      });
      s.apps.push(reader);
      const readerLedger = new Ledger();
      readerLedger.attach(reader);
      await until(() => readerLedger.received >= bad.length, {
        timeoutMs: 60_000,
        what: () => `${bad.length} dead letters in ${s.topic}.DLT (read ${readerLedger.received})\n${reader.logTail()}`,
      }).catch(() => undefined);
      deadLetters = reader.events
        .filter((event) => event.e === 'h')
        .map((event) => ({ id: event.id!, key: event['k'] as string | null, headers: event['hd'] as Record<string, string> }));
    } else {
      const queue = `${s.topic}.${s.group}.dlq`;
      const messages = await readRabbitQueue(queue, bad.length, 60_000);
      deadLetters = messages.map((message) => {
        const headers = Object.fromEntries(Object.entries(message.headers).map(([name, value]) => [name, String(value)]));
        const key = headers['msgport-key'] === undefined ? null : Buffer.from(headers['msgport-key'], 'base64').toString('utf8');
        return { id: Number(message.value), key, headers };
      });
    }
    const deadIds = new Set(deadLetters.map((letter) => letter.id));
    const headerProblems = deadLetters.flatMap((letter) => {
      const expected: Record<string, string> = {
        'x-id': String(letter.id),
        'msgport-error-type': 'Error',
        'msgport-original-topic': s.topic,
        'msgport-group': s.group,
        'msgport-attempts': String(RETRY.maxAttempts),
      };
      const problems = Object.entries(expected)
        .filter(([name, value]) => letter.headers[name] !== value)
        .map(
          ([name, value]) =>
            `id ${letter.id}: ${name} is ${JSON.stringify(letter.headers[name])}, expected ${JSON.stringify(value)}`,
        );
      if (!String(letter.headers['msgport-error-message']).includes(`poison message ${letter.id} refused on purpose`)) {
        problems.push(`id ${letter.id}: msgport-error-message is ${JSON.stringify(letter.headers['msgport-error-message'])}`);
      }
      if (letter.key !== `k${letter.id % 16}`) problems.push(`id ${letter.id}: key is ${JSON.stringify(letter.key)}`);
      return problems;
    });
    const attemptsPerPoison = bad.map((id) => ledger.refused.get(id) ?? 0);

    for (const app of [a, b]) app.signal('SIGTERM');
    const exits = await Promise.all([a, b].map((app) => app.waitForExit(SHUTDOWN_TIMEOUT_MS + 20_000)));

    const goodMissing = good.filter((id) => !ledger.handled.has(id));
    const badMissing = bad.filter((id) => !deadIds.has(id));
    recordFigures({
      scenario: '5. poison messages (1 in 100 throws)',
      broker: kind,
      sent: SENT,
      confirmed: ledger.confirmed.size,
      received: ledger.received + deadIds.size,
      lost: goodMissing.length + badMissing.length,
      duplicates: ledger.duplicates,
      recoverMs: maxGap,
      durationMs: Date.now() - s.startedAt,
      notes:
        `recover = longest pause between two handled messages (limit ${MAX_STALL_MS} ms); received = ${ledger.received} good handled + ` +
        `${deadIds.size}/${bad.length} dead-lettered (${deadLetters.length} dead letters read, ${headerProblems.length} header problems); ` +
        `attempts per poison message ${Math.min(...attemptsPerPoison)}–${Math.max(...attemptsPerPoison)}; ` +
        `all good handled ${flowMs} ms after the first confirm`,
    });

    expect(s.crashes()).toEqual([]);
    expect(ledger.confirmed.size).toBe(SENT);
    expect(goodMissing).toEqual([]);
    expect(badMissing).toEqual([]);
    expect(deadLetters.length).toBe(bad.length); // each bad message dead-lettered once
    expect(headerProblems).toEqual([]);
    expect(attemptsPerPoison.every((attempts) => attempts === RETRY.maxAttempts)).toBe(true);
    expect(maxGap).toBeLessThan(MAX_STALL_MS);
    for (const exit of exits) expect(exit).toMatchObject({ code: 0 });
  }, 300_000);
});
