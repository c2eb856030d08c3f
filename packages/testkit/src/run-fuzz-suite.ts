import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DeadLetterHeaders,
  describeFailure,
  MESSAGE_ID_HEADER,
  NAME_PATTERN,
  waitFor,
  InvalidArgumentError,
  type Logger,
  type Message,
  type MessageBrokerPort,
  type MessageHandler,
} from '@msgport/core';
import type * as FastCheck from 'fast-check';
import { ANYTHING, headers, loadFastCheck, payload, validTopicSuffix, type Fc } from './internal/fuzz-arbitraries.js';
import {
  CASE_HEADER,
  expectMessagingError,
  expectNoSecret,
  expectResolved,
  expectSameBytes,
  expectSameHeaders,
  outcomeOf,
  record,
  recordingLogger,
  rejectsInsteadOfThrowing,
  settle,
  thenError,
  throwsOnThen,
  toBytes,
} from './internal/fuzz-checks.js';
import { describeFuzzOptionsCases } from './internal/fuzz-options-cases.js';
import { HOSTILE_VALUES } from './internal/hostile-values.js';
import { UUID_V7 } from './internal/uuid-v7.js';
import { uniqueName } from './unique-name.js';

/** The properties {@link runFuzzSuite} checks, by name. */
export type FuzzProperty =
  'publishArguments' | 'roundTrip' | 'thrownValues' | 'subscribeArguments' | 'constructorOptions' | 'startWithSecrets';

/** How {@link runFuzzSuite} builds brokers from generated options (adapter-specific). */
export interface FuzzOptionsTarget {
  /** Constructs the broker from `options`; may throw (a `MessagingError` is expected then). */
  create(options: unknown): MessageBrokerPort;
  /** Options that construct a working broker; generated values are merged over them. */
  readonly base: Readonly<Record<string, unknown>>;
  /** Option names to fill with arbitrary values. */
  readonly keys: readonly string[];
  /**
   * Options carrying `secret` (a SASL password, a password in a URL …) that construct a broker
   * whose `start()` fails quickly (wrong credentials, nothing listening). The suite checks the
   * secret never appears in an error message, a log line or `health()`.
   */
  withSecret?(secret: string): Readonly<Record<string, unknown>>;
}

/** Options of {@link runFuzzSuite}. */
export interface FuzzSuiteOptions {
  /** Adapter name, used in `describe()`. */
  readonly name: string;
  /** A fresh broker, NOT started, that logs to `logger`. The suite starts and stops it. */
  createBroker(logger: Logger): MessageBrokerPort | Promise<MessageBrokerPort>;
  /** Where the adapter dead-letters messages of `topic` failed in `group`. */
  deadLetterTopic(topic: string, group: string | null): string;
  /** Builds brokers from generated options; without it that property is skipped. */
  readonly options?: FuzzOptionsTarget;
  /** Strings that must never appear in an error message, a log line or `health()`. @default [] */
  readonly secrets?: readonly string[];
  /**
   * Generated cases per property. `MSGPORT_FUZZ_RUNS` (a number) overrides every property, for a
   * longer run; `MSGPORT_FUZZ_SEED` (and `MSGPORT_FUZZ_PATH`) replay a failure.
   */
  readonly numRuns?: Partial<Readonly<Record<FuzzProperty, number>>>;
  /** Longest wait for one operation or message before the case counts as hung. @default 20000 */
  readonly timeoutMs?: number;
}

/** Cases per property when neither the options nor `MSGPORT_FUZZ_RUNS` say otherwise. */
export const DEFAULT_FUZZ_RUNS: Readonly<Record<FuzzProperty, number>> = Object.freeze({
  publishArguments: 60,
  roundTrip: 40,
  thrownValues: 40,
  subscribeArguments: 60,
  constructorOptions: 80,
  startWithSecrets: 4,
});

/** What one property run cost, for the closing summary. */
interface Stats {
  cases: number;
  ms: number;
}

/**
 * Registers property-based tests (fast-check) of a `MessageBrokerPort` with Jest. Generated:
 * arbitrary `publish()` arguments (topics, values of any size, keys, header names and values,
 * options objects of any shape), arbitrary values thrown by handlers (`fc.anything()` and hostile
 * objects: proxies that throw on every read, objects without prototype, getters that throw …),
 * arbitrary `subscribe()` arguments and adapter options.
 *
 * Invariants: every call either succeeds — and a published message arrives with exactly its key,
 * value and headers — or rejects with a `MessagingError` naming the problem; a failing handler never
 * stops the messages behind it on its key (each failed message is dead-lettered with headers
 * describing what was thrown); nothing hangs (every wait has a deadline); no rejection goes
 * unhandled (Jest fails the test on one); no secret appears in an error, a log line or `health()`.
 *
 * On failure fast-check prints the seed and path of the counterexample; replay it with
 * `MSGPORT_FUZZ_SEED=<seed> MSGPORT_FUZZ_PATH=<path>`. `MSGPORT_FUZZ_RUNS=<n>` runs n cases per
 * property. Needs the `fast-check` package (a peer dependency, loaded only by this function's tests).
 *
 * @throws {InvalidArgumentError} when an option is missing or has the wrong type.
 */
