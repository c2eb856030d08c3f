import { afterAll, beforeAll } from '@jest/globals';
import { deleteTopology, requireBroker } from './broker.js';
import { lockBrokerExclusive, lockBrokerShared, type BrokerLock } from './broker-lock.js';

/**
 * Registers the hooks of a test file that uses the shared test broker without restarting it: before
 * its tests, takes the broker lock shared (a restart test of another file waits) and requires the
 * broker; after them, deletes what was declared for `exchangeName` and releases the lock.
 */
export function useSharedBroker(exchangeName: string): SharedBroker {
  let lock: BrokerLock | undefined;
  beforeAll(async () => {
    lock = await lockBrokerShared(100_000);
    await requireBroker();
  }, 120_000);
  afterAll(async () => {
    try {
      await deleteTopology(exchangeName);
    } finally {
      lock?.release();
    }
  }, 60_000);
  return {
    async exclusively<T>(operation: () => Promise<T>): Promise<T> {
      lock?.release();
      lock = undefined;
      const exclusive = await lockBrokerExclusive(120_000);
      try {
        return await operation();
      } finally {
        exclusive.release();
        lock = await lockBrokerShared(100_000);
      }
    },
  };
}

/** What {@link useSharedBroker} gives its test file. */
export interface SharedBroker {
  /**
   * Runs `operation` (a broker restart) with the lock held exclusively instead of shared: other
   * test files' broker work finishes first and waits meanwhile.
   */
  exclusively<T>(operation: () => Promise<T>): Promise<T>;
}
