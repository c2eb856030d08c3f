import type { Admin } from 'kafkajs';
import { fetchCommittedOffsets, fetchEndOffsets } from './retry-transient.js';

/** Offsets to start from, per topic, per partition. */
export type StartPositions = Map<string, Map<number, string>>;

/**
 * For the partitions of `topics` that the group `groupId` has no committed offset on, the current
 * end offsets, per topic; `null` when there is none (the group resumes where it left off). A
 * broadcast subscription (`groupId` null) has a throwaway group: every partition is pinned.
 */
export async function uncommittedEndOffsets(
  admin: Admin,
  groupId: string | null,
  topics: readonly string[],
  requestTimeoutMs: number,
): Promise<StartPositions | null> {
  if (topics.length === 0) return null;
  // Per topic, the partitions without a committed offset; a topic missing here has none at all.
  const missing = new Map<string, Set<number>>();
  if (groupId !== null) {
    const committed = await fetchCommittedOffsets(admin, groupId, topics, requestTimeoutMs);
    for (const entry of committed) {
      missing.set(
        entry.topic,
        new Set(entry.partitions.filter(({ offset }) => Number(offset) < 0).map(({ partition }) => partition)),
      );
    }
  }
  const pins: StartPositions = new Map();
  await Promise.all(
    topics.map(async (topic) => {
      const uncommitted = missing.get(topic);
      if (uncommitted !== undefined && uncommitted.size === 0) return;
      const ends = await fetchEndOffsets(admin, topic, requestTimeoutMs);
      const offsets = new Map(
        ends
          .filter(({ partition }) => uncommitted?.has(partition) ?? true)
          .map(({ partition, high }) => [partition, high] as const),
      );
      if (offsets.size > 0) pins.set(topic, offsets);
    }),
  );
  return pins.size === 0 ? null : pins;
}
