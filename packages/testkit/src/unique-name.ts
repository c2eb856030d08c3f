import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, NAME_PATTERN } from '@msgport/core';

/**
 * A topic or group name no other test run uses: `prefix` + `-` + 12 random hex characters.
 * Real brokers keep state between runs, so every test needs fresh names.
 *
 * @throws {InvalidArgumentError} when the result would not be a legal name (`NAME_PATTERN`):
 *   `prefix` must use only `A–Z a–z 0–9 . _ -` and be at most 236 characters.
 */
export function uniqueName(prefix: string): string {
  const name = `${prefix}-${randomBytes(6).toString('hex')}`;
  if (typeof prefix !== 'string' || prefix.length === 0 || !NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `uniqueName(): the prefix ${JSON.stringify(prefix)} does not make a legal topic or group name. ` +
        'Use 1-236 characters from A-Z, a-z, 0-9, ".", "_" and "-".',
    );
  }
  return name;
}
