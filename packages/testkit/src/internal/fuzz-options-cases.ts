import { expect, it } from '@jest/globals';
import { isMessageBrokerPort, type MessageBrokerPort } from '@msgport/core';
import type * as FastCheck from 'fast-check';
import type { FuzzOptionsTarget, FuzzProperty } from '../run-fuzz-suite.js';
import { ANYTHING, secretArbitrary, type Fc } from './fuzz-arbitraries.js';
import { expectMessagingError, expectNoSecret, recordingLogger, settle } from './fuzz-checks.js';

/** What the fuzz properties of adapter options take from the suite. */
export interface FuzzOptionsContext {
  readonly target: FuzzOptionsTarget | undefined;
  /** fast-check, once the suite's `beforeAll` loaded it. */
  readonly fc: () => Fc;
  readonly secrets: readonly string[];
  readonly timeoutMs: number;
  readonly check: <T>(
    property: FuzzProperty,
    arbitrary: FastCheck.Arbitrary<T>,
    predicate: (value: T) => Promise<void>,
  ) => Promise<void>;
  readonly propertyTimeout: (property: FuzzProperty) => number;
}

/**
 * Adapter options: arbitrary options construct a broker or throw a MessagingError, and failing
 * credentials never show their secret. Registered only for adapters that say how to build them from
 * options (no skipped tests).
 */
export function describeFuzzOptionsCases(context: FuzzOptionsContext): void {
  const { target, secrets, timeoutMs, check, propertyTimeout } = context;
  if (target !== undefined) {
    it(
      'the adapter is constructed from arbitrary options, or its constructor throws a MessagingError without echoing secrets',
      async () => {
        const t = target;
        const fc = context.fc();
        const secret = secretArbitrary(fc);
        const fuzzed = fc.dictionary(fc.constantFrom(...t.keys), fc.anything(ANYTHING), { maxKeys: 4 });
        type Built = { readonly options: unknown; readonly secret: string | null };
        const built = fc.oneof(
          { weight: 1, arbitrary: fc.anything(ANYTHING).map((value): Built => ({ options: value, secret: null })) },
          { weight: 3, arbitrary: fuzzed.map((extra): Built => ({ options: { ...t.base, ...extra }, secret: null })) },
          {
            weight: 2,
            arbitrary: fc
              .tuple(fuzzed, secret)
              .map(([extra, s]): Built => ({ options: { ...t.base, ...extra, ...(t.withSecret?.(s) ?? {}) }, secret: s })),
          },
        );
        await check('constructorOptions', built, async ({ options: o, secret: s }) => {
          const known = s === null ? secrets : [...secrets, s, encodeURIComponent(s)];
          let constructed: MessageBrokerPort;
          try {
            constructed = t.create(o);
          } catch (error) {
            expectMessagingError(error, known);
            return;
          }
          expect(isMessageBrokerPort(constructed)).toBe(true);
          expectNoSecret(known, JSON.stringify(await constructed.health()), 'health()');
          await constructed.stop();
        });
      },
      propertyTimeout('constructorOptions'),
    );
  }

  if (target?.withSecret !== undefined) {
    it(
      'start() with credentials that fail rejects with a MessagingError; no error, log line or health() shows the secret',
      async () => {
        const t = target;
        await check('startWithSecrets', secretArbitrary(context.fc()), async (s) => {
          const lines: string[] = [];
          const known = [...secrets, s, encodeURIComponent(s)];
          const constructed = t.create({ ...t.base, ...t.withSecret!(s), logger: recordingLogger(lines) });
          const error = await settle(constructed.start(), timeoutMs, 'start()');
          expect(error).toBeDefined();
          expectMessagingError(error, known);
          expectNoSecret(known, JSON.stringify(await constructed.health()), 'health()');
          await constructed.stop();
          expectNoSecret(known, lines.join('\n'), 'a log line');
        });
      },
      propertyTimeout('startWithSecrets'),
    );
  }
}
