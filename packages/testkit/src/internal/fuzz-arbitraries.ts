import type * as FastCheck from 'fast-check';
import { InvalidArgumentError, MESSAGE_ID_HEADER } from '@msgport/core';

export type Fc = typeof FastCheck;

/** fast-check, loaded when the suite runs (a peer dependency only the fuzz suite needs). */
export async function loadFastCheck(): Promise<Fc> {
  try {
    return await import('fast-check');
  } catch (error) {
    throw new InvalidArgumentError('runFuzzSuite() needs the fast-check package: npm install --save-dev fast-check', {
      cause: error,
    });
  }
}

/** What `fc.anything()` generates here: every kind of value it knows, strings of any code points. */
export const ANYTHING = {
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withObjectString: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true,
  stringUnit: 'binary',
  maxDepth: 3,
} as const satisfies FastCheck.ObjectConstraints;

/** A legal topic or group name (up to `maxLength` characters of `A-Z a-z 0-9 . _ -`). */
export function validTopicSuffix(fc: Fc, maxLength: number): FastCheck.Arbitrary<string> {
  const char = fc.constantFrom(...'abcXYZ019._-');
  return fc
    .oneof(fc.string({ unit: char, minLength: 1, maxLength: 20 }), fc.string({ unit: char, minLength: maxLength - 5, maxLength }))
    .filter((name) => name !== '.' && name !== '..');
}

/** A value or key: a string of any code points, or bytes; now and then large. */
export function payload(fc: Fc): FastCheck.Arbitrary<string | Uint8Array> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 512 }) },
    { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 1_100_000 }).map((size) => new Uint8Array(size).fill(size % 251)) },
  );
}

/** Header names and values of any code points, reserved and awkward names included. */
export function headers(fc: Fc): FastCheck.Arbitrary<Record<string, string>> {
  const name = fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '__proto__',
        'constructor',
        'msgport-key',
        'msgport-error-type',
        MESSAGE_ID_HEADER,
        'x-death',
        'h'.repeat(300),
      ),
    },
  );
  const value = fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 100 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 70_000 }).map((size) => 'v'.repeat(size)) },
  );
  return fc.dictionary(name, value, { maxKeys: 6 });
}

/** A secret no message would contain by chance. */
export function secretArbitrary(fc: Fc): FastCheck.Arbitrary<string> {
  return fc.string({ unit: 'grapheme-ascii', minLength: 6, maxLength: 24 }).map((text) => `S3cr3t-${text}`);
}