export function runFuzzSuite(options: FuzzSuiteOptions): void {
  validateOptions(options);
  const timeoutMs = options.timeoutMs ?? 20_000;
  const secrets = (options.secrets ?? []).filter((secret) => secret.length > 0);
  const runs = (property: FuzzProperty): number => {
    const override = Number(process.env['MSGPORT_FUZZ_RUNS']);
    if (Number.isInteger(override) && override > 0) return override;
    return options.numRuns?.[property] ?? DEFAULT_FUZZ_RUNS[property];
  };
  const stats = new Map<FuzzProperty, Stats>();

  describe(`${options.name} fuzz (fast-check)`, () => {
    let fc: Fc;
    const logLines: string[] = [];
    const logger = recordingLogger(logLines);
    let broker: MessageBrokerPort;
    const roundTripTopic = uniqueName('fuzz-roundtrip');
    const thrownTopic = uniqueName('fuzz-thrown');
    const thrownGroup = uniqueName('g');
    const received = new Map<string, Message>();
    const deadLetters = new Map<string, Message>();
    const handledThrown = new Map<string, Message>();
    const outcomes = new Map<string, (message: Message) => unknown>();
    let nextCase = 0;
    const caseId = (): string => `c${++nextCase}`;

    beforeAll(async () => {
      fc = await loadFastCheck();
      broker = await options.createBroker(logger);
      await broker.start();
      await broker.subscribe(roundTripTopic, (message) => record(received, message), uniqueName('g'));
      await broker.subscribe(
        thrownTopic,
        (message) => {
          const outcome = outcomes.get(message.headers[CASE_HEADER] ?? '');
          if (outcome !== undefined) return outcome(message) as Promise<void>;
          record(handledThrown, message);
          return undefined;
        },
        { group: thrownGroup, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5 } },
      );
      await broker.subscribe(options.deadLetterTopic(thrownTopic, thrownGroup), (message) => record(deadLetters, message), {
        group: uniqueName('dlt-reader'),
        retry: { deadLetter: false },
      });
    }, 120_000);

    afterAll(async () => {
      await broker?.stop();
      expectNoSecret(secrets, logLines.join('\n'), 'a log line');
      const summary = [...stats].map(([property, { cases, ms }]) => `${property}: ${cases} cases in ${ms} ms`);
      const total = [...stats.values()].reduce((sum, { cases, ms }) => ({ cases: sum.cases + cases, ms: sum.ms + ms }), {
        cases: 0,
        ms: 0,
      });
      console.info(`${options.name} fuzz: ${total.cases} generated cases in ${total.ms} ms (${summary.join('; ')})`);
    }, 120_000);

    /** Runs a property with the run count, seed and path settings, and records what it cost. */
    const check = async <T>(
      property: FuzzProperty,
      arbitrary: FastCheck.Arbitrary<T>,
      predicate: (value: T) => Promise<void>,
    ) => {
      const started = Date.now();
      let cases = 0;
      const given = Number(process.env['MSGPORT_FUZZ_SEED']);
      const seed = Number.isInteger(given) ? given : (Date.now() ^ Math.floor(Math.random() * 0x100000000)) | 0;
      const path = process.env['MSGPORT_FUZZ_PATH'];
      const trace = process.env['MSGPORT_FUZZ_TRACE'] === '1';
      if (trace) process.stderr.write(`[fuzz] ${options.name} ${property}: seed ${seed}\n`);
      try {
        await fc.assert(
          fc.asyncProperty(arbitrary, async (value) => {
            cases++;
            if (trace)
              process.stderr.write(
                `[fuzz] ${property} case ${cases} at ${Date.now() - started} ms: ${fc.stringify(value).slice(0, 300)}\n`,
              );
            await predicate(value);
          }),
          {
            numRuns: runs(property),
            // A hung case fails with its seed instead of hanging the suite.
            timeout: timeoutMs * 2,
            seed,
            ...(path === undefined || path === '' ? {} : { path }),
          },
        );
      } finally {
        const previous = stats.get(property) ?? { cases: 0, ms: 0 };
        stats.set(property, { cases: previous.cases + cases, ms: previous.ms + (Date.now() - started) });
      }
    };

    // Generous: a case that hangs fails on its own deadline (timeoutMs) long before this.
    const propertyTimeout = (property: FuzzProperty): number => Math.max(120_000, runs(property) * 3_000);

    it(
      'publish() with arbitrary topics, values, keys, headers and options resolves or rejects with a MessagingError naming the problem',
      async () => {
        const prefix = uniqueName('fuzz-topic');
        const topic = fc.oneof(
          { weight: 3, arbitrary: fc.constant(roundTripTopic) },
          { weight: 1, arbitrary: validTopicSuffix(fc, 249 - prefix.length - 1).map((suffix) => `${prefix}-${suffix}`) },
          { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
          { weight: 2, arbitrary: fc.anything(ANYTHING) },
          // Legal names that kafkajs cannot use (it keeps per-topic state in plain objects).
          { weight: 1, arbitrary: fc.constantFrom('toString', 'constructor', '__proto__', 'valueOf') },
        );
        const value = fc.oneof(payload(fc), fc.anything(ANYTHING));
        const publishOptions = fc.oneof(
          fc.constant(undefined),
          fc.anything(ANYTHING),
          fc.record(
            {
              key: fc.oneof(fc.constant(null), payload(fc), fc.anything(ANYTHING)),
              headers: fc.oneof(headers(fc), fc.anything(ANYTHING)),
            },
            {
              requiredKeys: [],
            },
          ),
        );
        await check('publishArguments', fc.tuple(topic, value, publishOptions), async ([t, v, o]) => {
          const outcome = rejectsInsteadOfThrowing('publish()', () => broker.publish(t as string, v as string, o as never));
          const error = await settle(outcome, timeoutMs, 'publish()');
          if (error === undefined) return;
          expectMessagingError(error, secrets);
          if (typeof t === 'string' && NAME_PATTERN.test(t)) expect((error as Error).message).toContain(`"${t}"`);
          else expect((error as Error).message).toMatch(/invalid topic/);
        });
      },
      propertyTimeout('publishArguments'),
    );

    it(
      'a message published with arbitrary key, value and headers arrives exactly as published, or publish() rejects with a MessagingError',
      async () => {
        const message = fc.record({
          key: fc.oneof(fc.constant(null), payload(fc)),
          value: payload(fc),
          headers: fc.option(headers(fc), { nil: undefined }),
        });
        await check('roundTrip', message, async ({ key, value, headers: published }) => {
          const id = caseId();
          const sent: Record<string, string> = { ...published, [CASE_HEADER]: id };
          const error = await settle(broker.publish(roundTripTopic, value, { key, headers: sent }), timeoutMs, 'publish()');
          if (error !== undefined) {
            expectMessagingError(error, secrets);
            expect((error as Error).message).toContain(`"${roundTripTopic}"`);
            return;
          }
          const arrived = await waitFor(() => received.get(id), {
            timeoutMs,
            intervalMs: 5,
            description: `the message of case ${id}`,
          });
          expect(arrived.topic).toBe(roundTripTopic);
          expectSameBytes(arrived.value, toBytes(value), 'value');
          if (key === null || arrived.key === null) expect(arrived.key).toBe(key);
          else expectSameBytes(arrived.key, toBytes(key), 'key');
          // The headers arrive as sent, plus the message id publish() adds unless one was sent (C11).
          const messageId = sent[MESSAGE_ID_HEADER] ?? arrived.headers[MESSAGE_ID_HEADER];
          if (sent[MESSAGE_ID_HEADER] === undefined) expect(messageId).toMatch(UUID_V7);
          expect(arrived.id).toBe(messageId);
          expectSameHeaders(arrived.headers, { ...sent, [MESSAGE_ID_HEADER]: messageId! });
          received.delete(id);
        });
      },
      propertyTimeout('roundTrip'),
    );

    it(
      'whatever a handler throws or rejects with, the message is dead-lettered with headers describing it and the next one on its key is handled',
      async () => {
        const thrown = fc.oneof(
          {
            weight: 2,
            arbitrary: fc.anything(ANYTHING).map((value) => ({
              name: 'fc.anything()',
              make: () => value,
              // Counterexamples show the value itself.
              [fc.toStringMethod]: () => fc.stringify(value),
            })),
          },
          { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_VALUES) },
        );
        const how = fc.constantFrom('throws', 'rejects', 'returns a rejecting thenable', 'returns it');
        await check('thrownValues', fc.tuple(thrown, how), async ([value, mode]) => {
          const id = caseId();
          const made = value.make();
          outcomes.set(
            id,
            outcomeOf(mode, made, (message) => record(handledThrown, message)),
          );
          // Every case on one key: a message that stalled would hold back all the later ones.
          await expectResolved(
            broker.publish(thrownTopic, `case-${id}`, { key: 'fuzz', headers: { [CASE_HEADER]: id } }),
            timeoutMs,
          );
          await expectResolved(
            broker.publish(thrownTopic, `next-${id}`, { key: 'fuzz', headers: { [CASE_HEADER]: `${id}-next` } }),
            timeoutMs,
          );
          await waitFor(() => handledThrown.get(`${id}-next`), {
            timeoutMs,
            intervalMs: 5,
            description: `the message behind case ${id} to be handled`,
          });
          if (mode === 'returns it' && !throwsOnThen(made)) {
            await waitFor(() => handledThrown.get(id), { timeoutMs, intervalMs: 5, description: `case ${id} to be handled` });
          } else {
            const dead = await waitFor(() => deadLetters.get(id), {
              timeoutMs,
              intervalMs: 5,
              description: `the dead letter of case ${id}`,
            });
            const expected = mode === 'returns it' ? describeFailure(thenError(made)) : describeFailure(made);
            expect(dead.headers[DeadLetterHeaders.errorType]).toBe(expected.type);
            expect(dead.headers[DeadLetterHeaders.errorMessage]).toBe(expected.message);
            expect(dead.headers[DeadLetterHeaders.attempts]).toBe('2');
            expect(dead.value.toString()).toBe(`case-${id}`);
          }
          // Every dead letter was published: none had to fall back or be given up.
          expect(logLines.filter((line) => line.startsWith('error:') && line.includes('dead-letter'))).toEqual([]);
          outcomes.delete(id);
        });
      },
      propertyTimeout('thrownValues'),
    );

    it(
      'subscribe() with arbitrary topics, handlers and options resolves or rejects with a MessagingError',
      async () => {
        // Never started: subscriptions are only recorded, so arbitrary (valid) names cost no I/O.
        const idle = await options.createBroker(logger);
        const prefix = uniqueName('fuzz-sub');
        const topic = fc.oneof(
          validTopicSuffix(fc, 249 - prefix.length - 1).map((suffix) => `${prefix}-${suffix}`),
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.anything(ANYTHING),
        );
        const handler = fc.oneof(
          { weight: 3, arbitrary: fc.constant<MessageHandler>(() => undefined) },
          { weight: 1, arbitrary: fc.anything(ANYTHING) },
        );
        const retry = fc.record(
          {
            maxAttempts: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.anything(ANYTHING)),
            initialDelayMs: fc.oneof(fc.double(), fc.anything(ANYTHING)),
            multiplier: fc.oneof(fc.double(), fc.anything(ANYTHING)),
            maxDelayMs: fc.oneof(fc.double(), fc.anything(ANYTHING)),
            jitter: fc.oneof(fc.double(), fc.anything(ANYTHING)),
            deadLetter: fc.oneof(fc.boolean(), fc.anything(ANYTHING)),
          },
          { requiredKeys: [] },
        );
        const group = fc.oneof(validTopicSuffix(fc, 249), fc.string({ unit: 'binary', maxLength: 300 }), fc.anything(ANYTHING));
        const third = fc.oneof(
          fc.constant(undefined),
          group,
          fc.record({ group, retry: fc.oneof(retry, fc.anything(ANYTHING)) }, { requiredKeys: [] }),
        );
        try {
          await check('subscribeArguments', fc.tuple(topic, handler, third), async ([t, h, g]) => {
            const outcome: Promise<unknown> = rejectsInsteadOfThrowing('subscribe()', () =>
              idle.subscribe(t as string, h as MessageHandler, g as string),
            );
            let subscription: unknown;
            const error = await settle(
              outcome.then((value) => {
                subscription = value;
              }),
              timeoutMs,
              'subscribe()',
            );
            if (error !== undefined) expectMessagingError(error, secrets);
            else await (subscription as { unsubscribe(): Promise<void> }).unsubscribe();
          });
        } finally {
          await idle.stop();
        }
      },
      propertyTimeout('subscribeArguments'),
    );

    describeFuzzOptionsCases({ target: options.options, fc: () => fc, secrets, timeoutMs, check, propertyTimeout });
  });
}

function validateOptions(options: FuzzSuiteOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('runFuzzSuite() needs an options object { name, createBroker, deadLetterTopic }.');
  }
  const problems: string[] = [];
  if (typeof options.name !== 'string' || options.name.length === 0) problems.push('name must be a non-empty string');
  if (typeof options.createBroker !== 'function') problems.push('createBroker must be a function');
  if (typeof options.deadLetterTopic !== 'function') problems.push('deadLetterTopic must be a function');
  if (options.timeoutMs !== undefined && !(typeof options.timeoutMs === 'number' && options.timeoutMs > 0)) {
    problems.push('timeoutMs must be a number > 0');
  }
  if (problems.length > 0) throw new InvalidArgumentError(`runFuzzSuite(): ${problems.join('; ')}.`);
}
